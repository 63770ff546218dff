"""Waveform display and segment editing.

:class:`WaveformModel` holds the signal side: the evidence's overview (min/max/RMS
peaks), its sample rate and length, and the segments, all in *samples at the native
rate*. :class:`WaveformView` owns the viewport (first visible sample and samples per
pixel) and is the only code converting samples to pixels and back
(:meth:`WaveformView.sample_to_x` / :meth:`WaveformView.x_to_sample`). Painting asks
the overview for the visible range only, at one column per pixel, so the cost of a
frame does not depend on the recording's length.

The view never writes to the store: it emits ``create_requested``,
``edit_requested`` and selection changes; the panel turns those into undo commands.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np
from PySide6.QtCore import QLineF, QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from s2f_desktop.core.models import Segment, SegmentStatus
from s2f_desktop.core.timeutil import format_time


class PeakSource(Protocol):
    """What the view needs from an overview (``services.audio.evidence_overview``)."""

    sample_rate: int
    frames: int

    def peaks(self, start_sample: int, end_sample: int, width_px: int) -> tuple[Any, Any, Any]: ...


# ----------------------------------------------------------------------------- model
class WaveformModel(QObject):
    """Signal-side state: overview, segments and the selected segment (samples only)."""

    overview_changed = Signal()
    segments_changed = Signal()
    selection_changed = Signal(object)  # segment id or None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.overview: PeakSource | None = None
        self.evidence: Any = None
        self._segments: dict[str, Segment] = {}
        self._order: list[Segment] = []
        self._starts: list[int] = []
        self._max_len = 0
        self.selected_id: str | None = None
        self.selected_ids: list[str] = []

    # overview
    def set_overview(self, overview: PeakSource | None, evidence: Any = None) -> None:
        """Show another recording (clears segments and selection)."""
        self.overview = overview
        self.evidence = evidence
        self._segments.clear()
        self._reindex()
        self.selected_id = None
        self.selected_ids = []
        self.overview_changed.emit()
        self.segments_changed.emit()
        self.selection_changed.emit(None)

    @property
    def frames(self) -> int:
        """Length of the recording in samples (0 when none)."""
        return int(self.overview.frames) if self.overview is not None else 0

    @property
    def sample_rate(self) -> int:
        """Native sample rate (1 when no recording, to keep divisions safe)."""
        return int(self.overview.sample_rate) if self.overview is not None else 1

    # segments
    def set_segments(self, segments: Sequence[Segment]) -> None:
        """Replace all segments."""
        self._segments = {s.id: s for s in segments}
        self._reindex()
        kept = [i for i in self.selected_ids if i in self._segments]
        if kept != self.selected_ids or self.selected_id not in self._segments:
            primary = self.selected_id if self.selected_id in self._segments else (kept[0] if kept else None)
            self.selected_ids, self.selected_id = kept, primary
            self.selection_changed.emit(primary)
        self.segments_changed.emit()

    def upsert(self, segment: Segment) -> None:
        """Add or replace one segment."""
        self._segments[segment.id] = segment
        self._reindex()
        self.segments_changed.emit()

    def upsert_many(self, segments: Sequence[Segment]) -> None:
        """Add or replace several segments (one change notification)."""
        for seg in segments:
            self._segments[seg.id] = seg
        self._reindex()
        self.segments_changed.emit()

    def remove(self, segment_id: str) -> None:
        """Forget one segment (and deselect it)."""
        self._segments.pop(segment_id, None)
        if segment_id in self.selected_ids:
            rest = [i for i in self.selected_ids if i != segment_id]
            self.select_many(rest, rest[-1] if rest else None)
        self._reindex()
        self.segments_changed.emit()

    def get(self, segment_id: str | None) -> Segment | None:
        """A segment by id."""
        return self._segments.get(segment_id) if segment_id else None

    def segments(self) -> list[Segment]:
        """All segments in time order."""
        return list(self._order)

    def visible(self, start: float, end: float) -> list[Segment]:
        """Segments overlapping ``[start, end)`` (bisect on starts: O(log n + k))."""
        lo = bisect.bisect_left(self._starts, int(start) - self._max_len)
        hi = bisect.bisect_right(self._starts, int(end) + 1)
        return [s for s in self._order[lo:hi] if s.end_sample > start and s.start_sample < end]

    def select(self, segment_id: str | None) -> None:
        """Select one segment (or nothing); replaces a multiple selection."""
        self.select_many([] if segment_id is None else [segment_id], segment_id)

    def select_many(self, segment_ids: Sequence[str], primary: str | None = None) -> None:
        """Select several segments; ``primary`` (default: the first) is the one edits and playback use."""
        ids = [i for i in dict.fromkeys(segment_ids) if i in self._segments]
        if primary not in ids:
            primary = ids[0] if ids else None
        if ids != self.selected_ids or primary != self.selected_id:
            self.selected_ids = ids
            self.selected_id = primary
            self.selection_changed.emit(primary)

    def toggle(self, segment_id: str) -> None:
        """Add a segment to the selection, or take it out (Ctrl+click)."""
        ids = list(self.selected_ids)
        if segment_id in ids:
            ids.remove(segment_id)
            self.select_many(ids, ids[-1] if ids else None)
        else:
            self.select_many(ids + [segment_id], segment_id)

    def is_selected(self, segment_id: str) -> bool:
        """Whether a segment is part of the (possibly multiple) selection."""
        return segment_id in self.selected_ids

    @property
    def selected(self) -> Segment | None:
        """The primary selected segment."""
        return self.get(self.selected_id)

    def selected_segments(self) -> list[Segment]:
        """Every selected segment, in time order."""
        chosen = set(self.selected_ids)
        return [s for s in self._order if s.id in chosen]

    def speakers(self) -> list[str]:
        """Distinct speaker tags of this recording's segments, sorted (the colour order)."""
        return sorted({s.speaker_tag for s in self._order if s.speaker_tag})

    def _reindex(self) -> None:
        self._order = sorted(self._segments.values(), key=lambda s: (s.start_sample, s.id))
        self._starts = [s.start_sample for s in self._order]
        self._max_len = max((s.end_sample - s.start_sample for s in self._order), default=0)


