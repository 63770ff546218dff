"""The one feature path: audio at its native rate -> speech regions, quality, head inputs.

``s2f analyze`` (through :class:`s2f_desktop.inference.analyzer.Analyzer`) and the trainer
(:mod:`s2f_desktop.training.features`) both call :func:`part_features`, so the models are
trained on exactly what they see at inference (issue 13: training used to resample whole
clips with scipy while inference resampled speech-detected, trimmed audio with torchaudio).

Steps, in order, for one part (a segment, a file or a file range):

1. decoding is the caller's (the CLI and the trainer both use
   :func:`s2f_desktop.audio.decode.open_audio` and ``read(channel="mix")``, see
   :func:`decode_mono`);
2. silero VAD with :data:`VAD_PARAMS` on the native-rate audio;
3. the quality gate (:func:`s2f_desktop.audio.quality.assess`) on the native-rate audio and
   those regions; its telephone-band flag marks band-limited Praat measures;
4. torchaudio's sinc resampler to 16 kHz (:func:`s2f_desktop.inference.resample.resample`);
5. the speech regions cut out and joined with 50 ms gaps
   (:func:`s2f_desktop.voice.acoustics.concat_regions`);
6. the GE2E embedding (with resemblyzer's own silence trimming) and the Praat measures
   (:func:`s2f_desktop.voice.acoustics.measure`) of that speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.inference import embedding as emb_mod
from s2f_desktop.inference.resample import ANALYSIS_RATE, resample
from s2f_desktop.inference.traits import VoiceFeatures
from s2f_desktop.inference.vad import detect_speech
from s2f_desktop.voice.acoustics import concat_regions, measure

#: VAD settings used for every analysis and for training (recorded with each run).
VAD_PARAMS = {"threshold": 0.5, "min_speech_s": 0.25, "min_silence_s": 0.3}


@dataclass(frozen=True)
class PartFeatures:
    """What the feature path measured on one part."""

    regions: list[tuple[float, float]]
    quality: Any  # s2f_desktop.audio.quality.QualityReport
    speech16: np.ndarray
    features: VoiceFeatures | None


def decode_mono(path: Path | str) -> tuple[np.ndarray, int]:
    """The whole file as a float32 mono mix at its native rate, decoded as ``s2f analyze`` does."""
    from s2f_desktop.audio.decode import open_audio

    with open_audio(Path(path)) as src:
        return src.read(0, src.frames, channel="mix"), int(src.sample_rate)


def speech_regions(x: np.ndarray, sr: int, task: Task | None = None) -> list[tuple[float, float]]:
    """Silero speech regions (seconds) of a mono signal with the analysis VAD settings."""
    return [(r.start_s, r.end_s) for r in detect_speech(x, sr, task=task, **VAD_PARAMS)]  # type: ignore[arg-type]


def speech_16k(x: np.ndarray, sr: int, regions: list[tuple[float, float]]) -> np.ndarray:
    """The speech regions of ``x`` at 16 kHz, joined with short gaps (empty without regions)."""
    if not regions:
        return np.zeros(0, np.float32)
    x16 = resample(np.asarray(x, dtype=np.float32), sr, ANALYSIS_RATE)
    return concat_regions(x16, ANALYSIS_RATE, regions).astype(np.float32)


def voice_features(speech16: np.ndarray, encoder: Any, band_limited: bool) -> VoiceFeatures | None:
    """GE2E embedding and Praat measures of 16 kHz speech; None when there is too little of it."""
    if len(speech16) < int(emb_mod.MIN_SPEECH_S * ANALYSIS_RATE):
        return None
    try:
        e = encoder.embed(speech16)
    except InputError:  # too little speech left after silence trimming
        return None
    return VoiceFeatures(e, measure(speech16, ANALYSIS_RATE, band_limited=band_limited))


def part_features(x: np.ndarray, sr: int, encoder: Any, task: Task | None = None) -> PartFeatures:
    """Steps 2-6 of the module docstring for one mono part at its native rate."""
    from s2f_desktop.audio.quality import assess

    task = task or null_task()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise InputError("expected mono audio")
    regions = speech_regions(x, sr, task.sub(0.0, 0.4))
    quality = assess(x, sr, speech=regions)
    task.progress(0.5, "speaker embedding and Praat measures")
    speech16 = speech_16k(x, sr, regions)
    feats = voice_features(speech16, encoder, quality.telephone_band)
    return PartFeatures(regions, quality, speech16, feats)
