"""Trait heads: calibrated sex probability and age (median, 80 % interval) from a voice.

Inputs are the GE2E speaker embedding (256-d) and the Praat measures
(:data:`s2f_desktop.voice.acoustics.HEAD_FEATURES`). Both heads are linear on the
standardised input and trained by ``s2f-train traits`` (see models/traits-v1/MODEL_CARD.md):

* **sex**: L2-regularised logistic regression, then Platt scaling fitted on
  out-of-fold logits, so ``p_male`` is a calibrated probability;
* **age**: a linear head on the embedding (``age.head`` in the calibration; traits-v1: the
  plain ridge probe of the face-derived age in years, stretched about the training mean);
  the median and the 80 % interval come from the band-weighted out-of-fold residual
  distribution (weighted split-conformal). Its coverage holds on average over a population
  with equal weight per adult age band (the residuals are band-weighted); per band it was
  checked in cross-validation (model card), not guaranteed.

The heads abstain (label ``inconclusive``) when the speech quality verdict is
``insufficient``, when there is less net speech than the model card's minimum, when too
few frames are voiced, or when ``p_male`` lies inside the documented uncertain band (which
may be asymmetric: one cut for "female", one for "male"). The age band label is given only
when the calibration says band labels were validated across sources (``age.band_labels``);
otherwise it is ``inconclusive`` and the median, interval and P(40+) are the answer.
``TraitEstimate.extra`` carries ``age_p_40_plus`` and, for models that record it,
``age_baseline`` (the "always the median" answer to show beside the estimate).
Weights are an ``.npz`` read without pickle after a sha256 check against the manifest.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from s2f_desktop.core.errors import ModelIntegrityError
from s2f_desktop.core.traits import AGE_BINS, INCONCLUSIVE, AgeEstimate, SexEstimate, TraitEstimate
from s2f_desktop.voice.acoustics import HEAD_FEATURES, AcousticMeasures, head_vector
from s2f_desktop.voice.calibration import age_bin_probabilities, platt_apply

DEFAULT_MODEL_ID = "traits-v1"
WEIGHTS_FILE = "heads.npz"
CALIBRATION_FILE = "calibration.json"
_AGE_BIN_EDGES = (20.0, 40.0, 60.0)


@dataclass(frozen=True)
class VoiceFeatures:
    """What the heads see of one stretch of speech."""

    embedding: np.ndarray
    acoustics: AcousticMeasures

    def vector(self) -> np.ndarray:
        """Embedding followed by the acoustic head features (NaN where not measurable)."""
        return np.concatenate([self.embedding.astype(np.float64), head_vector(self.acoustics)])


class TraitHeads:
    """The loaded, verified trait heads of one model version."""

    def __init__(self, model_id: str = DEFAULT_MODEL_ID, root: Path | None = None) -> None:
        from s2f_desktop.inference.registry import spec_from_manifest, verified_path

        self.spec = spec_from_manifest(model_id, WEIGHTS_FILE, root)
        self.cal_spec = spec_from_manifest(model_id, CALIBRATION_FILE, root)
        with np.load(verified_path(self.spec), allow_pickle=False) as z:
            self.w = {k: np.array(z[k], dtype=np.float64) for k in z.files}
        self.cal: dict[str, Any] = json.loads(verified_path(self.cal_spec).read_text(encoding="utf-8"))
        dim = self.w["mean"].shape[0]
        for key in ("scale", "sex_w", "age_w"):
            if self.w[key].shape != (dim,):
                raise ModelIntegrityError(f"model {model_id}: {key} has shape {self.w[key].shape}, expected ({dim},)")
        if self.cal.get("acoustic_features") != list(HEAD_FEATURES):
            raise ModelIntegrityError(f"model {model_id}: trained on other acoustic features than this code computes")
        self.model_id = model_id

    # ------------------------------------------------------------------ raw outputs
    def standardise(self, x: np.ndarray) -> np.ndarray:
        """Standardise with the training statistics; unmeasurable values become the mean."""
        z = (np.asarray(x, dtype=np.float64) - self.w["mean"]) / self.w["scale"]
        return np.where(np.isfinite(z), z, 0.0)

    def p_male(self, x: np.ndarray) -> float:
        """Calibrated P(male) for one feature vector."""
        logit = float(self.standardise(x) @ self.w["sex_w"] + self.w["sex_b"])
        c = self.cal["sex"]
        return float(platt_apply(np.array([logit]), c["platt_a"], c["platt_b"])[0])

    def _age_log_scale(self) -> bool:
        target: str = self.cal["age"].get("target", "years")
        return target == "log_years"

    def age_point(self, x: np.ndarray) -> float:
        """The regression's point estimate in years, before residual calibration."""
        raw = float(self.standardise(x) @ self.w["age_w"] + self.w["age_b"])
        return float(np.exp(raw)) if self._age_log_scale() else raw

    def age_distribution(self, x: np.ndarray) -> np.ndarray:
        """The 101 quantiles (0..100 %) of the calibrated age distribution, in years (unclipped).

        The regression's output plus the out-of-fold residual quantiles, in the space the head
        was fitted in (log years for models trained on log-age, then exponentiated).
        """
        raw = float(self.standardise(x) @ self.w["age_w"] + self.w["age_b"])
        qs = np.asarray(self.cal["age"]["residual_quantiles"], dtype=np.float64)
        return np.exp(raw + qs) if self._age_log_scale() else raw + qs

    # ---------------------------------------------------------------- estimate
    def estimate(self, feats: VoiceFeatures, *, quality_verdict: str = "ok", net_speech_s: float | None = None,
                 device: str = "cpu") -> TraitEstimate:
        """Sex and age estimates with abstention, for one selection's pooled features."""
        x = feats.vector()
        p = self.p_male(x)
        samples = self.age_distribution(x)  # 101 quantiles of the age (years), 0..100 %
        point = self.age_point(x)
        lo_age, hi_age = self.cal["age"]["clip_years"]
        median = float(np.clip(samples[50], lo_age, hi_age))
        # Models since issue 13 state the percentile pair validated per age band; older ones used 10/90.
        lo_pct, hi_pct = self.cal["age"].get("interval_percentiles", (10, 90))
        lo = float(np.clip(samples[int(lo_pct)], lo_age, hi_age))
        hi = float(np.clip(samples[int(hi_pct)], lo_age, hi_age))
        bins = age_bin_probabilities(samples, _AGE_BIN_EDGES, AGE_BINS)

        reason = self._abstain_reason(feats, quality_verdict, net_speech_s)
        band = self.cal["sex"]["uncertain_band"]
        # Decided and worded on the stored value (four decimals), so the label, the reason and every
        # printed P(male) agree: the reason had said 0.080 where the report printed the stored 0.0805 as 0.081.
        p = round(p, 4)
        if reason:
            sex = SexEstimate(p, INCONCLUSIVE, reason)
        elif band[0] <= p <= band[1]:
            sex = SexEstimate(p, INCONCLUSIVE,
                              # The band as calibrated (0.075, not 0.07), and P to as many decimals.
                              f"P(male) {p:.3f} lies in the uncertain band {band[0]:g}-{band[1]:g}")
        else:
            sex = SexEstimate(p, "male" if p > 0.5 else "female")
        best = max(bins, key=lambda k: bins[k])
        min_bin = self.cal["age"]["min_bin_probability"]
        p40 = float(bins.get("40-59", 0.0) + bins.get(">=60", 0.0))
        if reason:
            age_label, age_reason = INCONCLUSIVE, reason
        elif not self.cal["age"].get("band_labels", True):
            # No band label unless the band decision was validated on an unseen source (model card).
            age_label = INCONCLUSIVE
            # Said of the model, not of this recording (which may well be like the training speech).
            age_reason = ("this model gives no age band: its band decisions could not be validated on a second "
                          "source of speech with known ages; the interval is the answer")
        elif bins[best] < min_bin:
            age_label = INCONCLUSIVE
            age_reason = f"no age bin reaches probability {min_bin:.2f} (best {best}: {bins[best]:.2f})"
        else:
            age_label, age_reason = best, ""
        age = AgeEstimate(round(median, 1), (round(lo, 1), round(hi, 1)), age_label,
                          {k: round(v, 4) for k, v in bins.items()}, age_reason)
        extra: dict[str, Any] = {"age_point_years": round(point, 2), "calibration_sha256": self.cal_spec.sha256,
                                 "age_p_40_plus": round(p40, 4),
                                 # An interval end at these bounds is the model's limit, not the voice's.
                                 "age_clip_years": [float(lo_age), float(hi_age)]}
        if "baseline" in self.cal["age"]:
            extra["age_baseline"] = self.cal["age"]["baseline"]
        return TraitEstimate(sex, age, self.model_id, self.spec.sha256, device, extra)

    def _abstain_reason(self, feats: VoiceFeatures, verdict: str, net_speech_s: float | None) -> str:
        return gate_abstain_reason(self.cal["abstention"], feats.acoustics.get("voiced_duration"),
                                   feats.acoustics.get("f0_median"), verdict, net_speech_s)

    def records(self) -> list[dict[str, str]]:
        """Model records ({id, file, sha256}) for the weights and the calibration."""
        return [self.spec.as_record(), self.cal_spec.as_record()]