# ------------------------------------------------------------------------ helpers
_NICE_STEPS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
                 900, 1800, 3600, 7200)


def nice_tick_step(seconds_per_px: float, min_px: float = 90.0) -> float:
    """The smallest 'round' time step whose ticks are at least ``min_px`` apart."""
    for step in _NICE_STEPS_S:
        if step / max(seconds_per_px, 1e-12) >= min_px:
            return step
    return _NICE_STEPS_S[-1]


def _colormap() -> np.ndarray:
    """A 256-entry perceptual-ish (dark blue -> magenta -> yellow) ARGB lookup table."""
    anchors = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
                        [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=float)
    pos = np.linspace(0, 1, len(anchors))
    t = np.linspace(0, 1, 256)
    rgb = np.stack([np.interp(t, pos, anchors[:, c]) for c in range(3)], axis=1).astype(np.uint32)
    return (0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)


_LUT = _colormap()


def spectrogram_rgb(db: np.ndarray, floor_db: float = 70.0) -> np.ndarray:
    """dB magnitudes ``[freq, time]`` -> ARGB32 array ``[rows, cols]`` with low frequencies at the bottom.

    Pure numpy so it can run in a worker thread; the GUI thread wraps it in a QImage.
    """
    db = np.asarray(db, dtype=float)
    if db.size == 0:
        return np.zeros((1, 1), dtype=np.uint32)
    top = float(np.nanmax(db))
    norm = np.clip((db - (top - floor_db)) / floor_db, 0.0, 1.0)
    idx = (np.nan_to_num(norm) * 255).astype(np.uint8)
    return np.ascontiguousarray(_LUT[idx][::-1])


