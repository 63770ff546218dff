"""``s2f-train`` end to end on a small subset of ../shared/data (skips when the data are absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.slow
@pytest.mark.needs_data
def test_train_traits_on_a_subset(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from s2f_desktop.inference import traits as traits_mod
    from s2f_desktop.inference.registry import sha256_of
    from s2f_desktop.training.cli import main

    out = tmp_path / "models" / "traits-v0test"
    cache = tmp_path / "cache"
    args = ["traits", "--data", str(shared_data), "--version", "v0test", "--out", str(out), "--cache", str(cache),
            "--limit", "6", "--bootstrap", "50"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["id"] == "traits-v0test"
    for name, sha in manifest["files"].items():
        assert sha256_of(out / name) == sha
    card = (out / "MODEL_CARD.md").read_text()
    assert "Smoke-test build" in card and "No ancestry or ethnicity" in card
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert 0.0 <= metrics["sex_clean"]["accuracy"]["value"] <= 1.0
    assert "mae_years" in metrics["age_clean"]
    # Scored as the app answers: what the gate stops is counted, not scored, and joins the whole abstention.
    g = metrics["sex_clean"]["gate"]
    assert g["labelled"] == metrics["sex_clean"]["n"] + g["stopped"]
    assert g["female"]["labelled"] + g["male"]["labelled"] == g["labelled"]
    for sx in ("female", "male"):
        whole = metrics["sex_clean"]["per_sex_with_gate"].get(sx)
        if whole:
            assert whole["n"] == g[sx]["labelled"] and set(whole) == {"n", "abstention_rate"}
            band = metrics["sex_clean"]["per_sex"][sx]
            answered = band["n"] * (1 - band["abstention_rate"]["value"])
            assert abs(whole["abstention_rate"]["value"] - (1 - answered / whole["n"])) < 1e-9
    assert list(cache.glob("gate-verdicts-*.json")), "today's gate verdicts are cached"
    heads = traits_mod.TraitHeads("traits-v0test", tmp_path / "models")
    assert heads.w["sex_w"].shape == heads.w["mean"].shape
    # Reproducible to the byte: a second run (features now cached) writes identical weights.
    first = {n: sha256_of(out / n) for n in ("heads.npz", "calibration.json")}
    assert main(args) == 0
    assert first == {n: sha256_of(out / n) for n in ("heads.npz", "calibration.json")}


@pytest.mark.needs_data
def test_training_data_are_grouped(shared_data: Path) -> None:
    from s2f_desktop.training.data import avspeech_items, librispeech_items
    from s2f_desktop.voice.calibration import group_folds

    av = avspeech_items(shared_data)
    ls = librispeech_items(shared_data)
    assert len(av) > 900 and len(ls) > 200
    assert all(it.group.startswith("yt:") and it.face is not None for it in av)
    assert {it.sex for it in ls} == {"male", "female"}
    groups = np.array([it.group for it in av])
    folds = group_folds(groups, 5, 0)
    for g in set(groups):
        assert len(set(folds[groups == g])) == 1


def test_teacher_usability_rule_gives_the_first_failed_reason() -> None:
    from s2f_desktop.training.teacher import usable_age, usable_sex

    good = {"faces": 1, "views_with_face": 8, "p_male": 0.95, "agreement": 1.0, "age_sd": 2.0}
    assert usable_sex(good) == (True, "") and usable_age(good) == (True, "")
    assert usable_sex({**good, "faces": 0, "views_with_face": 0}) == (False, "no face found")
    assert usable_sex({**good, "faces": 2}) == (False, "several faces")
    assert usable_sex({**good, "views_with_face": 3}) == (False, "face found in too few views")
    assert usable_sex({**good, "p_male": 0.6}) == (False, "teacher uncertain")
    assert usable_sex({**good, "agreement": 0.75}) == (False, "views disagree")
    assert usable_age({**good, "age_sd": 12.0}) == (False, "age unstable across views")
    assert usable_age({**good, "p_male": 0.5}) == (True, "")  # an unsure sex does not spoil the age


def test_band_is_the_narrowest_meeting_the_error_target() -> None:
    from s2f_desktop.training.traits_train import choose_band

    # 200 confident correct cases and one wrong case at p = 0.7: the band must cover 0.7.
    p = np.concatenate([np.full(100, 0.99), np.full(100, 0.01), [0.7]])
    y = np.concatenate([np.ones(100), np.zeros(100), [0.0]])
    lo, hi = choose_band(p, y, target=0.0)
    assert hi >= 0.7 and hi < 0.99 and lo == pytest.approx(1 - hi)
    assert choose_band(p, y, target=0.01) == (0.5, 0.5)  # one error in 201 is under 1 %
