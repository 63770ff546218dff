"""Speaker grouping suggested from the voices, confirmed by the analyst.

The suggestion comes from :func:`s2f_desktop.services.analysis.speaker_groups`
(speaker embeddings, clustered) and is only shown: nothing is stored until the analyst
names the groups and presses *Apply*, and then it is one undoable, audited edit
attributed to the analyst. Groups the analyst leaves unnamed are not applied.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import Evidence, Segment
from s2f_desktop.core.timeutil import fmt_clock
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.waveform import speaker_color
from s2f_desktop.gui.workers import JobRunner


def default_tag(i: int) -> str:
    """A, B, C, … Z, then S27, S28, …"""
    return chr(ord("A") + i) if i < 26 else f"S{i + 1}"


class SpeakerGroupsDialog(QDialog):
    """Runs the grouping in a worker, lists the groups, lets the analyst name them, then emits them."""

    confirmed = Signal(dict)  # {speaker tag: [segment ids]}
    suggested = Signal(list)  # the groups as computed (list of id lists)

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, evidence: Evidence,
                 segments: list[Segment], device: str = "auto", parent: QWidget | None = None,
                 other_speakers: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Speaker groups — {evidence.original_name}")
        self.setMinimumWidth(640)
        self.ctx, self.runner, self.reporter = ctx, runner, reporter
        self.evidence, self.segments, self.device = evidence, {s.id: s for s in segments}, device
        self.groups: list[list[str]] = []
        self.not_judged: list[str] = []
        #: Speaker tags of this recording's segments outside the grouping (their colours must not move).
        self.other_speakers = list(other_speakers or [])
        self.note = QLabel("Comparing the voices of the accepted segments…")
        self.note.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("groupTable")
        self.table.setHorizontalHeaderLabels(["Speaker", "Segments", "Where"])
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 160)
        self.table.setToolTip("One row per suggested group. Type the speaker name to use (e.g. A, caller); "
                              "leave it empty to keep that group's segments ungrouped; the same name on two rows "
                              "merges them. The colour is the one the group will have on the waveform.")
        self.table.itemChanged.connect(lambda _item: self._recolour())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Cancel)
        self.apply_btn = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_btn.setEnabled(False)
        self.apply_btn.setToolTip("Store these speaker groups (one undoable step, in the audit trail)")
        self.apply_btn.clicked.connect(self._apply)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.note)
        lay.addWidget(self.table, 1)
        lay.addWidget(QLabel("<small>A suggestion from voice similarity, not an identification: listen before "
                             "you apply, and correct single segments afterwards in the segment table.</small>"))
        lay.addWidget(self.buttons)
        self.finished.connect(lambda _r: self.runner.cancel("speaker-groups"))

    def start(self) -> None:
        """Compute the suggestion off the GUI thread."""
        from s2f_desktop.services import analysis as analysis_svc

        ids = [s.id for s in sorted(self.segments.values(), key=lambda s: s.start_sample)]
        ev_id, device = self.evidence.id, self.device
        self.runner.submit("speaker-groups",
                           lambda task: analysis_svc.speaker_groups(self.ctx, ev_id, ids, device=device, task=task),
                           on_success=self.show_groups,
                           on_error=self._failed,
                           on_progress=lambda f, m: self.note.setText(
                               f"Comparing the voices of the accepted segments… {max(0.0, f):.0%}"))

    def _failed(self, exc: BaseException) -> None:
        self.note.setText("The grouping could not be computed.")
        self.reporter.report(exc, "Speaker groups")

    def show_groups(self, grouping: tuple[list[list[str]], list[str]]) -> None:
        """Fill the table with the suggested groups (largest first); segments too short to judge are named
        in the note and keep their speaker (none is suggested for them)."""
        groups, not_judged = grouping
        self.groups = [list(g) for g in groups]
        self.not_judged = list(not_judged)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.groups))
        for r, ids in enumerate(self.groups):
            tag = QTableWidgetItem(default_tag(r))
            tag.setForeground(Qt.GlobalColor.black)
            self.table.setItem(r, 0, tag)
            n = QTableWidgetItem(str(len(ids)))
            n.setFlags(n.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(r, 1, n)
            segs = sorted((self.segments[i] for i in ids if i in self.segments), key=lambda s: s.start_sample)
            where = ", ".join(f"{fmt_clock(s.start_s)}–{fmt_clock(s.end_s)}" for s in segs[:8])
            w = QTableWidgetItem(where + (" …" if len(segs) > 8 else ""))
            w.setFlags(w.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(r, 2, w)
        self.table.blockSignals(False)
        self._recolour()
        note = f"{len(self.groups)} group(s) of similar voices were found. Name each group to apply it."
        if self.not_judged:
            short = sorted((self.segments[i] for i in self.not_judged if i in self.segments),
                           key=lambda s: s.start_sample)
            where = ", ".join(f"{fmt_clock(s.start_s)}–{fmt_clock(s.end_s)}" for s in short[:6])
            note += (f"\n{len(self.not_judged)} segment(s) have too little speech to compare and are left out of the "
                     f"groups: {where}{' …' if len(short) > 6 else ''}.")
        self.note.setText(note)
        self.apply_btn.setEnabled(bool(self.groups))
        self.suggested.emit(self.groups)

    def _recolour(self) -> None:
        """Each name in the colour it will have on the waveform (tags sorted, as the view does)."""
        tags = sorted(set(self.other_speakers) | set(self.named_groups()))
        self.table.blockSignals(True)
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is None:
                continue
            color = speaker_color(item.text().strip(), tags)
            item.setBackground(color if color is not None else Qt.GlobalColor.white)
        self.table.blockSignals(False)

    def named_groups(self) -> dict[str, list[str]]:
        """``{tag: ids}`` for the rows the analyst named (rows with the same name are merged)."""
        out: dict[str, list[str]] = {}
        for r, ids in enumerate(self.groups):
            item = self.table.item(r, 0)
            tag = item.text().strip() if item is not None else ""
            if tag:
                out.setdefault(tag, []).extend(ids)
        return out

    def _apply(self) -> None:
        groups = self.named_groups()
        if groups:
            self.confirmed.emit(groups)
        self.accept()
