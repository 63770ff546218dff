"""How a composite is painted and viewed: colours, feature strengths, views (plain data, no torch).

Kept apart from :mod:`s2f_desktop.face.render` so that planning a composite set
(:mod:`s2f_desktop.face.mapping`) does not load torch.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The views a composite is rendered in, with the head's yaw in degrees (one definition for face and services).
VIEWS = {"front": 0.0, "three_quarter": 35.0, "profile": 90.0}


@dataclass(frozen=True)
class Appearance:
    """Colours (sRGB 0-255) and feature strengths; all of it is illustrative."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    brow: tuple[int, int, int]
    iris: tuple[int, int, int]
    lip_tint: float  # 0 = skin coloured lips .. 1 = strongly red-brown
    brow_thickness: float  # half-height of the eyebrow band in eye radii
    lash_strength: float  # darkness of the upper lash line
    sex_female: bool
    ageing: float = 0.0  # 0 = no age-typical skin shading .. 1 = strong (about 75 y)
    cloth: tuple[int, int, int] = (58, 60, 66)  # neutral dark top
    brow_lift: float = 0.0  # eyebrow height offset in eye radii (female-typical brows sit higher)
    brow_arch: float = 0.30  # arch height in eye radii (female-typical brows are more arched)
    lower_lash: float = 0.0  # darkness of the lower lash line (eye-region contrast)
    beard_shadow: float = 0.0  # male beard-area skin darkening (0 for female)
    hair_grey: float = 0.0  # share of grey strands (salt and pepper), 0..1
    grey_colour: tuple[int, int, int] = (150, 148, 145)
