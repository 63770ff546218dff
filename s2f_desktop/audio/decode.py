"""Decoding service: any imported evidence as float32 samples at its native rate.

Recordings can be hours long, so nothing here reads a whole file unless asked to:
:meth:`AudioSource.blocks` streams a sample range in fixed-size blocks and
:meth:`AudioSource.read` returns one bounded range. Sample indices are frames at the
file's native rate, counted from the first decoded sample (the same count
:func:`s2f_desktop.audio.probe.probe` stores at import).

Two back ends, chosen like the probe chooses them:

* libsndfile (``soundfile``) for WAV/FLAC/OGG/MP3/AIFF: exact, sample-accurate seeks.
* FFmpeg (PyAV) for the audio track of video and AAC containers. Seeking is done by
  timestamp to a point *before* the target (``AV_PREROLL_S``) and decoding forward,
  discarding samples until the target: codecs such as AAC need a frame of pre-roll
  before their output is exact, and container indexes are only approximately accurate.

Channel selection: ``"mix"`` (mean of all channels, the default for analysis),
an ``int`` (one channel, 0-based) or ``None`` (all channels, 2-D ``[frames, channels]``).
"""

from __future__ import annotations

import abc
import contextlib
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Union

import numpy as np
import soundfile as sf

from s2f_desktop.audio.probe import AV_EXTS, SOUNDFILE_EXTS, check_media_path
from s2f_desktop.core.errors import InputError, MediaError

Channel = Union[int, None, str]

#: Default block length for streaming (frames). 65536 frames is 1.4 s at 48 kHz:
#: large enough that per-block overhead is negligible, small enough to stay in cache.
DEFAULT_BLOCK_FRAMES = 65536
#: How far before a requested position a PyAV seek lands, so the decoder's pre-roll
#: (AAC: 1024-2048 samples) and index inaccuracy fall in the discarded part.
AV_PREROLL_S = 1.0


def _check_channel(channel: Channel, channels: int) -> None:
    if channel is None or channel == "mix":
        return
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
        raise InputError(f"channel must be 'mix', None or a channel number, not {channel!r}")
    if not 0 <= int(channel) < channels:
        raise InputError(
            f"channel {channel} does not exist; the recording has {channels} channel(s) (0-{channels - 1})"
        )


def _select(block: np.ndarray, channel: Channel) -> np.ndarray:
    """[frames, channels] float32 -> the requested view (1-D for mix / one channel)."""
    if channel is None:
        return block
    if channel == "mix":
        if block.shape[1] == 1:
            return block[:, 0]
        mixed: np.ndarray = block.mean(axis=1, dtype=np.float32)
        return mixed
    return np.ascontiguousarray(block[:, int(channel)])


