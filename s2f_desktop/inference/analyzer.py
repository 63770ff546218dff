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

import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from s2f_desktop.audio.quality import QualityReport
from s2f_desktop.core.errors import InputError, S2FError
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.core.results import (
    Acoustics,
    Analysis,
    Consistency,
    Measure,
    ModelRecord,
    PartResult,
    Pooled,
)
from s2f_desktop.core.traits import INCONCLUSIVE, AgeEstimate, SexEstimate, TraitEstimate
from s2f_desktop.inference import embedding as emb_mod
from s2f_desktop.inference.device import PerDevice, resolve_device
from s2f_desktop.inference.features import VAD_PARAMS, part_features, speech_16k, speech_regions, voice_features
from s2f_desktop.inference.registry import spec_from_manifest, verified_path
from s2f_desktop.inference.resample import ANALYSIS_RATE
from s2f_desktop.inference.traits import DEFAULT_MODEL_ID, TraitHeads, VoiceFeatures, get_heads
from s2f_desktop.inference.vad import VAD_MODEL_INFO
from s2f_desktop.voice.acoustics import UNITS, WIDEBAND_ONLY, AcousticMeasures, measure
from s2f_desktop.voice.consistency import (
    SPLIT_LOG10_LR,
    CalibratedConsistency,
    ConsistencyReport,
    calibrated_consistency,
    consistency,
    group_by_speaker,
)

CONSISTENCY_MODEL_ID = "speaker-consistency-v1"
__all__ = ["VAD_PARAMS", "Analyzer", "Part", "get_analyzer"]
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
class _Measured:
    """Everything measured on one part (kept in memory only: ``speech16`` feeds the pooled measures)."""

    id: str
    duration_s: float
    speech: list[tuple[float, float]]
    quality: QualityReport
    features: VoiceFeatures | None
    traits: TraitEstimate
    speech16: np.ndarray

    @property
    def speech_s(self) -> float:
        return float(sum(b - a for a, b in self.speech))


def _acoustics(a: AcousticMeasures) -> Acoustics:
    """The typed acoustic measures, every measure of :data:`UNITS` in order, values rounded to 4 decimals."""
    measures = {}
    for name, unit in UNITS.items():
        v = a.values.get(name)
        measures[name] = Measure(None if v is None else round(float(v), 4), unit,
                                 not (a.band_limited and name in WIDEBAND_ONLY))
    return Acoustics(measures, a.formant_ceiling_hz, tuple(a.notes))


def _consistency(c: ConsistencyReport) -> Consistency:
    return Consistency(tuple(c.segment_ids), tuple(tuple(round(float(v), 4) for v in row) for row in c.similarity),
                       {s: (None if m is None else round(float(m), 4))
                        for s, m in zip(c.segment_ids, c.median_similarity)},
                       tuple(c.flagged), round(float(c.threshold), 4), c.threshold_source,
                       "flagged segments disagree with the rest of the selection (possible second speaker)")


