"""Speech detection with silero-vad's bundled model.

The model file ships inside the ``silero-vad`` wheel (``silero_vad/data/silero_vad.jit``),
so nothing is downloaded; its sha256 is declared in :data:`VAD_MODEL_INFO` and checked
before every load (a changed wheel is refused rather than silently used).

Silero is a streaming recurrent model that scores fixed windows (512 samples at 16 kHz,
256 at 8 kHz) with state carried from one window to the next. :func:`detect_speech_blocks`
feeds it a recording block by block, so a 3-hour file costs a few MB of probabilities,
not the decoded audio. 8 kHz audio (telephone) is scored natively at 8 kHz, which the
model supports; every other rate is resampled to 16 kHz with
:func:`s2f_desktop.inference.resample.resample_blocks`. Turning per-window probabilities
into regions uses silero's own ``get_speech_timestamps_from_probs`` so results match a
direct silero call with the same parameters.
"""

from __future__ import annotations

import importlib.resources
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.inference.device import resolve_device
from s2f_desktop.inference.registry import ModelSpec, verified_path
from s2f_desktop.inference.resample import ANALYSIS_RATE, resample_blocks


def _bundled_model_path() -> Path:
    return Path(str(importlib.resources.files("silero_vad.data").joinpath("silero_vad.jit")))


#: Declared VAD model: the TorchScript file bundled with silero-vad 6.2.3 (pinned in pyproject).
VAD_MODEL_INFO: dict[str, str] = {
    "id": "silero-vad-6.2.3",
    "file": "silero_vad.jit",
    "sha256": "e1122837f4154c511485fe0b9c64455f7b929c96fbb8d79fbdb336383ebd3720",
    "source": "https://github.com/snakers4/silero-vad (MIT licence), wheel silero-vad==6.2.3",
}

#: Padding silero adds around each region (its default), in milliseconds.
SPEECH_PAD_MS = 30
#: Windows scored between progress/cancel points.
_WINDOWS_PER_CHECK = 256


@dataclass(frozen=True)
class SpeechRegion:
    """A detected speech region in seconds from the start of the analysed signal.

    ``confidence`` is the mean speech probability of the model windows inside the region.
    """

    start_s: float
    end_s: float
    confidence: float


def model_spec() -> ModelSpec:
    """The declaration used to verify the bundled weights."""
    return ModelSpec(VAD_MODEL_INFO["id"], _bundled_model_path(), VAD_MODEL_INFO["sha256"])


def load_model(device: str = "cpu") -> tuple[Any, str]:
    """Load the verified bundled model on a resolved device; returns ``(model, device description)``.

    A fresh model per call: silero keeps recurrent state inside the module, so one
    instance must not be shared by concurrent detections.
    """
    verified_path(model_spec())
    from silero_vad import load_silero_vad

    info = resolve_device(device)
    with warnings.catch_warnings():
        # torch.jit.load's deprecation notice is about torch's future, not about this file.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # silero uses importlib.resources.path
        model = load_silero_vad()
    model = model.to(info.torch_device)
    model.eval()
    return model, info.description


def model_rate(sr: int) -> int:
    """Rate the model runs at for input at ``sr`` (8 kHz natively, everything else at 16 kHz)."""
    return 8000 if int(sr) == 8000 else ANALYSIS_RATE


def vad_parameters(sr: int, threshold: float, min_speech_s: float, min_silence_s: float,
                   device: str) -> dict[str, Any]:
    """The parameters recorded with every VAD-suggested segment (enough to reproduce it)."""
    return {
        "model": dict(VAD_MODEL_INFO),
        "threshold": threshold,
        "min_speech_s": min_speech_s,
        "min_silence_s": min_silence_s,
        "speech_pad_ms": SPEECH_PAD_MS,
        "input_rate": int(sr),
        "model_rate": model_rate(sr),
        "device": device,
    }


def _check_params(sr: int, threshold: float, min_speech_s: float, min_silence_s: float) -> None:
    if sr <= 0:
        raise InputError(f"invalid sample rate {sr}")
    if not 0.0 < threshold < 1.0:
        raise InputError(f"VAD threshold must lie between 0 and 1 (got {threshold})")
    if min_speech_s < 0 or min_silence_s < 0:
        raise InputError("minimum speech and silence durations cannot be negative")


