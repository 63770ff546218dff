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


#: LSTM state (h, c) carried from block to block.
_State = tuple[torch.Tensor, torch.Tensor]


class _BatchedScorer:
    """Silero's windows scored a block at a time instead of one call per 32 ms window.

    Silero's forward pass for one window is: prepend the last ``context`` samples of the
    previous window, STFT, a convolutional encoder, one step of an LSTM cell carrying state
    from window to window, then a convolutional decoder. Only the LSTM step is recurrent,
    so this runs the STFT, the encoder and the decoder over every window of a block in one
    batch, and the recurrence as one ``torch.lstm`` over the block's windows with the
    cell's own weights (state carried across blocks). Same model, same arithmetic, in a
    different order: probabilities agree with the per-window path to float32 rounding
    (within 1e-5 on the test audio, tests/test_vad.py), not bit for bit, so the regions can
    differ only where a window's probability lies within that distance of the threshold.
    Stateless between recordings (state lives in the call), so one loaded model serves them all.
    """

    def __init__(self, model: Any, rate: int) -> None:
        self.sub = model._model if rate == 16000 else model._model_8k
        self.window = 512 if rate == 16000 else 256
        self.context = int(self.sub.context_size_samples)
        cell = self.sub.decoder.rnn
        hidden = int(cell.weight_hh.shape[1])
        self.lstm = torch.nn.LSTM(int(cell.weight_ih.shape[1]), hidden)
        with torch.no_grad():
            for mine, theirs in (("weight_ih_l0", "weight_ih"), ("weight_hh_l0", "weight_hh"),
                                 ("bias_ih_l0", "bias_ih"), ("bias_hh_l0", "bias_hh")):
                getattr(self.lstm, mine).copy_(getattr(cell, theirs))
        self.dev = next(iter(model.parameters())).device
        self.lstm.to(self.dev).eval()
        self.hidden = hidden

    def start(self) -> tuple[np.ndarray, _State]:
        """Initial (context samples, LSTM state) of a stream, as after silero's ``reset_states``."""
        z = torch.zeros(1, 1, self.hidden, device=self.dev)
        return np.zeros(self.context, np.float32), (z, z.clone())

    def score(self, frames: np.ndarray, context: np.ndarray,
              state: _State) -> tuple[np.ndarray, np.ndarray, _State]:
        """Probabilities of ``frames`` (n, window) following ``context``; returns (probs, next context, next state)."""
        n = frames.shape[0]
        ctx = np.empty((n, self.context), np.float32)
        ctx[0] = context
        ctx[1:] = frames[:-1, -self.context:]
        inp = torch.from_numpy(np.ascontiguousarray(np.concatenate([ctx, frames], axis=1))).to(self.dev)
        with torch.no_grad():
            feats = self.sub.encoder(self.sub.run_extractors(inp)).squeeze(-1)  # (n, features)
            h, state = self.lstm(feats.unsqueeze(1), state)  # the cell's recurrence over the windows
            out = self.sub.decoder.decoder(h[:, 0].unsqueeze(-1).float()).squeeze(1).mean(dim=1)
        return out.cpu().numpy().astype(np.float32), frames[-1, -self.context:].copy(), state


_scorers: dict[tuple[str, int], tuple[_BatchedScorer, str]] = {}


def _shared_scorer(device: str, rate: int) -> tuple[_BatchedScorer, str]:
    """One verified model per process and rate for the batched path (it never uses the module's own state)."""
    if (device, rate) not in _scorers:
        model, desc = load_model(device)
        _scorers[(device, rate)] = (_BatchedScorer(model, rate), desc)
    return _scorers[(device, rate)]


def speech_probabilities(blocks: Iterable[np.ndarray], sr: int, *, total_frames: int | None = None,
                         task: Task | None = None, device: str = "cpu",
                         batched: bool = False) -> tuple[np.ndarray, int, str]:
    """Per-window speech probabilities of a block stream.

    Returns ``(probs, n_samples_at_model_rate, device_description)``. ``batched``: score
    each block's windows together (:class:`_BatchedScorer`, about 10x faster on CPU, equal
    to float32 rounding); the default scores one window per call, as silero's own loop does.
    """
    if batched:
        return _batched_probabilities(blocks, sr, total_frames=total_frames, task=task, device=device)
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


def _batched_probabilities(blocks: Iterable[np.ndarray], sr: int, *, total_frames: int | None,
                           task: Task | None, device: str) -> tuple[np.ndarray, int, str]:
    task = task or null_task()
    rate = model_rate(sr)
    scorer, device_desc = _shared_scorer(device, rate)
    window = scorer.window
    stream: Iterator[np.ndarray] = iter(blocks) if rate == sr else resample_blocks(blocks, sr, rate)
    context, state = scorer.start()
    probs: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    n_model = 0
    for block in stream:
        task.check()
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        n_model += block.shape[0]
        data = np.concatenate([carry, block]) if carry.shape[0] else block
        n_full = data.shape[0] // window
        if n_full:
            p, context, state = scorer.score(data[:n_full * window].reshape(n_full, window), context, state)
            probs.append(p)
        carry = data[n_full * window:]
        frac = None if not total_frames else int(n_model * sr / rate) / total_frames
        task.progress(frac, "detecting speech")
    if carry.shape[0]:
        last = np.zeros((1, window), dtype=np.float32)
        last[0, :carry.shape[0]] = carry
        probs.append(scorer.score(last, context, state)[0])
    out = np.concatenate(probs) if probs else np.zeros(0, np.float32)
    return out, n_model, device_desc


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
                         task: Task | None = None, device: str = "cpu",
                         batched: bool = False) -> tuple[list[SpeechRegion], dict[str, Any]]:
    """Detect speech in a stream of mono float32 blocks at rate ``sr``.

    Returns the regions (seconds from the start of the stream) and the parameters to
    record with them (:func:`vad_parameters`). ``batched``: see :func:`speech_probabilities`.
    """
    _check_params(sr, threshold, min_speech_s, min_silence_s)
    probs, n, device_desc = speech_probabilities(blocks, sr, total_frames=total_frames, task=task, device=device,
                                                 batched=batched)
    params = vad_parameters(sr, threshold, min_speech_s, min_silence_s, device_desc)
    if n == 0:
        return [], params
    rate = model_rate(sr)
    regions = regions_from_probabilities(probs, n, rate, threshold=threshold, min_speech_s=min_speech_s,
                                         min_silence_s=min_silence_s)
    dur = n / rate
    return [SpeechRegion(r.start_s, min(r.end_s, dur), r.confidence) for r in regions], params


def detect_speech(x: np.ndarray, sr: int, *, threshold: float = 0.5, min_speech_s: float = 0.25,
                  min_silence_s: float = 0.3, task: Task | None = None, device: str = "cpu",
                  batched: bool = False) -> list[SpeechRegion]:
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
                                      total_frames=x.shape[0], task=task, device=device, batched=batched)
    return regions
