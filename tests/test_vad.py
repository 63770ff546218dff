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