class AudioSource(abc.ABC):
    """An open recording. Use :func:`open_audio`; close it (or use ``with``) when done.

    Attributes ``sample_rate``, ``channels`` and ``frames`` describe the whole file.
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int

    def __enter__(self) -> "AudioSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None:
        """Release the file."""

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    def _range(self, start: int, end: int | None) -> tuple[int, int]:
        start = int(start)
        end = self.frames if end is None else int(end)
        if start < 0 or end < start:
            raise InputError(f"invalid sample range {start}-{end}")
        if start > self.frames:
            raise InputError(f"sample {start} is past the end of the recording ({self.frames} samples)")
        return start, min(end, self.frames)

    @abc.abstractmethod
    def blocks(self, start: int = 0, end: int | None = None, block_frames: int = DEFAULT_BLOCK_FRAMES,
               channel: Channel = "mix") -> Iterator[np.ndarray]:
        """Stream ``[start, end)`` as float32 blocks of ``block_frames`` frames (the last may be shorter).

        Blocks are 1-D for ``"mix"`` or a single channel, ``[frames, channels]`` for ``None``.
        Only one block is held in memory at a time.
        """

    def read(self, start: int = 0, end: int | None = None, channel: Channel = "mix") -> np.ndarray:
        """Samples ``[start, end)`` as one float32 array (1-D unless ``channel`` is None)."""
        start, end = self._range(start, end)
        n = end - start
        _check_channel(channel, self.channels)
        out = np.empty((n,) if channel is not None else (n, self.channels), dtype=np.float32)
        pos = 0
        for block in self.blocks(start, end, block_frames=min(max(n, 1), DEFAULT_BLOCK_FRAMES * 4), channel=channel):
            out[pos:pos + block.shape[0]] = block
            pos += block.shape[0]
        if pos != n:
            raise MediaError(f"{self.path.name}: the recording ends early (got {start + pos} of {end} samples)")
        if not np.isfinite(out).all():
            # Only a damaged floating-point file holds these; every measure would silently turn to NaN.
            bad = int(np.count_nonzero(~np.isfinite(out)))
            raise MediaError(f"{self.path.name}: {bad} sample(s) in this range are not numbers (NaN or infinite); "
                             "the file is damaged")
        return out


class SoundfileSource(AudioSource):
    """libsndfile back end (sample-accurate seeking)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # libmpg123 prints resync warnings straight to file descriptor 2: keep them in the log.
        self._quiet = path.suffix.lower() in (".mp3", ".mp2", ".mpga")
        try:
            with self._noise_to_log():
                self._f = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise MediaError(f"{path.name}: not a readable audio file ({exc})") from exc
        self.sample_rate = int(self._f.samplerate)
        self.channels = int(self._f.channels)
        self.frames = int(self._f.frames)
        if self.frames <= 0 or self.sample_rate <= 0:
            self._f.close()
            raise MediaError(f"{path.name}: the file holds no audio samples")

    def close(self) -> None:
        self._f.close()

    def _noise_to_log(self) -> Any:
        from s2f_desktop.audio.probe import quiet_native_stderr

        return quiet_native_stderr(self.path.name) if self._quiet else contextlib.nullcontext()

    def blocks(self, start: int = 0, end: int | None = None, block_frames: int = DEFAULT_BLOCK_FRAMES,
               channel: Channel = "mix") -> Iterator[np.ndarray]:
        _check_channel(channel, self.channels)
        start, end = self._range(start, end)
        block_frames = max(1, int(block_frames))
        try:
            with self._noise_to_log():
                self._f.seek(start)
            pos = start
            while pos < end:
                n = min(block_frames, end - pos)
                with self._noise_to_log():
                    data = self._f.read(n, dtype="float32", always_2d=True)
                if data.shape[0] == 0:
                    raise MediaError(f"{self.path.name}: the file is truncated at sample {pos} "
                                     f"(header promises {self.frames})")
                pos += data.shape[0]
                yield _select(data, channel)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise MediaError(f"{self.path.name}: decoding failed near sample {start} ({exc})") from exc