def rgb_to_qimage(argb: np.ndarray) -> QImage:
    """Wrap an ARGB32 array in a QImage (copied, so the array may be freed)."""
    argb = np.ascontiguousarray(argb, dtype=np.uint32)
    h, w = argb.shape
    return QImage(argb.data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


def sample_peaks(x: np.ndarray, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column ``(mins, maxs, rms)`` of raw samples (``cols <= len(x)``), like ``Overview.peaks``."""
    x = np.asarray(x, dtype=np.float32)
    cols = max(1, min(cols, len(x)))
    edges = np.linspace(0, len(x), cols + 1).astype(np.int64)
    starts = edges[:-1]
    counts = np.maximum(np.diff(edges), 1).astype(np.float32)
    mins = np.minimum.reduceat(x, starts)
    maxs = np.maximum.reduceat(x, starts)
    rms = np.sqrt(np.add.reduceat(x * x, starts) / counts)
    return mins, maxs, rms.astype(np.float32)


def envelope_image(mins: np.ndarray, maxs: np.ndarray, rms: np.ndarray, x0: float, x1: float, width: int,
                   height: int, wave: QColor, band: QColor) -> QImage:
    """Rasterise per-column peaks spanning pixels ``[x0, x1)`` into a transparent ``width x height`` image.

    numpy column masks instead of a polygon: the cost is fixed per pixel, however
    jagged the signal (a filled 3,000-vertex polygon of noisy audio takes ~70 ms).
    """
    cols = len(mins)
    px = np.arange(width)
    idx = np.floor((px - x0) / max(x1 - x0, 1e-9) * cols).astype(np.int64)
    inside = (idx >= 0) & (idx < cols)
    idx = np.clip(idx, 0, cols - 1)
    mid = (height - 1) / 2
    half = height / 2 * 0.92
    top = np.minimum(np.where(inside, mid - np.clip(maxs[idx], -1, 1) * half, mid + 1), mid)
    bot = np.maximum(np.where(inside, mid - np.clip(mins[idx], -1, 1) * half, mid - 1), mid)
    r = np.where(inside, np.clip(rms[idx], 0, 1) * half, -1)
    rows = np.arange(height, dtype=np.float32)[:, None]
    env = (rows >= np.floor(top)[None, :]) & (rows <= np.ceil(bot)[None, :]) & inside[None, :]
    img = np.zeros((height, width), dtype=np.uint32)  # transparent
    img[env] = wave.rgba()
    img[(np.abs(rows - mid) <= r[None, :]) & env] = band.rgba()
    return QImage(img.data, width, height, 4 * width, QImage.Format.Format_ARGB32).copy()


#: Track colours: formants red, F0 cyan (F0 has its own scale on the right, as in Praat).
FORMANT_RGBA = 0xFFFF3030
F0_RGBA = 0xFF00E5FF


def tracks_rgba(times_s: np.ndarray, f0_hz: np.ndarray, formants_hz: np.ndarray, span_s: float, width: int,
                height: int, max_hz: float, f0_max_hz: float) -> np.ndarray:
    """F0 and formant tracks rasterised to a transparent ARGB32 array ``[height, width]``.

    Column = time over ``span_s``; formant rows follow the spectrogram's 0..``max_hz``
    axis, F0 rows its own 0..``f0_max_hz`` axis. Pure numpy (runs in a worker), so
    painting costs one image blit per frame however many frames the tracks have.
    """
    img = np.zeros((height, width), dtype=np.uint32)
    if len(times_s) == 0 or span_s <= 0:
        return img
    cols = np.clip((np.asarray(times_s) / span_s * width).astype(np.int64), 0, width - 1)

    def dots(values: np.ndarray, top_hz: float, rgba: int, offsets: tuple[int, ...]) -> None:
        ok = np.isfinite(values) & (values > 0) & (values < top_hz)
        rows = (height - 1 - np.asarray(values[ok]) / top_hz * (height - 1)).astype(np.int64)
        c = cols[ok]
        for dr in offsets:
            for dc in offsets:
                img[np.clip(rows + dr, 0, height - 1), np.clip(c + dc, 0, width - 1)] = rgba

    # A dark rim first, then the coloured cores: the dots stay visible on the bright,
    # warm parts of the spectrogram (red alone disappears into its orange).
    tracks = [(formants_hz[:, i], max_hz, FORMANT_RGBA) for i in range(formants_hz.shape[1]
                                                                       if formants_hz.ndim == 2 else 0)]
    tracks.append((np.asarray(f0_hz, dtype=float), f0_max_hz, F0_RGBA))
    for values, top, _rgba in tracks:
        dots(values, top, 0xFF000000, (-1, 0, 1, 2))
    for values, top, rgba in tracks:
        dots(values, top, rgba, (0, 1))
    return img


def argb_to_qimage(argb: np.ndarray) -> QImage:
    """Wrap a transparent ARGB32 array in a QImage (copied)."""
    argb = np.ascontiguousarray(argb, dtype=np.uint32)
    h, w = argb.shape
    return QImage(argb.data, w, h, 4 * w, QImage.Format.Format_ARGB32).copy()


@dataclass(frozen=True)
class TrackTile:
    """Rendered F0/formant tracks for samples ``[start, end)``."""

    start: int
    end: int
    image: QImage
    f0_max_hz: float


@dataclass(frozen=True)
class SpectrogramTile:
    """A rendered spectrogram for samples ``[start, end)`` up to ``max_hz``."""

    start: int
    end: int
    image: QImage
    max_hz: float


# ---------------------------------------------------------------------------- colours
COLORS = {
    "background": QColor("#11161c"),
    "ruler": QColor("#1c232b"),
    "ruler_text": QColor("#c8d0d8"),
    "grid": QColor(255, 255, 255, 28),
    "wave": QColor("#4fc3f7"),
    "rms": QColor("#b3e5fc"),
    "accepted": QColor(76, 175, 80, 70),
    "accepted_edge": QColor("#66bb6a"),
    "suggested": QColor(255, 167, 38, 45),
    "suggested_edge": QColor("#ffa726"),
    "rejected": QColor(120, 120, 120, 35),
    "rejected_edge": QColor("#8a8a8a"),
    "selected_edge": QColor("#ffffff"),
    "playhead": QColor("#ff5252"),
    "create": QColor(255, 255, 255, 50),
}


#: Speaker-group colours (colour-blind-safe Okabe-Ito order); a recording's speaker tags,
#: sorted, take them in turn, so the same tag has the same colour in the view and the table.
SPEAKER_COLORS = (QColor("#e69f00"), QColor("#56b4e9"), QColor("#009e73"), QColor("#f0e442"),
                  QColor("#cc79a7"), QColor("#d55e00"), QColor("#0072b2"), QColor("#bbbbbb"))


def speaker_color(tag: str, speakers: Sequence[str]) -> QColor | None:
    """The colour of a speaker tag among a recording's tags (None for an untagged segment)."""
    if not tag:
        return None
    try:
        i = list(speakers).index(tag)
    except ValueError:
        i = len(speakers)
    return QColor(SPEAKER_COLORS[i % len(SPEAKER_COLORS)])


def _narrow_rgba(c: QColor) -> int:
    c = QColor(c)
    c.setAlpha(80)
    return c.rgba()


#: Colours (and precedence) of segments too narrow to draw one by one.
_NARROW_RGBA = {SegmentStatus.ACCEPTED: _narrow_rgba(COLORS["accepted_edge"]),
                SegmentStatus.SUGGESTED: _narrow_rgba(COLORS["suggested_edge"]),
                SegmentStatus.REJECTED: _narrow_rgba(COLORS["rejected_edge"])}
_NARROW_RANK = {_NARROW_RGBA[SegmentStatus.ACCEPTED]: 3, _NARROW_RGBA[SegmentStatus.SUGGESTED]: 2,
                _NARROW_RGBA[SegmentStatus.REJECTED]: 1}
#: Fill colours (and precedence) of segments drawn one by one.
_FILL_RGBA = {SegmentStatus.ACCEPTED: COLORS["accepted"].rgba(), SegmentStatus.SUGGESTED: COLORS["suggested"].rgba(),
              SegmentStatus.REJECTED: COLORS["rejected"].rgba()}
_FILL_RANK = {SegmentStatus.ACCEPTED: 3, SegmentStatus.SUGGESTED: 2, SegmentStatus.REJECTED: 1}
#: Edge pens by status; shared objects so edges of one kind are drawn in one call.
_EDGE_STYLE = {SegmentStatus.ACCEPTED: ("accepted_edge", Qt.PenStyle.SolidLine),
               SegmentStatus.SUGGESTED: ("suggested_edge", Qt.PenStyle.DashLine),
               SegmentStatus.REJECTED: ("rejected_edge", Qt.PenStyle.DotLine)}


# ------------------------------------------------------------------------------ view
class WaveformView(QWidget):
    """Detail view: time ruler, waveform (and optional spectrogram) and segments.

    Mouse: drag on empty signal creates a segment (Shift+drag creates anywhere); drag a
    segment moves it; drag its edge resizes it; click selects; click the ruler to place
    the play cursor. Wheel zooms around the pointer; Shift+wheel (or
    a horizontal wheel) pans.
    """

    viewport_changed = Signal(float, float)  # first visible sample, samples per pixel
    create_requested = Signal(int, int)
    edit_requested = Signal(str, int, int)
    cursor_moved = Signal(int)  # the play cursor was placed (sample)
    scrub_released = Signal(int)  # the play cursor was dragged along the ruler and let go here
    hint = Signal(str)  # a one-line explanation for the status bar (e.g. why no segment was made)
    pointer_moved = Signal(str)  # readout under the pointer: time, and frequency over the spectrogram

    RULER_H = 24
    #: Half-width of the grab zone of a segment edge (pixels): generous, so a resize does not
    #: miss the edge and create a new segment instead.
    EDGE_PX = 10
    #: A create-drag shorter than this (seconds) is taken as a slip, not as a segment.
    MIN_CREATE_S = 0.25
    #: Edges snap to a speech-detection boundary (another segment's edge) within this many pixels,
    #: else to the nearest zero crossing when samples are decoded; hold Alt to place freely.
    SNAP_PX = 8
    MIN_SPP = 1.0 / 16.0  # 16 pixels per sample at the deepest zoom

    def __init__(self, model: WaveformModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.start = 0.0
        self.spp = 1.0
        self.playhead: int | None = None
        self.cursor_sample: int | None = None
        self.show_spectrogram = False
        self.spectrogram: SpectrogramTile | None = None
        self.show_tracks = False
        self.tracks: TrackTile | None = None
        self.spectrogram_note = ""
        #: ``(first sample, mono samples)`` decoded around the view when zoomed in (set by the panel).
        self.detail: tuple[int, np.ndarray] | None = None
        self._drag: dict[str, Any] | None = None
        self._peak_cache: tuple[tuple[Any, ...], QImage] | None = None
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        model.overview_changed.connect(self.fit_all)
        model.segments_changed.connect(self.update)
        model.selection_changed.connect(lambda _id: self.update())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(900, 320)

    # ---------------------------------------------------------- coordinates (the one place)
    def sample_to_x(self, sample: float) -> float:
        """Pixel column of a sample."""
        return (sample - self.start) / self.spp

    def x_to_sample(self, x: float) -> float:
        """Sample under a pixel column (not clamped)."""
        return self.start + x * self.spp

    def clamp_sample(self, sample: float) -> int:
        """A sample index inside the recording."""
        return int(min(max(round(sample), 0), self.model.frames))

    @property
    def visible_range(self) -> tuple[float, float]:
        """``(first, last)`` visible samples."""
        return self.start, self.start + self.width() * self.spp

    def max_spp(self) -> float:
        """Samples per pixel when the whole recording fits."""
        return max(self.MIN_SPP, self.model.frames / max(1, self.width()))

    # ---------------------------------------------------------------------- viewport
    def set_view(self, start: float, spp: float) -> None:
        """Set first visible sample and zoom; clamped to the recording."""
        spp = min(max(spp, self.MIN_SPP), self.max_spp())
        span = self.width() * spp
        start = min(max(0.0, start), max(0.0, self.model.frames - span))
        if (start, spp) != (self.start, self.spp):
            self.start, self.spp = start, spp
            self.viewport_changed.emit(self.start, self.spp)
            self.update()

    def fit_all(self) -> None:
        """Zoom out to the whole recording."""
        self.start, self.spp = 0.0, self.max_spp()
        self.spectrogram = None
        self.detail = None
        self._peak_cache = None
        self.viewport_changed.emit(self.start, self.spp)
        self.update()

    def zoom(self, factor: float, anchor_x: float | None = None) -> None:
        """Zoom in (factor > 1) or out, keeping the sample under ``anchor_x`` in place."""
        if anchor_x is None:
            anchor_x = self.width() / 2
        anchor = self.x_to_sample(anchor_x)
        spp = min(max(self.spp / factor, self.MIN_SPP), self.max_spp())
        self.set_view(anchor - anchor_x * spp, spp)

    def zoom_to(self, start_sample: int, end_sample: int) -> None:
        """Show ``[start, end)`` across the width, with a small margin."""
        span = max(1, end_sample - start_sample)
        margin = span * 0.05
        spp = (span + 2 * margin) / max(1, self.width())
        self.set_view(start_sample - margin, spp)

    def pan_pixels(self, dx: float) -> None:
        """Scroll by ``dx`` pixels (positive: later in time)."""
        self.set_view(self.start + dx * self.spp, self.spp)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        old_w = max(1, event.oldSize().width())
        if event.oldSize().width() <= 0 or self.spp >= self.model.frames / old_w - 1e-9:
            self.start, self.spp = 0.0, self.max_spp()
        else:
            self.set_view(self.start, self.spp)
        self.viewport_changed.emit(self.start, self.spp)
        super().resizeEvent(event)

    # ---------------------------------------------------------------------- geometry
    def signal_rect(self) -> QRectF:
        """Area of the waveform (below the ruler, above the spectrogram)."""
        h = self.height() - self.RULER_H
        if self.show_spectrogram:
            h = h // 2
        return QRectF(0, self.RULER_H, self.width(), h)

    def spectrogram_rect(self) -> QRectF:
        """Area of the spectrogram (lower half when shown)."""
        sig = self.signal_rect()
        return QRectF(0, sig.bottom(), self.width(), self.height() - sig.bottom())

    # ---------------------------------------------------------------------- painting
    def _waveform_image(self) -> QImage | None:
        """The waveform of the visible range as an image the size of the signal area.

        One ``Overview.peaks`` call for the visible range (one column per pixel), then
        the envelope and RMS band are rasterised with numpy column masks: a fixed cost
        per frame whatever the recording's length or how jagged the signal is. Cached
        until the viewport or the size changes.
        """
        ov = self.model.overview
        if ov is None or self.model.frames <= 0:
            return None
        rect = self.signal_rect()
        width, height = self.width(), int(rect.height())
        key = (self.start, self.spp, width, height, id(ov), id(self.detail))
        if self._peak_cache is not None and self._peak_cache[0] == key:
            return self._peak_cache[1]
        first = max(0, int(math.floor(self.start)))
        last = min(self.model.frames, int(math.ceil(self.start + width * self.spp)))
        if last <= first or width <= 0 or height <= 0:
            return None
        x0 = self.sample_to_x(first)
        x1 = self.sample_to_x(last)
        cols = max(1, min(width, int(round(x1 - x0)), last - first))
        d = self.detail
        if d is not None and d[0] <= first and d[0] + len(d[1]) >= last:
            # Zoomed in: decoded samples are at hand, draw them rather than 256-sample bins.
            mins, maxs, rms = sample_peaks(d[1][first - d[0]:last - d[0]], cols)
        else:
            mins, maxs, rms = (np.asarray(a, dtype=np.float32) for a in ov.peaks(first, last, cols))
        qimg = envelope_image(mins, maxs, rms, x0, x1, width, height, COLORS["wave"], COLORS["rms"])
        self._peak_cache = (key, qimg)
        return qimg

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), COLORS["background"])
        self._paint_ruler(p)
        sig = self.signal_rect()
        if self.model.overview is None:
            p.setPen(QPen(COLORS["ruler_text"]))
            p.drawText(sig, Qt.AlignmentFlag.AlignCenter, "Select an evidence item to show its waveform")
            p.end()
            return
        if self.show_spectrogram:
            self._paint_spectrogram(p)
        p.setPen(QPen(COLORS["grid"], 1))
        p.drawLine(QPointF(0, sig.center().y()), QPointF(self.width(), sig.center().y()))
        wave = self._waveform_image()
        if wave is not None:
            p.drawImage(QPointF(0, sig.top()), wave)
        self._paint_segments(p)
        self._paint_cursors(p)
        p.end()

    def _paint_ruler(self, p: QPainter) -> None:
        p.fillRect(QRectF(0, 0, self.width(), self.RULER_H), COLORS["ruler"])
        if self.model.overview is None:
            return
        sr = self.model.sample_rate
        step = nice_tick_step(self.spp / sr)
        first_s = self.start / sr
        t = math.floor(first_s / step) * step
        end_s = (self.start + self.width() * self.spp) / sr
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        minor = step / 5
        p.setPen(QPen(COLORS["ruler_text"], 1))
        mt = math.floor(first_s / minor) * minor
        while mt <= end_s:
            x = self.sample_to_x(mt * sr)
            p.drawLine(QPointF(x, self.RULER_H - 4), QPointF(x, self.RULER_H))
            mt += minor
        sig_bottom = self.height()
        while t <= end_s + step:
            x = self.sample_to_x(t * sr)
            p.setPen(QPen(COLORS["ruler_text"], 1))
            p.drawLine(QPointF(x, self.RULER_H - 10), QPointF(x, self.RULER_H))
            p.drawText(QPointF(x + 3, self.RULER_H - 10), format_time(t, step))
            p.setPen(QPen(COLORS["grid"], 1))
            p.drawLine(QPointF(x, self.RULER_H), QPointF(x, sig_bottom))
            t += step

    def _paint_spectrogram(self, p: QPainter) -> None:
        rect = self.spectrogram_rect()
        tile = self.spectrogram
        if tile is not None:
            x0 = self.sample_to_x(tile.start)
            x1 = self.sample_to_x(tile.end)
            p.drawImage(QRectF(x0, rect.top(), x1 - x0, rect.height()), tile.image)
            tr = self.tracks
            if self.show_tracks and tr is not None:
                p.drawImage(QRectF(self.sample_to_x(tr.start), rect.top(),
                                   self.sample_to_x(tr.end) - self.sample_to_x(tr.start), rect.height()), tr.image)
            self._paint_frequency_ticks(p, rect, tile.max_hz)
        if self.spectrogram_note:
            p.setPen(QPen(COLORS["ruler_text"]))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.spectrogram_note)
        p.setPen(QPen(COLORS["grid"], 1))
        p.drawLine(QPointF(0, rect.top()), QPointF(self.width(), rect.top()))

    def _paint_frequency_ticks(self, p: QPainter, rect: QRectF, max_hz: float) -> None:
        """Frequency ticks on the left (spectrogram and formants); the F0 scale on the right."""
        if rect.height() < 40 or max_hz <= 0:
            return
        step = 500.0 if max_hz <= 4500 else 1000.0
        if rect.height() / (max_hz / step) < 14:
            step *= 2
        p.setPen(QPen(COLORS["ruler_text"], 1))
        f = step
        while f < max_hz:
            y = rect.bottom() - f / max_hz * rect.height()
            p.drawLine(QPointF(0, y), QPointF(6, y))
            p.drawText(QPointF(8, y + 4), f"{f / 1000:g} kHz")
            f += step
        tr = self.tracks
        if self.show_tracks and tr is not None:
            p.setPen(QPen(QColor(F0_RGBA), 1))
            for f0 in (100, 200, 300, 400, 500, 600, 700):
                if f0 >= tr.f0_max_hz:
                    break
                y = rect.bottom() - f0 / tr.f0_max_hz * rect.height()
                p.drawLine(QPointF(self.width() - 6, y), QPointF(self.width(), y))
                p.drawText(QPointF(self.width() - 56, y + 4), f"{f0} Hz")
            p.drawText(QPointF(self.width() - 150, rect.top() + 14), "F0 (right scale)")
            p.setPen(QPen(QColor(FORMANT_RGBA), 1))
            p.drawText(QPointF(60, rect.top() + 14), "formants F1–F4")

    def _segment_extent(self, seg: Segment) -> tuple[int, int]:
        d = self._drag
        if d is not None and d.get("id") == seg.id and "preview" in d:
            preview: tuple[int, int] = d["preview"]
            return preview
        return seg.start_sample, seg.end_sample

    def _paint_segments(self, p: QPainter) -> None:
        v0, v1 = self.visible_range
        top = float(self.RULER_H)
        h = self.height() - top
        fm = p.fontMetrics()
        # Segments narrower than a few pixels (a 3-hour recording zoomed out) are drawn
        # together as one image row, so the cost is bounded by the width, not the count.
        drag_id = self._drag.get("id") if self._drag else None
        detailed: list[tuple[Segment, float, float]] = []
        width = max(1, self.width())
        narrow: list[tuple[int, int, int, int]] = []  # (rank, first px, end px, colour)
        for seg in self.model.visible(v0 - self.spp * 2, v1):
            s, e = self._segment_extent(seg)
            x0, x1 = self.sample_to_x(s), self.sample_to_x(e)
            if x1 - x0 >= 6 or self.model.is_selected(seg.id) or seg.id == drag_id:
                detailed.append((seg, x0, x1))
            else:
                a, b = max(0, int(x0)), min(width, max(int(x0) + 1, int(math.ceil(x1))))
                color = _NARROW_RGBA[seg.status]
                narrow.append((_NARROW_RANK[color], a, b, color))
        # Fills are uniform down the column, so every segment's fill (narrow or not) goes
        # into one ARGB row stretched to full height: one draw call per frame instead of
        # one alpha blend per segment, which kept zoomed-in scrolling under 16 ms.
        # Written in rank order, so accepted wins a shared pixel.
        fills = sorted(narrow + [(_FILL_RANK[seg.status], max(0, int(x0)), min(width, max(int(x0) + 1, int(x1))),
                                  _FILL_RGBA[seg.status]) for seg, x0, x1 in detailed])
        if fills:
            row = np.zeros(width, dtype=np.uint32)
            for _rank, a, b, color in fills:
                if b > a:
                    row[a:b] = color
            strip = QImage(row.data, width, 1, 4 * width, QImage.Format.Format_ARGB32).copy()
            p.drawImage(QRectF(0, top, width, h), strip)
        hatch = QBrush(QColor(255, 167, 38, 40), Qt.BrushStyle.BDiagPattern)
        edges: dict[SegmentStatus, list[QLineF]] = {st: [] for st in _EDGE_STYLE}
        selected_segs: list[tuple[Segment, float, float]] = []
        speakers = self.model.speakers()
        for seg, x0, x1 in detailed:
            if seg.status is SegmentStatus.SUGGESTED:
                p.fillRect(QRectF(x0, top, max(1.0, x1 - x0), h), hatch)
            band = speaker_color(seg.speaker_tag, speakers)
            if band is not None:  # the speaker group: a band along the top, in the group's colour
                p.fillRect(QRectF(x0, top, max(1.0, x1 - x0), 7), band)
            if self.model.is_selected(seg.id):
                selected_segs.append((seg, x0, x1))
            else:
                edges[seg.status] += [QLineF(x0, top, x0, top + h), QLineF(x1, top, x1, top + h)]
        p.setBrush(QBrush())  # explicit objects: PySide's enum->QBrush conversion miscounts refs
        for status, lines in edges.items():
            if lines:
                color_key, style = _EDGE_STYLE[status]
                p.setPen(QPen(COLORS[color_key], 1, style))
                p.drawLines(lines)
        for seg, x0, x1 in selected_segs:
            p.setPen(QPen(COLORS["selected_edge"], 2, _EDGE_STYLE[seg.status][1]))
            p.drawLine(QPointF(x0, top), QPointF(x0, top + h))
            p.drawLine(QPointF(x1, top), QPointF(x1, top + h))
            p.drawRect(QRectF(x0, top, max(1.0, x1 - x0), h).adjusted(0, 1, 0, -1))
        for seg, x0, x1 in detailed:
            label = seg.label or ("suggestion" if seg.status is SegmentStatus.SUGGESTED else "")
            if seg.speaker_tag:
                label = f"[{seg.speaker_tag}] {label}".strip()
            if seg.status is SegmentStatus.SUGGESTED and seg.confidence is not None:
                label = f"{label} {seg.confidence:.0%}"
            if seg.status is SegmentStatus.REJECTED:
                label = f"{label} (rejected)".strip()
            if label and x1 - x0 > 24:
                selected = self.model.is_selected(seg.id)
                p.setPen(QPen(COLORS["selected_edge"] if selected else COLORS[_EDGE_STYLE[seg.status][0]]))
                text = fm.elidedText(label, Qt.TextElideMode.ElideRight, int(x1 - x0 - 6))
                p.drawText(QPointF(max(x0, 0) + 3, top + fm.ascent() + 9), text)
        d = self._drag
        if d is not None and d["mode"] == "create" and "preview" in d:
            s, e = d["preview"]
            x0, x1 = self.sample_to_x(s), self.sample_to_x(e)
            p.fillRect(QRectF(x0, top, x1 - x0, h), COLORS["create"])
        if d is not None and "preview" in d:
            # Time and duration readout while dragging: the analyst sees where the edges land.
            s, e = d["preview"]
            sr = self.model.sample_rate
            step = 0.001 if self.spp / sr < 0.001 else 0.01
            text = f"{format_time(s / sr, step)} – {format_time(e / sr, step)}  ({(e - s) / sr:.3f} s)"
            if d["mode"] == "create" and (e - s) < self.MIN_CREATE_S * sr:
                text += f"  too short (< {self.MIN_CREATE_S:.2f} s)"
            tw = fm.horizontalAdvance(text) + 10
            bx = min(max(0.0, self.sample_to_x(s)), max(0.0, self.width() - tw))
            box = QRectF(bx, top + h - fm.height() - 8, tw, fm.height() + 4)
            p.fillRect(box, QColor(0, 0, 0, 190))
            p.setPen(QPen(COLORS["selected_edge"]))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_cursors(self, p: QPainter) -> None:
        for sample, color, width in ((self.cursor_sample, QColor(255, 255, 255, 150), 1),
                                     (self.playhead, COLORS["playhead"], 2)):
            if sample is None:
                continue
            x = self.sample_to_x(sample)
            if -2 <= x <= self.width() + 2:
                p.setPen(QPen(color, width))
                p.drawLine(QPointF(x, self.RULER_H), QPointF(x, self.height()))

    # ---------------------------------------------------------------------- interaction
    def hit_test(self, x: float) -> tuple[str, Segment | None]:
        """What is under pixel column ``x``: ('start'|'end'|'body', segment) or ('none', None).

        The selected segment wins over others; edges win over bodies.
        """
        sample = self.x_to_sample(x)
        tol = self.EDGE_PX * self.spp
        cands = self.model.visible(sample - tol, sample + tol)
        sel = self.model.selected
        if sel is not None and sel in cands:
            cands = [sel] + [c for c in cands if c.id != sel.id]
        for seg in cands:
            x0, x1 = self.sample_to_x(seg.start_sample), self.sample_to_x(seg.end_sample)
            # A narrow segment keeps a middle third for moving it.
            grab = min(float(self.EDGE_PX), max(3.0, (x1 - x0) / 3))
            if abs(x0 - x) <= grab:
                return "start", seg
            if abs(x1 - x) <= grab:
                return "end", seg
        for seg in cands:
            if seg.start_sample <= sample < seg.end_sample:
                return "body", seg
        return "none", None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.model.overview is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        x = event.position().x()
        if event.position().y() < self.RULER_H:
            # The ruler is the scrub strip: press and drag to move the play cursor.
            self.set_cursor_sample(self.clamp_sample(self.x_to_sample(x)))
            self._drag = {"mode": "scrub", "x": x}
            return
        kind, seg = self.hit_test(x)
        anchor = self.x_to_sample(x)
        mods = event.modifiers()
        if seg is not None and mods & Qt.KeyboardModifier.ControlModifier:
            self.model.toggle(seg.id)  # Ctrl+click: add to / remove from the selection
            self.setFocus()
            return
        if mods & Qt.KeyboardModifier.ShiftModifier:
            kind, seg = "none", None  # Shift+drag always creates, even on top of a segment
        if seg is not None:
            self.model.select(seg.id)
            self._drag = {"mode": {"start": "resize_start", "end": "resize_end", "body": "move"}[kind],
                          "id": seg.id, "anchor": anchor, "orig": (seg.start_sample, seg.end_sample), "x": x}
        else:
            self._drag = {"mode": "create", "anchor": anchor, "x": x}
        self.setFocus()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        x = event.position().x()
        d = self._drag
        if d is None:
            kind, _ = self.hit_test(x) if self.model.overview is not None else ("none", None)
            self.setCursor({"start": Qt.CursorShape.SizeHorCursor, "end": Qt.CursorShape.SizeHorCursor,
                            "body": Qt.CursorShape.OpenHandCursor}.get(kind, Qt.CursorShape.IBeamCursor))
            if self.model.overview is not None:
                self.pointer_moved.emit(self.readout(x, event.position().y()))
            return
        if d["mode"] == "scrub":
            self.set_cursor_sample(self.clamp_sample(self.x_to_sample(x)))
            return
        if abs(x - d["x"]) < 3 and "preview" not in d:
            return
        free = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        sample = self.x_to_sample(x)
        frames = self.model.frames
        if d["mode"] == "create":
            a, b = sorted((self.snap(self.clamp_sample(d["anchor"]), None, free),
                           self.snap(self.clamp_sample(sample), None, free)))
            d["preview"] = (a, b)
        else:
            s0, e0 = d["orig"]
            if d["mode"] == "move":
                delta = int(round(sample - d["anchor"]))
                delta = min(max(delta, -s0), frames - e0)
                d["preview"] = (s0 + delta, e0 + delta)
            elif d["mode"] == "resize_start":
                d["preview"] = (min(self.snap(self.clamp_sample(sample), d["id"], free), e0 - 1), e0)
            else:
                d["preview"] = (s0, max(self.snap(self.clamp_sample(sample), d["id"], free), s0 + 1))
        self.update()

    def snap(self, sample: int, exclude_id: str | None = None, free: bool = False) -> int:
        """Where an edge dragged to ``sample`` lands: a nearby segment edge (speech-detection
        boundary), else the nearest zero crossing of the decoded samples; ``free`` (Alt) disables."""
        if free:
            return sample
        tol = self.SNAP_PX * self.spp
        best, dist = None, tol + 1
        for seg in self.model.visible(sample - tol, sample + tol):
            if seg.id == exclude_id:
                continue
            for edge in (seg.start_sample, seg.end_sample):
                if abs(edge - sample) < dist:
                    best, dist = edge, abs(edge - sample)
        if best is not None:
            return int(best)
        d = self.detail
        if d is not None and self.spp <= 64:
            first, x = d
            lo, hi = int(sample - tol) - first, int(sample + tol) + 1 - first
            if lo >= 0 and hi <= len(x) and hi - lo > 1:
                w = x[lo:hi]
                crossings = np.nonzero(np.signbit(w[:-1]) != np.signbit(w[1:]))[0]
                if len(crossings):
                    c = crossings[np.argmin(np.abs(crossings + 1 + lo + first - sample))]
                    return int(c + 1 + lo + first)
        return sample

    def readout(self, x: float, y: float) -> str:
        """Pointer readout: time (and, over the spectrogram, frequency)."""
        sr = self.model.sample_rate
        t = self.clamp_sample(self.x_to_sample(x)) / sr
        text = f"pointer {format_time(t, 0.001)}"
        tile = self.spectrogram
        rect = self.spectrogram_rect()
        if self.show_spectrogram and tile is not None and rect.top() <= y <= rect.bottom() and rect.height() > 0:
            hz = (rect.bottom() - y) / rect.height() * tile.max_hz
            text += f" · {hz:.0f} Hz"
        return text

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        d, self._drag = self._drag, None
        if d is None:
            return super().mouseReleaseEvent(event)
        self.update()
        if d["mode"] == "scrub":
            if self.cursor_sample is not None:
                self.scrub_released.emit(int(self.cursor_sample))
            return
        if "preview" not in d:  # a click
            if d["mode"] == "create":
                self.model.select(None)
                self.set_cursor_sample(self.clamp_sample(d["anchor"]))
            return
        start, end = d["preview"]
        if d["mode"] == "create":
            if end - start >= self.MIN_CREATE_S * self.model.sample_rate:
                self.create_requested.emit(int(start), int(end))
            else:
                self.hint.emit(f"No segment made: the drag covered {(end - start) / self.model.sample_rate:.2f} s, "
                               f"less than {self.MIN_CREATE_S:.2f} s")
        elif (start, end) != d["orig"]:
            self.edit_requested.emit(d["id"], int(start), int(end))

    def set_cursor_sample(self, sample: int | None) -> None:
        """Place the play cursor (where playback starts when nothing is selected)."""
        self.cursor_sample = sample
        if sample is not None:
            self.cursor_moved.emit(sample)
        self.update()

    def set_playhead(self, sample: int | None) -> None:
        """Move the moving playback cursor; scrolls to keep it visible."""
        self.playhead = sample
        if sample is not None:
            v0, v1 = self.visible_range
            if not (v0 <= sample <= v1):
                self.set_view(sample - 0.1 * self.width() * self.spp, self.spp)
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta()
        if delta.x() != 0 or event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            steps = (delta.x() or delta.y()) / 120.0
            self.pan_pixels(-steps * self.width() / 10)
        elif delta.y() != 0:
            self.zoom(1.25 ** (delta.y() / 120.0), event.position().x())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Left:
            self.pan_pixels(-self.width() / 10)
        elif key == Qt.Key.Key_Right:
            self.pan_pixels(self.width() / 10)
        elif key == Qt.Key.Key_Home:
            self.set_view(0, self.spp)
        elif key == Qt.Key.Key_End:
            self.set_view(self.model.frames, self.spp)
        else:
            super().keyPressEvent(event)