def _calibrated(c: CalibratedConsistency) -> Consistency:
    """The typed consistency block of the calibrated speaker check (models/comparison-v1)."""
    split = c.split
    return Consistency(tuple(c.segment_ids), (), {}, tuple(c.flagged), SPLIT_LOG10_LR, c.model_id,
                       "flagged segments belong to another speaker group: the calibrated comparison gives at least "
                       "moderate support (LR <= 1/10) for different speakers; segments too short to judge are "
                       "listed as not judged and never flagged",
                       method="calibrated",
                       log10_lr={s: (None if v is None else round(float(v), 3))
                                 for s, v in zip(c.segment_ids, c.log10_lr)},
                       speech_s={s: round(float(v), 2) for s, v in zip(c.segment_ids, c.speech_s)},
                       not_judged=tuple(c.not_judged),
                       groups=tuple(tuple(g) for g in split.groups) if split is not None else (),
                       split=bool(split.split) if split is not None else False,
                       between=tuple((int(a), int(b), round(float(v), 3)) for a, b, v in split.between)
                       if split is not None else ())


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
        # The calibrated comparison (models/comparison-v1) judges speaker consistency; without it
        # (an installation that lacks the model) the cosine threshold above is the fallback.
        self.comparison: Any = None
        try:
            from s2f_desktop.inference.comparison import COMPARISON_MODEL_ID
            from s2f_desktop.voice.lr import Calibration

            cspecs = [spec_from_manifest(COMPARISON_MODEL_ID, n) for n in ("calibration.json", "cohort.npy")]
            self.comparison = (Calibration.load(verified_path(cspecs[0])),
                               np.load(verified_path(cspecs[1])).astype(np.float32), cspecs)
        except S2FError:
            self.comparison = None

    def models(self) -> tuple[ModelRecord, ...]:
        """Every model an analysis uses (id, file, sha256)."""
        records = ([self.encoder.spec.as_record()] + self.heads.records()
                   + [{k: VAD_MODEL_INFO[k] for k in ("id", "file", "sha256")}, self.consistency_spec.as_record()]
                   + ([s.as_record() for s in self.comparison[2]] if self.comparison is not None else []))
        return tuple(ModelRecord(r["id"], r["file"], r["sha256"]) for r in records)

    def parameters(self) -> dict[str, Any]:
        """Analysis parameters recorded with every run."""
        c = self.heads.cal
        return {"vad": dict(VAD_PARAMS), "analysis_rate_hz": ANALYSIS_RATE,
                "sex_uncertain_band": c["sex"]["uncertain_band"], "abstention": c["abstention"],
                "age_min_bin_probability": c["age"]["min_bin_probability"],
                "consistency_threshold": self.threshold, "pooling": "duration-weighted mean embedding"}

    # ---------------------------------------------------------------- per part
    def _part(self, part: Part, task: Task) -> _Measured:
        # The feature path is shared with the trainer (inference/features.py): same decode,
        # VAD, quality gate, resampler, trimming and Praat settings.
        x = np.asarray(part.x, dtype=np.float32)
        if x.ndim != 1:
            raise InputError(f"{part.id}: expected mono audio")
        try:
            pf = part_features(x, part.sr, self.encoder, task.sub(0.0, 0.95))
        except InputError as exc:
            raise InputError(f"{part.id}: {exc.message}") from exc
        duration = len(x) / part.sr if part.sr else 0.0
        traits = self._traits(pf.features, pf.quality.verdict, pf.quality.net_speech_s)
        task.progress(1.0, f"{part.id}: done")
        return _Measured(part.id, duration, pf.regions, pf.quality, pf.features, traits, pf.speech16)

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
    def analyze(self, parts: Sequence[Part], task: Task | None = None) -> tuple[Analysis, dict[str, np.ndarray]]:
        """Analyse a selection: the typed per-part and pooled results, and each part's embedding (not stored)."""
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
        with_feats = [(r, r.features) for r in results if r.features is not None]
        pooled_feats: VoiceFeatures | None
        if single and with_feats:
            pooled_feats = with_feats[0][1]
            acoustics = pooled_feats.acoustics
        elif with_feats:
            e = emb_mod.pool([f.embedding for _, f in with_feats], [r.speech_s for r, _ in with_feats])
            joined = np.concatenate([r.speech16 for r, _ in with_feats])
            acoustics = measure(joined, ANALYSIS_RATE, band_limited=pooled_quality.telephone_band)
            pooled_feats = VoiceFeatures(e, acoustics)
        else:
            pooled_feats, acoustics = None, AcousticMeasures({}, None, False, ("no usable speech",))
        pooled_traits = results[0].traits if single else self._traits(pooled_feats, pooled_quality.verdict,
                                                                      pooled_quality.net_speech_s)
        pooled = Pooled(pooled_quality.to_result(), pooled_traits, _acoustics(acoustics),
                        round(sum(r.speech_s for r in results), 3), round(sum(r.duration_s for r in results), 3))
        part_results = tuple(PartResult(
            r.id, round(r.duration_s, 3), round(r.speech_s, 3), tuple((round(a, 3), round(b, 3)) for a, b in r.speech),
            r.quality.to_result(), r.traits, None if r.features is None else _acoustics(r.features.acoustics))
            for r in results)
        cons = None
        if len(results) >= 2 and self.comparison is not None:
            cons = _calibrated(self._calibrated_consistency(results, pooled_quality.telephone_band))
        elif len(with_feats) >= 2:
            cons = _consistency(consistency([r.id for r, _ in with_feats], [f.embedding for _, f in with_feats],
                                            self.threshold, CONSISTENCY_MODEL_ID))
        task.progress(1.0, "analysis done")
        return Analysis(part_results, pooled, cons), {r.id: f.embedding for r, f in with_feats}

    def _windows(self, results: Sequence[_Measured], telephone: bool) -> tuple[list[np.ndarray], list[float]]:
        from s2f_desktop.inference.comparison import window_embeddings
        from s2f_desktop.voice.channel import telephone_band

        wins, speech = [], []
        for r in results:
            try:
                x = telephone_band(r.speech16) if telephone else r.speech16
                w, s = window_embeddings(self.encoder, x)
            except InputError:
                w, s = np.zeros((0, emb_mod.EMBEDDING_DIM), np.float32), 0.0
            wins.append(w)
            speech.append(s)
        return wins, speech

    def _calibrated_consistency(self, results: Sequence[_Measured], telephone: bool) -> CalibratedConsistency:
        """Calibrated speaker check of a selection (one channel for all parts: telephone band if any is)."""
        from s2f_desktop.inference.comparison import COMPARISON_MODEL_ID

        cal, cohort, _ = self.comparison
        wins, speech = self._windows(results, telephone or any(r.quality.telephone_band for r in results))
        return calibrated_consistency([r.id for r in results], wins, speech, cal, cohort, COMPARISON_MODEL_ID)

    def _calibrated_groups(self, parts: Sequence[Part], task: Task) -> tuple[list[list[str]], list[str]]:
        """Groups from the calibrated speaker split, and the segments too short to judge."""
        from s2f_desktop.audio.quality import assess
        from s2f_desktop.inference.comparison import window_embeddings
        from s2f_desktop.voice.channel import telephone_band
        from s2f_desktop.voice.consistency import split_speakers

        speech, tel = [], False
        for i, p in enumerate(parts):
            task.progress(0.5 * i / max(1, len(parts)), f"speech of {p.id}")
            x = np.asarray(p.x, dtype=np.float32)
            regions = speech_regions(x, p.sr)
            tel = tel or assess(x, p.sr, speech=regions).telephone_band
            speech.append(speech_16k(x, p.sr, regions))
        wins, secs = [], []
        for i, (p, sp) in enumerate(zip(parts, speech)):
            task.progress(0.5 + 0.5 * i / max(1, len(parts)), f"embedding {p.id}")
            try:
                w, s = window_embeddings(self.encoder, telephone_band(sp) if tel else sp)
            except InputError:
                w, s = np.zeros((0, emb_mod.EMBEDDING_DIM), np.float32), 0.0
            wins.append(w)
            secs.append(s)
        cal, cohort, _ = self.comparison
        split = split_speakers([p.id for p in parts], wins, secs, cal, cohort, pairwise=True)
        task.progress(1.0, "grouping")
        return [list(g) for g in split.groups], list(split.unassessed)

    def speaker_groups(self, parts: Sequence[Part], task: Task | None = None) -> tuple[list[list[str]], list[str]]:
        """Group parts by probable speaker (largest group first), and list the parts with too little
        speech to judge apart: a short segment is no evidence of another voice, so it joins no group and
        forms none of its own.

        With models/comparison-v1 installed the groups come from the calibrated speaker split (groups are
        kept apart only on at least moderate support for different speakers); otherwise from the cosine
        threshold of speaker-consistency-v1.
        """
        task = task or null_task()
        if self.comparison is not None:
            return self._calibrated_groups(parts, task)
        ids, embs, lone = [], [], []
        for i, p in enumerate(parts):
            task.progress(i / max(1, len(parts)), f"embedding {p.id}")
            x = np.asarray(p.x, dtype=np.float32)
            speech = speech_16k(x, p.sr, speech_regions(x, p.sr))
            try:
                embs.append(self.encoder.embed(speech))
                ids.append(p.id)
            except InputError:
                lone.append(p.id)
        task.progress(1.0, "grouping")
        return group_by_speaker(ids, embs, self.threshold), lone


_analyzers: PerDevice[Analyzer] = PerDevice(Analyzer)


def get_analyzer(device: str = "auto", model_id: str = DEFAULT_MODEL_ID) -> Analyzer:
    """The process-wide analyzer for a device preference (models load once per process)."""
    return _analyzers.get(device, model_id)
