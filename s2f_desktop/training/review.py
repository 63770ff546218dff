"""A second automatic rater for the face teacher: an AI model's rating of the face frames.

Provenance, exactly: ``face_review.json`` (beside this module) was produced by an AI model
(a multimodal language model run in one of this project's development sessions). The model, its version and its prompts
were not recorded, so the rating cannot be re-run or audited beyond the stored labels. It
gives the apparent sex (male / female / unsure) and apparent age bin of the face in each
frame. The procedure stored with the labels says the frames were presented as contact sheets
(:func:`write_sheets`, which re-creates them) in a seeded random order, without clip ids, teacher
outputs or any voice result, in one pass; that statement was copied from the file's first version
and, with the model, its inputs and its prompts unrecorded, cannot be checked: whether the rating
was blind to the voice model it is used to evaluate rests on that statement alone. It is a
second *automatic* rater, different in method from the face teacher; its own error rate is
unmeasured (no ground truth exists for these faces). Where "reviewer" appears in code and
metrics below, it names this AI rating.

Use in training (:mod:`s2f_desktop.training.traits_train`):

* a sex label is **verified** ("agreed" in the card, the README and the report: no person
  verified it) when the teacher's label is usable *and* the reviewer gives
  the same sex; only verified labels (plus LibriSpeech's self-reported sex) train and score
  the sex head. Clips where the two raters disagree are set aside, whichever is right, so
  the selection does not depend on the voice.
* age stays the teacher's (the issue's metric is agreement with face-derived age); the
  reviewer's bins measure how well two raters of the *same face* agree on the age bin, an
  upper reference for what a voice could be expected to reach against either of them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from s2f_desktop.core.errors import S2FError
from s2f_desktop.core.traits import AGE_BINS

REVIEW_FILE = Path(__file__).with_name("face_review.json")
#: The shuffle seed, sheet size and tile size the review was done with.
SHEET_SEED = 424242
FACES_PER_SHEET = 30
SHEET_COLUMNS = 6
TILE_PX = 170
SEXES = ("male", "female", "unsure")
REVIEW_BINS = (*AGE_BINS, "unsure")


def load_review(path: Path = REVIEW_FILE) -> dict[str, dict[str, str]]:
    """Clip id -> ``{"sex": ..., "age_bin": ...}``; raises S2FError on a malformed file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        clips: dict[str, dict[str, str]] = doc["clips"]
    except (OSError, ValueError, KeyError) as exc:
        raise S2FError(f"cannot read the face review {path}: {exc}") from exc
    for cid, entry in clips.items():
        if entry.get("sex") not in SEXES or entry.get("age_bin") not in REVIEW_BINS:
            raise S2FError(f"face review {path}: clip {cid} has an invalid entry {entry}")
    return clips


def verified_sex(teacher_male: bool, teacher_usable: bool, review: dict[str, str] | None) -> bool:
    """True when the teacher's label is usable and the reviewer saw the same sex."""
    if not teacher_usable or review is None or review["sex"] == "unsure":
        return False
    return (review["sex"] == "male") == teacher_male


def sex_agreement(faces: dict[str, dict[str, Any]], review: dict[str, dict[str, str]],
                  ids: Iterable[str]) -> dict[str, Any]:
    """Teacher vs reviewer on sex: counts over the given clips, split by teacher usability."""
    out: dict[str, Any] = {"usable": {"agree": 0, "disagree": 0, "reviewer_unsure": 0},
                           "unusable": {"agree": 0, "disagree": 0, "reviewer_unsure": 0}}
    for cid in ids:
        f, r = faces.get(cid), review.get(cid)
        if f is None or r is None:
            continue
        part = out["usable" if f["sex_usable"] else "unusable"]
        if r["sex"] == "unsure":
            part["reviewer_unsure"] += 1
        elif (r["sex"] == "male") == (f["p_male"] >= 0.5):
            part["agree"] += 1
        else:
            part["disagree"] += 1
    return out


