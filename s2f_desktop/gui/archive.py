"""Archive page: search an archive index for the voice of the current case's segments.

The analyst chooses an index folder (built with ``s2f archive index``), ticks the case's
accepted segments that hold the questioned voice, sets filters (sex and age labels as the
trait models stored them, worst quality accepted) and searches. Hits are listed best
first with the score, the log10 likelihood ratio and its verbal wording when a calibrated
comparison model is installed (otherwise the page says the ranking is an uncalibrated
cosine similarity), and the stored labels. A hit's longest turn can be played, and a hit
can be imported into the case: that is the normal, audited evidence import plus an
``archive.import`` event and a segment for the turn. All work runs in the job runner;
this widget only shows results.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import SegmentStatus
from s2f_desktop.core.timeutil import fmt_clock
from s2f_desktop.core.traits import AGE_BINS
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.pages import JobPage, split_page
from s2f_desktop.gui.workers import JobRunner
from s2f_desktop.report.language import fmt_probability

log = logging.getLogger(__name__)

HIT_COLUMNS = ("#", "cosine", "log10 LR", "verbal", "recording", "voice", "longest turn", "sex", "age", "quality")
#: Header tooltips: what each column is and how the list is ordered.
HIT_TIPS = {"#": "Rank: by calibrated log10 LR when the comparison model is installed (abstentions last), "
                 "otherwise by cosine",
            "cosine": "Cosine similarity of the two voice embeddings (the uncalibrated score). With a calibrated "
                      "model the list is ranked by LR, which also weighs net speech, so this column need not fall "
                      "from row to row",
            "voice": "Which of the recording's probable speakers (as the index grouped its turns) this hit is",
            "sex": "The stored estimate of the indexed speaker: label and P(male)",
            "age": "The stored estimate of the indexed speaker: median and 80 % interval (no band label is given)"}


def hit_traits(h: dict[str, Any]) -> tuple[str, str]:
    """A hit's stored sex and age as shown: the label with P(male); the median with its 80 % interval
    (an age without a band label is an answer, not an abstention)."""
    sx, age = h["sex"], h["age"]
    if h.get("quality") == "insufficient" and sx["label"] == age["label"] == "inconclusive":
        # The gate stopped this speaker's estimate when it was indexed: its numbers are not findings.
        return "abstained (quality insufficient)", "abstained (quality insufficient)"
    sex = str(sx["label"]) + (f" (P(male) {fmt_probability(sx['p_male'])})" if sx.get("p_male") is not None else "")
    lo, hi = age.get("interval_80") or (None, None)
    if age.get("median_years") is None or lo is None or hi is None:
        return sex, str(age["label"])
    band = "" if age["label"] == "inconclusive" else f"{age['label']}: "
    return sex, f"{band}{age['median_years']:.0f} y (80 % {lo:.0f}–{hi:.0f})"
LEAD_NOTE = "A hit is a recording worth listening to: an investigative lead, never an identification."


class _PlaybackRelay(QObject):
    finished = Signal()


class ArchivePanel(JobPage):
    """Search an archive index from the current case's segments; listen to and import hits."""

    status_message = Signal(str)
    search_finished = Signal(object)  # SearchResult
    evidence_imported = Signal(object)  # HitImport
    playback_state = Signal(bool)

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(ctx, runner, reporter, parent)
        self.case: Any = None
        self.closed = False
        self.device = "auto"
        self.hits: list[dict[str, Any]] = []
        self.result: Any = None
        self.player: Any = None
        #: Creates the audio Player (tests inject one with a fake output stream).
        self.player_factory: Any = None
        self._relay = _PlaybackRelay(self)
        self._relay.finished.connect(self._playback_finished)

        self.index_edit = QLineEdit()
        self.index_edit.setObjectName("archiveIndex")
        self.index_edit.setPlaceholderText("index folder made by `s2f archive index`")
        self.index_edit.editingFinished.connect(self.refresh_index_info)
        self.choose_btn = QPushButton("Choose…")
        self.choose_btn.clicked.connect(self.choose_index)
        self.index_edit.setToolTip("The folder of an archive index made by `s2f archive index` (read-only here)")
        self.choose_btn.setToolTip("Choose the archive index folder")
        self.index_info = QLabel("<i>No index chosen.</i>")
        self.index_info.setWordWrap(True)

        self.seg_list = QListWidget()
        self.seg_list.setObjectName("archiveQuerySegments")
        self.seg_list.setToolTip("Tick the case's segments of the voice to search for (the questioned voice)")
        self.sex_combo = QComboBox()
        self.sex_combo.addItem("any", None)
        self.sex_combo.addItem("female (as labelled)", "female")
        self.sex_combo.addItem("male (as labelled)", "male")
        self.age_boxes = {b: QCheckBox(b) for b in AGE_BINS}
        self.sex_combo.setToolTip("Keep only speakers whose stored sex label is this (labels can abstain; "
                                  "an investigative filter, not a finding)")
        for bin_name, age_box in self.age_boxes.items():
            age_box.setToolTip(f"Keep speakers whose 80 % age interval reaches into {bin_name} (no band label is "
                               "validated, so the interval decides)")
        self.quality_combo = QComboBox()
        for text, val in (("any", None), ("ok only", "ok"), ("ok or warn", "warn")):
            self.quality_combo.addItem(text, val)
        self.top_spin = QSpinBox()
        self.top_spin.setRange(1, 500)
        self.top_spin.setValue(20)
        self.quality_combo.setToolTip("Keep only recordings whose stored quality verdict is at least this")
        self.top_spin.setToolTip("How many hits to list, best first")
        self.search_btn = QPushButton("Search archive")
        self.search_btn.setObjectName("archiveSearch")
        self.search_btn.clicked.connect(self.search)
        self.search_btn.setToolTip("Rank the index's speakers against the ticked segments (calibrated likelihood "
                                   "ratio when the comparison model is installed)")

        self.table = QTableWidget(0, len(HIT_COLUMNS))
        self.table.setObjectName("archiveHits")
        self.table.setHorizontalHeaderLabels(list(HIT_COLUMNS))
        for c, name in enumerate(HIT_COLUMNS):
            header = self.table.horizontalHeaderItem(c)
            if header is not None and name in HIT_TIPS:
                header.setToolTip(HIT_TIPS[name])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.setToolTip("Hits, best first: recording, speaker group, time range, LR and its words")
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.listen_btn = QPushButton("Listen to hit")
        self.listen_btn.clicked.connect(self.toggle_listen)
        self.listen_btn.setToolTip("Play the selected hit's time range (read from the archive, not copied)")
        self.import_btn = QPushButton("Import hit into case")
        self.import_btn.setObjectName("archiveImport")
        self.import_btn.clicked.connect(self.import_selected)
        self.import_btn.setToolTip("Import the selected hit's recording into the open case as evidence (hashed "
                                   "into the vault; the archive path and index entry go to the audit trail)")

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.index_edit, 1)
        row.addWidget(self.choose_btn)
        ll.addWidget(QLabel("<b>Archive index</b>"))
        ll.addLayout(row)
        ll.addWidget(self.index_info)
        ll.addWidget(QLabel("<b>Query voice</b>: accepted segments of this case (tick the questioned voice)"))
        ll.addWidget(self.seg_list, 1)
        form = QFormLayout()
        form.addRow("Sex", self.sex_combo)
        ages = QHBoxLayout()
        for b in self.age_boxes.values():
            ages.addWidget(b)
        # No age band label is given (the model abstains on it); a ticked band keeps the speakers
        # whose 80 % interval reaches into it, as `s2f archive search --age` does.
        age_label = QLabel("Age")
        age_label.setToolTip("Keeps speakers whose 80 % age interval reaches into a ticked band "
                             "(no age band label is given)")
        form.addRow(age_label, ages)
        form.addRow("Quality", self.quality_combo)
        form.addRow("Hits", self.top_spin)
        ll.addLayout(form)
        ll.addWidget(self.search_btn)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.table, 1)
        rl.addWidget(self.notes)
        acts = QHBoxLayout()
        acts.addWidget(self.listen_btn)
        acts.addWidget(self.import_btn)
        acts.addStretch(1)
        rl.addLayout(acts)

        split_page(self, (left, right), stretch=(2, 5), sizes=(420, 1160))
        self.set_case(None)

    # ------------------------------------------------------------------ state
    def set_device(self, device: str) -> None:
        """Inference device preference for the query embedding."""
        self.device = device

    def set_case(self, case: Any) -> None:
        """Show a case's accepted segments as query candidates (None: no case)."""
        from s2f_desktop.core.models import CaseStatus

        self.case = case
        self.closed = case is not None and case.status is CaseStatus.CLOSED
        self.refresh_segments()
        self._update_buttons()

    def refresh_segments(self) -> None:
        """Reload the case's accepted segments (ticks are kept by id)."""
        from s2f_desktop.store import repositories as repo

        checked = set(self.checked_ids())
        self.seg_list.clear()
        if self.case is None:
            return
        with self.ctx.store.read() as s:
            segs = repo.list_case_segments(s, self.case.id)
            evidence = {e.id: e for e in repo.list_evidence(s, self.case.id)}
        for seg in segs:
            if seg.status is not SegmentStatus.ACCEPTED:
                continue
            ev = evidence.get(seg.evidence_id)
            text = (f"{ev.original_name if ev else seg.evidence_id}  {fmt_clock(seg.start_s)}–"
                    f"{fmt_clock(seg.end_s)}" + (f"  “{seg.label}”" if seg.label else ""))
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, seg.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if seg.id in checked else Qt.CheckState.Unchecked)
            self.seg_list.addItem(item)

    def checked_ids(self) -> list[str]:
        """Ticked segment ids, in list order."""
        return [self.seg_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.seg_list.count())
                if self.seg_list.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, ids: list[str]) -> None:
        """Tick exactly these segments."""
        for i in range(self.seg_list.count()):
            item = self.seg_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in set(ids)
                               else Qt.CheckState.Unchecked)

    def set_index(self, path: Path | str) -> None:
        """Use this index folder."""
        self.index_edit.setText(str(path))
        self.refresh_index_info()

    def choose_index(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose an archive index folder", self.index_edit.text())
        if path:
            self.set_index(path)

    def refresh_index_info(self) -> None:
        """Summarise the chosen index (in a worker: it reads the Parquet files)."""
        from s2f_desktop.services import archive as svc

        path = self.index_edit.text().strip()
        if not path:
            self.index_info.setText("<i>No index chosen.</i>")
            return

        def done(st: dict[str, Any]) -> None:
            parts = [f"{k['recordings']} recordings ({k['audio_hours']:.2f} h), {k['speaker_rows']} speakers, "
                     f"{len(k['errors'])} failed" for k in st["keys"].values()]
            self.index_info.setText(html.escape("; ".join(parts) or "the index holds no recordings yet"))

        self.runner.submit("archive-info", lambda task: svc.index_status(path), on_success=done,
                           on_error=lambda e: self.index_info.setText(
                               f"<span style='color:#b00020'>{html.escape(str(getattr(e, 'message', e)))}</span>"))

    def selected_hit(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        return self.hits[rows[0].row()] if rows and 0 <= rows[0].row() < len(self.hits) else None

    def _update_buttons(self) -> None:
        busy = self.runner.current("archive-search") is not None
        self.search_btn.setEnabled(self.case is not None and not busy)
        hit = self.selected_hit()
        self.listen_btn.setEnabled(hit is not None or self.player is not None)
        self.import_btn.setEnabled(hit is not None and self.case is not None and not self.closed)

    # ------------------------------------------------------------------ search
    def search(self) -> None:
        """Search the index with the ticked segments as the query voice (in a worker)."""
        from s2f_desktop.core.errors import InputError
        from s2f_desktop.services import archive as svc

        if self.case is None:
            return
        ids = self.checked_ids()
        index = self.index_edit.text().strip()
        if not index:
            self.reporter.report(InputError("choose an archive index folder first"), "Archive search")
            return
        if not ids:
            self.reporter.report(InputError("tick at least one accepted segment with the questioned voice"),
                                 "Archive search")
            return
        case_number, device = self.case.number, self.device
        sex = self.sex_combo.currentData()
        ages = [b for b, box in self.age_boxes.items() if box.isChecked()]
        quality = self.quality_combo.currentData()
        top = self.top_spin.value()

        def work(task: Any) -> Any:
            task.progress(0.1, "embedding the query voice")
            q = svc.query_from_segments(self.ctx, case_number, ids, device)
            task.progress(0.7, "searching the index")
            return svc.search_archive(index, q, sex=sex, age_bins=ages, min_quality=quality, top=top)

        self.search_btn.setEnabled(False)
        self.status_message.emit("Archive: searching…")
        def failed(e: Any) -> None:
            self.status_message.emit("Archive: search not run (see the message)")
            self.reporter.report(e, "Archive search")

        self.runner.submit("archive-search", work, on_success=self._show_result, on_error=failed,
                           on_done=self._update_buttons)

    def _show_result(self, res: Any) -> None:
        from s2f_desktop.archive.search import voice_of

        self.result = res
        self.hits = list(res.hits)
        self.table.setRowCount(len(self.hits))
        for r, h in enumerate(self.hits):
            lr = "–" if h["log10_lr"] is None else f"{h['log10_lr']:+.2f}"
            sex, age = hit_traits(h)
            vals = [h["rank"], f"{h['score']:.3f}", lr, h["verbal"] or "–", Path(h["path"]).name, voice_of(h),
                    f"{fmt_clock(h['start_s'])}–{fmt_clock(h['end_s'])}", sex, age, h["quality"]]
            for c, v in enumerate(vals):
                item = QTableWidgetItem(str(v))
                item.setToolTip(h["path"] if c == 4 else (h.get("abstain_reason") or "") if c in (2, 3) else "")
                self.table.setItem(r, c, item)
        lines = [f"{len(self.hits)} hits of {res.candidates} speakers passing the filters "
                 f"({res.searched_rows} rows in the index, {res.seconds * 1000:.0f} ms).",
                 f"Scoring: {res.scorer}."] + list(res.notes[1:]) + [LEAD_NOTE]
        self.notes.setText("<br>".join(html.escape(x) for x in lines))
        if self.hits:
            self.table.selectRow(0)
        self._update_buttons()
        self.status_message.emit(f"Archive: {len(self.hits)} hits")
        self.search_finished.emit(res)

    # ------------------------------------------------------------------ listen
    def toggle_listen(self) -> None:
        """Play the selected hit's longest turn (stop if playing)."""
        from s2f_desktop.services import archive as svc

        if self.player is not None:
            self.stop_playback()
            return
        hit = self.selected_hit()
        if hit is None:
            return
        index = self.index_edit.text().strip()
        self.runner.submit("archive-play-load",
                           lambda task: svc.read_hit_audio(index, hit["sha256"], hit["speaker"], path=hit["path"]),
                           on_success=self._start_player,
                           on_error=lambda e: self.reporter.report(e, "Playback"))

    def _start_player(self, loaded: tuple[Any, int]) -> None:
        from s2f_desktop.audio.devices import Player

        x, sr = loaded
        self.player = self.player_factory() if self.player_factory else Player()
        self.listen_btn.setText("Stop")
        self.playback_state.emit(True)
        try:
            self.player.play(x, sr, on_finished=self._relay.finished.emit)
        except Exception as exc:
            self._playback_finished()
            self.reporter.report(exc, "Playback")

    def stop_playback(self) -> None:
        """Stop playing (no-op when silent)."""
        player, self.player = self.player, None
        if player is not None:
            try:
                player.stop()
            except Exception:
                log.warning("stopping playback failed", exc_info=True)
        self._playback_finished()

    def _playback_finished(self) -> None:
        self.player = None
        self.listen_btn.setText("Listen to hit")
        self.playback_state.emit(False)
        self._update_buttons()

    # ------------------------------------------------------------------ import
    def import_selected(self) -> None:
        """Import the selected hit into the case (audited), in a worker."""
        from s2f_desktop.services import archive as svc

        hit = self.selected_hit()
        if hit is None or self.case is None:
            return
        case_number, index = self.case.number, self.index_edit.text().strip()

        def done(res: Any) -> None:
            what = "was already evidence" if res.already_present else "imported as evidence"
            self.status_message.emit(f"Archive: {res.evidence.original_name} {what} #{res.evidence.id}")
            self.refresh_segments()
            self.evidence_imported.emit(res)

        self.runner.submit("archive-import",
                           lambda task: svc.import_hit(self.ctx, case_number, index, hit["sha256"], hit["speaker"],
                                                       task=task),
                           on_success=done, on_error=lambda e: self.reporter.report(e, "Import from archive"))
