"""Waveform overview: a min/max/RMS pyramid so any zoom of an hours-long recording draws at once.

Level 0 summarises every :data:`BASE_BIN` samples of each channel (minimum, maximum and
mean square); each higher level merges :data:`FACTOR` bins of the level below, until a
level has a single bin. A 3-hour 48 kHz stereo file gives ~2 M level-0 bins per channel,
about 96 MB for all levels, built in one streaming pass over the decoded samples.

Drawing a view of ``width_px`` pixels (:meth:`Overview.peaks`) picks the coarsest level
that still has at least one bin per pixel and reduces a few bins per pixel with
``np.minimum.reduceat``: a handful of vectorised operations on at most ~4 x width_px
values per channel, independent of the recording's length, and the file is never read.

The pyramid is cached under ``cache_dir/overview/<sha256>.npy`` (one float32 array,
memory-mapped on load, so opening a cached overview costs no reading) with a small JSON
header beside it. Evidence is immutable and content-addressed, so the sha256 is a
sufficient cache key; the header also records the format version and the signal shape,
and any mismatch or damage triggers a rebuild.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from s2f_desktop.audio.decode import AudioSource, open_audio
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.progress import Task, null_task

#: Samples per level-0 bin. Below 256 samples per pixel a view should draw samples.
BASE_BIN = 256
#: Bins merged per level.
FACTOR = 4
#: Bump when the on-disk layout changes; older caches are rebuilt.
FORMAT_VERSION = 1
#: Frames decoded per block while building (a multiple of BASE_BIN).
BUILD_BLOCK_FRAMES = BASE_BIN * 1024

ChannelSel = Union[int, str]


@dataclass(frozen=True)
class _Level:
    bin_size: int
    offset: int
    n_bins: int


class Overview:
    """A loaded pyramid. ``data`` is ``[3 (min, max, mean square), channels, all bins]``."""

    def __init__(self, data: np.ndarray, sample_rate: int, frames: int, channels: int, levels: list[_Level],
                 sha256: str = "") -> None:
        self.data = data
        self.sample_rate = int(sample_rate)
        self.frames = int(frames)
        self.channels = int(channels)
        self.levels = levels
        self.sha256 = sha256

    @property
    def duration_s(self) -> float:
        """Length of the recording in seconds."""
        return self.frames / self.sample_rate

    def _pick_level(self, samples_per_px: float) -> _Level:
        best = self.levels[0]
        for lv in self.levels:
            if lv.bin_size <= samples_per_px:
                best = lv
        return best

    def peaks(self, start_sample: int, end_sample: int, width_px: int,
              channel: ChannelSel = "mix") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-pixel ``(mins, maxs, rms)`` float32 arrays of length ``width_px`` for a sample range.

        ``channel`` is a channel number or ``"mix"`` (the envelope over all channels: the
        lowest minimum, the highest maximum and the RMS over channels, so clipping on any
        channel stays visible). Pixels past the end of the recording are 0.
        """
        width_px = int(width_px)
        if width_px <= 0:
            raise InputError("width_px must be positive")
        start, end = int(start_sample), int(end_sample)
        if end <= start:
            raise InputError(f"invalid sample range {start}-{end}")
        if channel == "mix":
            rows = slice(None)
        elif isinstance(channel, (int, np.integer)) and 0 <= int(channel) < self.channels:
            rows = slice(int(channel), int(channel) + 1)
        else:
            raise InputError(f"channel {channel!r} does not exist (recording has {self.channels})")
        spp = (end - start) / width_px
        lv = self._pick_level(spp)
        # Pixel edges in bins of the chosen level.
        edges = start / lv.bin_size + np.arange(width_px + 1) * (spp / lv.bin_size)
        first = np.floor(edges[:-1]).astype(np.int64)
        last = np.maximum(np.ceil(edges[1:]).astype(np.int64), first + 1)  # exclusive
        valid = first < lv.n_bins
        first_c = np.clip(first, 0, lv.n_bins - 1)
        last_c = np.clip(last, 1, lv.n_bins)
        lo, hi = int(first_c[0]), int(max(last_c[-1], first_c[-1] + 1))
        block = np.asarray(self.data[:, rows, lv.offset + lo:lv.offset + hi])
        f_rel = first_c - lo
        if spp / lv.bin_size >= 1.0:
            # Mean squares are weighted by samples per bin (the file's last bin is partial).
            w = np.full(hi - lo, float(lv.bin_size), dtype=np.float32)
            if hi == lv.n_bins:
                w[-1] = self.frames - (lv.n_bins - 1) * lv.bin_size
            # Each pixel spans >= 1 bin; starts are strictly increasing so reduceat is exact.
            # reduceat reduces each pixel up to the next pixel's first bin (a bin straddling
            # two pixels is drawn in the later one); the last pixel ends at its own edge.
            mins = np.minimum.reduceat(block[0], f_rel, axis=-1)
            maxs = np.maximum.reduceat(block[1], f_rel, axis=-1)
            sums = np.add.reduceat(block[2] * w, f_rel, axis=-1)
            counts = np.add.reduceat(w, f_rel)
            ms = sums / np.maximum(counts, 1.0)
        else:
            # Zoomed in below one bin per pixel: each pixel shows the bin it falls in.
            mins = block[0][..., f_rel]
            maxs = block[1][..., f_rel]
            ms = block[2][..., f_rel]
        mins = np.asarray(mins, dtype=np.float32).min(axis=0)
        maxs = np.asarray(maxs, dtype=np.float32).max(axis=0)
        rms = np.sqrt(np.asarray(ms, dtype=np.float32).mean(axis=0))
        mins[~valid] = 0.0
        maxs[~valid] = 0.0
        rms[~valid] = 0.0
        return mins, maxs, rms.astype(np.float32)


