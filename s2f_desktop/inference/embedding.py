"""Speaker embeddings with resemblyzer's GE2E encoder (Wan et al. 2018).

The weights (``pretrained.pt``) ship inside the resemblyzer wheel. We do not let
resemblyzer load them: the file is declared here with its sha256, verified, and read with
``torch.load(weights_only=True)`` into an identical network (3-layer LSTM, 256 units,
linear + ReLU, L2-normalised 256-d output). Audio preprocessing is resemblyzer's own
(volume normalised up to -30 dBFS, long silences trimmed by WebRTC VAD, 40-band mel
frames of 25 ms every 10 ms), so embeddings equal ``VoiceEncoder.embed_utterance``.

Embeddings are computed per segment; a selection is pooled duration-weighted (longer
segments carry more evidence) and re-normalised.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from s2f_desktop.core.errors import InputError
from s2f_desktop.inference.device import DeviceInfo, resolve_device
from s2f_desktop.inference.registry import ModelSpec, verified_path

SAMPLE_RATE = 16000
EMBEDDING_DIM = 256
_PARTIAL_FRAMES = 160  # 1.6 s windows, as resemblyzer
_HOP = 160  # 10 ms at 16 kHz
#: Shortest speech (after silence trimming) that yields one full GE2E window.
MIN_SPEECH_S = 0.5

#: sha256 of resemblyzer 0.1.4's ``pretrained.pt`` (checked before every load).
RESEMBLYZER_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"


def resemblyzer_spec() -> ModelSpec:
    """Declaration of the GE2E encoder weights shipped in the resemblyzer wheel."""
    import importlib.util

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        from s2f_desktop.core.errors import ModelIntegrityError

        raise ModelIntegrityError("model resemblyzer-ge2e: the resemblyzer package is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    return ModelSpec("resemblyzer-ge2e-0.1.4", path, RESEMBLYZER_SHA256, None,
                     {"source": "resemblyzer 0.1.4 (Resemble AI), GE2E speaker encoder, Apache-2.0"})


class GE2E(nn.Module):
    """The GE2E speaker encoder network (same layout and parameter names as resemblyzer)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, EMBEDDING_DIM)
        self.relu = nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        out: torch.Tensor = raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)
        return out


def _ra() -> ModuleType:
    """resemblyzer.audio, imported without its SciPy deprecation warning (a resemblyzer 0.1.4 import path)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from resemblyzer import audio
    module: ModuleType = audio
    return module


def preprocess(x16k: np.ndarray) -> np.ndarray:
    """resemblyzer's preprocessing of 16 kHz audio: level up to -30 dBFS, trim long silences."""
    ra = _ra()
    x = np.asarray(x16k, dtype=np.float32)
    if not np.any(x):
        return x[:0]
    x = np.clip(ra.normalize_volume(x, -30, increase_only=True), -1.0, 1.0).astype(np.float32)
    trimmed: np.ndarray = ra.trim_long_silences(x).astype(np.float32)
    return trimmed


class SpeakerEncoder:
    """A loaded, verified GE2E encoder on one device; thread-safe for inference."""

    def __init__(self, device: DeviceInfo, spec: ModelSpec) -> None:
        self.device = device
        self.spec = spec
        path = verified_path(spec)
        state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
        net = GE2E()
        net.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")}, strict=True)
        self.net = net.to(device.torch_device).eval()
        self._lock = threading.Lock()

    def windows(self, x16k: np.ndarray, preprocessed: bool = False) -> np.ndarray:
        """The GE2E embeddings (float32, one row each) of the 1.6 s windows of 16 kHz speech.

        Same slicing as resemblyzer (rate 1.3 windows/s, last window kept at >= 75 % coverage).
        Raises InputError with less than ``MIN_SPEECH_S`` of speech after trimming.
        """
        ra = _ra()
        wav = np.asarray(x16k, dtype=np.float32) if preprocessed else preprocess(x16k)
        if len(wav) < int(MIN_SPEECH_S * SAMPLE_RATE):
            raise InputError(f"too little speech for a speaker embedding (need {MIN_SPEECH_S} s after trimming)")
        n_frames = int(np.ceil((len(wav) + 1) / _HOP))
        step = int(np.round((SAMPLE_RATE / 1.3) / _HOP))
        starts = list(range(0, max(1, n_frames - _PARTIAL_FRAMES + step + 1), step))
        last = starts[-1] * _HOP
        if len(starts) > 1 and (len(wav) - last) / (_PARTIAL_FRAMES * _HOP) < 0.75:
            starts = starts[:-1]
        need = (starts[-1] + _PARTIAL_FRAMES) * _HOP
        if need >= len(wav):
            wav = np.pad(wav, (0, need - len(wav)))
        mel = ra.wav_to_mel_spectrogram(wav)
        mels = np.stack([mel[s:s + _PARTIAL_FRAMES] for s in starts])
        with self._lock, torch.inference_mode():
            out: np.ndarray = self.net(torch.from_numpy(mels).to(self.device.torch_device)).cpu().numpy()
        return out.astype(np.float32)

    def embed(self, x16k: np.ndarray, preprocessed: bool = False) -> np.ndarray:
        """L2-normalised 256-d embedding of 16 kHz speech: the mean of its window embeddings."""
        raw = self.windows(x16k, preprocessed).astype(np.float64).mean(axis=0)
        emb: np.ndarray = (raw / np.linalg.norm(raw)).astype(np.float32)
        return emb


def pool(embeddings: list[np.ndarray], durations: list[float]) -> np.ndarray:
    """Duration-weighted mean of segment embeddings, re-normalised to unit length."""
    if not embeddings:
        raise InputError("nothing to pool: no segment had enough speech for an embedding")
    w = np.asarray(durations, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(len(embeddings), 1 / len(embeddings))
    raw = (np.stack(embeddings).astype(np.float64) * w[:, None]).sum(axis=0)
    pooled: np.ndarray = (raw / np.linalg.norm(raw)).astype(np.float32)
    return pooled


_cache_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _load(torch_device: str, description: str) -> SpeakerEncoder:
    return SpeakerEncoder(DeviceInfo(torch_device, description), resemblyzer_spec())


def get_encoder(device: str = "auto") -> SpeakerEncoder:
    """The process-wide encoder for a device preference (loaded and verified once)."""
    info = resolve_device(device)
    with _cache_lock:
        return _load(info.torch_device, info.description)
