"""Analyst choices for composites and the documented thresholds (no torch here).

Ancestry mix and skin tone cannot be estimated from a voice. They are analyst
inputs; when the analyst gives none, the composite uses a neutral default (equal
anny ancestry mix, medium skin tone) and records that the value is a default.
Skin, hair and eye colours are illustrative in every case.
"""

from __future__ import annotations

#: Another-sex variant is made when the probability of the less likely sex exceeds
#: this value (i.e. p_male between 0.10 and 0.90). 10 % is where the other sex is a
#: realistic alternative an analyst should see next to the primary composite.
OTHER_SEX_THRESHOLD = 0.10

#: Ancestry mixes on anny's three ancestry anchors (weights are normalised by anny).
ANCESTRY_CHOICES: dict[str, dict[str, float]] = {
    "neutral": {"african": 1 / 3, "asian": 1 / 3, "caucasian": 1 / 3},
    "african": {"african": 1.0, "asian": 0.0, "caucasian": 0.0},
    "asian": {"african": 0.0, "asian": 1.0, "caucasian": 0.0},
    "caucasian": {"african": 0.0, "asian": 0.0, "caucasian": 1.0},
    "african-caucasian": {"african": 0.5, "asian": 0.0, "caucasian": 0.5},
    "asian-caucasian": {"african": 0.0, "asian": 0.5, "caucasian": 0.5},
    "african-asian": {"african": 0.5, "asian": 0.5, "caucasian": 0.0},
}
DEFAULT_ANCESTRY = "neutral"

#: Skin tones (sRGB), from light to dark; "medium" is the neutral default.
SKIN_TONES: dict[str, tuple[int, int, int]] = {
    "light": (236, 200, 178),
    "light-medium": (218, 172, 142),
    "medium": (192, 142, 108),
    "medium-dark": (150, 100, 70),
    "dark": (98, 64, 44),
}
SKIN_TONE_CHOICES = tuple(SKIN_TONES)
DEFAULT_SKIN_TONE = "medium"

#: Eye colours (sRGB iris); brown is the most common worldwide, hence the default.
EYE_COLOURS: dict[str, tuple[int, int, int]] = {
    "brown": (92, 58, 36),
    "dark-brown": (52, 34, 24),
    "hazel": (120, 96, 56),
    "blue": (92, 122, 150),
    "green": (90, 110, 70),
}
DEFAULT_EYE_COLOUR = "brown"

#: Hair colours (sRGB) before age-typical greying.
HAIR_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (28, 24, 22),
    "dark-brown": (56, 40, 30),
    "brown": (92, 66, 44),
    "blond": (176, 144, 98),
    "red": (130, 62, 36),
}
DEFAULT_HAIR_COLOUR = "dark-brown"
GREY_HAIR = (178, 176, 172)