def _plan_levels(frames: int) -> list[_Level]:
    levels = []
    n = -(-frames // BASE_BIN)
    size, offset = BASE_BIN, 0
    while True:
        levels.append(_Level(size, offset, n))
        offset += n
        if n <= 1:
            break
        n = -(-n // FACTOR)
        size *= FACTOR
    return levels


def _cache_paths(cache_dir: Path, sha256: str) -> tuple[Path, Path]:
    base = Path(cache_dir) / "overview"
    return base / f"{sha256}.npy", base / f"{sha256}.json"


def load_cached(cache_dir: Path, sha256: str) -> Overview | None:
    """A cached overview (memory-mapped), or None when absent, stale or damaged."""
    npy, meta = _cache_paths(cache_dir, sha256)
    if not (npy.is_file() and meta.is_file()):
        return None
    try:
        head = json.loads(meta.read_text(encoding="utf-8"))
        if head.get("version") != FORMAT_VERSION or head.get("sha256") != sha256:
            return None
        data = np.load(npy, mmap_mode="r")
        levels = _plan_levels(int(head["frames"]))
        total = levels[-1].offset + levels[-1].n_bins
        if data.shape != (3, int(head["channels"]), total) or data.dtype != np.float32:
            return None
    except (OSError, ValueError, KeyError):
        return None
    return Overview(data, int(head["sample_rate"]), int(head["frames"]), int(head["channels"]), levels, sha256)


def compute_pyramid(src: AudioSource, task: Task | None = None) -> np.ndarray:
    """One streaming pass over ``src``: the full pyramid array (see :class:`Overview`)."""
    task = task or null_task()
    levels = _plan_levels(src.frames)
    total = levels[-1].offset + levels[-1].n_bins
    data = np.zeros((3, src.channels, total), dtype=np.float32)
    lv0 = levels[0]
    pos_bin = 0
    done = 0
    for block in src.blocks(0, src.frames, block_frames=BUILD_BLOCK_FRAMES, channel=None):
        n = block.shape[0]
        nb = -(-n // BASE_BIN)
        for ch in range(src.channels):
            col = np.ascontiguousarray(block[:, ch])
            full = n // BASE_BIN
            sl = slice(lv0.offset + pos_bin, lv0.offset + pos_bin + full)
            if full:
                t = col[:full * BASE_BIN].reshape(full, BASE_BIN)
                data[0, ch, sl] = t.min(axis=1)
                data[1, ch, sl] = t.max(axis=1)
                data[2, ch, sl] = np.einsum("ij,ij->i", t, t) / BASE_BIN
            if nb > full:  # a partial bin: only the last block of the file
                r = col[full * BASE_BIN:]
                i = lv0.offset + pos_bin + full
                data[0, ch, i], data[1, ch, i] = r.min(), r.max()
                data[2, ch, i] = float(np.dot(r, r)) / r.shape[0]
        pos_bin += nb
        done += n
        task.progress(0.97 * done / src.frames, "building waveform overview")
    # Higher levels: merge FACTOR bins; the mean square is weighted by samples per bin.
    for lo, hi in zip(levels[:-1], levels[1:]):
        src_bins = data[:, :, lo.offset:lo.offset + lo.n_bins]
        pad = hi.n_bins * FACTOR - lo.n_bins
        weights = np.full(lo.n_bins, float(lo.bin_size), dtype=np.float64)
        weights[-1] = src.frames - (lo.n_bins - 1) * lo.bin_size
        mins = np.pad(src_bins[0], ((0, 0), (0, pad)), mode="edge").reshape(src.channels, hi.n_bins, FACTOR)
        maxs = np.pad(src_bins[1], ((0, 0), (0, pad)), mode="edge").reshape(src.channels, hi.n_bins, FACTOR)
        w = np.pad(weights, (0, pad)).reshape(hi.n_bins, FACTOR)
        sq = np.pad(src_bins[2].astype(np.float64) * weights, ((0, 0), (0, pad)))
        sq = sq.reshape(src.channels, hi.n_bins, FACTOR)
        sl = slice(hi.offset, hi.offset + hi.n_bins)
        data[0, :, sl] = mins.min(axis=-1)
        data[1, :, sl] = maxs.max(axis=-1)
        data[2, :, sl] = (sq.sum(axis=-1) / w.sum(axis=-1)).astype(np.float32)
        task.check()
    return data


def build_overview(path: Path, sha256: str, cache_dir: Path, task: Task | None = None,
                   frames: int | None = None) -> Overview:
    """Return the overview of ``path``, building and caching it unless a valid cache exists.

    ``sha256`` is the evidence hash (the cache key). Cancelling ``task`` leaves no cache
    file behind. ``frames`` is passed to :func:`open_audio` (saves FFmpeg-decoded files
    a counting pass).
    """
    task = task or null_task()
    cached = load_cached(cache_dir, sha256)
    if cached is not None:
        task.progress(1.0, "waveform overview (cached)")
        return cached
    task.progress(0.0, "building waveform overview")
    with open_audio(path, frames=frames) as src:
        data = compute_pyramid(src, task)
        sr, n, ch = src.sample_rate, src.frames, src.channels
    npy, meta = _cache_paths(cache_dir, sha256)
    npy.parent.mkdir(parents=True, exist_ok=True)
    # Write to temporaries and rename, header last: a crash never leaves a readable half cache.
    fd, tmp = tempfile.mkstemp(dir=npy.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, data)
        os.replace(tmp, npy)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    head = {"version": FORMAT_VERSION, "sha256": sha256, "sample_rate": sr, "frames": n, "channels": ch,
            "base_bin": BASE_BIN, "factor": FACTOR}
    tmp_meta = meta.with_suffix(".json.tmp")
    tmp_meta.write_text(json.dumps(head), encoding="utf-8")
    os.replace(tmp_meta, meta)
    task.progress(1.0, "waveform overview ready")
    return Overview(data, sr, n, ch, _plan_levels(n), sha256)