_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _load(model_id: str, root: str | None) -> TraitHeads:
    return TraitHeads(model_id, Path(root) if root else None)


def get_heads(model_id: str = DEFAULT_MODEL_ID, root: Path | None = None) -> TraitHeads:
    """Process-wide cached heads (loaded and verified once)."""
    from s2f_desktop.system.env import models_dir

    with _lock:
        return _load(model_id, str(root or models_dir()))


def clear_cache() -> None:
    """Forget loaded heads (tests swap model folders)."""
    with _lock:
        _load.cache_clear()


def gate_abstain_reason(need: dict[str, float], voiced_s: float | None, f0_median: float | None, verdict: str,
                        net_speech_s: float | None) -> str:
    """Why both traits abstain whatever the heads output ("" when they do not): the quality verdict,
    too little net speech or too little voiced speech (``need``: the calibration's ``abstention``).

    One rule for the app and for the trainer, which scores its cross-validated outputs only on
    clips this rule lets through (what ``s2f analyze`` would answer).
    """
    if verdict == "insufficient":
        return "speech quality is insufficient"
    if net_speech_s is not None and net_speech_s < need["min_net_speech_s"]:
        return f"only {net_speech_s:.1f} s of speech (need {need['min_net_speech_s']:.1f} s)"
    voiced = voiced_s or 0.0
    if voiced < need["min_voiced_s"] or f0_median is None:
        return f"only {voiced:.1f} s of voiced speech (need {need['min_voiced_s']:.1f} s)"
    return ""
