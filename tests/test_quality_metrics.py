"""Quality gate metrics on synthetic signals with known answers, and on real 8 kHz voices."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.audio.quality import THRESHOLDS, assess, assess_parts

SR = 16000


def _bursts(seconds=12.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    on = (t % 1.5) < 1.0
    regions = [(k * 1.5, k * 1.5 + 1.0) for k in range(int(seconds / 1.5))]
    return t, np.sqrt(2) * 0.1 * np.sin(2 * np.pi * 440 * t) * on, regions  # burst power 0.01


@pytest.mark.parametrize("snr", [5.0, 15.0, 30.0])
def test_snr_of_tone_bursts_in_white_noise(snr):
    t, tone, regions = _bursts()
    rng = np.random.default_rng(0)
    x = (tone + np.sqrt(0.01 / 10 ** (snr / 10)) * rng.standard_normal(t.size)).astype(np.float32)
    r = assess(x, SR, regions)
    assert r.snr_db == pytest.approx(snr, abs=1.0)
    assert r.net_speech_s == pytest.approx(8.0)
    assert r.verdict == {5.0: "insufficient", 15.0: "warn", 30.0: "ok"}[snr]
    assert (r.verdict == "ok") == (not r.reasons)
    # The energy detector finds the bursts on its own when the SNR allows.
    if snr >= 15:
        e = assess(x, SR)
        assert e.net_speech_s == pytest.approx(8.0, abs=0.5) and e.snr_db == pytest.approx(snr, abs=1.5)


def test_level_of_a_tone():
    t = np.arange(SR * 8) / SR
    x = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    r = assess(x, SR, [(0.0, 8.0)])
    assert r.level_dbfs == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)
    assert r.clipping_fraction == 0.0
    quiet = assess(x * 0.002, SR, [(0.0, 8.0)])
    assert any("level" in m for m in quiet.reasons)


def test_clipped_sine_fraction():
    t = np.arange(SR * 4) / SR
    clipped = np.clip(1.5 * np.sin(2 * np.pi * 50 * t), -1.0, 1.0).astype(np.float32)
    expected = 1 - 2 / np.pi * np.arcsin(1 / 1.5)  # share of time |1.5 sin| >= 1
    for x in (clipped, 0.5 * clipped):  # also clipped then attenuated
        r = assess(x, SR, [(0, 4)])
        assert r.clipping_fraction == pytest.approx(expected, abs=0.01)
        assert r.verdict == "insufficient" and any("clipped" in m for m in r.reasons)
    clean = assess((0.9 * np.sin(2 * np.pi * 50 * t)).astype(np.float32), SR, [(0, 4)])
    assert clean.clipping_fraction == 0.0


def _band_limited_noise(cutoff, sr=SR, seconds=8.0):
    rng = np.random.default_rng(1)
    n = rng.standard_normal(int(sr * seconds))
    spec = np.fft.rfft(n)
    spec[np.fft.rfftfreq(n.size, 1 / sr) > cutoff] = 0
    return (0.1 * np.fft.irfft(spec, n.size)).astype(np.float32)


@pytest.mark.parametrize("cutoff,telephone,too_narrow", [(3400, True, False), (2000, True, True), (6500, False, False)])
def test_band_limited_noise_bandwidth(cutoff, telephone, too_narrow):
    r = assess(_band_limited_noise(cutoff), SR, [(0, 8)])
    assert r.bandwidth_hz == pytest.approx(cutoff, rel=0.08)
    assert r.telephone_band is telephone
    assert any("bandwidth" in m and "below" in m for m in r.reasons) is too_narrow
    full = assess(_band_limited_noise(SR), SR, [(0, 8)])
    assert full.bandwidth_hz == SR / 2 and not full.telephone_band



def test_digital_silence_has_no_bandwidth_and_faint_noise_keeps_its_own():
    """Zeros have no spectrum to measure: 0 Hz and a reason saying so, not the Nyquist band of a flat
    spectrum of zeros; the faintest real noise (16-bit dither) still measures as the full band."""
    silent = assess(np.zeros(SR * 5, np.float32), SR, [(0, 5)])
    assert silent.bandwidth_hz == 0.0 and not silent.telephone_band and silent.verdict == "insufficient"
    assert any(r.startswith("no signal above 300 Hz") for r in silent.reasons)
    assert not any("effective bandwidth" in r for r in silent.reasons)
    dither = (np.random.default_rng(3).uniform(-1, 1, SR * 5) / 32768).astype(np.float32)
    faint = assess(dither, SR, [(0, 5)])
    assert faint.bandwidth_hz == SR / 2 and not any("no signal" in r for r in faint.reasons)

def test_short_speech_is_insufficient_and_pooling_adds_up():
    t, tone, _ = _bursts(seconds=4.0)
    tone = tone * (t < 2.5)  # 2 s of tone, then 1.5 s of pause: each part has its own noise estimate
    x = (tone + 0.001 * np.random.default_rng(2).standard_normal(t.size)).astype(np.float32)
    one = assess(x, SR, [(0, 1), (1.5, 2.5)])
    assert one.verdict == "insufficient" and "net speech" in one.reasons[0]
    pooled = assess_parts([(x, SR, [(0, 1), (1.5, 2.5)])] * 4)
    assert pooled.net_speech_s == pytest.approx(8.0) and pooled.verdict in ("ok", "warn")
    assert pooled.snr_db == pytest.approx(one.snr_db)  # identical parts pool to their own SNR
    assert pooled.to_dict()["thresholds"] == THRESHOLDS


def test_real_telephone_voices(asterisk_sounds):
    files = sorted(asterisk_sounds.glob("*.wav"))[:40]
    xs = [sf.read(f, dtype="float32") for f in files]
    xs = [(x, sr) for x, sr in xs if sr == 8000]
    if not xs:
        pytest.skip("no 8 kHz prompts found")
    r = assess_parts([(x, sr, None) for x, sr in xs])
    assert r.telephone_band and r.bandwidth_hz <= 4000
    assert r.net_speech_s > 10 and r.snr_db is not None and r.snr_db > 10
