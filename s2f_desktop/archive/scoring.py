"""How archive search scores a candidate voice against the query voice.

Search needs two things from a speaker-comparison model: a *score* for many candidate
embeddings at once, and the calibrated map from that score to a log10 likelihood ratio
(same speaker vs. different speakers). :class:`Scorer` is that interface.

* :class:`CosineScorer` (used until a calibrated comparison model is installed): cosine
  similarity of GE2E embeddings; it gives a ranking but **no** likelihood ratio
  (``log10_lr`` is ``None``) and no verbal statement - a raw similarity is not evidence
  of anything on its own.
* :class:`CalibratedScorer` wraps the comparison model's own score and score -> log10 LR
  functions; search then reports log10 LR and the ENFSI verbal wording.

:func:`load_scorer` picks the calibrated model when the comparison module provides it
(see ``_calibrated_from_comparison_model``), otherwise cosine.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np

log = logging.getLogger(__name__)

#: ENFSI verbal scale on |log10 LR| (ENFSI Guideline for Evaluative Reporting, 2015); checked from the top.
VERBAL_SCALE: tuple[tuple[float, str], ...] = (
    (4.0, "very strong support"),
    (3.0, "strong support"),
    (2.0, "moderately strong support"),
    (1.0, "moderate support"),
    (np.log10(2.0), "weak support"),
)


def verbal(log10_lr: float | None) -> str | None:
    """ENFSI wording of a log10 LR (``None`` without an LR)."""
    if log10_lr is None or not np.isfinite(log10_lr):
        return None
    mag = abs(float(log10_lr))
    for lower, words in VERBAL_SCALE:
        if mag >= lower:
            side = "the same speaker" if log10_lr > 0 else "different speakers"
            return f"{words} for {side}"
    return "no meaningful support for either proposition"


class Scorer(Protocol):
    """Scores candidates against a query; optionally maps scores to calibrated log10 LRs."""

    name: str
    calibrated: bool
    model: dict[str, str] | None

    def scores(self, query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Similarity scores (higher = more alike) of (n, d) candidates to one (d,) query."""
        ...

    def log10_lr(self, scores: np.ndarray, query_speech_s: float,
                 candidate_speech_s: np.ndarray) -> np.ndarray | None:
        """Calibrated log10 LR per score (None when the scorer is not calibrated)."""
        ...


@dataclass
class CosineScorer:
    """Cosine similarity of unit embeddings; a ranking only, no likelihood ratio."""

    name: str = "cosine similarity of GE2E embeddings (uncalibrated: no likelihood ratio)"
    calibrated: bool = False
    model: dict[str, str] | None = None

    def scores(self, query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        q = np.asarray(query, np.float32)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        return candidates @ q  # index embeddings are stored unit-length

    def log10_lr(self, scores: np.ndarray, query_speech_s: float,
                 candidate_speech_s: np.ndarray) -> np.ndarray | None:
        return None


@dataclass
class CalibratedScorer:
    """A comparison model's score function and its calibrated score -> log10 LR map.

    ``score_fn(query (d,), candidates (n, d)) -> (n,)``;
    ``lr_fn(scores (n,), query_speech_s, candidate_speech_s (n,)) -> log10 LR (n,)``.
    """

    score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    lr_fn: Callable[[np.ndarray, float, np.ndarray], np.ndarray]
    name: str = "calibrated speaker comparison"
    model: dict[str, str] | None = None
    calibrated: bool = True
    notes: list[str] = field(default_factory=list)

    def scores(self, query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return np.asarray(self.score_fn(query, candidates), dtype=np.float64)

    def log10_lr(self, scores: np.ndarray, query_speech_s: float,
                 candidate_speech_s: np.ndarray) -> np.ndarray | None:
        return np.asarray(self.lr_fn(scores, query_speech_s, candidate_speech_s), dtype=np.float64)


def _calibrated_from_comparison_model() -> CalibratedScorer | None:
    """The calibrated speaker-comparison model, when the installed code provides one.

    Contract expected from the comparison module (``s2f_desktop.voice.lr``, issue 14):
    a function ``archive_scorer() -> (score_fn, lr_fn, model_record)`` with the
    signatures of :class:`CalibratedScorer`. Until that function exists this returns
    None and search ranks by cosine with ``log10_lr`` null.
    """
    try:
        mod = importlib.import_module("s2f_desktop.voice.lr")
    except ImportError:
        return None
    factory = getattr(mod, "archive_scorer", None)
    if factory is None:
        return None
    score_fn, lr_fn, record = factory()
    return CalibratedScorer(score_fn, lr_fn, name=f"calibrated speaker comparison ({record.get('id', '?')})",
                            model=dict(record))


def load_scorer(prefer_calibrated: bool = True) -> Any:
    """The calibrated comparison scorer when installed, else :class:`CosineScorer`."""
    if prefer_calibrated:
        try:
            cal = _calibrated_from_comparison_model()
        except Exception:  # a broken model must not silently pass for calibrated: say so, fall back
            log.exception("the calibrated comparison model could not be loaded; ranking by cosine")
            cal = None
        if cal is not None:
            return cal
    return CosineScorer()
