"""Plain-language expressions of the calibrated probabilities shown in reports.

Verbal scale for the sex estimate
---------------------------------
Forensic practice in Europe reports evidential strength on the ENFSI verbal scale
(ENFSI Guideline for Evaluative Reporting in Forensic Science, 2015), which is defined
on the likelihood ratio (LR). The trait model outputs a *posterior* probability
``p_male`` whose calibration set is not sex-balanced (its card gives the counts), so its
odds are not a likelihood ratio. The bands below borrow the ENFSI band edges, mapped to
probabilities as if the prior were 50:50, only to word how strong the stated probability
is; the report never prints a likelihood ratio for a trait (an investigative estimate,
not evaluative evidence). The words are deliberately not ENFSI's ("support for"): the same
report states the speaker comparisons' likelihood ratios in ENFSI's words, and a probability
worded like an LR would read as one:

==================  ===========================  ==========================================
LR band             posterior band (50:50 prior)  wording
==================  ===========================  ==========================================
1 - 2               0.500 - 0.667                 no meaningful indication of either sex
2 - 10              0.667 - 0.909                 weak indication
10 - 100            0.909 - 0.990                 moderate indication
100 - 1 000         0.990 - 0.999                 moderately strong indication
1 000 - 10 000      0.999 - 0.9999                strong indication
> 10 000            > 0.9999                      very strong indication
==================  ===========================  ==========================================

This is an *adaptation*; every report states so and always prints the number next to the
words. The wording never says the speaker "is" male or female.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: (lower posterior bound of the more probable sex, wording); checked from the top.
SEX_SCALE: tuple[tuple[float, str], ...] = (
    (10000 / 10001, "very strong indication"),
    (1000 / 1001, "strong indication"),
    (100 / 101, "moderately strong indication"),
    (10 / 11, "moderate indication"),
    (2 / 3, "weak indication"),
    (0.5, "no meaningful indication"),
)

SCALE_NOTE = (
    "Verbal scale: the words summarise the calibrated probability of the more probable sex, with band edges "
    "borrowed from the ENFSI verbal scale (ENFSI Guideline for Evaluative Reporting, 2015) read as if the prior "
    "were 50:50. The model's calibration set is not sex-balanced (see its card), so the probability is not a "
    "likelihood ratio and no likelihood ratio is stated: the sex and age estimates are investigative, not "
    "evaluative evidence. Bands: 0.50-0.67 no meaningful indication; 0.67-0.91 weak; 0.91-0.990 moderate; "
    "0.990-0.999 moderately strong; 0.999-0.9999 strong; above 0.9999 very strong indication. The words are "
    "\u201cindication\u201d, not ENFSI's \u201csupport\u201d, so that they are not read as a likelihood ratio: "
    "the speaker comparisons' likelihood ratios, where present, are worded on the ENFSI scale itself. The words "
    "are not a classification of the person."
)


@dataclass(frozen=True)
class SexStatement:
    """A sex estimate expressed in words, with the numbers it summarises."""

    p_male: float
    favoured: str  # "male", "female" or "" when neither is supported
    strength: str  # a SEX_SCALE wording
    likelihood_ratio: float
    sentence: str


def likelihood_ratio(p: float) -> float:
    """Posterior odds of probability ``p`` (= LR under equal priors); inf at p == 1."""
    if p >= 1.0:
        return math.inf
    return p / (1.0 - p)


def sex_strength(p_favoured: float) -> str:
    """Wording for the probability of the more probable sex (``p_favoured`` >= 0.5)."""
    for lower, words in SEX_SCALE:
        if p_favoured >= lower:
            return words
    return SEX_SCALE[-1][1]


def fmt_probability(p: float) -> str:
    """A probability as a number with enough digits to tell the scale bands apart."""
    if p >= 0.999 or p <= 0.001:
        return f"{p:.4f}"
    return f"{p:.3f}"


def express_sex(p_male: float) -> SexStatement:
    """Express a calibrated ``p_male`` in words, e.g. 'a moderate indication of a male speaker'."""
    p_male = min(1.0, max(0.0, float(p_male)))
    favoured = "male" if p_male >= 0.5 else "female"
    p_fav = p_male if favoured == "male" else 1.0 - p_male
    strength = sex_strength(p_fav)
    lr = likelihood_ratio(p_fav)
    if strength == "no meaningful indication":
        sentence = (f"The voice gives no meaningful indication of either sex (probability male "
                    f"{fmt_probability(p_male)}; the estimate cannot distinguish a male from a female speaker).")
        favoured = ""
    else:
        article = "an" if strength[0] in "aeiou" else "a"
        sentence = (f"The voice gives {article} {strength} of a {favoured} speaker rather than a "
                    f"{'female' if favoured == 'male' else 'male'} speaker (calibrated probability {favoured} "
                    f"{fmt_probability(p_fav)}). This is an investigative estimate, not evaluative evidence.")
    return SexStatement(p_male, favoured, strength, lr, sentence)


def express_age(median: float, lo: float, hi: float) -> str:
    """Plain-language age statement from a median and an 80 % interval."""
    return (f"The estimated age is around {median:.0f} years, with an 80 % interval of {lo:.0f}\u2013{hi:.0f} years "
            f"(an interval meant to contain the true age in 8 of 10 cases; its measured coverage is in the model "
            f"card). "
            f"Age is only weakly identifiable from voice.")
