"""Media probing at import: what audio does a file hold?

Plain audio containers (WAV, FLAC, OGG, MP3, AIFF) are read with libsndfile through
``soundfile``; the audio track of video or AAC containers (M4A, AAC, MP4, MOV, MKV,
WebM) through FFmpeg via PyAV. Any failure becomes one clear :class:`MediaError` line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

import soundfile as sf

from s2f_desktop.core.errors import MediaError
from s2f_desktop.core.models import MediaInfo

#: Extensions decoded by libsndfile.
SOUNDFILE_EXTS = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".w64", ".rf64"}
#: Extensions decoded by FFmpeg (PyAV).
AV_EXTS = {".m4a", ".aac", ".mp4", ".mov", ".mkv", ".webm", ".opus", ".wma", ".3gp", ".amr", ".m4v", ".avi"}
SUPPORTED_EXTS = SOUNDFILE_EXTS | AV_EXTS

#: Recordings shorter than this cannot hold a usable speech sample.
MIN_DURATION_S = 0.1
#: Plausible sample rates (Hz) and channel counts. A header outside them is corrupt or
#: hostile (a WAV declaring 1 Hz makes 4 minutes of samples "last" 67 hours).
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 4000, 384000
MAX_CHANNELS = 64
#: Frames decoded per block by the full decode check at import.
_DECODE_BLOCK = 1 << 16

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_native_stderr(label: str) -> Iterator[None]:
    """Send what native decoders (libmpg123, FFmpeg) print on file descriptor 2 to the log.

    Their warnings ("Illegal Audio-MPEG-Header", "Trying to resync") would otherwise land
    in the middle of the CLI's output and the user's scripts; they are kept in the log.
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            noise = sink.read(64_000).decode("utf-8", "replace").strip()
            if noise:
                log.info("decoder messages for %s: %s", label, " | ".join(noise.splitlines()[:50]))


def _wav_truncation(path: Path) -> str | None:
    """Why a RIFF/WAVE file is truncated, or None when its data chunk is complete.

    libsndfile quietly clamps the frame count of a WAV whose ``data`` chunk claims more
    bytes than the file holds, so a half-copied recording would import as a shorter,
    apparently valid one. The header is walked here to catch that. Placeholder sizes
    written by streaming recorders (0 and 0xFFFFFFFF) and RF64 files are accepted.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        # A WAV has a handful of chunks; the bound stops a corrupt header from looping.
        for _ in range(64):
            fh.seek(offset)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            declared = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                available = size - offset - 8
                if declared not in (0, 0xFFFFFFFF) and declared > available:
                    return f"the data chunk declares {declared} bytes, the file holds {max(0, available)}"
                return None
            offset += 8 + declared + (declared & 1)
            if offset >= size:
                return None
    return None


def truncation_note(path: Path) -> str | None:
    """A note when ``path`` is a WAV whose data chunk promises more than the file holds, or None.

    Analysis and comparison read what is there (import refuses such a file, see :func:`probe`); the
    analyst must know that the recording is incomplete.
    """
    try:
        why = _wav_truncation(path) if path.suffix.lower() in (".wav", ".wave") else None
    except OSError:
        return None
    return f"{path.name}: the file is truncated ({why}); only what it holds was read" if why else None


def _soundfile_reason(exc: Exception) -> str:
    """libsndfile's message without its "Error opening '<path>': " prefix."""
    return re.sub(r"^Error opening .*?: ", "", str(exc)).strip() or exc.__class__.__name__


