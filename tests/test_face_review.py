"""The AI model's rating of the face frames: its file, the verified-label rule and the contact sheets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from s2f_desktop.core.errors import S2FError
from s2f_desktop.training import review as rv


def test_the_shipped_review_covers_every_avspeech_clip_with_valid_codes() -> None:
    clips = rv.load_review()
    assert len(clips) == 968
    assert {c["sex"] for c in clips.values()} <= set(rv.SEXES)
    assert {c["age_bin"] for c in clips.values()} <= set(rv.REVIEW_BINS)
    doc = json.loads(rv.REVIEW_FILE.read_text(encoding="utf-8"))
    assert "424242" in doc["procedure"]  # the procedure names the shuffle seed it used
    # Provenance (issue 13): the file says what produced it and never that a person did.
    assert "produced by an AI model" in doc["what"] and doc["rater"]
    assert "reviewer" not in doc


@pytest.mark.needs_data
def test_review_ids_are_the_dataset_ids(shared_data: Path) -> None:
    from s2f_desktop.training.data import avspeech_items

    assert {it.id for it in avspeech_items(shared_data)} == set(rv.load_review())


def test_a_malformed_review_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"clips": {"a": {"sex": "m", "age_bin": "20-39"}}}), encoding="utf-8")
    with pytest.raises(S2FError, match="invalid entry"):
        rv.load_review(bad)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(S2FError, match="cannot read"):
        rv.load_review(bad)


def test_verified_needs_a_usable_teacher_label_and_the_same_sex_from_the_reviewer() -> None:
    male = {"sex": "male", "age_bin": "20-39"}
    assert rv.verified_sex(True, True, male)
    assert not rv.verified_sex(False, True, male)          # raters disagree
    assert not rv.verified_sex(True, False, male)          # teacher label unusable
    assert not rv.verified_sex(True, True, {"sex": "unsure", "age_bin": "unsure"})
    assert not rv.verified_sex(True, True, None)           # not reviewed


def test_sex_agreement_counts_by_teacher_usability() -> None:
    faces = {"a": {"p_male": 0.9, "sex_usable": True}, "b": {"p_male": 0.1, "sex_usable": True},
             "c": {"p_male": 0.4, "sex_usable": False}, "d": {"p_male": 0.9, "sex_usable": True}}
    review = {"a": {"sex": "male", "age_bin": "20-39"}, "b": {"sex": "male", "age_bin": "20-39"},
              "c": {"sex": "female", "age_bin": "40-59"}, "d": {"sex": "unsure", "age_bin": "unsure"}}
    out = rv.sex_agreement(faces, review, ["a", "b", "c", "d", "missing"])
    assert out["usable"] == {"agree": 1, "disagree": 1, "reviewer_unsure": 1}
    assert out["unusable"] == {"agree": 1, "disagree": 0, "reviewer_unsure": 0}


def test_age_bin_agreement_builds_the_confusion_matrix() -> None:
    teacher = np.array([15.0, 25.0, 35.0, 45.0, 70.0, np.nan])
    reviewer = np.array([0, 1, 2, 2, 3, 1])
    out = rv.age_bin_agreement(teacher, reviewer, (20.0, 40.0, 60.0))
    assert out["n"] == 5 and out["agreement"] == pytest.approx(0.8)
    conf = np.array(out["confusion_teacher_rows_reviewer_cols"])
    assert conf.sum() == 5 and conf[1, 2] == 1 and conf[2, 2] == 1


def test_sheets_follow_the_seeded_order_and_number_every_face(tmp_path: Path) -> None:
    from PIL import Image

    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(32):
        Image.fromarray(np.full((40, 40, 3), 8 * i, np.uint8)).save(faces / f"clip{i:02d}.jpg", quality=95)
    paths = rv.write_sheets(faces, tmp_path / "out", log=lambda m: None)
    assert [p.name for p in paths] == ["sheet00.png", "sheet01.png"]
    order = json.loads((tmp_path / "out" / "order.json").read_text())
    assert order == rv.sheet_order(f"clip{i:02d}" for i in range(32)) and sorted(order) != order
    with Image.open(paths[0]) as im:
        first = np.asarray(im.convert("RGB"))
    assert first.shape == (5 * (rv.TILE_PX + 22), rv.SHEET_COLUMNS * rv.TILE_PX, 3)
    # The first tile holds the first face of the seeded order.
    tile = first[22 + 60, 60]
    assert abs(int(tile[0]) - 8 * int(order[0][4:])) <= 1  # JPEG round trip
    # Every tile is numbered: the label strip above each tile holds red ink.
    strip = first[:22, : rv.TILE_PX]
    assert ((strip[..., 0] > 150) & (strip[..., 1] < 80)).any()


def test_sheets_refuse_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(S2FError, match="no face frames"):
        rv.write_sheets(tmp_path, tmp_path / "out")
