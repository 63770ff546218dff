"""From voice traits to anny parameters, and from recorded parameters to a render.

Every composite is described by a flat parameter record
``{name: {"value", "origin", "note", "illustrative"}}`` where ``origin`` is
``voice`` (derived from the voice estimate), ``analyst`` (typed or slid by the
analyst) or ``default`` (a population default). The image is a pure function of that
record (:func:`spec_from_parameters`), so a stored composite can be re-rendered and
its sha256 checked.

Mapping (anny scales are 0..1):

* sex -> ``gender``: 0 for a male composite, 1 for a female one (anny's typical adult
  male and female). The depicted sex is the more probable one; the uncertainty is
  shown by the other-sex variant (see ``choices.OTHER_SEX_THRESHOLD``), not by an
  androgynous blend that would read as neither.
* age in years -> anny ``age`` on MakeHuman's face convention (young target = 25 y,
  old target = 90 y; :func:`anny_face_age`), plus MakeHuman's facial-ageing target
  ``head-age`` over its full range and eye bags, all scaled from the age in years and
  recorded with origin ``voice``. (anny's morphological calibration, :func:`anny_age`,
  is almost flat across adulthood - 18 y -> 0.77, 64 y -> 0.83 - so it left a 20- and
  a 70-year-old looking alike.)
* sex-typical population morphology and contrast tied to the depicted sex (origin of
  the sex estimate): anny ``gender``; neck and shoulder widths (``build``); facial
  contrast, brow shape and beard-area skin tone (``spec_from_parameters``).
* illustrative age defaults: painted skin ageing (``skin_ageing``), greying
  (``hair_grey``, male composites) and frontal hair recession (``hair_recession``,
  male composites).
* muscle, weight, height, proportions (and cup size, firmness): population default 0.5.
* ancestry mix: analyst input, default an equal mix.
* skin tone, hair style and colour, eye colour, clothing: illustrative; defaults recorded
  as such.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from s2f_desktop.face import choices
from s2f_desktop.face.adjustments import BY_NAME as ADJUSTMENTS_BY_NAME
from s2f_desktop.face.appearance import Appearance

DEFAULT_PHENOTYPES = ("muscle", "weight", "height", "proportions", "cupsize", "firmness")
#: Bounds of the ages a composite can depict (adult range of the voice models).
MIN_AGE, MAX_AGE = 16.0, 90.0


@functools.lru_cache(maxsize=1)
def _age_anchors() -> tuple[np.ndarray, np.ndarray]:
    import anny.paths
    import torch

    sd = torch.load(anny.paths.get_anny_root_dir() / "data/shape_calibration/boys.pth", weights_only=True,
                    map_location="cpu")["morphological_age_mapping"]
    return sd["morphological_age_anchors"].numpy(), sd["anny_age_anchors"].numpy()


def anny_age(years: float) -> float:
    """anny's age parameter for an age in years (anny's morphological age mapping)."""
    morph, anny_vals = _age_anchors()
    return float(np.interp(float(years), morph, anny_vals))


def anny_face_age(years: float) -> float:
    """anny's age parameter for the *face* of an adult of ``years``.

    anny interpolates MakeHuman's age targets at anchors child = 1/3, young = 2/3,
    old = 1. MakeHuman's artists modelled the "young" head at 25 years and the "old"
    head at 90 years (MakeHuman's own age slider convention), so adult faces are
    placed on that scale: 2/3 at 25 y, 1 at 90 y, and towards the child target (11 y)
    below 25 y. anny's morphological calibration (:func:`anny_age`) was fitted to body
    measurements and compresses every adult face into 0.77-0.83, which makes a
    20-year-old and a 70-year-old look alike.
    """
    y = float(years)
    if y >= 25.0:
        return float(min(1.0, 2 / 3 + (y - 25.0) / 65.0 / 3))
    return float(max(1 / 3, 2 / 3 - (25.0 - y) / 14.0 / 3))


def head_age_change(years: float) -> float:
    """MakeHuman ``head-age`` target weight: -1 at 20 y, 0 at 45 y, +1 from 70 y.

    The full range of MakeHuman's facial-ageing target is used: with a smaller range
    the independent face-attribute model used in the legibility benchmark barely
    separated 20 from 70 years (benchmarks/bench_face.py).
    """
    return float(np.clip((float(years) - 45.0) / 25.0, -1.0, 1.0))


def eye_bag_change(years: float) -> float:
    """Eye-bag target weight: none before 40 y, growing to 0.8 at 80 y."""
    return float(np.clip((float(years) - 40.0) / 50.0, 0.0, 0.8))


def grey_fraction(years: float) -> float:
    """Illustrative share of grey hair: none before 35 y, 85 % from about 80 y."""
    return float(np.clip((float(years) - 35.0) / 45.0, 0.0, 0.85))


def skin_ageing(years: float) -> float:
    """Strength of painted age-typical skin shading: none before 30 y, full at 75 y (illustrative)."""
    return float(np.clip((float(years) - 30.0) / 45.0, 0.0, 1.0))


def hair_recession(years: float) -> float:
    """Illustrative male hairline recession: none before 35 y, full from about 75 y."""
    return float(np.clip((float(years) - 35.0) / 40.0, 0.0, 1.0))


def _p(value: Any, origin: str, note: str = "", illustrative: bool = False) -> dict[str, Any]:
    return {"value": value, "origin": origin, "note": note, "illustrative": illustrative}


def depicted_age(age_years: float) -> float:
    """The age a composite depicts for an estimated age: the estimate, held to MIN_AGE-MAX_AGE."""
    return float(np.clip(float(age_years), MIN_AGE, MAX_AGE))


def build_parameters(*, sex: str, age_years: float, sex_note: str, age_note: str,
                     ancestry: str | dict[str, float] | None = None, skin: str | None = None,
                     eye_colour: str | None = None, hair_colour: str | None = None,
                     hair_style: str | None = None, sex_origin: str = "voice",
                     age_origin: str = "voice") -> dict[str, dict[str, Any]]:
    """The full parameter record for one composite."""
    if sex not in ("male", "female"):
        raise ValueError(f"sex must be 'male' or 'female', got {sex!r}")
    asked = float(age_years)
    age_years = depicted_age(asked)
    if age_years != asked:  # the depicted age is not the estimate's: the record says so
        age_note = (f"{age_note}; {asked:.0f} y lies outside the ages a composite depicts "
                    f"({MIN_AGE:g}-{MAX_AGE:g} y), shown at {age_years:.0f} y")
    p: dict[str, dict[str, Any]] = {}
    p["sex"] = _p(sex, sex_origin, sex_note)
    p["gender"] = _p(0.0 if sex == "male" else 1.0, sex_origin, f"anny gender for a typical adult {sex}")
    p["age_years"] = _p(round(age_years, 1), age_origin, age_note)
    p["age"] = _p(round(anny_face_age(age_years), 6), age_origin,
                  "anny age from the age in years (MakeHuman face convention: young target 25 y, old 90 y)")
    p["head_age"] = _p(round(head_age_change(age_years), 6), age_origin,
                       "MakeHuman facial-ageing target scaled from the age in years")
    p["eye_bags"] = _p(round(eye_bag_change(age_years), 6), age_origin, "eye bags scaled from the age in years")
    for name in DEFAULT_PHENOTYPES:
        p[name] = _p(0.5, "default", "population default (anny mid-scale)")
    # Ancestry mix: analyst input or neutral default.
    if ancestry is None:
        name, mix, origin = choices.DEFAULT_ANCESTRY, choices.ANCESTRY_CHOICES[choices.DEFAULT_ANCESTRY], "default"
    elif isinstance(ancestry, str):
        if ancestry not in choices.ANCESTRY_CHOICES:
            raise ValueError(f"unknown ancestry {ancestry!r}; choose from {', '.join(choices.ANCESTRY_CHOICES)}")
        name, mix, origin = ancestry, choices.ANCESTRY_CHOICES[ancestry], "analyst"
    else:
        mix = {k: float(ancestry.get(k, 0.0)) for k in ("african", "asian", "caucasian")}
        if any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError("an ancestry mix needs non-negative weights with a positive sum")
        total = sum(mix.values())
        name, mix, origin = "custom", {k: v / total for k, v in mix.items()}, "analyst"
    p["ancestry"] = _p(name, origin, "ancestry mix is not estimated from voice")
    for k in ("african", "asian", "caucasian"):
        p[k] = _p(round(float(mix[k]), 6), origin, "anny ancestry weight")
    skin_name = skin or choices.DEFAULT_SKIN_TONE
    if skin_name not in choices.SKIN_TONES:
        raise ValueError(f"unknown skin tone {skin_name!r}; choose from {', '.join(choices.SKIN_TONES)}")
    p["skin_tone"] = _p(skin_name, "analyst" if skin else "default",
                        "skin tone is not estimated from voice", illustrative=True)
    style = hair_style or ("short" if sex == "male" else "shoulder")
    p["hair_style"] = _p(style, "analyst" if hair_style else "default",
                         "neutral style typical for the depicted sex", illustrative=True)
    hc = hair_colour or choices.DEFAULT_HAIR_COLOUR
    if hc not in choices.HAIR_COLOURS:
        raise ValueError(f"unknown hair colour {hc!r}; choose from {', '.join(choices.HAIR_COLOURS)}")
    p["hair_colour"] = _p(hc, "analyst" if hair_colour else "default", "hair colour is not estimated from voice",
                          illustrative=True)
    # Greying is shown for male composites only: in the legibility benchmark grey long
    # hair made older female heads read as male (and younger) to the independent face
    # model, and many older women colour their hair, so uncoloured dark hair is an
    # equally plausible neutral default there.
    p["hair_grey"] = _p(round(grey_fraction(age_years) if sex == "male" else 0.0, 6), age_origin,
                        "population-typical greying for the age (male composites; 0 for female)",
                        illustrative=True)
    p["hair_recession"] = _p(round(hair_recession(age_years) if sex == "male" else 0.0, 6), age_origin,
                             "frontal hairline recession typical for a male of this age (0 for female)",
                             illustrative=True)
    p["skin_ageing"] = _p(round(skin_ageing(age_years), 6), age_origin,
                          "painted age-typical skin shading (under-eye, nasolabial folds, forehead lines)",
                          illustrative=True)
    p["facial_contrast"] = _p("female-typical" if sex == "female" else "male-typical", sex_origin,
                              "eye and lip contrast, brow height/arch/thickness and beard-area skin tone at the "
                              "population mean for the depicted sex (facial contrast: Russell 2009)",
                              illustrative=True)
    p["build"] = _p("female-typical" if sex == "female" else "male-typical", sex_origin,
                    "neck and shoulder widths at the population mean for the depicted sex; plain dark top",
                    illustrative=True)
    ec = eye_colour or choices.DEFAULT_EYE_COLOUR
    if ec not in choices.EYE_COLOURS:
        raise ValueError(f"unknown eye colour {ec!r}; choose from {', '.join(choices.EYE_COLOURS)}")
    p["eye_colour"] = _p(ec, "analyst" if eye_colour else "default", "eye colour is not estimated from voice",
                         illustrative=True)
    for adj in ADJUSTMENTS_BY_NAME.values():
        p[f"adjust.{adj.name}"] = _p(adj.default, "default", adj.label)
    return p


@dataclass(frozen=True)
class FaceSpec:
    """What the renderer needs: anny inputs, hair style and appearance."""

    phenotypes: dict[str, float]
    local_changes: dict[str, float]
    hair_style: str
    appearance: Appearance
    hair_recession: float = 0.0
    female: bool = False


def _rgb(colour: np.ndarray) -> tuple[int, int, int]:
    """An (r, g, b) float array as the rounded integer triple an :class:`Appearance` holds."""
    r, g, b = (int(round(c)) for c in colour)
    return r, g, b


def _v(params: dict[str, Any], name: str) -> Any:
    return params[name]["value"]


def spec_from_parameters(params: dict[str, Any]) -> FaceSpec:
    """Render inputs from a parameter record (pure; validates slider bounds)."""
    phen = {k: float(_v(params, k)) for k in ("gender", "age", *DEFAULT_PHENOTYPES, "african", "asian", "caucasian")}
    local: dict[str, float] = {}

    def add(label: str, value: float) -> None:
        local[label] = float(np.clip(local.get(label, 0.0) + value, -1.0, 1.0))

    add("head-age-incr", float(_v(params, "head_age")))
    for side in ("l", "r"):
        add(f"{side}-eye-bag-incr", float(_v(params, "eye_bags")))
    for key, entry in params.items():
        if key.startswith("adjust."):
            adj = ADJUSTMENTS_BY_NAME[key[len("adjust."):]]
            value = adj.validate(entry["value"])
            for target in adj.targets:
                add(target, value)
    female = _v(params, "sex") == "female"
    grey = float(_v(params, "hair_grey"))
    base_hair = np.asarray(choices.HAIR_COLOURS[_v(params, "hair_colour")], dtype=np.float64)
    # Eyebrows stay darker than greying scalp hair (they grey later).
    brow = base_hair * 0.85 * (1 - 0.15 * grey) + np.asarray(choices.GREY_HAIR) * 0.15 * grey
    look = Appearance(
        skin=choices.SKIN_TONES[_v(params, "skin_tone")],
        hair=_rgb(base_hair),
        hair_grey=grey,
        brow=_rgb(brow),
        iris=choices.EYE_COLOURS[_v(params, "eye_colour")],
        # Facial contrast (darkness of eyes and lips relative to the skin) is higher
        # in female than in male faces on average (Russell 2009); brows are thinner,
        # higher and more arched; male skin in the beard area is darker. Each is a
        # sex-typical population difference tied to the depicted sex.
        lip_tint=0.95 if female else 0.2,
        brow_thickness=0.19 if female else 0.36,
        lash_strength=1.0 if female else 0.45,
        brow_lift=0.15 if female else -0.05,
        brow_arch=0.40 if female else 0.15,
        lower_lash=0.55 if female else 0.0,
        beard_shadow=0.0 if female else 0.35,
        sex_female=female,
        ageing=float(params.get("skin_ageing", {}).get("value", 0.0)),
    )
    recede = float(params.get("hair_recession", {}).get("value", 0.0))
    return FaceSpec(phen, local, str(_v(params, "hair_style")), look, recede, female)