class OverviewStrip(QWidget):
    """The whole recording at a glance, with the detail view's range as a frame.

    Click or drag to move the detail view there. The strip's peaks are fetched once per
    width (one column per pixel) and cached as polygons.
    """

    seek_requested = Signal(float)  # sample to centre the detail view on

    def __init__(self, model: WaveformModel, view: WaveformView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = view
        self._cache: tuple[tuple[Any, ...], QPixmap] | None = None
        self._segments_version = 0
        self.setFixedHeight(56)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        model.overview_changed.connect(self._invalidate)
        model.segments_changed.connect(self._segments_changed)
        view.viewport_changed.connect(lambda *_: self.update())

    def _invalidate(self) -> None:
        self._cache = None
        self.update()

    def _segments_changed(self) -> None:
        self._segments_version += 1
        self.update()

    def _spp(self) -> float:
        return max(1e-9, self.model.frames / max(1, self.width()))

    def _background(self, ov: PeakSource) -> QPixmap:
        """Waveform and segment runs of the whole recording, cached per size and segment change."""
        w, h = self.width(), self.height()
        key = (w, h, id(ov), self._segments_version)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        pix = QPixmap(max(1, w), max(1, h))
        pix.fill(QColor("#0d1116"))
        p = QPainter(pix)
        spp = self._spp()
        runs: list[list[Any]] = []  # merged per status: bounded by the width, not the segment count
        for seg in self.model.segments():
            x0, x1 = seg.start_sample / spp, max(seg.end_sample / spp, seg.start_sample / spp + 1)
            if runs and runs[-1][0] is seg.status and x0 <= runs[-1][2] + 1:
                runs[-1][2] = max(runs[-1][2], x1)
            else:
                runs.append([seg.status, x0, x1])
        for status, x0, x1 in runs:
            c = QColor({SegmentStatus.SUGGESTED: COLORS["suggested_edge"],
                        SegmentStatus.REJECTED: COLORS["rejected_edge"]}.get(status, COLORS["accepted_edge"]))
            c.setAlpha(90)
            p.fillRect(QRectF(x0, 0, x1 - x0, h), c)
        cols = max(1, min(w, self.model.frames))
        mins, maxs, rms = (np.asarray(a, dtype=np.float32) for a in ov.peaks(0, self.model.frames, cols))
        p.drawImage(0, 0, envelope_image(mins, maxs, rms, 0, w, w, h, QColor("#6f8faa"), QColor("#9fb8cc")))
        p.end()
        self._cache = (key, pix)
        return pix

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        ov = self.model.overview
        if ov is None or self.model.frames <= 0:
            p.fillRect(self.rect(), QColor("#0d1116"))
            p.end()
            return
        p.drawPixmap(0, 0, self._background(ov))
        spp = self._spp()
        v0, v1 = self.view.visible_range
        frame = QRectF(v0 / spp, 1, max(3.0, (v1 - v0) / spp), self.height() - 2)
        p.setBrush(QBrush(QColor(255, 255, 255, 40)))
        p.setPen(QPen(QColor("#ffffff"), 1))
        p.drawRect(frame)
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._seek(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._seek(event.position().x())

    def _seek(self, x: float) -> None:
        if self.model.frames <= 0:
            return
        centre = x * self._spp()
        half = self.view.width() * self.view.spp / 2
        self.view.set_view(centre - half, self.view.spp)
        self.seek_requested.emit(centre)
