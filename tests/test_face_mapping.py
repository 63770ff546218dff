"""Parameter mapping and origins, set planning, slider bounds (no rendering)."""

from __future__ import annotations

import pytest

from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate
from s2f_desktop.face import choices, mapping
from s2f_desktop.face.adjustments import ADJUSTMENTS, BY_NAME
from s2f_desktop.services import composites as svc


def traits(p_male: float, median: float = 34.0, lo: float = 26.0, hi: float = 45.0, sex_label: str = "male"):
    return TraitEstimate(SexEstimate(p_male, sex_label), AgeEstimate(median, (lo, hi), "20-39"))


def test_age_follows_anny_morphological_mapping() -> None:
    # anny's calibration anchors: 18 y -> 0.77, 64 y -> 0.83 (data/shape_calibration).
    assert mapping.anny_age(18) == pytest.approx(0.77)
    assert mapping.anny_age(64) == pytest.approx(0.83)
    ages = [mapping.anny_age(a) for a in (20, 30, 45, 60, 70)]
    assert ages == sorted(ages) and len(set(ages)) == 5
    assert mapping.head_age_change(20) < 0 < mapping.head_age_change(60)


def test_face_age_uses_makehuman_age_convention() -> None:
    # anny age anchors: young target at 2/3 (MakeHuman: 25 y), old target at 1 (90 y).
    assert mapping.anny_face_age(25) == pytest.approx(2 / 3)
    assert mapping.anny_face_age(90) == pytest.approx(1.0)
    ages = [mapping.anny_face_age(a) for a in (16, 20, 30, 45, 60, 70)]
    assert ages == sorted(ages) and len(set(ages)) == 6
    assert mapping.anny_face_age(70) - mapping.anny_face_age(20) > 0.2  # morphological mapping: < 0.06


def test_parameters_record_every_origin() -> None:
    p = mapping.build_parameters(sex="female", age_years=52, sex_note="p=0.9", age_note="median")
    assert p["sex"] == {"value": "female", "origin": "voice", "note": "p=0.9", "illustrative": False}
    assert p["gender"]["value"] == 1.0 and p["gender"]["origin"] == "voice"
    assert p["age"]["origin"] == "voice" and p["age"]["value"] == pytest.approx(mapping.anny_face_age(52), abs=1e-6)
    for name in ("muscle", "weight", "height", "proportions"):
        assert p[name] == {"value": 0.5, "origin": "default", "note": p[name]["note"], "illustrative": False}
    assert p["ancestry"]["value"] == "neutral" and p["ancestry"]["origin"] == "default"
    assert p["african"]["value"] == pytest.approx(1 / 3, abs=1e-6)
    for name in ("skin_tone", "hair_style", "hair_colour", "eye_colour", "hair_grey", "hair_recession",
                 "skin_ageing", "build", "facial_contrast"):
        assert p[name]["illustrative"] is True
    assert p["skin_tone"]["origin"] == "default" and p["hair_style"]["value"] == "shoulder"
    assert all(e["origin"] in ("voice", "analyst", "default") for e in p.values())
    assert all(p[f"adjust.{a.name}"]["value"] == a.default for a in ADJUSTMENTS)


def test_analyst_inputs_are_marked_analyst() -> None:
    p = mapping.build_parameters(sex="male", age_years=30, sex_note="", age_note="", ancestry="asian", skin="dark")
    assert p["ancestry"]["origin"] == "analyst" and p["asian"]["value"] == 1.0 and p["african"]["value"] == 0.0
    assert p["skin_tone"] == {"value": "dark", "origin": "analyst", "note": p["skin_tone"]["note"],
                              "illustrative": True}
    assert p["hair_style"]["value"] == "short"
    old = mapping.build_parameters(sex="male", age_years=70, sex_note="", age_note="")
    assert old["hair_recession"]["value"] > p["hair_recession"]["value"] == 0.0
    assert old["skin_ageing"]["value"] > 0.5 and old["skin_ageing"]["origin"] == "voice"
    with pytest.raises(ValueError):
        mapping.build_parameters(sex="male", age_years=30, sex_note="", age_note="", skin="green")


