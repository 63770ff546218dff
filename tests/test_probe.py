"""Media probing at import: every supported container, and one clear line for every bad file."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.audio.probe import SUPPORTED_EXTS, probe
from s2f_desktop.core.errors import MediaError

SR = 16000


def _tone(sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def write_av(path: Path, codec: str | None, rate: int = 48000, seconds: float = 2.0, video: bool = False,
             layout: str = "mono") -> Path:
    """Write a container with PyAV: an audio track (``codec``), a small video track, or both."""
    with av.open(str(path), "w") as c:
        vs = None
        if video:
            vs = c.add_stream("mpeg4", rate=10)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = None
        if codec:
            a = c.add_stream(codec, rate=rate)
            a.layout = layout
        if vs is not None:
            for _ in range(int(10 * seconds)):
                frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
                for p in vs.encode(frame):
                    c.mux(p)
            for p in vs.encode():
                c.mux(p)
        if a is not None:
            y = _tone(rate, seconds)
            n_ch = 2 if layout == "stereo" else 1
            step = a.codec_context.frame_size or 1024
            for i in range(0, len(y), step):
                chunk = np.repeat(y[None, i:i + step], n_ch, axis=0)
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=layout)
                fr.sample_rate, fr.pts = rate, i
                for p in a.encode(fr):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return path


@pytest.mark.parametrize("ext,fmt,subtype,codec_word", [
    ("wav", "WAV", "PCM_16", "16 bit PCM"),
    ("flac", "FLAC", "PCM_16", "16 bit PCM"),
    ("ogg", "OGG", "VORBIS", "Vorbis"),
    ("mp3", "MP3", "MPEG_LAYER_III", "MPEG Layer III"),
])
def test_soundfile_formats(tmp_path: Path, ext: str, fmt: str, subtype: str, codec_word: str) -> None:
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} cannot write {fmt}")
    p = tmp_path / f"rec.{ext}"
    sf.write(str(p), _tone(SR, 1.5), SR, format=fmt, subtype=subtype)
    info = probe(p)
    assert info.sample_rate == SR and info.channels == 1
    assert info.duration_s == pytest.approx(1.5, abs=0.06)
    assert codec_word in info.codec
    assert info.frames == pytest.approx(1.5 * SR, abs=0.06 * SR)


def test_stereo_wav_reports_two_channels(tmp_path: Path) -> None:
    p = tmp_path / "st.wav"
    sf.write(str(p), np.stack([_tone(44100, 0.5)] * 2, axis=1), 44100)
    info = probe(p)
    assert (info.channels, info.sample_rate, info.frames) == (2, 44100, 22050)
    assert info.to_dict()["channels"] == 2 and type(info).from_dict(info.to_dict()) == info


@pytest.mark.parametrize("ext,codec,rate,video,expect_codec", [
    ("mp4", "aac", 16000, True, "aac"),
    ("m4a", "aac", 44100, False, "aac"),
    ("aac", "aac", 16000, False, "aac"),
    ("mov", "aac", 22050, True, "aac"),
    ("mkv", "libopus", 48000, True, "opus"),
    ("webm", "libopus", 48000, False, "opus"),
])
def test_audio_track_of_av_containers(tmp_path: Path, ext: str, codec: str, rate: int, video: bool,
                                      expect_codec: str) -> None:
    p = write_av(tmp_path / f"clip.{ext}", codec, rate=rate, video=video)
    info = probe(p)
    assert info.codec == expect_codec and info.sample_rate == rate and info.channels == 1
    # AAC adds priming and padding (up to ~0.11 s at 16 kHz in raw ADTS); Opus is exact.
    assert info.duration_s == pytest.approx(2.0, abs=0.15)
    assert info.frames == pytest.approx(2.0 * rate, abs=0.15 * rate)


def test_stereo_av_track(tmp_path: Path) -> None:
    info = probe(write_av(tmp_path / "st.m4a", "aac", rate=48000, layout="stereo"))
    assert info.channels == 2


def test_recording_with_wrong_extension_is_judged_by_content(tmp_path: Path) -> None:
    """An M4A saved as .wav is still a recording: FFmpeg reads it after libsndfile declines."""
    real = write_av(tmp_path / "clip.m4a", "aac", rate=16000)
    renamed = tmp_path / "clip.wav"
    renamed.write_bytes(real.read_bytes())
    assert probe(renamed).codec == "aac"


def _one_line_error(p: Path, *needles: str) -> str:
    with pytest.raises(MediaError) as info:
        probe(p)
    msg = str(info.value)
    assert "\n" not in msg and msg.strip() == msg and msg
    for needle in needles:
        assert needle in msg, msg
    return msg


def test_missing_file(tmp_path: Path) -> None:
    _one_line_error(tmp_path / "nowhere.wav", "no such file")


def test_directory(tmp_path: Path) -> None:
    d = tmp_path / "folder.wav"
    d.mkdir()
    _one_line_error(d, "not a regular file")


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.touch()
    _one_line_error(p, "empty.wav", "empty")


def test_text_file_renamed_wav(tmp_path: Path) -> None:
    p = tmp_path / "notes.wav"
    p.write_text("Meeting notes, not a recording.\n" * 40)
    _one_line_error(p, "notes.wav", "not a readable WAV file")


@pytest.mark.parametrize("name", ["data.xyz", "README", "photo.jpg"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(b"\x00" * 100)
    _one_line_error(p, name, "unsupported format")


def test_truncated_wav(tmp_path: Path) -> None:
    """libsndfile silently shortens a WAV cut in half; probe must call it truncated."""
    full = tmp_path / "full.wav"
    sf.write(str(full), _tone(SR, 2.0), SR)
    cut = tmp_path / "cut.wav"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert sf.info(str(cut)).frames > 0, "premise: libsndfile alone accepts the cut file"
    _one_line_error(cut, "cut.wav", "truncated", "64000 bytes")


def test_streaming_wav_with_placeholder_size_is_accepted(tmp_path: Path) -> None:
    """Recorders that never rewrite the header leave data size 0xFFFFFFFF: not truncation."""
    p = tmp_path / "stream.wav"
    sf.write(str(p), _tone(SR, 1.0), SR)
    raw = bytearray(p.read_bytes())
    i = raw.index(b"data")
    raw[i + 4:i + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    p.write_bytes(bytes(raw))
    try:
        sf.info(str(p))
    except RuntimeError:
        pytest.skip("this libsndfile rejects placeholder sizes outright")
    assert probe(p).duration_s == pytest.approx(1.0, abs=0.01)


def test_truncated_flac(tmp_path: Path) -> None:
    full = tmp_path / "full.flac"
    sf.write(str(full), _tone(SR, 2.0), SR, format="FLAC")
    cut = tmp_path / "cut.flac"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    _one_line_error(cut, "cut.flac", "truncated")


@pytest.mark.parametrize("ext", ["mkv", "webm"])
def test_truncated_matroska(tmp_path: Path, ext: str) -> None:
    full = write_av(tmp_path / f"full.{ext}", "libopus")
    cut = tmp_path / f"cut.{ext}"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    _one_line_error(cut, f"cut.{ext}", "truncated")


def test_truncated_mp4(tmp_path: Path) -> None:
    full = write_av(tmp_path / "full.mp4", "aac", rate=16000, video=True)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    _one_line_error(cut, "cut.mp4")


def test_video_without_audio(tmp_path: Path) -> None:
    p = write_av(tmp_path / "silent-film.mp4", None, video=True)
    _one_line_error(p, "silent-film.mp4", "no audio track")


def test_too_short(tmp_path: Path) -> None:
    p = tmp_path / "blip.wav"
    sf.write(str(p), _tone(SR, 0.02), SR)
    _one_line_error(p, "blip.wav", "ms of audio")


def test_garbage_with_video_extension(tmp_path: Path) -> None:
    p = tmp_path / "junk.mp4"
    p.write_bytes(bytes(range(256)) * 20)
    _one_line_error(p, "junk.mp4", "not a readable")


def test_supported_extensions_cover_the_issue() -> None:
    for ext in ("wav", "flac", "ogg", "mp3", "m4a", "aac", "mp4", "mov", "mkv", "webm"):
        assert f".{ext}" in SUPPORTED_EXTS
