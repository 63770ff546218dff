"""The waveform page's working area: overview strip, detail view, scroll bar, segment table.

It owns the segment undo stack and turns view gestures into undo commands; the slow
parts (building the overview, speech detection, spectrogram tiles, decoding audio for
playback) run through the :class:`~s2f_desktop.gui.workers.JobRunner`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollBar,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import Evidence, Segment, SegmentStatus
from s2f_desktop.core.timeutil import format_time
from s2f_desktop.gui import undo
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.pages import JobPage
from s2f_desktop.gui.waveform import (
    OverviewStrip,
    SpectrogramTile,
    WaveformModel,
    WaveformView,
    rgb_to_qimage,
    spectrogram_rgb,
)
from s2f_desktop.gui.workers import JobRunner

log = logging.getLogger(__name__)

#: Below this many samples per pixel the view draws decoded samples instead of the
#: overview's 256-sample bins (the decoded window is three screens wide).
DETAIL_MAX_SPP = 64.0

#: What the analyst reads when there is no sound output (the library's own words go to the log).
NO_OUTPUT_MESSAGE = ("Playback is off: no working sound output device was found. Connect or enable one, or choose "
                     "another in File ▸ Settings; playback comes back by itself when a device appears.")

#: Longest visible span (seconds) for which a spectrogram is computed; beyond it the
#: analyst is asked to zoom in (a 3-hour spectrogram at screen width says nothing).
MAX_SPECTROGRAM_S = 120.0


class _PlaybackRelay(QObject):
    """Carries player callbacks (audio thread) into the GUI thread."""

    position = Signal(int)
    finished = Signal()


class WaveformPanel(JobPage):
    """Everything about one evidence item's signal and its segments."""

    COLUMNS = ("Start", "End", "Length", "Status", "Speaker", "Label")
    COL_START, COL_END, COL_LEN, COL_STATUS, COL_SPEAKER, COL_LABEL = range(6)

    status_message = Signal(str)
    segments_reloaded = Signal()
    overview_loaded = Signal()
    vad_finished = Signal(int)  # number of suggestions
    spectrogram_ready = Signal()
    tracks_ready = Signal()
    measured = Signal(object)  # SelectionMeasures
    detail_ready = Signal()
    playback_state = Signal(bool)
    playback_availability = Signal(bool)

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(ctx, runner, reporter, parent)
        self.case_number: str | None = None
        self.evidence: Evidence | None = None
        self.undo_stack = QUndoStack(self)
        self.model = WaveformModel(self)
        self.view = WaveformView(self.model)
        self.view.setObjectName("waveformView")
        self.strip = OverviewStrip(self.model, self.view)
        self.scroll_bar = QScrollBar(Qt.Orientation.Horizontal)
        self.info = QLabel("No recording selected")
        self.info.setObjectName("waveformInfo")
        self.measure_label = QLabel()
        self.measure_label.setObjectName("measureLabel")
        self.measure_label.setWordWrap(True)
        self.measure_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.measure_label.setToolTip("Measures of the selection (Analysis ▸ Measure selection, Ctrl+M); "
                                      "Praat methods, not stored")
        self.measure_label.hide()
        self.view.setToolTip("Drag on empty signal to create a segment (Shift+drag anywhere); drag an edge to "
                             "resize, the body to move; Ctrl+click adds to the selection; edges snap to "
                             "detection boundaries and zero crossings (hold Alt to place freely). Click the "
                             "ruler to place the play cursor. Wheel zooms, Shift+wheel pans.")
        self.strip.setToolTip("The whole recording: click or drag to move the view")
        self.scroll_bar.setToolTip("Scroll through the recording")
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("segmentTable")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Shift/Ctrl+click select many; bulk accept, reject, label and speaker act on all of them.
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # Start, end, speaker and label are typed in place (F2 or double-click on the cell).
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setToolTip("Segments of this recording. Shift/Ctrl+click to select several; double-click "
                              "Start, End, Speaker or Label to type a new value; double-click another column "
                              "to zoom to the segment.")
        self.table.verticalHeader().setVisible(False)
        for col in range(len(self.COLUMNS) - 1):
            self.table.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(len(self.COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.player: Any = None
        #: Creates the audio Player (tests inject one with a fake output stream).
        self.player_factory: Any = None
        self._relay = _PlaybackRelay(self)
        self._relay.position.connect(self.view.set_playhead)
        self._relay.finished.connect(self._playback_finished)
        self._play_offset = 0
        #: False after the sound output failed; a probe re-enables it when a device appears.
        self.playback_available = True
        self.output_device: str = ""
        self.loop = False
        self._loop_token: Any = None
        self._last_play: tuple[np.ndarray, int, int] | None = None
        self._device_timer = QTimer(self)
        self._device_timer.setInterval(5000)
        self._device_timer.timeout.connect(self._probe_output)
        self._spec_timer = QTimer(self)
        self._spec_timer.setSingleShot(True)
        self._spec_timer.setInterval(150)
        self._spec_timer.timeout.connect(self._request_spectrogram)
        self._syncing_scroll = False
        self._detail_timer = QTimer(self)
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(60)
        self._detail_timer.timeout.connect(self._request_detail)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(2)
        tl.addWidget(self.info)
        tl.addWidget(self.strip)
        tl.addWidget(self.view, 1)
        tl.addWidget(self.scroll_bar)
        tl.addWidget(self.measure_label)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.table)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([700, 190])
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

        self.view.create_requested.connect(self.create_segment)
        self.view.edit_requested.connect(self.move_segment)
        self.view.viewport_changed.connect(self._viewport_changed)
        self.scroll_bar.valueChanged.connect(self._scrolled)
        self.model.segments_changed.connect(self._fill_table)
        self.model.selection_changed.connect(self._select_row)
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        self.table.itemChanged.connect(self._cell_edited)
        self.view.hint.connect(self.status_message)
        self.view.scrub_released.connect(self._scrubbed)

    # ------------------------------------------------------------------ loading
    def clear(self) -> None:
        """Show nothing (case closed)."""
        self.stop_playback()
        self.runner.cancel("overview")
        self.case_number, self.evidence = None, None
        self.model.set_overview(None)
        self.undo_stack.clear()
        self.info.setText("No recording selected")

    def load_evidence(self, case_number: str, evidence: Evidence) -> None:
        """Build (or fetch the cached) overview off the GUI thread, then show the recording."""
        from s2f_desktop.services import audio as audio_svc

        self.stop_playback()
        self.case_number, self.evidence = case_number, evidence
        self.undo_stack.clear()
        self.info.setText(f"{evidence.original_name}: preparing waveform…")
        self.runner.submit("overview", lambda task: audio_svc.evidence_overview(self.ctx, evidence, task=task),
                           on_success=lambda ov: self._overview_ready(evidence, ov),
                           on_error=lambda e: self.reporter.report(e, "Waveform"),
                           on_progress=lambda f, m: self.status_message.emit(m))

    def set_overview(self, evidence: Evidence, overview: Any) -> None:
        """Show a recording whose overview is already built (tests, benchmarks)."""
        self.evidence = evidence
        self._overview_ready(evidence, overview)

    def _overview_ready(self, evidence: Evidence, overview: Any) -> None:
        if self.evidence is None or evidence.id != self.evidence.id:
            return
        self.model.set_overview(overview, evidence)
        m = evidence.media
        self.info.setText(f"{evidence.original_name} — {format_time(m.duration_s, 0.001)}, {m.sample_rate} Hz, "
                          f"{m.channels} ch, {m.codec}   ·   drag (Shift+drag over a segment) to create a segment; "
                          "wheel zooms, Shift+wheel pans")
        self.reload_segments()
        self.overview_loaded.emit()

    def reload_segments(self) -> None:
        """Re-read this evidence's segments from the store."""
        if self.evidence is None:
            return
        from s2f_desktop.services import segments as seg_svc

        self.model.set_segments(seg_svc.list_segments(self.ctx, self.evidence.id))
        self.segments_reloaded.emit()

    # ------------------------------------------------------------------ speech detection
    def detect_speech(self) -> None:
        """Run speech detection off the GUI thread; results appear as suggestions."""
        if self.evidence is None or self.case_number is None:
            return
        from s2f_desktop.services import segments as seg_svc

        case_number, ev_id = self.case_number, self.evidence.id
        self.runner.submit("vad", lambda task: seg_svc.run_vad(self.ctx, case_number, ev_id, task=task),
                           on_success=self._vad_done,
                           on_error=lambda e: self.reporter.report(e, "Speech detection"),
                           on_progress=lambda f, m: self.status_message.emit(m or "detecting speech"))

    def _vad_done(self, suggestions: list[Segment]) -> None:
        # Detection replaced earlier suggestions in the store: edits before it cannot be undone in place.
        self.undo_stack.clear()
        self.reload_segments()
        self.status_message.emit(f"Speech detection: {len(suggestions)} suggestion(s) — accept (A) or reject (R)")
        self.vad_finished.emit(len(suggestions))

    # ------------------------------------------------------------------ undoable edits
    def _push(self, cmd: undo.SegmentCommand, context: str) -> bool:
        """Push (and so perform) a command; False when the service refused it."""
        failures: list[BaseException] = []

        def failed(exc: BaseException) -> None:  # also runs for later undo/redo from the menu
            failures.append(exc)
            self.reporter.report(exc, context)

        cmd.on_error = failed
        self.undo_stack.push(cmd)
        return not failures

    def create_segment(self, start: int, end: int, label: str = "") -> bool:
        """Add a manual segment ``[start, end)`` (samples)."""
        if self.evidence is None or self.case_number is None:
            return False
        return self._push(undo.AddSegmentCommand(self.ctx, self.model, self.case_number, self.evidence.id,
                                                 start, end, label), "Add segment")

    def move_segment(self, segment_id: str, start: int, end: int) -> bool:
        """Move or resize a segment to ``[start, end)``."""
        seg = self.model.get(segment_id)
        if seg is None:
            return False
        return self._push(undo.move_command(self.ctx, self.model, seg, start, end), "Edit segment")

    def delete_selected(self) -> bool:
        """Delete the selected segment."""
        seg = self.model.selected
        return seg is not None and self._push(undo.DeleteSegmentCommand(self.ctx, self.model, seg), "Delete segment")

    def label_selected(self, label: str) -> bool:
        """Set the selected segment's label."""
        seg = self.model.selected
        return seg is not None and self._push(undo.label_command(self.ctx, self.model, seg, label.strip()),
                                              "Label segment")

    def set_selected_status(self, accept: bool) -> bool:
        """Accept or reject the selected suggestion."""
        seg = self.model.selected
        if seg is None:
            return False
        if seg.status is (SegmentStatus.ACCEPTED if accept else SegmentStatus.REJECTED):
            return False
        return self._push(undo.status_command(self.ctx, self.model, seg, accept),
                          "Accept suggestion" if accept else "Reject suggestion")

    def accept_all_suggestions(self) -> int:
        """Accept every pending suggestion (one undo step)."""
        pending = [s for s in self.model.segments() if s.status is SegmentStatus.SUGGESTED]
        if not pending:
            return 0
        self.undo_stack.beginMacro(f"Accept {len(pending)} suggestions")
        ok = 0
        try:
            for seg in pending:
                ok += self._push(undo.status_command(self.ctx, self.model, seg, True), "Accept suggestion")
        finally:
            self.undo_stack.endMacro()
        return ok

    # ------------------------------------------------------------------ navigation
    def _viewport_changed(self, start: float, spp: float) -> None:
        frames = self.model.frames
        span = self.view.width() * spp
        self._scale = max(1, int(np.ceil(frames / 2_000_000_000)))  # keep the scroll bar within int32
        self._syncing_scroll = True
        self.scroll_bar.setRange(0, int(max(0, frames - span) / self._scale))
        self.scroll_bar.setPageStep(max(1, int(span / self._scale)))
        self.scroll_bar.setSingleStep(max(1, int(span / 10 / self._scale)))
        self.scroll_bar.setValue(int(start / self._scale))
        self._syncing_scroll = False
        if self.view.show_spectrogram:
            self._spec_timer.start()
        if spp <= DETAIL_MAX_SPP:
            d = self.view.detail
            v0, v1 = self.view.visible_range
            if d is None or not (d[0] <= max(0, int(v0)) and d[0] + len(d[1]) >= min(frames, int(v1) + 1)):
                self._detail_timer.start()
        else:
            self.view.detail = None

    def _scrolled(self, value: int) -> None:
        if not self._syncing_scroll:
            self.view.set_view(value * getattr(self, "_scale", 1), self.view.spp)

    def zoom_to_selection(self) -> None:
        """Fit the selected segment in the view."""
        seg = self.model.selected
        if seg is not None:
            self.view.zoom_to(seg.start_sample, seg.end_sample)

    def _fill_table(self) -> None:
        from s2f_desktop.gui.waveform import speaker_color

        segs = self.model.segments()
        sr = self.model.sample_rate
        speakers = self.model.speakers()
        editable = {self.COL_START, self.COL_END, self.COL_SPEAKER, self.COL_LABEL}
        self.table.blockSignals(True)
        self.table.setRowCount(len(segs))
        for r, s in enumerate(segs):
            vals = [format_time(s.start_sample / sr, 0.001), format_time(s.end_sample / sr, 0.001),
                    f"{(s.end_sample - s.start_sample) / sr:.2f} s",
                    s.status.value + (f" ({s.confidence:.0%})" if s.confidence is not None and
                                      s.status is SegmentStatus.SUGGESTED else ""),
                    s.speaker_tag, s.label]
            color = speaker_color(s.speaker_tag, speakers)
            for c, v in enumerate(vals):
                item = QTableWidgetItem(v)
                item.setData(Qt.ItemDataRole.UserRole, s.id)
                if c not in editable:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if c == self.COL_SPEAKER and color is not None:
                    item.setBackground(color)
                    item.setForeground(Qt.GlobalColor.black)
                self.table.setItem(r, c, item)
        self.table.blockSignals(False)
        self._select_row(self.model.selected_id)

    def _select_row(self, _seg_id: str | None) -> None:
        """Mirror the model's (multiple) selection into the table."""
        from PySide6.QtCore import QItemSelection, QItemSelectionModel

        chosen = set(self.model.selected_ids)
        self.table.blockSignals(True)
        sm = self.table.selectionModel()
        sel = QItemSelection()
        last = self.table.columnCount() - 1
        primary_item = None
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) in chosen:
                sel.select(self.table.model().index(r, 0), self.table.model().index(r, last))
                if item.data(Qt.ItemDataRole.UserRole) == self.model.selected_id:
                    primary_item = item
        sm.blockSignals(True)
        sm.select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        sm.blockSignals(False)
        if primary_item is not None:
            self.table.scrollToItem(primary_item)
        self.table.blockSignals(False)
        self.table.viewport().update()

    def _row_selected(self) -> None:
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        items = [self.table.item(r, 0) for r in rows]
        ids = [it.data(Qt.ItemDataRole.UserRole) for it in items if it is not None]
        current = self.table.currentRow()
        cur_item = self.table.item(current, 0) if current >= 0 else None
        primary = cur_item.data(Qt.ItemDataRole.UserRole) if cur_item is not None else None
        self.model.select_many(ids, primary if primary in ids else None)
        seg = self.model.selected
        v0, v1 = self.view.visible_range
        if seg is not None and (seg.end_sample < v0 or seg.start_sample > v1):
            self.view.set_view(seg.start_sample - (v1 - v0) * 0.1, self.view.spp)

    def _double_clicked(self, row: int, col: int) -> None:
        if col not in (self.COL_START, self.COL_END, self.COL_SPEAKER, self.COL_LABEL):
            self._zoom_row(row)

    def _cell_edited(self, item: QTableWidgetItem) -> None:
        """A typed start/end (seconds, m:ss or h:mm:ss), speaker or label becomes an undoable edit.

        Applied from the event loop, after the cell editor has closed (the edit refills the table).
        """
        seg_id, col, text = item.data(Qt.ItemDataRole.UserRole), item.column(), item.text().strip()
        QTimer.singleShot(0, lambda: self._apply_cell_edit(seg_id, col, text))

    def _apply_cell_edit(self, seg_id: str, col: int, text: str) -> None:
        from s2f_desktop.core.errors import InputError
        from s2f_desktop.services.segments import parse_time

        seg = self.model.get(seg_id)
        if seg is None:
            return
        try:
            if col in (self.COL_START, self.COL_END):
                sample = int(round(parse_time(text) * self.model.sample_rate))
                start, end = (sample, seg.end_sample) if col == self.COL_START else (seg.start_sample, sample)
                if end <= start:
                    raise InputError("the end must come after the start")
                if (start, end) != (seg.start_sample, seg.end_sample):
                    self.move_segment(seg.id, start, end)
            elif col == self.COL_SPEAKER and text != seg.speaker_tag:
                self._push(undo.ChangeSegmentCommand(self.ctx, self.model, seg, f"Speaker '{text}'",
                                                     speaker_tag=text), "Set speaker")
            elif col == self.COL_LABEL and text != seg.label:
                self._push(undo.label_command(self.ctx, self.model, seg, text), "Label segment")
        except InputError as exc:
            self.reporter.report(exc, "Edit segment")
        # show the stored value (the edit either went through, and the model refilled the
        # table, or it was refused and the old value comes back)
        self._fill_table()

    # ------------------------------------------------------------------ bulk (speaker-first) actions
    def selected_segments(self) -> list[Segment]:
        """Every selected segment (table or waveform), in time order."""
        return self.model.selected_segments()

    def _bulk(self, segs: list[Segment], text: str, action: str, context: str, **fields: Any) -> int:
        if not segs:
            return 0
        if len(segs) == 1 and "status" in fields:
            ok = self._push(undo.status_command(self.ctx, self.model, segs[0],
                                                fields["status"] == SegmentStatus.ACCEPTED.value), context)
            return int(ok)
        ok = self._push(undo.BulkChangeCommand(self.ctx, self.model, segs, text, action, **fields), context)
        return len(segs) if ok else 0

    def set_status_of_selected(self, accept: bool) -> int:
        """Accept or reject every selected segment not already so (one undo step)."""
        target = SegmentStatus.ACCEPTED if accept else SegmentStatus.REJECTED
        segs = [s for s in self.selected_segments() if s.status is not target]
        verb = "Accept" if accept else "Reject"
        return self._bulk(segs, f"{verb} {len(segs)} segment(s)", f"segment.bulk_{verb.lower()}",
                          f"{verb} segments", status=target.value)

    def label_selection(self, label: str) -> int:
        """Give every selected segment the same label (one undo step)."""
        segs = self.selected_segments()
        return self._bulk(segs, f"Label {len(segs)} segment(s) '{label.strip()}'", "segment.bulk_label",
                          "Label segments", label=label.strip())

    def set_speaker_of_selected(self, tag: str) -> int:
        """Put every selected segment in a speaker group (empty: no group); one undo step."""
        segs = self.selected_segments()
        return self._bulk(segs, f"Speaker '{tag.strip()}' for {len(segs)} segment(s)", "segment.bulk_speaker",
                          "Set speaker", speaker_tag=tag.strip())

    def select_matching(self, speaker: str | None = None, label: str | None = None) -> int:
        """Select every segment of a speaker group (or with a label); returns how many."""
        ids = [s.id for s in self.model.segments()
               if (speaker is None or s.speaker_tag == speaker) and (label is None or s.label == label)]
        self.model.select_many(ids)
        return len(ids)

    def apply_speaker_groups(self, groups: dict[str, list[str]]) -> int:
        """Assign confirmed speaker groups ``{tag: [segment ids]}`` as one undo step."""
        changes = [(tag, [s for s in (self.model.get(i) for i in ids) if s is not None])
                   for tag, ids in groups.items()]
        n = sum(len(segs) for _t, segs in changes)
        if not n:
            return 0
        self.undo_stack.beginMacro(f"Speaker groups for {n} segment(s)")
        try:
            for tag, segs in changes:
                if segs:
                    self._push(undo.BulkChangeCommand(self.ctx, self.model, segs, f"Speaker '{tag}'",
                                                      "segment.speaker_groups", speaker_tag=tag), "Speaker groups")
        finally:
            self.undo_stack.endMacro()
        return n

    def _zoom_row(self, row: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.model.select(item.data(Qt.ItemDataRole.UserRole))
            self.zoom_to_selection()

    def _request_detail(self) -> None:
        """Decode the samples around the view (three screens) so deep zoom shows real samples."""
        if self.evidence is None or self.model.overview is None or self.view.spp > DETAIL_MAX_SPP:
            return
        from s2f_desktop.services import audio as audio_svc

        v0, v1 = self.view.visible_range
        span = v1 - v0
        a = max(0, int(v0 - span))
        b = min(self.model.frames, int(v1 + span) + 1)
        evidence = self.evidence

        def work(task: Any) -> np.ndarray:
            x = np.asarray(audio_svc.read_evidence(self.ctx, evidence, a, b), dtype=np.float32)
            return x if x.ndim == 1 else x.mean(axis=1)

        def done(x: np.ndarray) -> None:
            if self.evidence is not None and evidence.id == self.evidence.id:
                self.view.detail = (a, x)
                self.view.update()
                self.detail_ready.emit()

        self.runner.submit("detail", work, on_success=done, on_error=lambda e: self.reporter.report(e, "Waveform"))

    # ------------------------------------------------------------------ spectrogram
    def set_spectrogram(self, on: bool) -> None:
        """Show or hide the spectrogram band."""
        self.view.show_spectrogram = on
        self.view._peak_cache = None
        if on:
            self._request_spectrogram()
        else:
            self.runner.cancel("spectrogram")
            self.runner.cancel("tracks")
        self.view.update()

    def set_tracks(self, on: bool) -> None:
        """Show or hide F0 and formant tracks over the spectrogram (turns the spectrogram on)."""
        self.view.show_tracks = on
        if on and not self.view.show_spectrogram:
            self.set_spectrogram(True)
        elif on:
            self._request_tracks()
        else:
            self.runner.cancel("tracks")
        self.view.update()

    def _request_tracks(self) -> None:
        """Compute the tracks of the spectrogram's range off the GUI thread (Praat, parselmouth)."""
        tile = self.view.spectrogram
        if not self.view.show_tracks or tile is None or self.evidence is None:
            return
        cur = self.view.tracks
        if cur is not None and (cur.start, cur.end) == (tile.start, tile.end):
            return
        from s2f_desktop.gui.waveform import TrackTile, argb_to_qimage, tracks_rgba
        from s2f_desktop.services import inspection

        evidence, start, end, max_hz = self.evidence, tile.start, tile.end, tile.max_hz
        # One image pixel per screen pixel (the tile spans the view it was requested for), so
        # the 2x2 dots survive the blit instead of being dropped by downscaling.
        x0, x1 = self.view.sample_to_x(start), self.view.sample_to_x(end)
        width = max(64, min(4096, int(round(x1 - x0))))
        height = max(64, min(2048, int(self.view.spectrogram_rect().height())))
        sr = self.model.sample_rate

        def work(task: Any) -> tuple[np.ndarray, float]:
            tr = inspection.evidence_tracks(self.ctx, evidence, start, end)
            task.check()
            f0_max = 500.0 if not np.isfinite(tr.f0_hz).any() or np.nanmax(tr.f0_hz) < 450 else 800.0
            return tracks_rgba(tr.times_s, tr.f0_hz, tr.formants_hz, (end - start) / sr, width, height, max_hz,
                               f0_max), f0_max

        def done(res: tuple[np.ndarray, float]) -> None:
            if self.evidence is None or evidence.id != self.evidence.id:
                return
            self.view.tracks = TrackTile(start, end, argb_to_qimage(res[0]), res[1])
            self.view.update()
            self.tracks_ready.emit()

        self.runner.submit("tracks", work, on_success=done, on_error=lambda e: self.reporter.report(e, "Tracks"))

    def measure_selection(self) -> None:
        """Praat measures of the selected segments only (joined), never of the audio between them."""
        chosen = self.model.selected_segments()
        if self.evidence is None or not chosen:
            self.status_message.emit("Select a segment to measure")
            return
        from s2f_desktop.services import inspection

        evidence = self.evidence
        ranges = [(g.start_sample, g.end_sample) for g in chosen]
        a, b = min(r[0] for r in ranges), max(r[1] for r in ranges)
        self.measure_label.setText("Measuring the selection…")
        self.measure_label.show()

        def done(m: Any) -> None:
            what = "Selection" if m.n_parts == 1 else f"{m.n_parts} selected segments within"
            self.measure_label.setText(f"<b>{what} {format_time(m.start_s, 0.001)}–{format_time(m.end_s, 0.001)}"
                                       f"</b>: {m.text()}")
            self.measured.emit(m)

        self.runner.submit("measure", lambda task: inspection.selection_measures(self.ctx, evidence, a, b, ranges),
                           on_success=done, on_error=lambda e: self.reporter.report(e, "Measure selection"))

    def _request_spectrogram(self) -> None:
        if not self.view.show_spectrogram or self.evidence is None or self.model.overview is None:
            return
        sr = self.model.sample_rate
        v0, v1 = self.view.visible_range
        start, end = max(0, int(v0)), min(self.model.frames, int(v1))
        if (end - start) / sr > MAX_SPECTROGRAM_S:
            self.view.spectrogram = None
            self.view.spectrogram_note = f"Zoom in below {MAX_SPECTROGRAM_S:.0f} s to see the spectrogram"
            self.view.update()
            return
        cur = self.view.spectrogram
        if cur is not None and cur.start == start and cur.end == end:
            return
        self.view.spectrogram_note = "" if cur is not None else "computing spectrogram…"
        from s2f_desktop.services import audio as audio_svc

        evidence = self.evidence
        width = max(64, min(2048, self.view.width()))

        def work(task: Any) -> tuple[np.ndarray, float]:
            db, freqs, _times = audio_svc.evidence_spectrogram(self.ctx, evidence, start, end, max_columns=width)
            task.check()
            return spectrogram_rgb(db), float(freqs[-1]) if len(freqs) else sr / 2

        def done(res: tuple[np.ndarray, float]) -> None:
            rgb, max_hz = res
            self.view.spectrogram = SpectrogramTile(start, end, rgb_to_qimage(rgb), max_hz)
            self.view.spectrogram_note = ""
            self.view.update()
            self.spectrogram_ready.emit()
            self._request_tracks()

        self.runner.submit("spectrogram", work, on_success=done,
                           on_error=lambda e: self.reporter.report(e, "Spectrogram"))

    # ------------------------------------------------------------------ playback
    def toggle_playback(self) -> None:
        """Play the selected segment (or from the cursor); stop if playing."""
        if self.player is not None:
            self.stop_playback()
            return
        if self.evidence is None or self.model.overview is None:
            return
        if not self.playback_available:
            self.status_message.emit(NO_OUTPUT_MESSAGE)
            return
        sr = self.model.sample_rate
        chosen = self.model.selected_segments()
        if chosen:  # the selection: from the first selected segment's start to the last one's end
            start, end = min(s.start_sample for s in chosen), max(s.end_sample for s in chosen)
        else:
            start = self.view.cursor_sample if self.view.cursor_sample is not None else int(self.view.visible_range[0])
            end = min(self.model.frames, int(max(self.view.visible_range[1], start + sr)))
        from s2f_desktop.services import audio as audio_svc

        evidence = self.evidence

        def load(task: Any) -> np.ndarray:
            return audio_svc.read_evidence(self.ctx, evidence, start, end)

        self.runner.submit("play-load", load, on_success=lambda x: self._start_player(x, sr, start),
                           on_error=lambda e: self.reporter.report(e, "Playback"))

    def _start_player(self, x: np.ndarray, sr: int, offset: int) -> None:
        from s2f_desktop.audio.devices import Player

        self._play_offset = offset
        self._last_play = (x, sr, offset)
        try:
            player = self.player_factory() if self.player_factory else Player()
        except Exception as exc:
            self._output_failed(exc)
            return
        self.player = player
        self.view.set_playhead(offset)
        self.playback_state.emit(True)
        try:
            # Callbacks run on the audio thread: they only emit signals (queued to the GUI).
            player.play(x, sr, on_position=lambda pos: self._relay.position.emit(int(pos)),
                        on_finished=self._relay.finished.emit, start_offset=offset,
                        device=self.output_device or None)
        except Exception as exc:
            self.player = None
            self.view.set_playhead(None)
            self.playback_state.emit(False)
            self._output_failed(exc)

    def _output_failed(self, exc: BaseException) -> None:
        """No usable sound output: say so in plain words, switch playback off, watch for a device."""
        log.warning("playback unavailable: %s", exc)
        self.set_playback_available(False)
        self.status_message.emit(NO_OUTPUT_MESSAGE)
        self._device_timer.start()

    def set_playback_available(self, on: bool) -> None:
        """Enable or disable playback (the menu follows ``playback_availability``)."""
        if on != self.playback_available:
            self.playback_available = on
            self.playback_availability.emit(on)

    def _probe_output(self) -> None:
        """Look for an output device off the GUI thread; playback comes back when one appears."""
        from s2f_desktop.audio.devices import list_output_devices

        def found(devices: list[Any]) -> None:
            if devices:
                self._device_timer.stop()
                self.set_playback_available(True)
                self.status_message.emit("A sound output device is available again: playback is on")

        self.runner.submit("output-probe", lambda task: list_output_devices(), on_success=found,
                           on_error=lambda e: log.debug("output probe: %s", e))

    def set_output_device(self, name: str) -> None:
        """Use this output device (empty: the system default); a failed device may work now, so retry."""
        self.output_device = name
        self.set_playback_available(True)
        self._device_timer.stop()

    def _scrubbed(self, sample: int) -> None:
        """While playing, a cursor dragged along the ruler makes playback continue from there."""
        if self.player is None:
            return
        self.stop_playback()
        self.play_from(sample)

    def play_from(self, sample: int) -> None:
        """Play from ``sample`` to the end of the view (at least one second), ignoring the selection."""
        if self.evidence is None or self.model.overview is None or not self.playback_available:
            return
        sr = self.model.sample_rate
        start = max(0, min(int(sample), self.model.frames - 1))
        end = min(self.model.frames, int(max(self.view.visible_range[1], start + sr)))
        from s2f_desktop.services import audio as audio_svc

        evidence = self.evidence
        self.runner.submit("play-load", lambda task: audio_svc.read_evidence(self.ctx, evidence, start, end),
                           on_success=lambda x: self._start_player(x, sr, start),
                           on_error=lambda e: self.reporter.report(e, "Playback"))

    def set_loop(self, on: bool) -> None:
        """Repeat the played range until stopped."""
        self.loop = bool(on)

    def stop_playback(self) -> None:
        """Stop playing (no-op when silent)."""
        player, self.player = self.player, None
        if player is not None:
            try:
                player.stop()
            except Exception:  # a failing device must not block closing
                log.warning("stopping playback failed", exc_info=True)
        self.view.set_playhead(None)
        self.playback_state.emit(False)

    def _playback_finished(self) -> None:
        if self.player is None and self.view.playhead is None:
            return  # already handled (stop() and the stream's end both report)
        if self.loop and self.player is not None and self._last_play is not None:
            # Reached the end by itself: play the range again, from the event loop (never from
            # inside the stream's own callback chain). A stop meanwhile cancels the replay.
            looping = self.player
            self._loop_token = looping

            def again() -> None:
                if self._loop_token is looping and self.player is looping and self._last_play is not None:
                    self.player = None
                    self._start_player(*self._last_play)

            QTimer.singleShot(0, again)
            return
        self.player = None
        self.view.set_playhead(None)
        self.playback_state.emit(False)
