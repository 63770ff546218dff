"""How archive search scores a candidate voice against the query voice.

Search ranks many candidates at once. Every scorer sees the same candidate batch
(:class:`Batch`): for each candidate the channel-matched query embedding and candidate
embedding (both telephone band when either side is; see :mod:`s2f_desktop.archive.search`),
their raw cosine score, both sides' net speech and quality measures.

* :class:`CalibratedScorer`: the speaker-comparison model ``models/comparison-v1``
  (:mod:`s2f_desktop.voice.lr`): adaptive symmetric score normalisation against its
  cohort, duration-aware logistic calibration, ELUB-bounded log10 LR, the model's
  abstention rules (too little net speech, clipping, narrow bandwidth) and its ENFSI verbal
  scale. Used whenever that model is installed and verifies.
* :class:`CosineScorer`: the fallback when it is not: a ranking by cosine similarity with
  ``log10_lr`` null and no verbal statement (a raw similarity is not evidence on its own).
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from s2f_desktop.audio.quality import noise_abstain_reason

log = logging.getLogger(__name__)

COMPARISON_MODEL_ID = "comparison-v1"
#: The comparison model's abstention limits on either side's quality (models/comparison-v1:
#: not validated above 1 % clipped samples or below 2.5 kHz bandwidth).
ABSTAIN_CLIPPING = 0.01
ABSTAIN_BANDWIDTH_HZ = 2500.0
#: Noise: under the quality gate's minimum SNR a side is not validated (audio.quality.noise_abstain_reason,
#: shared with ``s2f compare``).


#: LR thresholds (log10) whose chance rates the search states: LR > 1, > 10 and > 100.
CHANCE_LOG10_LR = (0.0, 1.0, 2.0)


@dataclass(frozen=True)
class ChanceRates:
    """How often the comparison model's cross-validation gave different-speaker pairs an LR above each threshold.

    From the model's declared ``validation.npz`` (its cross-validated, bounded log10 LRs and labels):
    ``above[i]`` of ``n_different`` different-speaker pairs had log10 LR > ``CHANCE_LOG10_LR[i]``.
    """

    n_different: int
    above: tuple[int, ...]
    #: The highest share of different-speaker pairs given LR > 1 when the model was calibrated on one
    #: of its sources and tested on the other (metrics.json ``cross_source``), and that run's name;
    #: None when the model states no such run.
    worst_cross_source_lr1: float | None = None
    worst_cross_source_run: str = ""

    @classmethod
    def from_validation(cls, log10_lr: np.ndarray, label: np.ndarray,
                        metrics: dict[str, Any] | None = None) -> ChanceRates:
        d = np.asarray(log10_lr, dtype=np.float64)[np.asarray(label) == 0]
        runs = [(float(r["metrics"]["all"]["rme_hd"]["value"]), name)
                for name, r in ((metrics or {}).get("cross_source") or {}).items()
                if isinstance(r, dict) and "rme_hd" in r.get("metrics", {}).get("all", {})]
        worst = max(runs) if runs else (None, "")
        return cls(int(len(d)), tuple(int(np.sum(d > t)) for t in CHANCE_LOG10_LR), worst[0], worst[1])

    def rate(self, i: int) -> float:
        return self.above[i] / self.n_different if self.n_different else float("nan")


@dataclass
class Batch:
    """Candidates to score: row i pairs ``query[i]`` with ``emb[i]`` (channel-matched)."""

    query: np.ndarray  # (k, d) unit rows
    emb: np.ndarray  # (k, d) unit rows
    raw: np.ndarray  # (k,) cosine of each pair
    query_speech_s: float
    speech_s: np.ndarray  # (k,)
    query_clipping: float
    query_bandwidth_hz: float
    clipping: np.ndarray  # (k,)
    bandwidth_hz: np.ndarray  # (k,)
    query_snr_db: float | None = None
    snr_db: np.ndarray | None = None  # (k,), NaN where not measurable


class Scorer(Protocol):
    """Maps a batch to calibrated log10 LRs (or gives none), with the wording of each."""

    name: str
    calibrated: bool
    model: dict[str, str] | None

    def log10_lr(self, batch: Batch) -> tuple[np.ndarray, list[str | None]] | None:
        """(log10 LR per row, NaN where the model abstains; the abstention reason per row), or None."""
        ...

    def verbal(self, log10_lr: float | None) -> str | None:
        """Words for a log10 LR (None without a calibrated model)."""
        ...


@dataclass
class CosineScorer:
    """Cosine similarity of GE2E embeddings; a ranking only, no likelihood ratio."""

    name: str = "cosine similarity of GE2E embeddings (uncalibrated: no likelihood ratio)"
    calibrated: bool = False
    model: dict[str, str] | None = None

    def log10_lr(self, batch: Batch) -> tuple[np.ndarray, list[str | None]] | None:
        return None

    def verbal(self, log10_lr: float | None) -> str | None:
        return None


class CalibratedScorer:
    """The comparison model's normalisation, calibration, bounds, abstention and verbal scale.

    ``lrm`` is the module :mod:`s2f_desktop.voice.lr` (or anything with its ``cohort_stats``,
    ``as_norm`` and ``verbal``), ``calibration`` its loaded ``Calibration``, ``cohort`` the
    (m, d) cohort embeddings.
    """

    calibrated = True

    def __init__(self, lrm: Any, calibration: Any, cohort: np.ndarray, model: dict[str, str],
                 chance: ChanceRates | None = None) -> None:
        self.lrm = lrm
        self.cal = calibration
        self.cohort = np.asarray(cohort, dtype=np.float32)
        self.model = model
        #: The model's chance rates of LR > 1, > 10, > 100 for different speakers (the search states them).
        self.chance = chance
        self.name = (f"calibrated speaker comparison ({model.get('id', '?')}, calibration sha256 "
                     f"{model.get('sha256', '?')[:12]}…)")

    def log10_lr(self, batch: Batch) -> tuple[np.ndarray, list[str | None]] | None:
        k = len(batch.raw)
        if k == 0:
            return np.zeros(0), []
        top_k = self.cal.top_k
        # The query has at most two distinct rows (wideband and telephone band): its cohort statistics once each.
        uq, inv = np.unique(batch.query, axis=0, return_inverse=True)
        q_mu, q_sd = self.lrm.cohort_stats(uq, self.cohort, top_k)
        inv = np.asarray(inv).reshape(-1)
        c_mu, c_sd = self.lrm.cohort_stats(batch.emb, self.cohort, top_k)
        sn = self.lrm.as_norm(batch.raw, (q_mu[inv], q_sd[inv]), (c_mu, c_sd))
        sq = np.full(k, batch.query_speech_s)
        llr = np.asarray(self.cal.log10_lr(sn, sq, batch.speech_s), dtype=np.float64)
        reasons: list[str | None] = []
        for i in range(k):
            why = []
            if batch.query_speech_s < self.cal.min_speech_s:
                why.append(f"too little net speech in the query ({batch.query_speech_s:.1f} s; "
                           f"validated from {self.cal.min_speech_s:g} s)")
            if batch.speech_s[i] < self.cal.min_speech_s:
                why.append(f"too little net speech for this speaker ({batch.speech_s[i]:.1f} s; "
                           f"validated from {self.cal.min_speech_s:g} s)")
            rec_snr = None if batch.snr_db is None else batch.snr_db[i]
            for side, clip, bw, snr in (("query", batch.query_clipping, batch.query_bandwidth_hz, batch.query_snr_db),
                                        ("recording", batch.clipping[i], batch.bandwidth_hz[i], rec_snr)):
                noisy = noise_abstain_reason(f"the {side}", snr)
                if noisy:
                    why.append(noisy)
                if clip is not None and np.isfinite(clip) and clip > ABSTAIN_CLIPPING:
                    why.append(f"the {side} is clipped ({100 * clip:.2f} % of samples)")
                if bw is not None and np.isfinite(bw) and bw < ABSTAIN_BANDWIDTH_HZ:
                    why.append(f"the {side}'s bandwidth is {bw:.0f} Hz (not validated below "
                               f"{ABSTAIN_BANDWIDTH_HZ:.0f} Hz)")
            if why:
                llr[i] = np.nan
            reasons.append("; ".join(why) or None)
        return llr, reasons

    def verbal(self, log10_lr: float | None) -> str | None:
        return str(self.lrm.verbal(log10_lr))


def _calibrated_from_comparison_model() -> CalibratedScorer | None:
    """The installed, sha256-verified comparison model, or None when this build has none."""
    try:
        lrm = importlib.import_module("s2f_desktop.voice.lr")
    except ImportError:
        return None
    if not all(hasattr(lrm, n) for n in ("Calibration", "cohort_stats", "as_norm", "verbal")):
        return None
    from s2f_desktop.inference.registry import spec_from_manifest, verified_path

    try:
        cal_spec = spec_from_manifest(COMPARISON_MODEL_ID, "calibration.json")
    except Exception:  # no such model declared in this build
        return None
    cal = lrm.Calibration.load(verified_path(cal_spec))
    cohort = np.load(verified_path(spec_from_manifest(COMPARISON_MODEL_ID, "cohort.npy")))
    # Its metrics hold the across-sources runs (read for the chance-hit note; declared and checked).
    metrics = json.loads(verified_path(spec_from_manifest(COMPARISON_MODEL_ID, "metrics.json"))
                         .read_text(encoding="utf-8"))
    with np.load(verified_path(spec_from_manifest(COMPARISON_MODEL_ID, "validation.npz"))) as val:
        chance = ChanceRates.from_validation(val["log10_lr"], val["label"], metrics)
    return CalibratedScorer(lrm, cal, cohort, {"id": COMPARISON_MODEL_ID, "file": "calibration.json",
                                               "sha256": cal_spec.sha256}, chance)


def load_scorer(prefer_calibrated: bool = True) -> Any:
    """The calibrated comparison scorer when installed, else :class:`CosineScorer`.

    A declared model that fails verification raises (ModelIntegrityError): a changed model
    file must stop the search, not silently turn it into an uncalibrated one.
    """
    if prefer_calibrated:
        cal = _calibrated_from_comparison_model()
        if cal is not None:
            return cal
    return CosineScorer()
