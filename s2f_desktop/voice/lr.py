"""Speaker comparison scores to bounded, calibrated likelihood ratios (numpy only; no torch).

The pipeline of ``models/comparison-v1`` for one questioned side and one known side:

1. raw score: cosine similarity of the two sides' mean GE2E window embeddings;
2. adaptive symmetric score normalisation (AS-norm, Matejka et al. 2017): each side is
   scored against a cohort of other speakers (avspeech-968 and LibriSpeech-251 clips, clean and
   telephone band); the mean and standard deviation of its ``top_k`` highest cohort scores
   normalise the raw score, and the two normalised scores are averaged;
3. calibration: logistic regression of the log-odds on the normalised score with a quality
   measure (the net speech of the shorter side), fitted on same- and different-speaker pairs;
   short sides therefore give LRs nearer to 1 (the uncertainty their duration implies);
4. bounds: the log10 LR is clipped to the empirical lower and upper bounds (ELUB, Vergeer et
   al. 2016) of the cross-validated LRs, so no LR is more extreme than the validation supports.

Propositions: Hp, the questioned and known speech were spoken by the same speaker; Hd, they
were spoken by different speakers of the relevant population (adult speakers of the same sex;
mostly English, as far as the training data allows).

Abstention: when either side has less net speech than the validation covered, no LR is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HP = "the questioned and the known speech were spoken by the same speaker"
HD = ("the questioned and the known speech were spoken by different speakers of the relevant population "
      "(adult speakers of the same sex as the known speaker; mostly English speech)")

#: ENFSI Guideline for Evaluative Reporting in Forensic Science (2015), verbal equivalents of LR ranges.
#: (lower log10 LR bound inclusive, words); applied symmetrically for support of Hd.
ENFSI_SCALE: tuple[tuple[float, str], ...] = (
    (6.0, "extremely strong support"),
    (4.0, "very strong support"),
    (3.0, "strong support"),
    (2.0, "moderately strong support"),
    (1.0, "moderate support"),
    (np.log10(2.0), "weak support"),
)
SCALE_NAME = "ENFSI Guideline for Evaluative Reporting in Forensic Science (2015)"


def verbal(log10_lr: float | None) -> str:
    """The ENFSI 2015 verbal equivalent of a log10 LR, naming the proposition it supports."""
    if log10_lr is None:
        return "no opinion (the system abstained)"
    a = abs(log10_lr)
    for lo, words in ENFSI_SCALE:
        if a >= lo:
            return f"{words} for {'Hp (same speaker)' if log10_lr > 0 else 'Hd (different speakers)'}"
    return "no support for either proposition (LR about 1)"


def label(log10_lr: float | None) -> str:
    """Machine-readable label: 'same', 'different', 'inconclusive' (|log10 LR| < log10 2) or 'abstain'."""
    if log10_lr is None:
        return "abstain"
    if abs(log10_lr) < np.log10(2.0):
        return "inconclusive"
    return "same" if log10_lr > 0 else "different"


def unit(v: np.ndarray) -> np.ndarray:
    """Rows (or a vector) scaled to unit length."""
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    out: np.ndarray = v / np.clip(n, 1e-12, None)
    return out


def cohort_stats(emb: np.ndarray, cohort: np.ndarray, top_k: int,
                 mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of each embedding's ``top_k`` highest cosine scores against the cohort.

    ``emb`` (n, d) and ``cohort`` (m, d) are unit rows; ``mask`` (n, m) True excludes a cohort entry.
    """
    s = np.asarray(emb, dtype=np.float32) @ np.asarray(cohort, dtype=np.float32).T
    if mask is not None:
        s = np.where(mask, -np.inf, s)
    k = min(top_k, s.shape[1])
    top = -np.partition(-s, k - 1, axis=1)[:, :k]
    top = np.where(np.isfinite(top), top, np.nan)
    mu = np.nanmean(top, axis=1)
    sd = np.nanstd(top, axis=1)
    return mu.astype(np.float64), np.clip(sd, 1e-3, None).astype(np.float64)


