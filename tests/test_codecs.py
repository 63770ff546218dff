"""The AMR-NB channel used to evaluate the trait heads on coded calls (training/codecs.py)."""

from __future__ import annotations

import numpy as np
import pytest

from s2f_desktop.training.codecs import AMR_NB_RATES, amr_nb, narrowband


def _tone(sr: int, f: float, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("rate", AMR_NB_RATES)
def test_amr_nb_keeps_length_pitch_and_level_of_a_voiced_tone(rate: int) -> None:
    x = _tone(16000, 440.0)
    y, sr = amr_nb(x, 16000, rate)
    assert sr == 8000 and len(y) == len(x) // 2 and y.dtype == np.float32
    mid = y[2000:-2000]
    spec = np.abs(np.fft.rfft(mid * np.hanning(len(mid))))
    assert abs(np.argmax(spec) * 8000 / len(mid) - 440.0) < 10.0
    ref = narrowband(x, 16000)[2000:-2000]
    level = 20 * np.log10(np.sqrt(np.mean(mid ** 2)) / np.sqrt(np.mean(ref ** 2)))
    assert abs(level) < 6.0


def test_the_front_end_removes_what_a_call_cannot_carry() -> None:
    y = narrowband(_tone(16000, 6000.0), 16000)  # above the 8 kHz Nyquist and the 3.4 kHz band
    assert np.sqrt(np.mean(y ** 2)) < 0.01
    low = narrowband(_tone(16000, 100.0), 16000)  # below the 300 Hz edge
    assert np.sqrt(np.mean(low[1000:-1000] ** 2)) < 0.05


def test_coding_is_deterministic() -> None:
    x = np.random.default_rng(0).standard_normal(8000 * 2).astype(np.float32) * 0.1
    a, _ = amr_nb(x, 8000)
    b, _ = amr_nb(x, 8000)
    assert np.array_equal(a, b)
