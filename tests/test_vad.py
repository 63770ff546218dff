"""silero VAD: bundled model, boundaries on synthetic speech at several rates, real 8 kHz voices."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.core.errors import InputError, ModelIntegrityError
from s2f_desktop.inference import vad
from s2f_desktop.inference.resample import resample


def _true_bounds(x, sr):
    env = np.abs(x) > 0.01
    idx = np.flatnonzero(env)
    return idx[0] / sr, idx[-1] / sr


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_espeak_boundaries_within_200ms(speech_wav, rate):
    x, sr = sf.read(speech_wav("The suspect spoke for a few seconds on the phone.", name="s.wav"), dtype="float32")
    sig = np.concatenate([np.zeros(2 * sr, np.float32), x, np.zeros(2 * sr, np.float32)])
    t0, t1 = _true_bounds(sig, sr)
    sig = resample(sig, sr, rate)
    regions = vad.detect_speech(sig, rate)
    assert regions, "no speech found"
    assert regions[0].start_s == pytest.approx(t0, abs=0.2)
    assert regions[-1].end_s == pytest.approx(t1, abs=0.2)
    assert all(0.5 < r.confidence <= 1.0 for r in regions)


def test_silence_and_noise_have_no_speech():
    rng = np.random.default_rng(0)
    assert vad.detect_speech(np.zeros(16000 * 2, np.float32), 16000) == []
    assert vad.detect_speech((0.01 * rng.standard_normal(8000 * 3)).astype(np.float32), 8000) == []


def test_model_is_bundled_and_verified(monkeypatch):
    assert vad.model_spec().path.is_file()
    assert vad.VAD_MODEL_INFO["sha256"] == vad.model_spec().sha256
    params = vad.vad_parameters(8000, 0.5, 0.25, 0.3, "cpu")
    assert params["model_rate"] == 8000 and params["model"]["sha256"] == vad.VAD_MODEL_INFO["sha256"]
    monkeypatch.setitem(vad.VAD_MODEL_INFO, "sha256", "0" * 64)
    with pytest.raises(ModelIntegrityError):
        vad.load_model()
    with pytest.raises(InputError):
        vad.detect_speech(np.zeros(100, np.float32), 16000, threshold=1.5)


def test_real_8k_voices(asterisk_sounds):
    f = asterisk_sounds / "agent-pass.wav"
    if not f.exists():
        pytest.skip("prompt not installed")
    x, sr = sf.read(f, dtype="float32")
    regions = vad.detect_speech(x, sr)
    speech = sum(r.end_s - r.start_s for r in regions)
    assert sr == 8000 and speech > 0.5 * len(x) / sr


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_batched_scoring_equals_window_by_window_scoring(speech_wav, asterisk_sounds, rate):
    """The archive's block-batched silero path (vad._BatchedScorer) against silero's own per-window loop.

    Several blocks (state carried across them), a partial last window, 8 kHz native and resampled input.
    """
    x, sr = sf.read(speech_wav("The suspect spoke for a few seconds on the phone, then hung up.", name="s.wav"),
                    dtype="float32")
    prompts = sorted(asterisk_sounds.glob("*.wav"))[:6]
    parts = [resample(sf.read(p, dtype="float32")[0], 8000, sr) for p in prompts]
    rng = np.random.default_rng(3)
    sig = np.concatenate([np.zeros(sr // 3, np.float32), x] + [np.concatenate([np.zeros(int(sr * 0.4), np.float32), p])
                                                                 for p in parts])
    sig = (resample(sig, sr, rate) + 0.003 * rng.standard_normal(resample(sig, sr, rate).shape)).astype(np.float32)
    sig = sig[: len(sig) - 77]  # a partial last window
    step = 1 << 14  # several blocks
    blocks = [sig[i:i + step] for i in range(0, len(sig), step)]
    a, n_a, _ = vad.speech_probabilities(blocks, rate)
    b, n_b, _ = vad.speech_probabilities(blocks, rate, batched=True)
    assert n_a == n_b and a.shape == b.shape and len(a) > 100
    assert np.max(np.abs(a - b)) < 1e-5
    ra, rb = vad.detect_speech(sig, rate), vad.detect_speech(sig, rate, batched=True)
    assert len(ra) >= 3
    assert [(r.start_s, r.end_s) for r in ra] == [(r.start_s, r.end_s) for r in rb]
    assert [r.confidence for r in ra] == pytest.approx([r.confidence for r in rb], abs=1e-4)