def as_norm(raw: np.ndarray, q_stats: tuple[np.ndarray, np.ndarray],
            k_stats: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Symmetric adaptive s-norm of raw scores given each side's cohort statistics."""
    out: np.ndarray = 0.5 * ((raw - q_stats[0]) / q_stats[1] + (raw - k_stats[0]) / k_stats[1])
    return out


def quality_features(snorm: np.ndarray, speech_q: np.ndarray, speech_k: np.ndarray) -> np.ndarray:
    """Calibration inputs: the normalised score, and its interaction with the shorter side's net speech.

    q = log2(min speech / 3 s); the logistic model llr = w0 + w1 s + w2 s q + w3 q lets the slope (the
    weight of the score) grow with duration.
    """
    q = np.log2(np.minimum(speech_q, speech_k) / 3.0)
    s = np.asarray(snorm, dtype=np.float64)
    return np.stack([s, s * q, q], axis=-1)


@dataclass(frozen=True)
class Calibration:
    """The fitted comparison model's numbers (everything needed at run time; loaded from calibration.json)."""

    top_k: int
    coef: tuple[float, ...]  # natural-log odds weights of quality_features
    intercept: float
    lower: float  # log10 LR bounds (ELUB)
    upper: float
    min_speech_s: float
    max_speech_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read calibration.json."""
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(int(d["top_k"]), tuple(float(c) for c in d["coef"]), float(d["intercept"]), float(d["lower"]),
                   float(d["upper"]), float(d["min_speech_s"]), float(d["max_speech_s"]),
                   {k: v for k, v in d.items() if k not in ("top_k", "coef", "intercept", "lower", "upper",
                                                             "min_speech_s", "max_speech_s")})

    def to_dict(self) -> dict[str, Any]:
        """JSON form (calibration.json)."""
        return {"top_k": self.top_k, "coef": list(self.coef), "intercept": self.intercept, "lower": self.lower,
                "upper": self.upper, "min_speech_s": self.min_speech_s, "max_speech_s": self.max_speech_s, **self.extra}

    def log10_lr(self, snorm: np.ndarray, speech_q: np.ndarray, speech_k: np.ndarray,
                 bounded: bool = True) -> np.ndarray:
        """Calibrated log10 LRs (clipped to the ELUB bounds unless ``bounded`` is False)."""
        # Durations beyond the validated range are treated as the longest validated duration.
        sq = np.minimum(np.asarray(speech_q, dtype=np.float64), self.max_speech_s)
        sk = np.minimum(np.asarray(speech_k, dtype=np.float64), self.max_speech_s)
        ln = self.intercept + quality_features(snorm, sq, sk) @ np.asarray(self.coef)
        out: np.ndarray = ln / np.log(10.0)
        return np.clip(out, self.lower, self.upper) if bounded else out


@dataclass(frozen=True)
class Verdict:
    """One comparison's scoring at full precision (the comparison system reports it, rounded and with its
    sides, as :class:`s2f_desktop.core.comparison_results.ComparisonVerdict`)."""

    score: float | None  # raw cosine
    snorm: float | None
    log10_lr: float | None  # None when abstaining
    verbal: str
    label: str
    abstain_reason: str | None
    speech_q: float
    speech_k: float
    bounded: bool = False  # True when the LR was clipped to a bound


def abstain(reason: str, speech_q: float, speech_k: float, score: float | None = None) -> Verdict:
    """A verdict that gives no LR, with the reason."""
    return Verdict(score, None, None, verbal(None), "abstain", reason, speech_q, speech_k)


def compare_embeddings(cal: Calibration, cohort: np.ndarray, q: np.ndarray, k: np.ndarray, speech_q: float,
                       speech_k: float, q_stats: tuple[np.ndarray, np.ndarray] | None = None,
                       k_stats: tuple[np.ndarray, np.ndarray] | None = None) -> Verdict:
    """Compare two side embeddings (unit 256-d) with their net speech; abstains on too little speech.

    ``q_stats``/``k_stats``: a side's :func:`cohort_stats` (of ``unit(q)[None]``) when the caller
    already has them (a side compared many times); computed here otherwise.
    """
    qe, ke = unit(q), unit(k)
    raw = float(qe @ ke)
    short = [n for n, s in (("questioned", speech_q), ("known", speech_k)) if s < cal.min_speech_s]
    if short:
        return abstain(f"too little net speech on the {' and '.join(short)} side "
                       f"({speech_q:.1f} s / {speech_k:.1f} s; the validation covers {cal.min_speech_s:g} s or more)",
                       speech_q, speech_k, raw)
    qs = q_stats if q_stats is not None else cohort_stats(qe[None], cohort, cal.top_k)
    ks = k_stats if k_stats is not None else cohort_stats(ke[None], cohort, cal.top_k)
    sn = float(as_norm(np.array([raw]), qs, ks)[0])
    unb = float(cal.log10_lr(np.array([sn]), np.array([speech_q]), np.array([speech_k]), bounded=False)[0])
    llr = float(np.clip(unb, cal.lower, cal.upper))
    return Verdict(raw, sn, llr, verbal(llr), label(llr), None, speech_q, speech_k, bounded=llr != unb)