def age_bin_agreement(teacher_age: np.ndarray, reviewer_bin: np.ndarray, edges: tuple[float, ...]) -> dict[str, Any]:
    """Agreement of the teacher's age bin with the reviewer's (both rate the same face).

    ``reviewer_bin`` holds indices into AGE_BINS (-1 = unsure, skipped).
    """
    from s2f_desktop.voice.calibration import age_bin

    m = np.isfinite(teacher_age) & (reviewer_bin >= 0)
    t = age_bin(teacher_age[m], edges)
    r = reviewer_bin[m]
    confusion = np.zeros((len(AGE_BINS), len(AGE_BINS)), int)
    for a, b in zip(t, r):
        confusion[a, b] += 1
    return {"n": int(m.sum()), "agreement": float(np.mean(t == r)) if m.any() else float("nan"),
            "confusion_teacher_rows_reviewer_cols": confusion.tolist(), "bins": list(AGE_BINS),
            "reviewer_majority_share": float(np.max(np.bincount(r, minlength=len(AGE_BINS))) / max(1, len(r)))}


def reviewer_bin_index(review: dict[str, str] | None) -> int:
    """Index of the reviewer's age bin in AGE_BINS, or -1 when unsure / not reviewed."""
    if review is None or review["age_bin"] == "unsure":
        return -1
    return AGE_BINS.index(review["age_bin"])


def sheet_order(ids: Iterable[str]) -> list[str]:
    """The seeded order in which the frames were shown to the reviewer."""
    order = sorted(ids)
    random.Random(SHEET_SEED).shuffle(order)
    return order


def write_sheets(faces_dir: Path, out_dir: Path, log: Callable[[str], None] = print) -> list[Path]:
    """Re-create the numbered contact sheets the review was done on (PNG, numbers only, no ids).

    ``out_dir/order.json`` maps sheet numbers back to clip ids, for an auditor repeating the review.
    """
    from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

    from s2f_desktop.system.env import resources_dir

    ids = [p.stem for p in faces_dir.glob("*.jpg")]
    if not ids:
        raise S2FError(f"no face frames (*.jpg) in {faces_dir}")
    order = sheet_order(ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "order.json").write_text(json.dumps(order, indent=0) + "\n", encoding="utf-8")
    label_h = 22
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            str(resources_dir() / "fonts" / "DejaVuSans-Bold.ttf"), 15)
    except OSError:  # the bundled font is missing: Pillow's own bitmap font still numbers the tiles
        font = ImageFont.load_default()
    paths = []
    for start in range(0, len(order), FACES_PER_SHEET):
        chunk = order[start:start + FACES_PER_SHEET]
        rows = (len(chunk) + SHEET_COLUMNS - 1) // SHEET_COLUMNS
        sheet = Image.new("RGB", (SHEET_COLUMNS * TILE_PX, rows * (TILE_PX + label_h)), (255, 255, 255))
        draw = ImageDraw.Draw(sheet)
        for j, cid in enumerate(chunk):
            try:
                with Image.open(faces_dir / f"{cid}.jpg") as src:
                    img = src.convert("RGB").resize((TILE_PX, TILE_PX), Image.Resampling.BOX)
            except (OSError, UnidentifiedImageError) as exc:
                raise S2FError(f"cannot decode face frame {cid}.jpg") from exc
            r, c = divmod(j, SHEET_COLUMNS)
            y, x = r * (TILE_PX + label_h), c * TILE_PX
            sheet.paste(img, (x, y + label_h))
            draw.text((x + 4, y + 2), str(start + j), fill=(200, 0, 0), font=font)
        path = out_dir / f"sheet{start // FACES_PER_SHEET:02d}.png"
        sheet.save(path, format="PNG")
        paths.append(path)
    log(f"wrote {len(paths)} contact sheets ({len(order)} faces) to {out_dir}")
    return paths