def speech_probabilities(blocks: Iterable[np.ndarray], sr: int, *, total_frames: int | None = None,
                         task: Task | None = None, device: str = "cpu") -> tuple[np.ndarray, int, str]:
    """Per-window speech probabilities of a block stream.

    Returns ``(probs, n_samples_at_model_rate, device_description)``.
    """
    task = task or null_task()
    rate = model_rate(sr)
    window = 512 if rate == 16000 else 256
    model, device_desc = load_model(device)
    dev = next(model.parameters()).device if any(True for _ in model.parameters()) else torch.device("cpu")
    stream: Iterator[np.ndarray] = iter(blocks) if rate == sr else resample_blocks(blocks, sr, rate)
    probs: list[float] = []
    carry = np.zeros(0, dtype=np.float32)
    n_model = 0
    seen_in = 0
    model.reset_states()
    with torch.no_grad():
        for block in stream:
            block = np.asarray(block, dtype=np.float32).reshape(-1)
            n_model += block.shape[0]
            data = np.concatenate([carry, block]) if carry.shape[0] else block
            n_full = data.shape[0] // window
            t = torch.from_numpy(np.ascontiguousarray(data[:n_full * window])).to(dev)
            for i in range(n_full):
                probs.append(float(model(t[i * window:(i + 1) * window], rate).item()))
                if i % _WINDOWS_PER_CHECK == 0:
                    task.check()
            carry = data[n_full * window:]
            seen_in = int(n_model * sr / rate)
            frac = None if not total_frames else seen_in / total_frames
            task.progress(frac, "detecting speech")
        if carry.shape[0]:
            last = np.zeros(window, dtype=np.float32)
            last[:carry.shape[0]] = carry
            probs.append(float(model(torch.from_numpy(last).to(dev), rate).item()))
    return np.asarray(probs, dtype=np.float32), n_model, device_desc


def regions_from_probabilities(probs: np.ndarray, n_samples: int, rate: int, *, threshold: float = 0.5,
                               min_speech_s: float = 0.25, min_silence_s: float = 0.3) -> list[SpeechRegion]:
    """Silero's own hysteresis/padding rules, then a mean-probability confidence per region."""
    from silero_vad.utils_vad import get_speech_timestamps_from_probs

    window = 512 if rate == 16000 else 256
    stamps = get_speech_timestamps_from_probs(
        [float(p) for p in probs], sampling_rate=rate, threshold=threshold,
        min_speech_duration_ms=int(round(min_speech_s * 1000)),
        min_silence_duration_ms=int(round(min_silence_s * 1000)), speech_pad_ms=SPEECH_PAD_MS,
        audio_length_samples=n_samples,
    )
    out = []
    for st in stamps:
        a, b = int(st["start"]), int(st["end"])
        w0, w1 = a // window, max(a // window + 1, -(-b // window))
        conf = float(np.mean(probs[w0:w1])) if w1 > w0 else float(probs[min(w0, len(probs) - 1)])
        out.append(SpeechRegion(a / rate, b / rate, round(conf, 4)))
    return out


def detect_speech_blocks(blocks: Iterable[np.ndarray], sr: int, *, threshold: float = 0.5,
                         min_speech_s: float = 0.25, min_silence_s: float = 0.3, total_frames: int | None = None,
                         task: Task | None = None, device: str = "cpu") -> tuple[list[SpeechRegion], dict[str, Any]]:
    """Detect speech in a stream of mono float32 blocks at rate ``sr``.

    Returns the regions (seconds from the start of the stream) and the parameters to
    record with them (:func:`vad_parameters`).
    """
    _check_params(sr, threshold, min_speech_s, min_silence_s)
    probs, n, device_desc = speech_probabilities(blocks, sr, total_frames=total_frames, task=task, device=device)
    params = vad_parameters(sr, threshold, min_speech_s, min_silence_s, device_desc)
    if n == 0:
        return [], params
    rate = model_rate(sr)
    regions = regions_from_probabilities(probs, n, rate, threshold=threshold, min_speech_s=min_speech_s,
                                         min_silence_s=min_silence_s)
    dur = n / rate
    return [SpeechRegion(r.start_s, min(r.end_s, dur), r.confidence) for r in regions], params


def detect_speech(x: np.ndarray, sr: int, *, threshold: float = 0.5, min_speech_s: float = 0.25,
                  min_silence_s: float = 0.3, task: Task | None = None, device: str = "cpu") -> list[SpeechRegion]:
    """Speech regions of a mono signal (seconds relative to ``x``).

    Long signals are processed in blocks, so memory stays bounded by the input itself.
    ``device`` defaults to CPU: silero scores 32 ms windows one at a time, where a GPU's
    per-call launch cost exceeds the work (it is still resolved and recorded).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise InputError("detect_speech expects a mono (1-D) signal")
    step = 1 << 18
    regions, _ = detect_speech_blocks((x[i:i + step] for i in range(0, x.shape[0], step)), sr, threshold=threshold,
                                      min_speech_s=min_speech_s, min_silence_s=min_silence_s,
                                      total_frames=x.shape[0], task=task, device=device)
    return regions
