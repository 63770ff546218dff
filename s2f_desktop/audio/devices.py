"""Playback and recording through PortAudio (``sounddevice``).

Both classes run a callback stream: PortAudio calls back from its own audio thread, so
``on_position`` / ``on_finished`` callbacks also arrive on that thread; a GUI must hand
them to its own thread (a queued Qt signal) before touching widgets.

Every failure of the sound system (no PortAudio library, no device, a device that
disappears, an invalid rate) becomes a one-line :class:`DeviceError`; nothing here
leaves a half-written recording behind.

Streams are created by a ``stream_factory`` so tests (and machines without a sound
card) can replace PortAudio with a fake that drives the same callbacks.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import soundfile as sf

from s2f_desktop.core.errors import DeviceError

log = logging.getLogger(__name__)

#: Subtype of recorded WAV files: 24-bit keeps the resolution of typical interfaces.
RECORD_SUBTYPE = "PCM_24"
#: Default recording rate (the most widely supported rate of current interfaces).
DEFAULT_RECORD_RATE = 48000


class Stream(Protocol):
    """What the classes need of a stream (sounddevice's streams satisfy it)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


StreamFactory = Callable[..., Stream]


class _LocalCallbackStop(Exception):
    """Stand-in for sounddevice.CallbackStop when PortAudio is unavailable."""


def _sd() -> Any:
    try:
        import sounddevice as sd
    except OSError as exc:  # the PortAudio shared library is missing
        raise DeviceError(f"the sound system is unavailable (PortAudio not found: {exc})") from exc
    return sd


def _callback_stop() -> type[BaseException]:
    try:
        return _sd().CallbackStop  # type: ignore[no-any-return]
    except DeviceError:
        return _LocalCallbackStop


def _device_error(action: str, exc: BaseException) -> DeviceError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return DeviceError(f"{action} failed: {msg}")


def _default_output_stream(**kwargs: Any) -> Stream:
    return _sd().OutputStream(**kwargs)  # type: ignore[no-any-return]


def _default_input_stream(**kwargs: Any) -> Stream:
    return _sd().InputStream(**kwargs)  # type: ignore[no-any-return]


def _query(kind: str) -> list[dict[str, Any]]:
    sd = _sd()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except Exception as exc:  # PortAudioError and friends
        raise _device_error("listing sound devices", exc) from exc
    key = "max_input_channels" if kind == "input" else "max_output_channels"
    out = []
    for i, d in enumerate(devices):
        if d[key] > 0:
            out.append({"index": i, "name": d["name"], "channels": int(d[key]),
                        "default_samplerate": float(d["default_samplerate"]),
                        "hostapi": apis[d["hostapi"]]["name"] if d["hostapi"] < len(apis) else ""})
    return out


def list_input_devices() -> list[dict[str, Any]]:
    """Input devices: ``index, name, channels, default_samplerate, hostapi``."""
    return _query("input")


def list_output_devices() -> list[dict[str, Any]]:
    """Output devices: ``index, name, channels, default_samplerate, hostapi``."""
    return _query("output")


class Player:
    """Plays one selection at a time; ``position`` is the sample index (into the given signal) last sent."""

    def __init__(self, stream_factory: StreamFactory | None = None) -> None:
        self._factory = stream_factory or _default_output_stream
        self._lock = threading.Lock()
        self._stream: Stream | None = None
        self._data = np.zeros((0, 1), dtype=np.float32)
        self._pos = 0
        self._offset = 0
        self._on_position: Callable[[int], None] | None = None
        self._on_finished: Callable[[], None] | None = None
        self._done = threading.Event()
        self._done.set()
        self._finish_lock = threading.Lock()

    @property
    def position(self) -> int:
        """Current sample index (``start_offset`` + samples played)."""
        return self._offset + self._pos

    @property
    def playing(self) -> bool:
        """Whether a stream is running."""
        return not self._done.is_set()

    def play(self, x: np.ndarray, sr: int, on_position: Callable[[int], None] | None = None,
             on_finished: Callable[[], None] | None = None, device: int | str | None = None,
             start_offset: int = 0) -> None:
        """Start playing ``x`` (1-D or ``[frames, channels]`` float) at rate ``sr``; stops any current playback.

        ``on_position(sample_index)`` is called after each block with ``start_offset`` +
        samples sent (pass the selection's start so the index is in evidence samples);
        ``on_finished()`` once, when playback ends or is stopped.
        """
        self.stop()
        data = np.asarray(x, dtype=np.float32)
        if data.ndim == 1:
            data = data[:, None]
        if data.shape[0] == 0:
            raise DeviceError("nothing to play: the selection is empty")
        self._data = np.ascontiguousarray(data)
        self._pos = 0
        self._offset = int(start_offset)
        self._on_position = on_position
        self._on_finished = on_finished
        self._done.clear()
        stop_exc = _callback_stop()

        def callback(outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
            n = min(frames, self._data.shape[0] - self._pos)
            outdata[:n] = self._data[self._pos:self._pos + n]
            if n < frames:
                outdata[n:] = 0
            self._pos += n
            if self._on_position is not None:
                self._on_position(self._offset + self._pos)
            if self._pos >= self._data.shape[0]:
                raise stop_exc()

        try:
            stream = self._factory(samplerate=int(sr), channels=self._data.shape[1], dtype="float32",
                                   callback=callback, finished_callback=self._finished, device=device)
            with self._lock:
                self._stream = stream
            stream.start()
        except DeviceError:
            self._finished()
            raise
        except Exception as exc:
            self._close_stream()
            self._finished()
            raise _device_error("starting playback", exc) from exc

    def _finished(self) -> None:
        with self._finish_lock:  # PortAudio's thread and stop() may both get here
            if self._done.is_set():
                return
            self._done.set()
        if self._on_finished is not None:
            try:
                self._on_finished()
            except Exception:  # a GUI callback error must not kill the audio thread
                log.exception("playback finished callback failed")

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()

    def stop(self) -> None:
        """Stop playback (no-op when idle); ``on_finished`` fires if it had not yet."""
        try:
            self._close_stream()
        except Exception as exc:
            raise _device_error("stopping playback", exc) from exc
        finally:
            self._finished()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until playback ends; True if it did within ``timeout``."""
        return self._done.wait(timeout)


class Recorder:
    """Records from an input device into a WAV file in a private temporary folder.

    The file is written by a background thread (never from the audio callback) and is
    complete and hashed when :meth:`stop` returns. Import it as evidence with
    ``services.audio.record_evidence``; until then it is not evidence.
    """

    def __init__(self, stream_factory: StreamFactory | None = None, tmp_dir: Path | None = None) -> None:
        self._factory = stream_factory or _default_input_stream
        self._tmp_root = tmp_dir
        self._stream: Stream | None = None
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._file: sf.SoundFile | None = None
        self._dir: Path | None = None
        self._path: Path | None = None
        self._error: BaseException | None = None
        self.frames = 0
        self.overflows = 0
        self.peak = 0.0
        self.sample_rate = 0
        self.channels = 0
        self.device: int | str | None = None
        self.sha256 = ""

    @property
    def recording(self) -> bool:
        """Whether a recording is in progress."""
        return self._stream is not None

    def start(self, device: int | str | None = None, sr: int = DEFAULT_RECORD_RATE, channels: int = 1) -> None:
        """Open the input device and start recording (DeviceError if it cannot)."""
        if self._stream is not None:
            raise DeviceError("a recording is already in progress")
        if channels < 1:
            raise DeviceError("recording needs at least one channel")
        self._dir = Path(tempfile.mkdtemp(prefix="s2f-rec-", dir=self._tmp_root))
        self._path = self._dir / time.strftime("recording-%Y%m%d-%H%M%S.wav", time.gmtime())
        self.frames, self.overflows, self.peak, self.sha256, self._error = 0, 0, 0.0, "", None
        self.sample_rate, self.channels, self.device = int(sr), int(channels), device
        self._queue = queue.Queue()
        try:
            self._file = sf.SoundFile(str(self._path), "w", samplerate=int(sr), channels=int(channels),
                                      format="WAV", subtype=RECORD_SUBTYPE)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            self._cleanup()
            raise DeviceError(f"cannot create the recording file: {exc}") from exc

        def callback(indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
            if status and getattr(status, "input_overflow", False):
                self.overflows += 1
            self._queue.put(np.array(indata, dtype=np.float32, copy=True))

        self._writer = threading.Thread(target=self._write_loop, name="s2f-recorder", daemon=True)
        self._writer.start()
        try:
            stream = self._factory(samplerate=int(sr), channels=int(channels), dtype="float32", callback=callback,
                                   device=device)
            self._stream = stream
            stream.start()
        except Exception as exc:
            err = exc if isinstance(exc, DeviceError) else _device_error("opening the input device", exc)
            self._abort()
            raise err from exc

    def _write_loop(self) -> None:
        assert self._file is not None
        while True:
            block = self._queue.get()
            if block is None:
                return
            try:
                self._file.write(block)
                self.frames += block.shape[0]
                if block.size:
                    self.peak = max(self.peak, float(np.abs(block).max()))
            except Exception as exc:  # disk full, ...: remembered and reported at stop()
                self._error = exc
                return

    def _finish_writer(self) -> None:
        self._queue.put(None)
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def _cleanup(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except Exception:
                pass
            self._file = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self._path = None

    def _abort(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                log.exception("closing the input stream failed")
        self._finish_writer()
        self._cleanup()

    def cancel(self) -> None:
        """Stop and discard the recording."""
        self._abort()

    def stop(self) -> Path:
        """Stop recording and return the finished WAV (``sha256`` is set). DeviceError leaves nothing."""
        if self._stream is None:
            raise DeviceError("no recording is in progress")
        stream, self._stream = self._stream, None
        try:
            stream.stop()
            stream.close()
        except Exception as exc:
            self._finish_writer()
            self._cleanup()
            raise _device_error("stopping the recording", exc) from exc
        self._finish_writer()
        if self._error is not None:
            err = self._error
            self._cleanup()
            raise DeviceError(f"writing the recording failed: {err}")
        if self.frames == 0:
            self._cleanup()
            raise DeviceError("no audio was recorded (the input device delivered no samples)")
        assert self._path is not None
        h = hashlib.sha256()
        with open(self._path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        self.sha256 = h.hexdigest()
        return self._path

    def discard_file(self) -> None:
        """Remove the finished file's temporary folder (after it was imported, or to drop it)."""
        self._cleanup()
