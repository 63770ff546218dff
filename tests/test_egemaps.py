"""eGeMAPS-style parameters (voice/egemaps.py) on signals with known properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from s2f_desktop.training.egemaps import F0_FEATURES, FEATURE_NAMES, egemaps, egemaps_vector


def vowel(f0: float, formants: tuple[float, ...] = (500.0, 1500.0, 2500.0, 3500.0), seconds: float = 2.0,
          sr: int = 16000, jitter: float = 0.0, shimmer: float = 0.0, seed: int = 0) -> np.ndarray:
    """A glottal-like pulse train (one-pole spectral tilt) through formant resonators."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    src = np.zeros(n)
    t = 0.0
    while t < n:
        src[int(t)] = 1.0 + shimmer * rng.standard_normal()
        t += sr / f0 * (1 + jitter * rng.standard_normal())
    y = lfilter([1.0], [1.0, -0.9], src)  # glottal source roll-off
    for f in formants:
        r = np.exp(-np.pi * 80.0 / sr)
        y = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r], y)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def test_names_are_the_88_egemaps_functionals() -> None:
    assert len(FEATURE_NAMES) == 88 == len(set(FEATURE_NAMES))
    assert len(F0_FEATURES) == 10
    assert "F0semitoneFrom27.5Hz_sma3nz_amean" in FEATURE_NAMES and "equivalentSoundLevel_dBp" in FEATURE_NAMES


@pytest.mark.parametrize("f0", [150.0, 220.0])
def test_f0_semitones_of_a_pulse_train(f0: float) -> None:
    e = egemaps(vowel(f0))
    assert set(e) == set(FEATURE_NAMES)
    st = 12 * math.log2(f0 / 27.5)
    assert e["F0semitoneFrom27.5Hz_sma3nz_amean"] == pytest.approx(st, abs=0.3)
    assert e["F0semitoneFrom27.5Hz_sma3nz_percentile50.0"] == pytest.approx(st, abs=0.3)
    assert e["F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2"] < 0.5  # a steady tone
    assert e["HNRdBACF_sma3nz_amean"] > 15.0
    assert e["F1frequency_sma3nz_amean"] == pytest.approx(500.0, rel=0.2)
    assert e["F2frequency_sma3nz_amean"] == pytest.approx(1500.0, rel=0.1)
    assert e["VoicedSegmentsPerSec"] == pytest.approx(0.5, abs=0.01)  # one voiced segment in 2 s


def test_150_and_220_hz_differ_by_their_interval() -> None:
    lo, hi = egemaps(vowel(150.0)), egemaps(vowel(220.0))
    d = hi["F0semitoneFrom27.5Hz_sma3nz_amean"] - lo["F0semitoneFrom27.5Hz_sma3nz_amean"]
    assert d == pytest.approx(12 * math.log2(220.0 / 150.0), abs=0.3)


def test_jitter_and_shimmer_grow_with_perturbation() -> None:
    clean, rough = egemaps(vowel(120.0)), egemaps(vowel(120.0, jitter=0.02, shimmer=0.15, seed=1))
    assert rough["jitterLocal_sma3nz_amean"] > 2 * clean["jitterLocal_sma3nz_amean"]
    assert rough["shimmerLocaldB_sma3nz_amean"] > 2 * clean["shimmerLocaldB_sma3nz_amean"]
    assert rough["HNRdBACF_sma3nz_amean"] < clean["HNRdBACF_sma3nz_amean"]


def test_segments_and_unvoiced_frames() -> None:
    sr = 16000
    noise = 0.05 * np.random.default_rng(0).standard_normal(int(0.5 * sr))
    x = np.concatenate([vowel(150.0, seconds=0.5), noise, vowel(150.0, seconds=0.5), noise])
    e = egemaps(x)
    assert e["MeanVoicedSegmentLengthSec"] == pytest.approx(0.5, abs=0.08)
    assert e["VoicedSegmentsPerSec"] == pytest.approx(1.0, abs=0.01)
    # white noise has a flatter spectrum than the vowel: lower alpha ratio in unvoiced frames
    assert e["alphaRatioUV_sma3nz_amean"] < e["alphaRatioV_sma3nz_amean"]
    assert np.isfinite(e["spectralFluxUV_sma3nz_amean"])


def test_silence_and_short_input_give_nans_not_errors() -> None:
    for x in (np.zeros(32000), np.zeros(10), np.zeros(0), np.full(16000, np.nan)):
        assert np.all(np.isnan(egemaps_vector(egemaps(x))))
    e = egemaps(1e-3 * np.random.default_rng(0).standard_normal(32000).astype(np.float32))
    assert math.isnan(e["F0semitoneFrom27.5Hz_sma3nz_amean"]) and math.isnan(e["jitterLocal_sma3nz_amean"])
    assert np.isfinite(e["loudness_sma3_amean"])


def test_band_limited_formants_stay_in_the_band() -> None:
    e = egemaps(vowel(120.0, formants=(600.0, 1200.0, 2600.0)), band_limited=True)
    assert e["F3frequency_sma3nz_amean"] < 4000.0
    assert e["F1frequency_sma3nz_amean"] == pytest.approx(600.0, rel=0.2)

