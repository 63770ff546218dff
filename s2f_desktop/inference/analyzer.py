"""End-to-end voice analysis of a selection: speech detection, quality, embedding, Praat, traits.

One :class:`Analyzer` holds the loaded models (speaker encoder, trait heads, VAD, the
consistency threshold) for a device; build it once per process (:func:`get_analyzer`)
and analyse many selections with it, so batches pay the model loading once.

A selection is a list of :class:`Part` (one per segment or file range) at its native
rate. For each part: silero VAD finds the speech inside it (pauses never reach the
models), the quality gate measures it, and, when there is enough speech, the GE2E
embedding and Praat measures are computed on the speech only (resampled to 16 kHz).
The pooled result uses the duration-weighted mean embedding and Praat measures over all
parts' speech together; traits are estimated per part and pooled, and the pooled
estimate is the one reported. Nothing here is random: the same input gives the same
output on the same device.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.core.traits import INCONCLUSIVE, AgeEstimate, SexEstimate, TraitEstimate
from s2f_desktop.inference import embedding as emb_mod
from s2f_desktop.inference.device import resolve_device
from s2f_desktop.inference.registry import spec_from_manifest, verified_path
from s2f_desktop.inference.features import VAD_PARAMS, part_features, speech_16k, speech_regions, voice_features
from s2f_desktop.inference.resample import ANALYSIS_RATE
from s2f_desktop.inference.traits import DEFAULT_MODEL_ID, TraitHeads, VoiceFeatures, get_heads
from s2f_desktop.inference.vad import VAD_MODEL_INFO
from s2f_desktop.voice.acoustics import AcousticMeasures, measure
from s2f_desktop.voice.consistency import consistency, group_by_speaker

CONSISTENCY_MODEL_ID = "speaker-consistency-v1"
__all__ = ["VAD_PARAMS", "Analyzer", "Part", "PartResult", "get_analyzer", "traits_to_dict"]
#: Seed recorded with runs. Inference draws no random numbers; the seed documents that fact
#: and fixes torch's generator in case a future model does.
SEED = 0


@dataclass(frozen=True)
class Part:
    """One stretch of audio to analyse: an id (segment id or file name), samples and rate."""

    id: str
    x: np.ndarray
    sr: int


@dataclass
class PartResult:
    """Everything measured on one part."""

    id: str
    duration_s: float
    speech: list[tuple[float, float]]
    quality: Any
    features: VoiceFeatures | None
    traits: TraitEstimate
    speech16: np.ndarray

    @property
    def speech_s(self) -> float:
        return float(sum(b - a for a, b in self.speech))


def traits_to_dict(t: TraitEstimate) -> dict[str, Any]:
    """The JSON form of a trait estimate (stable keys, see the CLI contract)."""
    return {
        "sex": {"p_male": t.sex.p_male, "label": t.sex.label, "reason": t.sex.reason},
        "age": {"median_years": t.age.median_years, "interval_80": list(t.age.interval_80), "label": t.age.label,
                "bin_probabilities": dict(t.age.bin_probabilities), "reason": t.age.reason},
    }


class Analyzer:
    """Loaded models for one device preference."""

    def __init__(self, device: str = "auto", model_id: str = DEFAULT_MODEL_ID) -> None:
        import torch

        torch.manual_seed(SEED)
        self.device_info = resolve_device(device)
        self.device = self.device_info.description
        self.encoder = emb_mod.get_encoder(device)
        self.heads: TraitHeads = get_heads(model_id)
        spec = spec_from_manifest(CONSISTENCY_MODEL_ID, "threshold.json")
        self.consistency_spec = spec
        self.threshold = float(json.loads(verified_path(spec).read_text(encoding="utf-8"))["threshold"])

    def models(self) -> list[dict[str, str]]:
        """Records ({id, file, sha256}) of every model an analysis uses."""
        return ([self.encoder.spec.as_record()] + self.heads.records()
                + [{k: VAD_MODEL_INFO[k] for k in ("id", "file", "sha256")}, self.consistency_spec.as_record()])

    def parameters(self) -> dict[str, Any]:
        """Analysis parameters recorded with every run."""
        c = self.heads.cal
        return {"vad": dict(VAD_PARAMS), "analysis_rate_hz": ANALYSIS_RATE,
                "sex_uncertain_band": c["sex"]["uncertain_band"], "abstention": c["abstention"],
                "age_min_bin_probability": c["age"]["min_bin_probability"],
                "consistency_threshold": self.threshold, "pooling": "duration-weighted mean embedding"}

    # ---------------------------------------------------------------- per part
    def _part(self, part: Part, task: Task) -> PartResult:
        # The feature path is shared with the trainer (inference/features.py): same decode,
        # VAD, quality gate, resampler, trimming and Praat settings.
        try:
            pf = part_features(part.x, part.sr, self.encoder, task.sub(0.0, 0.95))
        except InputError as exc:
            raise InputError(f"{part.id}: {exc.message}") from exc
        duration = len(part.x) / part.sr if part.sr else 0.0
        traits = self._traits(pf.features, pf.quality.verdict, pf.quality.net_speech_s)
        task.progress(1.0, f"{part.id}: done")
        return PartResult(part.id, duration, pf.regions, pf.quality, pf.features, traits, pf.speech16)

    def _features(self, speech16: np.ndarray, band_limited: bool) -> VoiceFeatures | None:
        return voice_features(speech16, self.encoder, band_limited)

    def _traits(self, feats: VoiceFeatures | None, verdict: str, net_speech_s: float) -> TraitEstimate:
        if feats is None:
            return self.no_estimate("no usable speech found" if net_speech_s <= 0 else
                                    f"only {net_speech_s:.1f} s of speech: too little for a voice embedding")
        return self.heads.estimate(feats, quality_verdict=verdict, net_speech_s=net_speech_s, device=self.device)

    def no_estimate(self, reason: str) -> TraitEstimate:
        """The estimate when nothing could be measured: the training prior, labelled inconclusive."""
        lo, med, hi = self.heads.cal["age"]["prior_years"]
        return TraitEstimate(SexEstimate(0.5, INCONCLUSIVE, reason),
                             AgeEstimate(float(med), (float(lo), float(hi)), INCONCLUSIVE, {}, reason),
                             self.heads.model_id, self.heads.spec.sha256, self.device, {"estimated": False})

    # ---------------------------------------------------------------- selection
    def analyze(self, parts: Sequence[Part], task: Task | None = None) -> dict[str, Any]:
        """Analyse a selection; returns per-part and pooled results (JSON-ready) plus the pooled TraitEstimate."""
        from s2f_desktop.audio.quality import assess_parts

        task = task or null_task()
        if not parts:
            raise InputError("nothing to analyse: the selection is empty")
        results = []
        n = len(parts)
        for i, p in enumerate(parts):
            results.append(self._part(p, task.sub(0.9 * i / n, 0.9 * (i + 1) / n)))
        task.progress(0.92, "pooling the selection")
        # One part: the pooled result is that part's (measured once, not twice).
        single = len(results) == 1
        pooled_quality = results[0].quality if single else assess_parts(
            (p.x, p.sr, r.speech) for p, r in zip(parts, results))
        with_feats = [r for r in results if r.features is not None]
        if single and with_feats:
            pooled_feats: VoiceFeatures | None = with_feats[0].features
            acoustics = with_feats[0].features.acoustics
        elif with_feats:
            e = emb_mod.pool([r.features.embedding for r in with_feats], [r.speech_s for r in with_feats])
            joined = np.concatenate([r.speech16 for r in with_feats])
            acoustics = measure(joined, ANALYSIS_RATE, band_limited=pooled_quality.telephone_band)
            pooled_feats = VoiceFeatures(e, acoustics)
        else:
            pooled_feats, acoustics = None, AcousticMeasures({}, None, False, ("no usable speech",))
        pooled_traits = results[0].traits if single else self._traits(pooled_feats, pooled_quality.verdict,
                                                                      pooled_quality.net_speech_s)
        out: dict[str, Any] = {
            "pooled": {
                "quality": pooled_quality.to_dict(),
                "traits": traits_to_dict(pooled_traits),
                "acoustics": (pooled_feats.acoustics if pooled_feats else acoustics).to_dict(),
                "speech_s": round(sum(r.speech_s for r in results), 3),
                "duration_s": round(sum(r.duration_s for r in results), 3),
            },
            "segments": {r.id: {
                "duration_s": round(r.duration_s, 3),
                "speech_s": round(r.speech_s, 3),
                "speech_regions": [[round(a, 3), round(b, 3)] for a, b in r.speech],
                "quality": r.quality.to_dict(),
                "traits": traits_to_dict(r.traits),
                "acoustics": r.features.acoustics.to_dict() if r.features else None,
            } for r in results},
        }
        if len(with_feats) >= 2:
            rep = consistency([r.id for r in with_feats], [r.features.embedding for r in with_feats], self.threshold,
                              CONSISTENCY_MODEL_ID)
            out["consistency"] = rep.to_dict()
        else:
            out["consistency"] = None
        task.progress(1.0, "analysis done")
        return {"results": out, "traits": pooled_traits, "embeddings": {r.id: r.features.embedding for r in with_feats}}

    def speaker_groups(self, parts: Sequence[Part], task: Task | None = None) -> list[list[str]]:
        """Group parts by probable speaker (parts without enough speech form their own groups, last)."""
        task = task or null_task()
        ids, embs, lone = [], [], []
        for i, p in enumerate(parts):
            task.progress(i / max(1, len(parts)), f"embedding {p.id}")
            x = np.asarray(p.x, dtype=np.float32)
            speech = speech_16k(x, p.sr, speech_regions(x, p.sr))
            try:
                embs.append(self.encoder.embed(speech))
                ids.append(p.id)
            except InputError:
                lone.append([p.id])
        task.progress(1.0, "grouping")
        return group_by_speaker(ids, embs, self.threshold) + lone


_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _cached(torch_device: str, model_id: str, models_root: str) -> Analyzer:
    return Analyzer(torch_device if torch_device == "cpu" else "cuda", model_id)


def get_analyzer(device: str = "auto", model_id: str = DEFAULT_MODEL_ID) -> Analyzer:
    """The process-wide analyzer for a device preference (models load once per process)."""
    from s2f_desktop.system.env import models_dir

    info = resolve_device(device)
    with _lock:
        return _cached(info.torch_device, model_id, str(Path(models_dir()).resolve()))
