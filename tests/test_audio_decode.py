"""Decoding service and resampling: channels, blocks, seeking, containers, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.audio.decode import open_audio, read_segment
from s2f_desktop.core.errors import InputError, MediaError


def _stereo(tmp_path, sr=16000, seconds=3.0):
    n = int(sr * seconds)
    left = np.linspace(-0.5, 0.5, n, dtype=np.float32)
    right = 0.25 * np.sin(2 * np.pi * 300 * np.arange(n) / sr).astype(np.float32)
    p = tmp_path / "st.wav"
    sf.write(p, np.stack([left, right], 1), sr, subtype="FLOAT")
    return p, left, right


def test_channels_blocks_and_read(tmp_path):
    p, left, right = _stereo(tmp_path)
    with open_audio(p) as src:
        assert (src.sample_rate, src.channels, src.frames) == (16000, 2, left.size)
        np.testing.assert_allclose(src.read(100, 900, channel=0), left[100:900])
        np.testing.assert_allclose(src.read(100, 900, channel=1), right[100:900])
        np.testing.assert_allclose(src.read(0, 10), (left[:10] + right[:10]) / 2, atol=1e-7)
        assert src.read(5, 7, channel=None).shape == (2, 2)
        blocks = list(src.blocks(1000, 21000, block_frames=4096, channel=1))
        assert [b.shape[0] for b in blocks] == [4096] * 4 + [20000 - 4 * 4096]
        assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
        np.testing.assert_allclose(np.concatenate(blocks), right[1000:21000])
        with pytest.raises(InputError):
            src.read(0, 10, channel=2)
        with pytest.raises(InputError):
            src.read(src.frames + 10, src.frames + 20)
    np.testing.assert_allclose(read_segment(p, 10, 20, channel=0), left[10:20])


def _write_aac(path, x, sr):
    import av
    x = np.asarray(x, dtype=np.float32)[:, None]
    with av.open(str(path), "w") as c:
        st = c.add_stream("aac", rate=sr, layout="mono")
        for i in range(0, len(x), 1024):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[i:i + 1024].T), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = sr, i
            for pkt in st.encode(fr):
                c.mux(pkt)
        for pkt in st.encode(None):
            c.mux(pkt)


def test_video_container_seeks_by_sample(tmp_path):
    sr = 16000
    t = np.arange(sr * 6) / sr
    p = tmp_path / "clip.m4a"
    _write_aac(p, 0.3 * np.sin(2 * np.pi * (200 + 80 * t) * t), sr)
    with open_audio(p) as src:
        assert src.sample_rate == sr and src.channels == 1 and src.frames >= t.size
        full = src.read(0, src.frames)
        for a, b in [(40000, 41000), (70001, 80000), (sr * 5, src.frames)]:
            np.testing.assert_allclose(src.read(a, b), full[a:b], atol=1e-6)
        got = np.concatenate(list(src.blocks(30000, 60000, block_frames=7000)))
        np.testing.assert_allclose(got, full[30000:60000], atol=1e-6)
    # AAC is lossy and delays the signal: check the level of what was written.
    assert 0.2 < np.abs(full).max() < 0.45


@pytest.mark.parametrize("content,name,msg", [
    (b"", "empty.wav", "empty"),
    (b"RIFF\x00\x00garbage" * 10, "bad.wav", "not a readable"),
    (b"\x00" * 500, "bad.m4a", "not a readable"),
    (b"abc", "notes.txt", "unsupported"),
])
def test_corrupt_inputs_give_media_error(tmp_path, content, name, msg):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(MediaError, match=msg):
        open_audio(p)


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        open_audio(tmp_path / "nope.wav")


def test_truncated_files_decode_only_what_is_there(tmp_path, tone_wav):
    p = tone_wav(seconds=2.0)
    data = p.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])  # header still promises 2 s
    with open_audio(p) as whole, open_audio(cut) as src:
        assert src.frames < whole.frames
        np.testing.assert_array_equal(src.read(0, src.frames), whole.read(0, src.frames))
        with pytest.raises(InputError):
            src.read(whole.frames - 10, whole.frames)
    sr = 16000
    m4a = tmp_path / "clip.m4a"
    _write_aac(m4a, 0.3 * np.sin(2 * np.pi * 300 * np.arange(sr * 3) / sr), sr)
    raw = m4a.read_bytes()
    bad = tmp_path / "cut.m4a"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MediaError):
        with open_audio(bad) as src:
            src.read(0, src.frames)


def test_streamed_resampling_equals_one_shot():
    from s2f_desktop.inference.resample import resample, resample_blocks
    rng = np.random.default_rng(0)
    for sr in (44100, 48000, 8000):
        x = rng.standard_normal(sr * 4 + 77).astype(np.float32)
        blocks = [x[i:i + 9999] for i in range(0, x.size, 9999)]
        one = resample(x, sr)
        assert one.dtype == np.float32 and one.size == int(np.ceil(x.size * 16000 / sr))
        np.testing.assert_allclose(np.concatenate(list(resample_blocks(blocks, sr))), one, atol=1e-5)
    y = rng.standard_normal(100).astype(np.float32)
    assert resample(y, 16000) is not None and np.array_equal(resample(y, 16000), y)


def test_samples_that_are_not_numbers_are_a_media_error(tmp_path):
    """A red-team pass wrote 100 NaN samples into a float WAV: the whole file silently measured as no speech."""
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    x[5000:5100] = np.nan
    p = tmp_path / "nan.wav"
    sf.write(str(p), x, 16000, subtype="FLOAT")
    with open_audio(p) as src:
        np.testing.assert_array_equal(src.read(0, 4000), x[:4000])  # a clean range reads
        with pytest.raises(MediaError, match="100 sample\\(s\\) in this range are not numbers"):
            src.read(0, src.frames)


def test_channels_that_differ_are_noted_before_they_are_mixed(tmp_path):
    """A red-team pass put a man on the left channel and a woman on the right: analysis mixed them silently;
    a right channel of opposite polarity mixed to silence."""
    from s2f_desktop.audio.decode import channel_note, read_mixed

    t = np.arange(16000) / 16000
    a = 0.3 * np.sin(2 * np.pi * 130 * t)
    b = 0.3 * np.sin(2 * np.pi * 210 * t + 0.5)
    assert channel_note(np.stack([a, a], axis=1), "same.wav") is None  # dual mono
    assert channel_note(np.stack([a, np.zeros_like(a)], axis=1), "one.wav") is None  # one silent channel
    two = channel_note(np.stack([a, b], axis=1), "two.wav")
    assert two and "2 channels carry different signals" in two and "cancel" not in two
    assert "cancel each other when mixed" in (channel_note(np.stack([a, -a], axis=1), "inv.wav") or "")
    p = tmp_path / "two.wav"
    sf.write(str(p), np.stack([a, b], axis=1).astype(np.float32), 16000, subtype="FLOAT")
    with open_audio(p) as src:
        mixed, notes = read_mixed(src, 0, src.frames, p.name)
        np.testing.assert_array_equal(mixed, src.read(0, src.frames, channel="mix"))  # the mix is unchanged
    assert len(notes) == 1 and notes[0].startswith("two.wav: its 2 channels")
