"""Speaker-comparison embeddings: GE2E window embeddings of a set of speech segments.

For comparison a set of segments (one side of a case: questioned or known) is summarised by
the mean of *all* its 1.6 s GE2E window embeddings (resemblyzer slicing, see
:mod:`s2f_desktop.inference.embedding`), re-normalised. Each window carries the same weight,
so longer segments carry proportionally more evidence, and the training pairs of
``models/comparison-v1`` (excerpts simulated by taking the first windows of a clip) are the
same computation as a case. The net speech of a side is the length of its audio after
resemblyzer's silence trimming.

Scoring, normalisation and calibration are torch-free and live in :mod:`s2f_desktop.voice.lr`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from s2f_desktop.audio.quality import MIN_SNR_DB, QualityReport, noise_abstain_reason
from s2f_desktop.core.comparison_results import BySide, ComparisonVerdict, ValidationPosition
from s2f_desktop.core.errors import InputError
from s2f_desktop.inference.device import PerDevice
from s2f_desktop.inference.embedding import _HOP, _PARTIAL_FRAMES, MIN_SPEECH_S, SAMPLE_RATE, SpeakerEncoder
from s2f_desktop.inference.embedding import preprocess as ge2e_preprocess

#: Window hop of resemblyzer's slicing in frames (1.3 windows per second of speech).
_STEP = int(np.round((SAMPLE_RATE / 1.3) / _HOP))


@dataclass(frozen=True)
class SideEmbedding:
    """One side of a comparison: its window embeddings and net speech."""

    windows: np.ndarray  # (n, 256) float32, unit rows
    speech_s: float

    def mean(self) -> np.ndarray:
        """The side's embedding: mean window embedding, unit length."""
        return mean_embedding(self.windows)


def mean_embedding(windows: np.ndarray) -> np.ndarray:
    """Mean of window embeddings, re-normalised (float64)."""
    raw = np.asarray(windows, dtype=np.float64).mean(axis=0)
    mean: np.ndarray = raw / max(float(np.linalg.norm(raw)), 1e-12)
    return mean


def window_embeddings(encoder: SpeakerEncoder, x16k: np.ndarray,
                      preprocessed: bool = False) -> tuple[np.ndarray, float]:
    """All 1.6 s GE2E window embeddings of one segment and its net speech in seconds.

    Raises InputError when the segment has less than ``MIN_SPEECH_S`` of speech after trimming.
    """
    wav = np.asarray(x16k, dtype=np.float32) if preprocessed else ge2e_preprocess(x16k)
    speech_s = len(wav) / SAMPLE_RATE
    if len(wav) < int(MIN_SPEECH_S * SAMPLE_RATE):
        raise InputError(f"too little speech for a speaker embedding ({speech_s:.2f} s after trimming; "
                         f"need {MIN_SPEECH_S} s)")
    return encoder.windows(wav, preprocessed=True), float(speech_s)


def windows_for_speech(speech_s: float) -> int:
    """How many windows resemblyzer's slicing yields for ``speech_s`` seconds of trimmed speech."""
    n = int(round(speech_s * SAMPLE_RATE))
    n_frames = int(np.ceil((n + 1) / _HOP))
    starts = list(range(0, max(1, n_frames - _PARTIAL_FRAMES + _STEP + 1), _STEP))
    if len(starts) > 1 and (n - starts[-1] * _HOP) / (_PARTIAL_FRAMES * _HOP) < 0.75:
        starts = starts[:-1]
    return len(starts)


def embed_side(encoder: SpeakerEncoder, segments: list[np.ndarray]) -> SideEmbedding:
    """Window embeddings of a set of 16 kHz segments; segments with too little speech are skipped.

    Raises InputError when no segment has enough speech.
    """
    wins: list[np.ndarray] = []
    speech = 0.0
    for seg in segments:
        try:
            w, s = window_embeddings(encoder, seg)
        except InputError:
            continue
        wins.append(w)
        speech += s
    if not wins:
        raise InputError("no segment has enough speech for a speaker embedding")
    return SideEmbedding(np.concatenate(wins), speech)


# ---------------------------------------------------------------------------- the loaded system
COMPARISON_MODEL_ID = "comparison-v1"
#: Quality-gate reasons that put a side outside what the validation covered (abstain).
_ABSTAIN_CLIPPING = 0.01
_ABSTAIN_BANDWIDTH_HZ = 2500.0
#: A side whose estimated SNR is below the quality gate's minimum (audio.quality.MIN_SNR_DB): the card
#: lists noise as not validated, and one speaker at 5 dB against a clean recording of the same speaker
#: gave log10 LR -2.3 ("moderately strong support for Hd") before this rule.
_ABSTAIN_SNR_DB = MIN_SNR_DB


