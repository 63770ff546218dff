"""Waveform pyramid and spectrogram tiles."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.audio.overview import BASE_BIN, build_overview, load_cached
from s2f_desktop.audio.spectrogram import spectrogram_tile
from s2f_desktop.core.errors import CancelledError
from s2f_desktop.core.progress import CancelToken, Task

SHA = "ab" * 32


@pytest.fixture
def stereo(tmp_path):
    sr = 8000
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.3, 0.3, (sr * 20 + 123, 2)).astype(np.float32)
    x[sr * 5:sr * 6, 1] = 0.95  # a loud second on the right channel only
    p = tmp_path / "ov.wav"
    sf.write(p, x, sr, subtype="FLOAT")
    return p, x, sr


def test_peaks_match_the_samples_at_every_zoom(stereo, tmp_path):
    p, x, sr = stereo
    updates = []
    ov = build_overview(p, SHA, tmp_path / "cache", Task(updates.append))
    assert updates[-1].fraction == 1.0 and (ov.frames, ov.channels, ov.sample_rate) == (x.shape[0], 2, sr)
    # Whole file, one pixel: exact extremes and RMS of each channel.
    for ch in (0, 1):
        mn, mx, rms = ov.peaks(0, x.shape[0], 1, channel=ch)
        assert mn[0] == pytest.approx(x[:, ch].min()) and mx[0] == pytest.approx(x[:, ch].max())
        assert rms[0] == pytest.approx(np.sqrt(np.mean(x[:, ch].astype(np.float64) ** 2)), rel=1e-4)
    # Mix = envelope over channels: the right channel's loud second shows.
    mn, mx, _ = ov.peaks(0, x.shape[0], 20)
    assert mx[5] == pytest.approx(0.95) and mx[0] < 0.31 and mn.min() >= -0.31
    # Aligned pixels at level 0: exact per-pixel extremes.
    n = 64 * BASE_BIN
    mn, mx, _ = ov.peaks(0, n, 64, channel=0)
    ref = x[:n, 0].reshape(64, BASE_BIN)
    np.testing.assert_allclose(mn, ref.min(1)) and np.testing.assert_allclose(mx, ref.max(1))
    # Deep zoom (fewer samples than pixels) and past-the-end pixels.
    mn, mx, rms = ov.peaks(10, 60, 200)
    assert mn.shape == (200,) and np.all(mn <= mx)
    mn, mx, rms = ov.peaks(0, 2 * x.shape[0], 100)
    assert np.all(mx[60:] == 0) and mx[:50].max() > 0


def test_cache_is_reused_and_cancel_leaves_nothing(stereo, tmp_path):
    p, x, sr = stereo
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        build_overview(p, SHA, tmp_path / "c", Task(token=token))
    assert load_cached(tmp_path / "c", SHA) is None
    ov = build_overview(p, SHA, tmp_path / "c")
    p.unlink()  # a cached overview never touches the file again
    again = build_overview(p, SHA, tmp_path / "c")
    np.testing.assert_array_equal(np.asarray(again.data), ov.data)
    (tmp_path / "c" / "overview" / f"{SHA}.json").write_text("{broken")
    assert load_cached(tmp_path / "c", SHA) is None


def test_spectrogram_tile_finds_the_tone(tone_wav):
    p = tone_wav(freq=1000, seconds=3.0, sr=16000, amp=0.5)
    for start, end, cols in [(0, 48000, 100), (1000, 5000, 50), (0, 48000, 5)]:
        db, freqs, times = spectrogram_tile(p, start, end, n_fft=512, max_columns=cols)
        assert db.shape == (257, min(cols, db.shape[1])) and db.shape[1] <= cols
        assert np.all(np.abs(freqs[db.argmax(axis=0)] - 1000) < 40)
        assert db.max() == pytest.approx(20 * np.log10(0.5), abs=1.5)
        assert times[0] * 16000 >= start and times[-1] * 16000 <= end
