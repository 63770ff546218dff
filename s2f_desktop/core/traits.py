"""Trait estimates produced by the voice models and consumed by composites and reports.

Labels are deliberately coarse. ``inconclusive`` is a first-class answer: the models
abstain when speech quality is insufficient or the probability lies in the documented
uncertain band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INCONCLUSIVE = "inconclusive"
SEX_LABELS = ("male", "female", INCONCLUSIVE)
#: Age bins used for bin accuracy and plain-language reporting.
AGE_BINS = ("<20", "20-39", "40-59", ">=60")


@dataclass(frozen=True)
class SexEstimate:
    """Calibrated probability that the speaker is male, and the label after abstention."""

    p_male: float
    label: str
    reason: str = ""


@dataclass(frozen=True)
class AgeEstimate:
    """Median age in years with an 80 % interval; ``label`` is an AGE_BINS entry or inconclusive."""

    median_years: float
    interval_80: tuple[float, float]
    label: str
    bin_probabilities: dict[str, float] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class TraitEstimate:
    """What the voice says about its speaker, with provenance."""

    sex: SexEstimate
    age: AgeEstimate
    model_id: str = ""
    model_sha256: str = ""
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        """False when nothing could be measured: the stored probability (0.5) and age (the training prior)
        are placeholders, never numbers to show (``Analyzer.no_estimate`` records ``estimated: False``)."""
        return self.extra.get("estimated") is not False

    @property
    def gate_reason(self) -> str:
        """Why both traits abstained before any head's answer counted ("" when they did not).

        The quality gate (too little speech, insufficient quality) writes its one reason into both
        traits (``inference.traits``); every other abstention gives each trait its own reason. Read
        from the stored estimate, so runs stored before this property existed read the same. The
        probabilities and intervals of such an estimate are kept for the record only: they are not
        findings, and nothing (composite, report statement) may be built on them.
        """
        same = self.sex.reason and self.sex.reason == self.age.reason
        both = self.sex.label == INCONCLUSIVE and self.age.label == INCONCLUSIVE
        return self.sex.reason if same and both else ""


def age_limit_note(age: AgeEstimate, extra: dict[str, Any]) -> str:
    """A sentence when the 80 % interval reaches the ages the model clips its answers to ("" otherwise).

    The trait model never answers outside ``extra["age_clip_years"]`` (recorded with every estimate since
    issue 13's review); an interval end at that bound is the model's limit, not something the voice showed,
    so GUI, report and command line say so where they print the interval.
    """
    clip = extra.get("age_clip_years")
    if not isinstance(clip, (list, tuple)) or len(clip) != 2:
        return ""
    lo, hi = age.interval_80
    parts = []
    if lo <= float(clip[0]):
        parts.append(f"its lower end, {float(clip[0]):.0f} years, is the lowest age the model answers (children "
                     f"and adolescents are essentially absent from its training data), so it sets no lower limit"
                     + ("; the median sits at that limit too, so it is no estimate of a younger age"
                        if age.median_years <= float(clip[0]) else ""))
    if hi >= float(clip[1]):
        parts.append(f"its upper end, {float(clip[1]):.0f} years, is the highest age the model answers, so it "
                     f"sets no upper limit" + ("; the median sits at that limit too"
                                               if age.median_years >= float(clip[1]) else ""))
    return ("The 80 % interval reaches the model's limits: " + "; ".join(parts) + ".") if parts else ""
