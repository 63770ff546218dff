"""Evidence page: the case's recordings (import by dialog or drag-and-drop) beside the waveform."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence, cast

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.errors import S2FError
from s2f_desktop.core.models import Evidence
from s2f_desktop.core.timeutil import format_time
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.pages import JobPage, split_page
from s2f_desktop.gui.waveform_panel import WaveformPanel
from s2f_desktop.gui.workers import JobRunner

#: File-dialog filter; the importer decides what is really audio.
AUDIO_FILTER = ("Audio and video (*.wav *.flac *.ogg *.mp3 *.m4a *.aac *.mp4 *.mov *.mkv *.webm *.opus *.aif *.aiff "
                "*.amr *.3gp *.wma);;All files (*)")


class FileDropFilter(QObject):
    """Event filter that accepts dropped local files on any widget and reports their paths.

    A filter (rather than overriding ``dropEvent``) also works on item views, whose
    viewport receives the drag events.
    """

    files_dropped = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = True

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        et = event.type()
        # DragEnter, DragMove and Drop events are all QDropEvents (PySide6 hands over the subclass).
        drop = cast(QDropEvent, event)
        if et in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if self.enabled and drop.mimeData().hasUrls():
                drop.acceptProposedAction()
                return True
        elif et == QEvent.Type.Drop:
            paths = [Path(u.toLocalFile()) for u in drop.mimeData().urls() if u.isLocalFile()]
            if self.enabled and paths:
                drop.acceptProposedAction()
                self.files_dropped.emit(paths)
                return True
        return False


class EvidencePage(JobPage):
    """Evidence of the open case and the waveform of the chosen item."""

    import_finished = Signal(list)  # list[ImportResult]
    evidence_selected = Signal(object)
    status_message = Signal(str)
    record_requested = Signal()

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(ctx, runner, reporter, parent)
        self.case_number: str | None = None
        self.items: list[Evidence] = []
        self.list = QListWidget()
        self.list.setObjectName("evidenceList")
        self.list.setToolTip("Recordings of the case; choose one to show its waveform. Drop files here to import.")
        self.drops = FileDropFilter(self)
        self.drops.files_dropped.connect(self.import_paths)
        self.list.setAcceptDrops(True)
        self.list.viewport().setAcceptDrops(True)
        self.list.viewport().installEventFilter(self.drops)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(2)
        self.list.currentRowChanged.connect(self._row_changed)
        self.import_btn = QPushButton("Import…")
        self.import_btn.setToolTip("Import recordings into the case (or drop files on the list)")
        self.import_btn.clicked.connect(self.import_dialog)
        self.record_btn = QPushButton("Record…")
        self.record_btn.setToolTip("Record new evidence from a microphone")
        self.record_btn.clicked.connect(self.record_requested)
        self.provenance_btn = QPushButton("Provenance…")
        self.provenance_btn.setToolTip("Record who delivered the selected exhibit, when, on what medium and its seal "
                                       "or reference (printed in the case report; audited)")
        self.provenance_btn.clicked.connect(self.provenance_dialog)
        self.closed = False
        self.hint = QLabel("Drop audio or video files here to import them.")
        self.hint.setWordWrap(True)
        self.hint.setObjectName("hint")
        self.errors = QLabel()
        self.errors.setObjectName("importErrors")
        self.errors.setWordWrap(True)
        self.errors.setStyleSheet("color: #e57373;")
        self.errors.hide()
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.import_btn)
        row.addWidget(self.record_btn)
        ll.addWidget(QLabel("<b>Evidence</b>"))
        ll.addLayout(row)
        ll.addWidget(self.list, 1)
        ll.addWidget(self.provenance_btn)
        ll.addWidget(self.hint)
        ll.addWidget(self.errors)
        ll.addWidget(self.details)
        self.waveform = WaveformPanel(ctx, runner, reporter)
        split_page(self, (left, self.waveform), stretch=(1, 5), sizes=(260, 1300))
        self.set_case(None)

    def set_case(self, case_number: str | None, closed: bool = False) -> None:
        """Show a case's evidence (None: no case open)."""
        self.case_number = case_number
        self.closed = closed
        self.provenance_btn.setEnabled(False)
        self.import_btn.setEnabled(case_number is not None and not closed)
        self.record_btn.setEnabled(case_number is not None and not closed)
        self.drops.enabled = case_number is not None and not closed
        self.errors.hide()
        self.waveform.clear()
        self.refresh()

    def refresh(self, select_id: int | None = None) -> None:
        """Reload the evidence list."""
        from s2f_desktop.services import evidence as ev_svc

        shown = self.current()
        keep = select_id if select_id is not None else (shown.id if shown else None)
        self.items = ev_svc.list_evidence(self.ctx, self.case_number) if self.case_number else []
        self.list.blockSignals(True)
        self.list.clear()
        row_to_select = -1
        for i, ev in enumerate(self.items):
            m = ev.media
            item = QListWidgetItem(f"#{ev.id}  {ev.original_name}\n{format_time(m.duration_s, 0.1)} · "
                                   f"{m.sample_rate / 1000:g} kHz · {m.channels} ch")
            item.setToolTip(f"{ev.original_name}\n{m.codec} in {m.container}\nsha256 {ev.sha256}\n"
                            f"imported {ev.imported_at:%Y-%m-%d %H:%M} UTC by {ev.imported_by}")
            self.list.addItem(item)
            if ev.id == keep:
                row_to_select = i
        self.list.blockSignals(False)
        if row_to_select < 0 and self.items and keep is None:
            row_to_select = 0
        if row_to_select >= 0:
            self.list.setCurrentRow(row_to_select)
            if self.waveform.evidence is None or self.waveform.evidence.id != self.items[row_to_select].id:
                self._row_changed(row_to_select)

    def current(self) -> Evidence | None:
        """The evidence item shown."""
        row = self.list.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    def _row_changed(self, row: int) -> None:
        if not (0 <= row < len(self.items)) or self.case_number is None:
            return
        ev = self.items[row]
        self.provenance_btn.setEnabled(not self.closed)
        prov = ", ".join(f"{name} {html.escape(value)}" for name, value in (
            ("from", ev.received_from), ("on", ev.received_on), ("medium", ev.medium), ("seal/ref.", ev.seal))
            if value)
        self.details.setText(f"<small>sha256 <tt>{ev.sha256[:16]}…</tt><br>original: {html.escape(ev.original_path)}"
                             + (f"<br>received: {prov}" if prov else "<br>provenance not recorded") + "</small>")
        self.waveform.load_evidence(self.case_number, ev)
        self.evidence_selected.emit(ev)

    # ------------------------------------------------------------------ provenance
    def provenance_dialog(self) -> QDialog | None:
        """Edit the selected exhibit's provenance (non-blocking; returns the dialog, for tests)."""
        ev = self.current()
        if ev is None or self.case_number is None or self.closed:
            return None
        dlg = QDialog(self)
        dlg.setObjectName("provenanceDialog")
        dlg.setWindowTitle(f"Provenance of exhibit #{ev.id}")
        form = QFormLayout(dlg)
        form.addRow(QLabel(f"<b>{html.escape(ev.original_name)}</b> (sha256 {ev.sha256[:16]}…)"))
        edits: dict[str, QLineEdit] = {}
        for key, label, tip in (("received_from", "Received from", "Who delivered the exhibit"),
                                ("received_on", "Received on", "When it was received (as written on the record)"),
                                ("medium", "Original medium", "e.g. USB stick, CD-R, e-mail attachment"),
                                ("seal", "Seal / reference", "Seal number or exhibit reference")):
            edit = QLineEdit(str(getattr(ev, key)))
            edit.setObjectName(f"prov_{key}")
            edit.setToolTip(tip)
            edits[key] = edit
            form.addRow(label, edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        form.addRow(buttons)
        dlg.edits = edits  # type: ignore[attr-defined]  # for tests

        def save() -> None:
            from s2f_desktop.services import cases as case_svc

            assert self.case_number is not None
            try:
                case_svc.set_provenance(self.ctx, self.case_number, ev.id,
                                        **{k: e.text() for k, e in edits.items()})
            except S2FError as exc:
                self.reporter.report(exc, "Exhibit provenance")
                return
            dlg.accept()
            self.refresh(select_id=ev.id)
            self._row_changed(self.list.currentRow())

        buttons.accepted.connect(save)
        buttons.rejected.connect(dlg.reject)
        dlg.open()
        return dlg

    # ------------------------------------------------------------------ import
    def import_dialog(self) -> None:
        """Pick files with a dialog, then import them."""
        if self.case_number is None:
            return
        paths, _ = QFileDialog.getOpenFileNames(self, "Import evidence", str(Path.home()), AUDIO_FILTER)
        if paths:
            self.import_paths([Path(p) for p in paths])

    def import_paths(self, paths: Sequence[Path]) -> None:
        """Import files off the GUI thread; per-file errors are listed under the evidence."""
        from s2f_desktop.services import evidence as ev_svc

        if self.case_number is None:
            self.reporter.report(S2FError("open a case before importing evidence"))
            return
        case_number = self.case_number
        paths = [Path(p) for p in paths]
        self.errors.hide()
        self.import_btn.setEnabled(False)
        self.runner.submit("import", lambda task: ev_svc.import_files(self.ctx, case_number, paths, task=task),
                           on_success=self._imported,
                           on_error=lambda e: self.reporter.report(e, "Import"),
                           on_progress=lambda f, m: self.status_message.emit(m),
                           on_done=lambda: self.import_btn.setEnabled(self.case_number is not None))

    def _imported(self, results: list[Any]) -> None:
        ok = [r for r in results if r.ok]
        bad = [r for r in results if not r.ok]
        if bad:
            # Errors already name their file ("x.wav: not a readable WAV file"): not twice.
            self.errors.setText("Not imported:\n" + "\n".join(
                f"• {r.error}" if r.error.startswith(f"{r.path.name}:") else f"• {r.path.name}: {r.error}"
                for r in bad))
            self.errors.show()
        last = ok[-1].evidence.id if ok else None
        self.refresh(select_id=last)
        dup = sum(1 for r in ok if r.already_present)
        self.status_message.emit(f"Imported {len(ok) - dup} file(s)" + (f", {dup} already present" if dup else "")
                                 + (f", {len(bad)} failed" if bad else ""))
        self.import_finished.emit(results)
