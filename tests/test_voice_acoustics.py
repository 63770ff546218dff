"""Praat acoustic measures on signals with known properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from s2f_desktop.voice.acoustics import SPEED_OF_SOUND_CM_S, UNITS, concat_regions, head_vector, measure


def vowel(f0: float, formants: tuple[float, ...], seconds: float = 2.0, sr: int = 16000, jitter: float = 0.0,
          seed: int = 0) -> np.ndarray:
    """A glottal pulse train through second-order formant resonators (a synthetic sustained vowel)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    src = np.zeros(n)
    t = 0.0
    while t < n:
        src[int(t)] = 1.0
        t += sr / f0 * (1 + jitter * rng.standard_normal())
    y = src
    for f in formants:
        bw = 80.0
        r = np.exp(-np.pi * bw / sr)
        y = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r], y)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def test_f0_and_formants_of_a_synthetic_vowel() -> None:
    formants = (500.0, 1500.0, 2500.0, 3500.0, 4500.0)  # uniform 17.5 cm tube
    m = measure(vowel(120.0, formants), 16000)
    assert m.get("f0_median") == pytest.approx(120.0, rel=0.02)
    # F1 is sampled by harmonics 120 Hz apart, so it is the least precise.
    for i, (f, tol) in enumerate(zip(formants[:4], (0.15, 0.08, 0.08, 0.08)), 1):
        assert m.get(f"f{i}") == pytest.approx(f, rel=tol)
    assert m.get("formant_dispersion") == pytest.approx(1000.0, rel=0.1)
    assert m.get("vocal_tract_length") == pytest.approx(SPEED_OF_SOUND_CM_S / 2000.0, rel=0.1)
    assert m.formant_ceiling_hz == 5000.0  # low voice -> 5000 Hz ceiling
    assert m.get("hnr") > 10.0
    assert m.get("jitter_local") < 1.0


def test_high_voice_uses_higher_formant_ceiling_and_jitter_rises() -> None:
    steady = measure(vowel(220.0, (700.0, 1800.0, 2900.0, 4000.0)), 16000)
    shaky = measure(vowel(220.0, (700.0, 1800.0, 2900.0, 4000.0), jitter=0.03), 16000)
    assert steady.get("f0_median") == pytest.approx(220.0, rel=0.02)
    assert steady.formant_ceiling_hz == 5500.0
    assert shaky.get("jitter_local") > 2 * steady.get("jitter_local")


def test_units_and_json_form() -> None:
    d = measure(vowel(150.0, (600.0, 1700.0, 2700.0, 3700.0)), 16000, band_limited=True).to_dict()
    for name, unit in UNITS.items():
        assert d[name]["unit"] == unit
    assert d["f4"]["reliable"] is False and "reliable" not in d["f1"]
    assert d["notes"]


def test_silence_and_noise_give_no_measures() -> None:
    silent = measure(np.zeros(16000), 16000)
    assert silent.get("f0_median") is None and silent.get("voiced_duration") == 0.0
    noise = measure(np.random.default_rng(1).standard_normal(32000).astype(np.float32) * 0.1, 16000)
    assert noise.get("f0_median") is None or noise.get("voiced_duration") < 0.3
    assert np.isnan(head_vector(silent)).all()


def test_concat_regions_inserts_gaps() -> None:
    x = np.ones(16000)
    y = concat_regions(x, 16000, [(0.0, 0.25), (0.5, 0.75)])
    assert len(y) == 4000 + 800 + 4000
    assert not y[4000:4800].any()