def _full_decode(path: Path, frames: int, rate: int) -> None:
    """Decode every frame once: a file corrupted in the middle is refused at import, naming the file."""
    got = 0
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(_DECODE_BLOCK, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                got += block.shape[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise MediaError(f"{path.name}: the audio is corrupt (it cannot be decoded past {got / rate:.1f} s: "
                         f"{_soundfile_reason(exc)}); not imported") from exc
    if got < frames:
        raise MediaError(f"{path.name}: the audio is corrupt or truncated: only {got / rate:.1f} s of "
                         f"{frames / rate:.1f} s could be decoded; not imported")


def _probe_soundfile(path: Path) -> MediaInfo:
    info = sf.info(str(path))
    if info.frames <= 0 or info.samplerate <= 0:
        raise MediaError(f"{path.name}: the file holds no audio samples")
    _check_ranges(path, int(info.samplerate), int(info.channels))
    if info.format == "WAV":
        why = _wav_truncation(path)
        if why:
            raise MediaError(f"{path.name}: the file is truncated ({why})")
    # libsndfile trusts the header; reading the last frames catches truncated files.
    try:
        with sf.SoundFile(str(path)) as f:
            tail = min(info.frames, 1024)
            f.seek(info.frames - tail)
            got = f.read(tail, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise MediaError(f"{path.name}: the file is truncated or corrupt ({_soundfile_reason(exc)})") from exc
    if got.shape[0] < tail:
        raise MediaError(f"{path.name}: the file is truncated (header promises {info.frames} frames)")
    _full_decode(path, int(info.frames), int(info.samplerate))
    return MediaInfo(
        duration_s=info.frames / info.samplerate,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        codec=str(info.subtype_info or info.subtype),
        container=str(info.format_info or info.format),
        frames=int(info.frames),
    )


def _probe_av(path: Path) -> MediaInfo:
    import av  # FFmpeg is heavy to load; only files that need it pay for it.

    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise MediaError(f"{path.name}: the file has no audio track")
            stream = streams[0]
            rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            channels = int(stream.codec_context.channels or 0)
            codec = stream.codec_context.name
            fmt = container.format.name
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            frames = 0
            decoded = 0
            # Decode the track to count samples: container durations are often absent or
            # wrong, and a truncated or corrupt stream must be caught at import time.
            for frame in container.decode(stream):
                frames += frame.samples
                decoded += 1
            if decoded == 0 or frames == 0 or rate <= 0:
                raise MediaError(f"{path.name}: the audio track could not be decoded")
            # A container that declares a duration but ends early was cut off (copy
            # interrupted, download incomplete). Encoder priming and padding make small
            # differences normal, hence the tolerance.
            if duration is not None and duration > 0 and frames / rate < 0.9 * duration - 0.05:
                raise MediaError(
                    f"{path.name}: the file is truncated (the audio track declares {duration:.2f} s, "
                    f"only {frames / rate:.2f} s can be decoded)"
                )
            duration = frames / rate
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"{path.name}: not a readable audio or video file ({exc.__class__.__name__})") from exc
    return MediaInfo(duration, rate, channels, codec, fmt, frames)


def _check_ranges(path: Path, rate: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise MediaError(f"{path.name}: implausible sample rate {rate} Hz (accepted: {MIN_SAMPLE_RATE}-"
                         f"{MAX_SAMPLE_RATE} Hz); the header is corrupt or the file is not a recording")
    if not 1 <= channels <= MAX_CHANNELS:
        raise MediaError(f"{path.name}: implausible channel count {channels} (accepted: 1-{MAX_CHANNELS})")


def check_media_path(path: Path) -> str:
    """The checks every reader makes before opening a file; returns its lower-case extension.

    Raises :class:`MediaError` for a missing path, a folder, an empty file or an
    unsupported extension.
    """
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name}: the file is empty")
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTS:
        raise MediaError(
            f"{path.name}: unsupported format {ext or '(no extension)'}; supported: "
            + ", ".join(sorted(e.lstrip('.') for e in SUPPORTED_EXTS))
        )
    return ext


def probe(path: Path) -> MediaInfo:
    """Describe the audio in ``path`` or raise :class:`MediaError` with a one-line reason."""
    path = Path(path)
    ext = check_media_path(path)
    with quiet_native_stderr(path.name):
        info = _probe(path, ext)
    _check_ranges(path, info.sample_rate, info.channels)
    if info.duration_s < MIN_DURATION_S:
        raise MediaError(f"{path.name}: only {info.duration_s * 1000:.0f} ms of audio")
    return info


def _probe(path: Path, ext: str) -> MediaInfo:
    if ext in SOUNDFILE_EXTS:
        try:
            info = _probe_soundfile(path)
        except MediaError:
            raise
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            # libsndfile could not even parse the header. Some MP3/OGG variants it
            # rejects are fine for FFmpeg, and a recording saved with the wrong
            # extension is still the recording: let FFmpeg judge the content.
            try:
                info = _probe_av(path)
            except MediaError:
                raise MediaError(
                    f"{path.name}: not a readable {ext.lstrip('.').upper()} file ({_soundfile_reason(exc)})"
                ) from exc
    else:
        info = _probe_av(path)
    return info
