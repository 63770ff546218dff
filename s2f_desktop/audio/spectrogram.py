"""Spectrogram tiles (log-magnitude STFT) for the visible range of a recording.

A tile has at most ``max_columns`` time columns whatever the range: for a narrow range
the columns overlap (hop < n_fft) and the range is read once; for a wide range the
columns are spaced further apart than a window, and only one window per column is read
(seeking), so a tile of a 3-hour file costs ``max_columns`` small reads rather than a
full decode. Files decoded through FFmpeg are streamed instead of seeked per column,
since their seeks decode up to a second of pre-roll each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from s2f_desktop.audio.decode import AVSource, open_audio
from s2f_desktop.core.errors import InputError

#: Floor of the dB scale relative to full scale (keeps log10 finite on digital silence).
DB_FLOOR = -120.0


def _frames_to_db(frames: np.ndarray, n_fft: int) -> np.ndarray:
    window = np.hanning(n_fft).astype(np.float32)
    spec = np.fft.rfft(frames * window, axis=-1)
    # Scale so a full-scale sine peaks near 0 dB: |X| of a sine is A * sum(window) / 2.
    mag = np.abs(spec) / (window.sum() / 2.0)
    db: np.ndarray = np.maximum(20.0 * np.log10(np.maximum(mag, 1e-12)), DB_FLOOR).astype(np.float32)
    return db.T


def spectrogram_tile(source_path: Path | str, start_sample: int, end_sample: int, n_fft: int = 512,
                     max_columns: int = 1024, channel: int | str = "mix",
                     frames: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-magnitude STFT of ``[start_sample, end_sample)``.

    Returns ``(db [n_fft // 2 + 1, columns], freqs_hz, times_s)``; ``times_s`` are the
    column centres in seconds from the start of the recording. dB are relative to a
    full-scale sine, floored at :data:`DB_FLOOR`.
    """
    if n_fft < 16 or n_fft & (n_fft - 1):
        raise InputError(f"n_fft must be a power of two >= 16 (got {n_fft})")
    if max_columns < 1:
        raise InputError("max_columns must be positive")
    with open_audio(source_path, frames=frames) as src:
        start = max(0, int(start_sample))
        end = min(int(end_sample), src.frames)
        if end <= start:
            raise InputError(f"empty or invalid sample range {start_sample}-{end_sample}")
        n = end - start
        hop = max(1, int(np.ceil(max(n - n_fft, 0) / max(max_columns - 1, 1))))
        n_cols = min(max_columns, 1 + max(n - n_fft, 0) // hop)
        col_starts = start + np.arange(n_cols, dtype=np.int64) * hop
        half = n_fft // 2
        sparse = hop > 4 * n_fft and not isinstance(src, AVSource)
        frames_arr = np.zeros((n_cols, n_fft), dtype=np.float32)
        if sparse:
            for i, c in enumerate(col_starts):
                seg = src.read(int(c), min(int(c) + n_fft, src.frames), channel=channel)
                frames_arr[i, :seg.shape[0]] = seg
        elif hop <= n_fft * 4 and n <= 1 << 24:
            x = src.read(start, min(start + (n_cols - 1) * hop + n_fft, src.frames), channel=channel)
            x = np.pad(x, (0, max(0, (n_cols - 1) * hop + n_fft - x.shape[0])))
            idx = (np.arange(n_cols) * hop)[:, None] + np.arange(n_fft)[None, :]
            frames_arr = x[idx]
        else:
            # Stream the range and pick each column's window as it passes.
            filled = 0
            buf = np.zeros(0, dtype=np.float32)
            buf_start = start
            for block in src.blocks(start, end, channel=channel):
                buf = np.concatenate([buf, block])
                while filled < n_cols and col_starts[filled] + n_fft <= buf_start + buf.shape[0]:
                    o = int(col_starts[filled] - buf_start)
                    frames_arr[filled] = buf[o:o + n_fft]
                    filled += 1
                keep_from = int(col_starts[filled] - buf_start) if filled < n_cols else buf.shape[0]
                buf = buf[keep_from:]
                buf_start += keep_from
                if filled >= n_cols:
                    break
            for i in range(filled, n_cols):  # windows running past the end: zero-padded
                o = int(col_starts[i] - buf_start)
                seg = buf[o:o + n_fft]
                frames_arr[i, :seg.shape[0]] = seg
        db = _frames_to_db(frames_arr, n_fft)
        freqs = np.fft.rfftfreq(n_fft, 1.0 / src.sample_rate).astype(np.float32)
        times = ((col_starts + half) / src.sample_rate).astype(np.float64)
    return db, freqs, times