@pytest.mark.parametrize("p_male,expect_other", [
    (0.97, False), (0.90, False), (0.89, True), (0.5, True), (0.11, True), (0.10, False), (0.02, False),
])
def test_other_sex_variant_exactly_above_threshold(p_male: float, expect_other: bool) -> None:
    plan = svc.plan_composite_set(traits(p_male))
    kinds = [k for k, _, _ in plan]
    assert kinds[:3] == ["primary", "age_low", "age_high"]
    assert ("other_sex" in kinds) is expect_other
    primary = plan[0][2]
    assert primary["sex"]["value"] == ("male" if p_male >= 0.5 else "female")
    if expect_other:
        assert plan[3][2]["sex"]["value"] != primary["sex"]["value"]


def test_labels_and_age_variants() -> None:
    plan = svc.plan_composite_set(traits(0.97))
    assert plan[0][1] == "Primary: male (p=0.970), age 34 (80 % interval 26-45)"
    # Never "p=1.00" (read as certainty): the report's digits, four near 0 or 1.
    assert svc.plan_composite_set(traits(0.9975))[0][1].startswith("Primary: male (p=0.998)")
    assert svc.plan_composite_set(traits(0.9996))[0][1].startswith("Primary: male (p=0.9996)")
    ages = {k: p["age_years"]["value"] for k, _, p in plan}
    assert ages == {"primary": 34.0, "age_low": 26.0, "age_high": 45.0}
    assert "lower end" in plan[1][2]["age_years"]["note"]


@pytest.mark.parametrize("sex_label", ["male", "inconclusive"])
def test_an_interval_end_outside_the_depictable_ages_is_labelled_as_shown(sex_label: str) -> None:
    """An interval reaching under 16 y is depicted at 16 y; the label and the record say so, never "age 13"."""
    plan = svc.plan_composite_set(traits(0.97 if sex_label == "male" else 0.6, median=30.0, lo=13.0, hi=60.0,
                                         sex_label=sex_label))
    low = [(label, p) for kind, label, p in plan if kind == "age_low"]
    assert low
    for label, p in low:
        assert ("age 16 (lower end of the 80 % interval 13-60; the estimate's 13 y lies outside the 16-90 y a "
                "composite depicts)") in label
        assert p["age_years"]["value"] == mapping.MIN_AGE
        assert "13 y lies outside the ages a composite depicts (16-90 y), shown at 16 y" in p["age_years"]["note"]
    primary = [label for kind, label, _ in plan if kind == "primary"]
    assert all("age 30 (80 % interval 13-60)" in label for label in primary)


def test_sliders_are_bounded_and_validated() -> None:
    assert svc.list_adjustments() == ADJUSTMENTS
    assert len({a.name for a in ADJUSTMENTS}) == len(ADJUSTMENTS)
    for a in ADJUSTMENTS:
        assert a.minimum < a.default < a.maximum and -1.0 <= a.minimum and a.maximum <= 1.0
        assert a.validate(a.maximum) == a.maximum
        for bad in (a.maximum + 0.01, a.minimum - 0.01, float("nan")):
            with pytest.raises(ValueError):
                a.validate(bad)
    p = mapping.build_parameters(sex="male", age_years=30, sex_note="", age_note="")
    p["adjust.nose_width"]["value"] = 1.5
    with pytest.raises(ValueError):
        mapping.spec_from_parameters(p)
    p["adjust.nose_width"]["value"] = 0.4
    p["adjust.ear_size"]["value"] = -0.3
    spec = mapping.spec_from_parameters(p)
    assert spec.local_changes["nose-scale-horiz-incr"] == pytest.approx(0.4)
    assert spec.local_changes["l-ear-scale-incr"] == spec.local_changes["r-ear-scale-incr"] == pytest.approx(-0.3)
    assert all(-1.0 <= v <= 1.0 for v in spec.local_changes.values())


def test_choices_have_neutral_defaults() -> None:
    assert choices.DEFAULT_ANCESTRY in svc.ANCESTRY_CHOICES and choices.DEFAULT_SKIN_TONE in svc.SKIN_TONE_CHOICES
    assert BY_NAME["nose_width"].group == "nose"
