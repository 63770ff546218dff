"""The main window: menus with shortcuts, the four pages, and the status bar.

Pages: Cases (browser and details), Evidence (recordings, waveform, segments),
Analysis (run and results) and Composites. Every action is in a menu with its
shortcut shown; the waveform shortcuts are only enabled while that page is visible,
so Space, A, R and Delete never act on a page the analyst cannot see.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
)

from s2f_desktop import __version__
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import Case, CaseStatus
from s2f_desktop.gui.analysis import AnalysisPanel
from s2f_desktop.gui.cases import CaseBrowser, NewCaseDialog
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.evidence import EvidencePage
from s2f_desktop.gui.workers import Job, JobRunner
from s2f_desktop.system.settings import Settings, save_settings

log = logging.getLogger(__name__)


def service_available(name: str) -> bool:
    """Whether ``s2f_desktop.services.<name>`` is installed (parts of the UI depend on it)."""
    return importlib.util.find_spec(f"s2f_desktop.services.{name}") is not None


class MainWindow(QMainWindow):
    """Top-level window. ``ctx`` is the open AppContext; the window never owns long work itself."""

    case_opened = Signal(object)
    case_closed = Signal()

    PAGE_CASES, PAGE_EVIDENCE, PAGE_ANALYSIS, PAGE_COMPOSITES = range(4)

    def __init__(self, ctx: Any, reporter: ErrorReporter | None = None, save_settings_fn: Callable | None = None,
                 pdf_opener: Callable[[Path], bool] | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.settings: Settings = ctx.settings
        self.reporter = reporter or ErrorReporter()
        self.reporter.parent_widget = self
        self.save_settings_fn = save_settings_fn or save_settings
        self.pdf_opener = pdf_opener
        self.runner = JobRunner(self)
        #: Audio input injection points (tests, demos); None means the real sound system.
        self.input_devices: list[dict[str, Any]] | None = None
        self.recorder_factory: Callable[[], Any] | None = None
        self.case: Case | None = None
        self.setWindowTitle("s2f-desktop")
        self.resize(1600, 1000)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.cases = CaseBrowser(ctx, self.reporter)
        self.evidence = EvidencePage(ctx, self.runner, self.reporter)
        self.waveform = self.evidence.waveform
        self.analysis = AnalysisPanel(ctx, self.runner, self.reporter)
        self.analysis.set_device(self.settings.device)
        self.tabs.addTab(self.cases, "Cases")
        self.tabs.addTab(self.evidence, "Evidence && segments")
        self.tabs.addTab(self.analysis, "Analysis")
        self.composites: Any = None
        if service_available("composites"):
            from s2f_desktop.gui.composites import CompositePanel

            self.composites = CompositePanel(ctx, self.runner, self.reporter)
            self.tabs.addTab(self.composites, "Composites")
            self.analysis.run_selected.connect(self._run_selected)
            self.composites.status_message.connect(self.show_status)
        self.archive: Any = None
        if service_available("archive"):
            from s2f_desktop.gui.archive import ArchivePanel

            self.archive = ArchivePanel(ctx, self.runner, self.reporter)
            self.archive.set_device(self.settings.device)
            self.tabs.addTab(self.archive, "Archive")
            self.archive.status_message.connect(self.show_status)
            self.archive.evidence_imported.connect(self._archive_imported)
            self.case_opened.connect(self.archive.set_case)
            self.case_closed.connect(lambda: self.archive.set_case(None))
        self.setCentralWidget(self.tabs)

        # status bar: message, job progress, cancel
        self.job_label = QLabel()
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(260)
        self.job_progress.setRange(0, 1000)
        self.job_cancel = QPushButton("Cancel")
        self.job_cancel.setToolTip("Cancel the running task (Esc)")
        self.job_cancel.clicked.connect(self.cancel_jobs)
        sb = self.statusBar()
        sb.addPermanentWidget(self.job_label)
        sb.addPermanentWidget(self.job_progress)
        sb.addPermanentWidget(self.job_cancel)
        self._job_widgets(False)
        self.runner.job_started.connect(self._job_started)
        self.runner.job_done.connect(lambda _j: self._job_widgets(bool(self.runner.active())))
        self.reporter.cancelled.connect(self.show_status)

        self.cases.open_requested.connect(self.open_case)
        self.cases.new_requested.connect(self.new_case_dialog)
        self.cases.close_requested.connect(self.close_case_record)
        self.evidence.status_message.connect(self.show_status)
        self.evidence.record_requested.connect(self.record_dialog)
        self.waveform.status_message.connect(self.show_status)
        self.analysis.status_message.connect(self.show_status)
        self.analysis.run_finished.connect(lambda _r: self._update_actions())
        self.waveform.model.selection_changed.connect(lambda _i: self._update_actions())
        self.waveform.model.segments_changed.connect(self._segments_changed)
        self.tabs.currentChanged.connect(lambda _i: self._update_actions())

        self._build_menus()
        self.cases.refresh()
        self._update_title()
        self._update_actions()

    # ------------------------------------------------------------------ menus
    def _action(self, menu: Any, text: str, slot: Callable, shortcut: Any = None, tip: str = "",
                checkable: bool = False) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            seqs = shortcut if isinstance(shortcut, list) else [shortcut]
            act.setShortcuts([QKeySequence(s) for s in seqs])
        if tip:
            act.setStatusTip(tip)
        act.setCheckable(checkable)
        act.triggered.connect(lambda checked=False: slot(checked) if checkable else slot())
        menu.addAction(act)
        self.addAction(act)
        return act

    def _build_menus(self) -> None:
        K = QKeySequence.StandardKey
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self.act_new = self._action(f, "&New case…", self.new_case_dialog, K.New)
        self.act_open = self._action(f, "&Open case…", self.open_case_dialog, K.Open)
        self.recent_menu = f.addMenu("Open &recent")
        self.act_close_view = self._action(f, "Close case &view", self.close_case_view, "Ctrl+W",
                                           "Stop working on this case (it stays open)")
        self.act_close_case = self._action(f, "&Mark case closed…", lambda: self.close_case_record(None), None,
                                           "A closed case accepts no further changes")
        f.addSeparator()
        self.act_import = self._action(f, "&Import evidence…", self.evidence.import_dialog, "Ctrl+I")
        self.act_record = self._action(f, "Record from &microphone…", self.record_dialog, "Ctrl+R")
        self.act_report = None
        if service_available("reports"):
            self.act_report = self._action(f, "&Export report…", self.report_dialog, "Ctrl+E")
        f.addSeparator()
        self.act_settings = self._action(f, "&Settings…", self.settings_dialog, K.Preferences
                                         if not QKeySequence(K.Preferences).isEmpty() else "Ctrl+,")
        self.act_quit = self._action(f, "&Quit", self.close, K.Quit if not QKeySequence(K.Quit).isEmpty() else "Ctrl+Q")

        e = mb.addMenu("&Edit")
        stack = self.waveform.undo_stack
        self.act_undo = stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.act_redo = stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        e.addAction(self.act_undo)
        e.addAction(self.act_redo)
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        e.addSeparator()
        self.act_delete = self._action(e, "&Delete segment", self.waveform.delete_selected, K.Delete)
        self.act_label = self._action(e, "&Label segment…", self.label_dialog, "F2")
        self.act_accept = self._action(e, "&Accept suggestion", lambda: self.waveform.set_selected_status(True), "A")
        self.act_reject = self._action(e, "Re&ject suggestion", lambda: self.waveform.set_selected_status(False), "R")
        self.act_accept_all = self._action(e, "Accept all su&ggestions", self.waveform.accept_all_suggestions,
                                           "Ctrl+Shift+A")
        e.addSeparator()
        self.act_vad = self._action(e, "Detect &speech", self.waveform.detect_speech, "Ctrl+D",
                                    "Suggest speech segments with the speech detector")

        v = mb.addMenu("&View")
        self._action(v, "&Cases", lambda: self.tabs.setCurrentIndex(self.PAGE_CASES), "Ctrl+1")
        self._action(v, "&Evidence and segments", lambda: self.tabs.setCurrentIndex(self.PAGE_EVIDENCE), "Ctrl+2")
        self._action(v, "&Analysis", lambda: self.tabs.setCurrentIndex(self.PAGE_ANALYSIS), "Ctrl+3")
        if self.composites is not None:
            self._action(v, "C&omposites", lambda: self.tabs.setCurrentIndex(self.PAGE_COMPOSITES), "Ctrl+4")
        v.addSeparator()
        wv = self.waveform.view
        self.act_zoom_in = self._action(v, "Zoom &in", lambda: wv.zoom(2.0), ["+", "=", "Ctrl++"])
        self.act_zoom_out = self._action(v, "Zoom &out", lambda: wv.zoom(0.5), ["-", "Ctrl+-"])
        self.act_zoom_fit = self._action(v, "Zoom to &fit", wv.fit_all, "0")
        self.act_zoom_sel = self._action(v, "Zoom to &selection", self.waveform.zoom_to_selection, "Z")
        self.act_pan_left = self._action(v, "Scroll &left", lambda: wv.pan_pixels(-wv.width() / 4), "Shift+Left")
        self.act_pan_right = self._action(v, "Scroll &right", lambda: wv.pan_pixels(wv.width() / 4), "Shift+Right")
        self.act_spectrogram = self._action(v, "S&pectrogram", self.waveform.set_spectrogram, "S", checkable=True)

        p = mb.addMenu("&Playback")
        self.act_play = self._action(p, "&Play / stop selection", self.waveform.toggle_playback, "Space")
        self.waveform.playback_state.connect(
            lambda on: self.act_play.setText("&Stop playback" if on else "&Play / stop selection"))

        a = mb.addMenu("&Analysis")
        self.act_analyze = self._action(a, "&Analyze selected segments", self._analyze, "Ctrl+Return")
        self.act_cancel = self._action(a, "&Cancel running task", self.cancel_jobs, "Esc")

        h = mb.addMenu("&Help")
        self._action(h, "Open &log folder", self.open_log_folder)
        self._action(h, "&About s2f-desktop", self.about)
        self.waveform_actions = [self.act_delete, self.act_label, self.act_accept, self.act_reject,
                                 self.act_accept_all, self.act_vad, self.act_zoom_in, self.act_zoom_out,
                                 self.act_zoom_fit, self.act_zoom_sel, self.act_pan_left, self.act_pan_right,
                                 self.act_spectrogram, self.act_play]
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for i, number in enumerate(self.settings.recent_cases):
            act = self.recent_menu.addAction(f"&{i + 1} {number}" if i < 9 else number)
            act.triggered.connect(lambda _=False, n=number: self.open_case(n))
        self.recent_menu.setEnabled(bool(self.settings.recent_cases))

    def _update_actions(self) -> None:
        on_wave = self.tabs.currentIndex() == self.PAGE_EVIDENCE
        has_case = self.case is not None
        writable = has_case and self.case.status is CaseStatus.OPEN
        has_rec = self.waveform.evidence is not None and self.waveform.model.overview is not None
        sel = self.waveform.model.selected
        for act in self.waveform_actions:
            act.setEnabled(on_wave and has_rec)
        self.act_delete.setEnabled(on_wave and writable and sel is not None)
        self.act_label.setEnabled(on_wave and writable and sel is not None)
        is_sugg = sel is not None and sel.status.value == "suggested"
        self.act_accept.setEnabled(on_wave and writable and is_sugg)
        self.act_reject.setEnabled(on_wave and writable and is_sugg)
        self.act_vad.setEnabled(on_wave and writable and has_rec)
        self.act_accept_all.setEnabled(on_wave and writable and has_rec)
        self.act_import.setEnabled(writable)
        self.act_record.setEnabled(writable)
        self.act_close_view.setEnabled(has_case)
        self.act_close_case.setEnabled(writable)
        self.act_analyze.setEnabled(writable)
        if self.act_report is not None:
            self.act_report.setEnabled(has_case)

    def _segments_changed(self) -> None:
        self._update_actions()

    def _update_title(self) -> None:
        if self.case is None:
            self.setWindowTitle(f"s2f-desktop {__version__} — {self.ctx.data_dir}")
        else:
            closed = " (closed)" if self.case.status is CaseStatus.CLOSED else ""
            self.setWindowTitle(f"s2f-desktop — case {self.case.number}: {self.case.title}{closed}")

    # ------------------------------------------------------------------ status / jobs
    def show_status(self, message: str) -> None:
        """A transient status-bar message."""
        self.statusBar().showMessage(message, 8000)

    def _job_started(self, job: Job) -> None:
        if job.kind in ("device-probe", "spectrogram", "play-load"):
            return
        self._job_widgets(True, job.kind)
        job.progress.connect(self._job_progress)

    def _job_progress(self, frac: float, msg: str) -> None:
        if frac >= 0:
            self.job_progress.setRange(0, 1000)
            self.job_progress.setValue(int(frac * 1000))
        else:
            self.job_progress.setRange(0, 0)
        if msg:
            self.job_label.setText(msg)

    def _job_widgets(self, on: bool, kind: str = "") -> None:
        self.job_progress.setVisible(on)
        self.job_cancel.setVisible(on)
        self.job_label.setVisible(on)
        if on:
            self.job_label.setText(f"{kind}…")
            self.job_progress.setRange(0, 1000)
            self.job_progress.setValue(0)

    def cancel_jobs(self) -> None:
        """Cancel every running task (Esc)."""
        for job in self.runner.active():
            job.cancel()
        self.waveform.stop_playback()

    # ------------------------------------------------------------------ cases
    def new_case_dialog(self) -> None:
        """Ask for the new case's details, then create and open it."""
        dlg = NewCaseDialog(self.settings.resolved_analyst(), self)
        dlg.setObjectName("newCaseDialog")

        def accepted() -> None:
            self.create_case(**dlg.values())

        dlg.accepted.connect(accepted)
        dlg.open()

    def create_case(self, number: str, title: str, agency: str = "", analyst: str = "", notes: str = "") -> Case | None:
        """Create a case and open it; errors become dialogs."""
        from s2f_desktop.services import cases as case_svc

        try:
            case = case_svc.create_case(self.ctx, number, title, analyst=analyst or None, agency=agency, notes=notes)
        except Exception as exc:
            self.reporter.report(exc, "New case")
            return None
        self.open_case(case.number)
        return case

    def open_case_dialog(self) -> None:
        """Pick a case by number from a list."""
        from s2f_desktop.services import cases as case_svc

        numbers = [c.number for c in case_svc.list_cases(self.ctx)]
        if not numbers:
            self.reporter.report(InputError("there are no cases yet; create one with File ▸ New case"))
            return
        number, ok = QInputDialog.getItem(self, "Open case", "Case number:", numbers, 0, False)
        if ok and number:
            self.open_case(number)

    def open_case(self, number: str) -> bool:
        """Open a case: every page shows its stored evidence, segments, runs and composites."""
        from s2f_desktop.services import cases as case_svc

        try:
            case = case_svc.get_case(self.ctx, number)
        except Exception as exc:
            self.reporter.report(exc, "Open case")
            return False
        self.runner.cancel("overview")
        self.case = case
        closed = case.status is CaseStatus.CLOSED
        self.evidence.set_case(case.number, closed=closed)
        self.analysis.set_case(case)
        self._remember(case.number)
        self.cases.refresh(select=case.number)
        self._update_title()
        self._update_actions()
        self.tabs.setCurrentIndex(self.PAGE_EVIDENCE)
        self.show_status(f"Opened case {case.number}")
        self.case_opened.emit(case)
        return True

    def _remember(self, number: str) -> None:
        self.settings = self.settings.with_recent(number)
        self.ctx.settings = self.settings
        try:
            self.save_settings_fn(self.settings)
        except Exception as exc:  # settings are a convenience; say so but carry on
            self.reporter.report(exc, "Saving the recent-case list")
        self._fill_recent()

    def close_case_view(self) -> None:
        """Stop showing the current case (nothing is lost: everything is stored as it happens)."""
        self.cancel_jobs()
        self.case = None
        self.evidence.set_case(None)
        self.analysis.set_case(None)
        self.tabs.setCurrentIndex(self.PAGE_CASES)
        self._update_title()
        self._update_actions()
        self.case_closed.emit()

    def close_case_record(self, number: str | None) -> Any:
        """Ask, then mark a case closed (returns the confirmation box, for tests)."""
        number = number or (self.case.number if self.case else None)
        if number is None:
            return None
        box = QMessageBox(QMessageBox.Icon.Question, "Mark case closed",
                          f"Close case {number}? A closed case stays readable and reportable but accepts no new "
                          "evidence, segments or analyses. This cannot be undone.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("confirmClose")
        box.buttonClicked.connect(
            lambda b: self.mark_closed(number) if box.standardButton(b) == QMessageBox.StandardButton.Yes else None)
        box.open()
        return box

    def mark_closed(self, number: str) -> None:
        """Close the case record (no confirmation)."""
        from s2f_desktop.services import cases as case_svc

        try:
            case_svc.close_case(self.ctx, number)
        except Exception as exc:
            self.reporter.report(exc, "Close case")
            return
        if self.case is not None and self.case.number == number:
            self.open_case(number)
        self.cases.refresh(select=number)

    # ------------------------------------------------------------------ pages
    def _run_selected(self, run: Any) -> None:
        if self.composites is not None:
            closed = self.case is not None and self.case.status is CaseStatus.CLOSED
            self.composites.set_run(run, closed=closed)

    def _archive_imported(self, _result: Any) -> None:
        """An archive hit became evidence: the evidence and analysis pages show it."""
        if self.case is not None:
            self.evidence.set_case(self.case.number, closed=self.case.status is CaseStatus.CLOSED)
            self.analysis.refresh()

    def _analyze(self) -> None:
        self.tabs.setCurrentIndex(self.PAGE_ANALYSIS)
        self.analysis.refresh()
        self.analysis.analyze()

    def label_dialog(self) -> None:
        """Ask for a label for the selected segment."""
        seg = self.waveform.model.selected
        if seg is None:
            return
        dlg = QInputDialog(self)
        dlg.setObjectName("labelDialog")
        dlg.setWindowTitle("Label segment")
        dlg.setLabelText("Label (e.g. speaker A, caller):")
        dlg.setTextValue(seg.label)
        dlg.textValueSelected.connect(self.waveform.label_selected)
        dlg.open()

    def record_dialog(self) -> Any:
        """Record new evidence from a microphone (returns the dialog, for tests)."""
        if self.case is None:
            return None
        from s2f_desktop.gui.dialogs import RecordDialog

        dlg = RecordDialog(self.ctx, self.runner, self.reporter, self.case.number, self,
                           input_devices=self.input_devices, recorder_factory=self.recorder_factory)
        dlg.setObjectName("recordDialog")
        dlg.recorded.connect(lambda ev: self.evidence.refresh(select_id=ev.id))
        dlg.open()
        return dlg

    def report_dialog(self) -> Any:
        """Open the report export dialog (returns it, for tests)."""
        if self.case is None:
            return None
        from s2f_desktop.gui.dialogs import ReportDialog

        cur = self.analysis.current_run()
        dlg = ReportDialog(self.ctx, self.runner, self.reporter, self.case.number, self.analysis.runs,
                           selected_run=cur.id if cur else None, opener=self.pdf_opener, parent=self)
        dlg.setObjectName("reportDialog")
        dlg.report_built.connect(lambda r: self.show_status(f"Report saved: {r.path}"))
        dlg.open()
        return dlg

    def settings_dialog(self) -> Any:
        """Open the settings dialog (returns it, for tests)."""
        from s2f_desktop.gui.dialogs import SettingsDialog

        dlg = SettingsDialog(self.settings, self.runner, self.reporter, self)
        dlg.setObjectName("settingsDialog")
        dlg.accepted.connect(lambda: self.apply_settings(dlg.result_settings()))
        dlg.open()
        return dlg

    def apply_settings(self, new: Settings) -> None:
        """Save settings; the analyst name and device apply at once, the data directory after restart."""
        try:
            self.save_settings_fn(new)
        except Exception as exc:
            self.reporter.report(exc, "Settings")
            return
        data_dir_changed = new.resolved_data_dir() != Path(self.ctx.data_dir)
        self.settings = new
        self.ctx.settings = new
        self.ctx.actor = new.resolved_analyst()
        self.analysis.set_device(new.device)
        if self.archive is not None:
            self.archive.set_device(new.device)
        self.show_status("Settings saved" + (" — restart to use the new data directory" if data_dir_changed else ""))

    def open_log_folder(self) -> None:
        """Show the log folder in the file manager."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.ctx.store.layout.logs)))

    def about(self) -> None:
        """Version and the one thing every analyst must know."""
        QMessageBox.about(self, "About s2f-desktop",
                          f"<b>s2f-desktop {__version__}</b><p>Offline voice profiling. Estimates of sex and age "
                          "from speech, with calibrated uncertainty, and illustrative composite faces.</p>"
                          "<p><b>Results are investigative leads, never identifications.</b></p>"
                          f"<p>Data directory: {self.ctx.data_dir}</p>")

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Stop playback, cancel every job and wait for all worker threads."""
        self.waveform.stop_playback()
        if self.archive is not None:
            self.archive.stop_playback()
        if not self.runner.shutdown():
            log.warning("some background tasks did not stop in time")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