class AVSource(AudioSource):
    """FFmpeg (PyAV) back end for video/AAC containers; decodes the first audio track."""

    def __init__(self, path: Path, frames: int | None = None) -> None:
        import av  # FFmpeg is heavy to load; only files that need it pay for it.

        self._av = av
        self.path = path
        try:
            self._container = av.open(str(path))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise MediaError(f"{path.name}: not a readable audio or video file ({exc.__class__.__name__})") from exc
        streams = self._container.streams.audio
        if not streams:
            self._container.close()
            raise MediaError(f"{path.name}: the file has no audio track")
        self._stream = streams[0]
        cc = self._stream.codec_context
        self.sample_rate = int(cc.sample_rate or self._stream.rate or 0)
        self.channels = int(cc.channels or 0)
        if self.sample_rate <= 0 or self.channels <= 0:
            self.close()
            raise MediaError(f"{path.name}: the audio track has no sample rate or channel count")
        # The only exact length is the decoded one; callers that know it (from the probe
        # stored at import) pass it to avoid decoding the whole track twice.
        self.frames = int(frames) if frames else self._count_frames()

    def close(self) -> None:
        self._container.close()

    def _decoded_frames(self, start_hint: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_sample_index, [n, channels] float32)`` from at or before ``start_hint`` on.

        Positions come from frame timestamps relative to the first decoded frame (so a seek
        and a decode from the start agree); without timestamps they are counted from 0.
        """
        av = self._av
        stream = self._stream
        tb = stream.time_base
        try:
            zero = self._zero_offset() if start_hint > 0 else None
            if zero is not None and tb is not None:
                target_s = max(0.0, start_hint / self.sample_rate - AV_PREROLL_S)
                self._container.seek(int(target_s / tb) + (stream.start_time or 0), stream=stream,
                                     backward=True, any_frame=False)
            else:
                self._container.seek(stream.start_time or 0, stream=stream, backward=True, any_frame=False)
                zero = None
            position: int | None = None if zero is not None else 0
            for frame in self._container.decode(stream):
                if position is None:
                    if frame.pts is None:
                        raise _SeekOvershoot()
                    assert zero is not None  # position starts unknown only after a seek relative to zero
                    position = max(0, self._pts_to_sample(frame.pts) - zero)
                arr = _planar_to_frames(frame.to_ndarray(), frame.format.is_planar, self.channels)
                yield position, arr
                position += arr.shape[0]
        except (MediaError, _SeekOvershoot):
            raise
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise MediaError(f"{self.path.name}: decoding failed ({exc.__class__.__name__}: {exc})") from exc

    def _pts_to_sample(self, pts: int) -> int:
        tb = self._stream.time_base
        assert tb is not None  # only called for streams with a time base (see _zero_offset)
        return int(round(float(Fraction(pts) * tb) * self.sample_rate))

    def _zero_offset(self) -> int | None:
        """Timestamp (in samples) of the first decoded frame; None when frames carry no timestamps."""
        if not hasattr(self, "_zero"):
            self._zero: int | None = None
            if self._stream.time_base is not None:
                self._container.seek(self._stream.start_time or 0, stream=self._stream, backward=True)
                for frame in self._container.decode(self._stream):
                    self._zero = None if frame.pts is None else self._pts_to_sample(frame.pts)
                    break
        return self._zero

    def _count_frames(self) -> int:
        total = 0
        for _, arr in self._decoded_frames(0):
            total += arr.shape[0]
        if total == 0:
            raise MediaError(f"{self.path.name}: the audio track could not be decoded")
        return total

    def blocks(self, start: int = 0, end: int | None = None, block_frames: int = DEFAULT_BLOCK_FRAMES,
               channel: Channel = "mix") -> Iterator[np.ndarray]:
        _check_channel(channel, self.channels)
        start, end = self._range(start, end)
        block_frames = max(1, int(block_frames))
        if end <= start:
            return
        try:
            yield from self._assemble(self._decoded_frames(start), start, end, block_frames, channel)
        except _SeekOvershoot:
            # The container index put the seek after the target: decode from the start instead.
            yield from self._assemble(self._decoded_frames(0), start, end, block_frames, channel)

    def _assemble(self, decoded: Iterator[tuple[int, np.ndarray]], start: int, end: int, block_frames: int,
                channel: Channel) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        pending_n = 0
        pos = start
        for first, arr in decoded:
            if first > pos:
                if pos == start:
                    raise _SeekOvershoot()
                raise MediaError(f"{self.path.name}: gap in the audio track at sample {pos}")
            if first + arr.shape[0] <= pos:
                continue
            piece = arr[pos - first:min(arr.shape[0], end - first)]
            pending.append(piece)
            pending_n += piece.shape[0]
            pos += piece.shape[0]
            while pending_n >= block_frames:
                buf = np.concatenate(pending, axis=0) if len(pending) > 1 else pending[0]
                yield _select(np.ascontiguousarray(buf[:block_frames]), channel)
                rest = buf[block_frames:]
                pending = [rest] if rest.shape[0] else []
                pending_n = rest.shape[0]
            if pos >= end:
                break
        if pending_n:
            buf = np.concatenate(pending, axis=0) if len(pending) > 1 else pending[0]
            yield _select(np.ascontiguousarray(buf), channel)
        if pos < end:
            raise MediaError(f"{self.path.name}: the audio track ends early (sample {pos} of {end}); "
                             "the file may be truncated")


class _SeekOvershoot(Exception):
    """Internal: a seek landed after the requested sample."""


def _planar_to_frames(arr: np.ndarray, planar: bool, channels: int) -> np.ndarray:
    """PyAV frame array -> float32 ``[samples, channels]``."""
    if planar:
        out = arr.T
    else:
        out = arr.reshape(-1, channels)
    if out.dtype.kind == "i":
        scale = float(np.iinfo(out.dtype).max) + 1.0
        out = out.astype(np.float32) / scale
    elif out.dtype.kind == "u":  # 8-bit unsigned PCM
        out = (out.astype(np.float32) - 128.0) / 128.0
    else:
        out = out.astype(np.float32, copy=False)
    return out


def open_audio(path: Path | str, frames: int | None = None) -> AudioSource:
    """Open a recording for streaming decode; raise :class:`MediaError` with a one-line reason.

    ``frames`` (optional) is the decoded length known from the import probe; it saves
    FFmpeg-decoded files a counting pass. It is ignored for libsndfile formats, whose
    headers are exact.
    """
    path = Path(path)
    ext = check_media_path(path)
    if ext in SOUNDFILE_EXTS:
        try:
            return SoundfileSource(path)
        except MediaError:
            if ext in (".mp3", ".ogg", ".oga"):  # some variants only FFmpeg reads (as in the probe)
                return AVSource(path, frames)
            raise
    assert ext in AV_EXTS
    return AVSource(path, frames)


def read_segment(path: Path | str, start_sample: int, end_sample: int, channel: Channel = "mix") -> np.ndarray:
    """Read one sample range of a file (convenience wrapper around :func:`open_audio`)."""
    with open_audio(path) as src:
        return src.read(start_sample, end_sample, channel=channel)


def channel_note(x: np.ndarray, name: str) -> str | None:
    """A note when the channels of ``x`` (frames x channels) carry different signals, or None.

    Analysis and comparison mix the channels into one. A call recorded with one party per channel, or
    channels of opposite polarity (which cancel when mixed), then gives a mixture of voices or silence:
    the analyst must know. Channels count as different when their correlation is under 0.5 while each
    carries signal (RMS above -60 dBFS).
    """
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 2:
        return None
    xs = np.asarray(x, dtype=np.float64)
    rms = np.sqrt(np.mean(xs ** 2, axis=0))
    live = rms > 1e-3
    if live.sum() < 2:
        return None
    a, b = (xs[:, i] - xs[:, i].mean() for i in np.flatnonzero(live)[:2])
    corr = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-20))
    if corr >= 0.5:
        return None
    mixed = float(np.sqrt(np.mean(xs.mean(axis=1) ** 2)))
    cancel = " and cancel each other when mixed" if mixed < 0.25 * float(rms[live].mean()) else ""
    return (f"{name}: its {x.shape[1]} channels carry different signals (correlation {corr:.2f}){cancel}; they were "
            "mixed into one, so if each channel holds another speaker the result describes a mixture of voices")


def read_mixed(src: AudioSource, a: int, b: int, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Samples ``[a, b)`` of an open source mixed to mono (the mean of the channels, as ``channel="mix"``
    reads them) and a note when its channels carry different signals (:func:`channel_note`)."""
    if src.channels < 2:
        return src.read(a, b, channel="mix"), ()
    multi = src.read(a, b, channel=None)
    note = channel_note(multi, name)
    return multi.mean(axis=1, dtype=np.float32), (note,) if note else ()


def check_finite_samples(path: Path, codec: str, on_progress: Callable[[float], None] | None = None) -> None:
    """Refuse a floating-point recording that holds samples which are not numbers (NaN or infinite).

    Only float PCM can hold them (integer PCM and decoded codecs cannot); such a file is damaged and every
    measure of it would be NaN, so import refuses it instead of storing evidence nothing can be measured on.
    Other codecs return at once; float PCM is read once, block by block.
    """
    if "float" not in codec.lower() and not codec.lower().startswith("pcm_f"):
        return
    with open_audio(path) as src:
        total, done = max(1, src.frames), 0
        for block in src.blocks(0, None, channel=None):
            if not np.isfinite(block).all():
                bad = int(np.count_nonzero(~np.isfinite(block)))
                raise MediaError(f"{path.name}: holds samples that are not numbers (NaN or infinite; {bad} in "
                                 f"the block at {done / src.sample_rate:.1f} s): the file is damaged")
            done += block.shape[0]
            if on_progress is not None:
                on_progress(done / total)
