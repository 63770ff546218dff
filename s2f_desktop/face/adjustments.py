"""Analyst sliders: named, bounded local changes of the anny head (no torch here).

Each slider drives one anny local change (a MakeHuman target pair) or a left/right
pair of them moved together, on anny's own scale: -1 (the "decrease" target fully
applied) .. 0 (neutral) .. +1 (the "increase" target). Bounds are kept inside that
range so a slider can never push the mesh past what MakeHuman's artists modelled.
This module is plain data so the GUI and the services can list sliders without
loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Adjustment:
    """One slider: ``name`` is stable (stored with composites); ``label`` is for people."""

    name: str
    label: str
    group: str
    minimum: float
    maximum: float
    default: float
    targets: tuple[str, ...] = ()

    def validate(self, value: float) -> float:
        """``value`` as float if within bounds, else ValueError."""
        v = float(value)
        if not (self.minimum <= v <= self.maximum) or v != v:
            raise ValueError(f"{self.name} must lie between {self.minimum:g} and {self.maximum:g}, got {value!r}")
        return v


def _a(name: str, label: str, group: str, *targets: str, lo: float = -1.0, hi: float = 1.0) -> Adjustment:
    return Adjustment(name, label, group, lo, hi, 0.0, tuple(targets))


def _lr(stem: str) -> tuple[str, str]:
    return f"l-{stem}", f"r-{stem}"


ADJUSTMENTS: list[Adjustment] = [
    _a("head_width", "Head width", "head shape", "head-scale-horiz-incr"),
    _a("head_height", "Head height", "head shape", "head-scale-vert-incr"),
    _a("head_depth", "Head depth", "head shape", "head-scale-depth-incr"),
    _a("face_fullness", "Face fullness", "head shape", "head-fat-incr"),
    _a("forehead_height", "Forehead height", "head shape", "forehead-scale-vert-incr"),
    _a("neck_width", "Neck width", "head shape", "neck-scale-horiz-incr"),
    _a("cheekbones", "Cheekbone prominence", "cheeks", *_lr("cheek-bones-incr")),
    _a("cheek_volume", "Cheek volume", "cheeks", *_lr("cheek-volume-incr")),
    _a("eye_size", "Eye size", "eyes", *_lr("eye-scale-incr")),
    _a("eye_height", "Eye height", "eyes", *_lr("eye-trans-up")),
    _a("eye_spacing", "Eye spacing", "eyes", *_lr("eye-trans-out")),
    _a("eyelid_fold", "Eyelid fold", "eyes", *_lr("eye-eyefold-up")),
    _a("brow_height", "Eyebrow height", "brows", "eyebrows-trans-up"),
    _a("brow_angle", "Eyebrow angle", "brows", "eyebrows-angle-up"),
    _a("brow_ridge", "Brow ridge projection", "brows", "eyebrows-trans-forward"),
    _a("nose_width", "Nose width", "nose", "nose-scale-horiz-incr"),
    _a("nose_length", "Nose length", "nose", "nose-scale-vert-incr"),
    _a("nose_projection", "Nose projection", "nose", "nose-scale-depth-incr"),
    _a("nose_hump", "Nose bridge hump", "nose", "nose-hump-incr"),
    _a("nose_tip", "Nose tip up/down", "nose", "nose-point-up"),
    _a("nostril_width", "Nostril width", "nose", "nose-nostrils-width-incr"),
    _a("mouth_width", "Mouth width", "mouth", "mouth-scale-horiz-incr"),
    _a("upper_lip", "Upper lip volume", "mouth", "mouth-upperlip-volume-incr"),
    _a("lower_lip", "Lower lip volume", "mouth", "mouth-lowerlip-volume-incr"),
    _a("mouth_corners", "Mouth corners up/down", "mouth", "mouth-angles-up"),
    _a("chin_width", "Chin width", "chin and jaw", "chin-width-incr"),
    _a("chin_height", "Chin height", "chin and jaw", "chin-height-incr"),
    _a("chin_prominence", "Chin prominence", "chin and jaw", "chin-prominent-incr"),
    _a("jaw_angle", "Jaw angle width", "chin and jaw", "chin-bones-incr"),
    _a("ear_size", "Ear size", "ears", *_lr("ear-scale-incr")),
    _a("ear_protrusion", "Ear protrusion", "ears", *_lr("ear-wing-incr")),
    _a("ear_lobes", "Ear lobe size", "ears", *_lr("ear-lobe-incr")),
]

BY_NAME: dict[str, Adjustment] = {a.name: a for a in ADJUSTMENTS}