@dataclass(frozen=True)
class SidePart:
    """One stretch of audio of a comparison side: an id (segment id or file name), samples and rate."""

    id: str
    x: np.ndarray
    sr: int


@dataclass
class PreparedSide:
    """A side's audio at 16 kHz with its quality report."""

    parts: list[tuple[str, np.ndarray]]
    quality: QualityReport
    telephone: bool


class Comparator:
    """The comparison system of ``models/comparison-v1`` with its verified files, on one device."""

    def __init__(self, device: str = "auto", model_id: str = COMPARISON_MODEL_ID) -> None:
        from s2f_desktop.inference.embedding import get_encoder
        from s2f_desktop.inference.registry import load_manifest, spec_from_manifest, verified_path
        from s2f_desktop.voice.lr import Calibration

        self.encoder = get_encoder(device)
        self.device = self.encoder.device.description
        self.model_id = model_id
        self.specs = {n: spec_from_manifest(model_id, n) for n in ("calibration.json", "cohort.npy", "validation.npz")}
        self.calibration = Calibration.load(verified_path(self.specs["calibration.json"]))
        self.cohort = np.load(verified_path(self.specs["cohort.npy"])).astype(np.float32)
        z = np.load(verified_path(self.specs["validation.npz"]))
        self.validation = {"log10_lr": z["log10_lr"].astype(np.float64), "label": z["label"].astype(np.int64)}
        self.manifest = load_manifest(model_id)

    # ----------------------------------------------------------------- records
    def model_record(self) -> dict[str, str]:
        """{id, sha256} of the comparison model (sha256 of its calibration file, which defines the LRs)."""
        return {"id": self.model_id, "sha256": self.specs["calibration.json"].sha256}

    def models(self) -> list[dict[str, str]]:
        """Records ({id, file, sha256}) of every model file a comparison uses."""
        return [self.encoder.spec.as_record()] + [s.as_record() for s in self.specs.values()]

    def parameters(self) -> dict[str, Any]:
        """Parameters recorded with every comparison."""
        c = self.calibration
        return {"top_k": c.top_k, "bounds_log10_lr": [c.lower, c.upper], "min_speech_s": c.min_speech_s,
                "max_speech_s": c.max_speech_s, "abstain_clipping_fraction": _ABSTAIN_CLIPPING,
                "abstain_bandwidth_hz": _ABSTAIN_BANDWIDTH_HZ, "abstain_snr_db": _ABSTAIN_SNR_DB,
                "embedding": "mean of GE2E 1.6 s window embeddings",
                "channel": "both sides band-limited to 300-3400 Hz when either side is telephone band",
                "verbal_scale": "ENFSI 2015"}

    # ----------------------------------------------------------------- sides
    def prepare(self, parts: list[SidePart]) -> PreparedSide:
        """Resample a side's parts to 16 kHz and measure its quality (pooled over the parts).

        Speech inside the parts is found with silero VAD, as ``s2f analyze``, ``s2f quality`` and the
        archive find it, so the SNR a side abstains on is the one the model card counts.
        """
        from s2f_desktop.audio.quality import assess_parts, remove_dc
        from s2f_desktop.inference.features import speech_regions
        from s2f_desktop.inference.resample import resample

        if not parts:
            raise InputError("a comparison side has no audio")
        centred = [remove_dc(p.x) for p in parts]
        q = assess_parts((np.asarray(p.x, dtype=np.float32), p.sr, speech_regions(c, p.sr))
                         for p, c in zip(parts, centred))
        out = [(p.id, resample(c, p.sr, SAMPLE_RATE)) for p, c in zip(parts, centred)]
        return PreparedSide(out, q, bool(q.telephone_band))

    def embed(self, side: PreparedSide, telephone: bool, task: Any = None) -> dict[str, tuple[np.ndarray, float]]:
        """Window embeddings and net speech per part ({id: (windows, speech_s)}); parts without speech are left out."""
        from s2f_desktop.voice.channel import telephone_band

        out: dict[str, tuple[np.ndarray, float]] = {}
        for i, (pid, x) in enumerate(side.parts):
            if task is not None:
                task.progress(i / max(1, len(side.parts)), f"speaker embedding of {pid}")
            try:
                out[pid] = window_embeddings(self.encoder, telephone_band(x) if telephone else x)
            except InputError:
                continue
        return out

    def compare(self, q_parts: list[SidePart], k_parts: list[SidePart], task: Any = None,
                side_check: Callable[[dict[str, tuple[np.ndarray, float]], dict[str, tuple[np.ndarray, float]]], None]
                | None = None) -> ComparisonVerdict:
        """Compare a questioned and a known side: the verdict with its sides, channel and validation position.

        ``side_check`` sees both sides' per-part embeddings before scoring and may refuse (one voice per side is
        checked on the embeddings the comparison uses, so nothing is read or embedded twice).
        """
        from s2f_desktop.core.progress import null_task

        task = task or null_task()
        task.progress(0.02, "reading and measuring both sides")
        qs, ks = self.prepare(q_parts), self.prepare(k_parts)
        telephone = qs.telephone or ks.telephone
        qe = self.embed(qs, telephone, task.sub(0.05, 0.5))
        ke = self.embed(ks, telephone, task.sub(0.5, 0.95))
        if side_check is not None:
            side_check(qe, ke)
        task.progress(0.96, "scoring and calibrating")
        return self.verdict_from(qs, ks, qe, ke, telephone)

    def verdict_from(self, qs: PreparedSide, ks: PreparedSide, qe: dict[str, tuple[np.ndarray, float]],
                     ke: dict[str, tuple[np.ndarray, float]], telephone: bool) -> ComparisonVerdict:
        """The verdict for prepared and embedded sides."""
        from s2f_desktop.voice import lr as lrm

        sq = float(sum(s for _, s in qe.values()))
        sk = float(sum(s for _, s in ke.values()))
        reasons = []
        for name, side in (("questioned", qs), ("known", ks)):
            q = side.quality
            if q.clipping_fraction > _ABSTAIN_CLIPPING:
                reasons.append(f"the {name} side is clipped ({100 * q.clipping_fraction:.2f} % of samples; "
                               f"not validated above {100 * _ABSTAIN_CLIPPING:g} %)")
            noisy = noise_abstain_reason(f"the {name} side", q.snr_db)
            if noisy:
                reasons.append(noisy)
            elif q.snr_db is None:
                # The embedding's own silence trimming may still find "speech" (in a very low level, in
                # noise): without detected speech the noise level is unknown, so no LR is validated.
                reasons.append(f"speech detection found no speech on the {name} side, so its noise level cannot "
                               "be measured")
            if q.bandwidth_hz < _ABSTAIN_BANDWIDTH_HZ:
                reasons.append(f"the {name} side's bandwidth is {q.bandwidth_hz:.0f} Hz (not validated below "
                               f"{_ABSTAIN_BANDWIDTH_HZ:.0f} Hz)")
        if not qe or not ke:
            empty = [n for n, e in (("questioned", qe), ("known", ke)) if not e]
            v = lrm.abstain(f"no speech long enough for a speaker embedding on the {' and '.join(empty)} side",
                            sq, sk)
        else:
            qv = mean_embedding(np.concatenate([w for w, _ in qe.values()]))
            kv = mean_embedding(np.concatenate([w for w, _ in ke.values()]))
            v = lrm.compare_embeddings(self.calibration, self.cohort, qv, kv, sq, sk)
            if reasons and v.log10_lr is not None:
                v = lrm.abstain("; ".join(reasons), sq, sk, v.score)
        # The reported precision: scores and log10 LR to 4 decimals, the LR to 4 significant digits
        # (of the unrounded log10 LR), net speech to 1/100 s.
        log10_lr = _round4(v.log10_lr)
        position = None
        if log10_lr is not None:
            val, lab = self.validation["log10_lr"], self.validation["label"]
            # Where the reported LR falls among the validation LRs (for Tippett plots and the report).
            position = ValidationPosition(round(float(np.mean(val[lab == 1] <= log10_lr)), 4),
                                          round(float(np.mean(val[lab == 0] >= log10_lr)), 4))
        return ComparisonVerdict(
            score=_round4(v.score), snorm=_round4(v.snorm), log10_lr=log10_lr,
            lr=None if v.log10_lr is None else float(f"{10 ** v.log10_lr:.4g}"), verbal=v.verbal, label=v.label,
            abstain_reason=v.abstain_reason, speech_s=BySide(round(v.speech_q, 2), round(v.speech_k, 2)),
            at_bound=v.bounded, hp=lrm.HP, hd=lrm.HD, scale=lrm.SCALE_NAME,
            channel="telephone band (both sides)" if telephone else "wideband",
            quality=BySide(qs.quality.to_result(), ks.quality.to_result()),
            segments_used=BySide(tuple(sorted(qe)), tuple(sorted(ke))), validation_position=position)


def _round4(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


_comparators: PerDevice[Comparator] = PerDevice(Comparator)


def get_comparator(device: str = "auto", model_id: str = COMPARISON_MODEL_ID) -> Comparator:
    """The process-wide comparison system for a device preference (loaded and verified once)."""
    return _comparators.get(device, model_id)
