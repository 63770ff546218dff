"""The main window: menus with shortcuts, the six pages, and the status bar.

Pages: Cases (browser and details), Evidence (recordings, waveform, segments),
Analysis (run and results) and Composites. Every action is in a menu with its
shortcut shown; the waveform shortcuts are only enabled while that page is visible,
so Space, A, R and Delete never act on a page the analyst cannot see.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
)

from s2f_desktop import __version__
from s2f_desktop.core.errors import InputError, S2FError
from s2f_desktop.core.models import Case, CaseStatus
from s2f_desktop.gui.about import TAB_ABOUT, TAB_NOTICES, app_icon, show_about
from s2f_desktop.gui.analysis import AnalysisPanel
from s2f_desktop.gui.archive import ArchivePanel
from s2f_desktop.gui.cases import CaseBrowser, NewCaseDialog
from s2f_desktop.gui.comparison import ComparisonPanel
from s2f_desktop.gui.composites import CompositePanel
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.evidence import EvidencePage
from s2f_desktop.gui.workers import Job, JobRunner
from s2f_desktop.system.settings import Settings, save_settings

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """Top-level window. ``ctx`` is the open AppContext; the window never owns long work itself."""

    case_opened = Signal(object)
    case_closed = Signal()
    #: Emitted after the views have refreshed from a batch of store changes.
    views_refreshed = Signal()

    PAGE_CASES, PAGE_EVIDENCE, PAGE_ANALYSIS, PAGE_COMPOSITES, PAGE_COMPARISON, PAGE_ARCHIVE = range(6)
    #: Short background jobs that do not take over the status bar's progress and Cancel.
    QUIET_JOBS = frozenset({"device-probe", "spectrogram", "play-load", "output-probe", "detail", "tracks",
                            "output-devices", "measure", "composite-preview"})

    def __init__(self, ctx: Any, reporter: ErrorReporter | None = None,
                 save_settings_fn: Callable[[Settings], None] | None = None,
                 pdf_opener: Callable[[Path], bool] | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.settings: Settings = ctx.settings
        self.reporter = reporter or ErrorReporter()
        self.reporter.parent_widget = self
        self.save_settings_fn = save_settings_fn or save_settings
        self.pdf_opener = pdf_opener
        self.runner = JobRunner(self)
        # One source of truth: every committed, audited change reaches the views from here.
        self.runner.attach_store(ctx.store)
        #: Audio input injection points (tests, demos); None means the real sound system.
        self.input_devices: list[dict[str, Any]] | None = None
        self.recorder_factory: Callable[[], Any] | None = None
        self.case: Case | None = None
        self.setWindowTitle("s2f-desktop")
        self.setWindowIcon(app_icon())
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
        self.composites = CompositePanel(ctx, self.runner, self.reporter)
        self.tabs.addTab(self.composites, "Composites")
        self.analysis.run_selected.connect(self._run_selected)
        self.composites.status_message.connect(self.show_status)
        # Speaker comparison (issue 14): after the composites, so the page indices above stay as they are.
        self.comparison = ComparisonPanel(ctx, self.runner, self.reporter)
        self.comparison.set_device(self.settings.device)
        self.tabs.addTab(self.comparison, "Comparison")
        self.comparison.status_message.connect(self.show_status)
        self.tabs.currentChanged.connect(
            lambda i: self.comparison.refresh() if self.tabs.widget(i) is self.comparison else None)
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
        self.job_progress.setToolTip("Progress of the running task")
        self.job_cancel = QPushButton("Cancel")
        self.job_cancel.setToolTip("Cancel the running task (Esc)")
        self.job_cancel.clicked.connect(self.cancel_jobs)
        sb = self.statusBar()
        sb.addPermanentWidget(self.job_label)
        sb.addPermanentWidget(self.job_progress)
        sb.addPermanentWidget(self.job_cancel)
        self._job_widgets(False)
        self.runner.job_started.connect(self._job_started)
        self.runner.job_done.connect(lambda _j: self._job_widgets(
            any(j.kind not in self.QUIET_JOBS for j in self.runner.active())))
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
        self.runner.store_changed.connect(self._store_changed)
        self.waveform.model.selection_changed.connect(lambda _i: self._waveform_selection_changed())
        self.waveform.view.pointer_moved.connect(self._pointer_readout)

        self.analyst_label = QLabel()
        self.analyst_label.setToolTip("The analyst recorded on every change, run and audit event of this session "
                                      "(set with --analyst at start-up or in File ▸ Settings)")
        self.pointer_label = QLabel()
        self.pointer_label.setToolTip("Time (and frequency over the spectrogram) under the mouse pointer")
        sb.insertPermanentWidget(0, self.analyst_label)
        sb.insertPermanentWidget(0, self.pointer_label)
        self._show_analyst()

        self._build_menus()
        self.cases.refresh()
        self._update_title()
        self._update_actions()

    # ------------------------------------------------------------------ menus
    def _action(self, menu: Any, text: str, slot: Callable[..., Any], shortcut: Any = None, tip: str = "",
                checkable: bool = False) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            seqs = shortcut if isinstance(shortcut, list) else [shortcut]
            act.setShortcuts([QKeySequence(s) for s in seqs])
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.setCheckable(checkable)
        act.triggered.connect(lambda checked=False: slot(checked) if checkable else slot())
        menu.addAction(act)
        self.addAction(act)
        return act

    def _build_menus(self) -> None:
        K = QKeySequence.StandardKey
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self.act_new = self._action(f, "&New case…", self.new_case_dialog, K.New, "Create a case and open it")
        self.act_open = self._action(f, "&Open case…", self.open_case_dialog, K.Open, "Open a case by number")
        self.recent_menu = f.addMenu("Open &recent")
        self.act_close_view = self._action(f, "Close case &view", self.close_case_view, "Ctrl+W",
                                           "Stop working on this case (it stays open)")
        self.act_close_case = self._action(f, "&Mark case closed…", lambda: self.close_case_record(None), None,
                                           "A closed case accepts no further changes")
        f.addSeparator()
        self.act_import = self._action(f, "&Import evidence…", self.evidence.import_dialog, "Ctrl+I",
                                       "Copy recordings into the case's evidence vault (originals are not changed)")
        self.act_record = self._action(f, "Record from &microphone…", self.record_dialog, "Ctrl+R",
                                       "Record new evidence from a microphone")
        self.act_import_labels = self._action(f, "Import segment &labels…", self.import_labels_dialog, None,
                                              "Add segments from a Praat TextGrid or an Audacity label file")
        self.act_export_labels = self._action(f, "E&xport segment labels…", self.export_labels_dialog, None,
                                              "Write this recording's segments as a Praat TextGrid or an "
                                              "Audacity label file")
        self.act_report = self._action(f, "&Export report…", self.report_dialog, "Ctrl+E",
                                       "Build the PDF report from the stored case")
        f.addSeparator()
        self.act_settings = self._action(f, "&Settings…", self.settings_dialog, K.Preferences
                                         if not QKeySequence(K.Preferences).isEmpty() else "Ctrl+,",
                                         "Analyst name, data directory, inference device, sound output")
        self.act_quit = self._action(f, "&Quit", self.close, K.Quit if not QKeySequence(K.Quit).isEmpty() else "Ctrl+Q",
                                     "Stop running tasks and quit (everything is already stored)")

        e = mb.addMenu("&Edit")
        stack = self.waveform.undo_stack
        self.act_undo = stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.act_redo = stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_undo.setStatusTip("Undo the last segment edit (the undo is audited too)")
        self.act_redo.setStatusTip("Redo the undone segment edit")
        e.addAction(self.act_undo)
        e.addAction(self.act_redo)
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        e.addSeparator()
        self.act_delete = self._action(e, "&Delete segment", self.waveform.delete_selected, K.Delete,
                                       "Delete the selected segment (undo with Ctrl+Z)")
        self.act_label = self._action(e, "&Label selected segments…", self.label_dialog, "F2",
                                      "Give every selected segment the same label")
        self.act_accept = self._action(e, "&Accept selected", lambda: self.waveform.set_status_of_selected(True),
                                       "A", "Accept every selected segment (one undo step)")
        self.act_reject = self._action(e, "Re&ject selected", lambda: self.waveform.set_status_of_selected(False),
                                       "R", "Reject every selected segment (kept, so detection does not suggest "
                                       "it again)")
        self.act_accept_all = self._action(e, "Accept all su&ggestions", self.waveform.accept_all_suggestions,
                                           "Ctrl+Shift+A", "Accept every pending speech-detection suggestion")
        e.addSeparator()
        self.act_select_all = self._action(e, "Select all se&gments", lambda: self.waveform.select_matching(),
                                           "Ctrl+A", "Select every segment of this recording")
        self.act_select_speaker = self._action(e, "Select all of this s&peaker", self._select_same_speaker,
                                               "Ctrl+Shift+P", "Select every segment in the selected "
                                               "segment's speaker group")
        self.act_select_label = self._action(e, "Select all with this la&bel", self._select_same_label,
                                             "Ctrl+Shift+L", "Select every segment with the selected "
                                             "segment's label")
        self.act_speaker = self._action(e, "Set spea&ker of selected…", self.speaker_dialog, "Ctrl+K",
                                        "Put the selected segments in a speaker group (e.g. A, caller)")
        self.act_group = self._action(e, "Suggest speaker &groups…", self.suggest_speaker_groups, "Ctrl+G",
                                      "Group the accepted segments by voice similarity; you confirm or edit "
                                      "the groups before anything is stored")
        e.addSeparator()
        self.act_vad = self._action(e, "Detect &speech", self.waveform.detect_speech, "Ctrl+D",
                                    "Suggest speech segments with the speech detector")

        v = mb.addMenu("&View")
        self._action(v, "&Cases", lambda: self.tabs.setCurrentIndex(self.PAGE_CASES), "Ctrl+1", "Show the case list")
        self._action(v, "&Evidence and segments", lambda: self.tabs.setCurrentIndex(self.PAGE_EVIDENCE), "Ctrl+2",
                     "Show the recordings, the waveform and the segments")
        self._action(v, "&Analysis", lambda: self.tabs.setCurrentIndex(self.PAGE_ANALYSIS), "Ctrl+3",
                     "Show what will be analyzed and the stored runs")
        self._action(v, "C&omposites", lambda: self.tabs.setCurrentIndex(self.PAGE_COMPOSITES), "Ctrl+4",
                     "Show the composite faces of the selected run")
        self._action(v, "Compariso&n", lambda: self.tabs.setCurrentIndex(self.PAGE_COMPARISON), "Ctrl+5",
                     "Compare a questioned voice with a known voice (likelihood ratio)")
        self._action(v, "Arc&hive", lambda: self.tabs.setCurrentIndex(self.PAGE_ARCHIVE), "Ctrl+6",
                     "Index an archive of recordings and search it for a voice")
        v.addSeparator()
        wv = self.waveform.view
        self.act_zoom_in = self._action(v, "Zoom &in", lambda: wv.zoom(2.0), ["+", "=", "Ctrl++"], "Zoom in (wheel)")
        self.act_zoom_out = self._action(v, "Zoom &out", lambda: wv.zoom(0.5), ["-", "Ctrl+-"], "Zoom out (wheel)")
        self.act_zoom_fit = self._action(v, "Zoom to &fit", wv.fit_all, "0", "Show the whole recording")
        self.act_zoom_sel = self._action(v, "Zoom to &selection", self.waveform.zoom_to_selection, "Z",
                                        "Fit the selected segment in the view")
        self.act_pan_left = self._action(v, "Scroll &left", lambda: wv.pan_pixels(-wv.width() / 4), "Shift+Left",
                                        "Scroll a quarter screen back")
        self.act_pan_right = self._action(v, "Scroll &right", lambda: wv.pan_pixels(wv.width() / 4), "Shift+Right",
                                         "Scroll a quarter screen on")
        self.act_spectrogram = self._action(v, "S&pectrogram", self.waveform.set_spectrogram, "S",
                                            "Show the spectrogram under the waveform (zoom below 2 minutes)",
                                            checkable=True)
        self.act_tracks = self._action(v, "F0 and formant &tracks", self._set_tracks, "T",
                                       "Draw pitch (F0, right scale) and formants F1–F4 over the spectrogram "
                                       "(Praat methods)", checkable=True)

        p = mb.addMenu("&Playback")
        self.act_play = self._action(p, "&Play / stop selection", self.waveform.toggle_playback, "Space",
                                     "Play the selected segments (or from the cursor); again to stop")
        self.act_loop = self._action(p, "&Loop", self.waveform.set_loop, "L", "Repeat the selection until stopped",
                                     checkable=True)
        self.waveform.playback_state.connect(
            lambda on: self.act_play.setText("&Stop playback" if on else "&Play / stop selection"))
        self.waveform.playback_availability.connect(lambda _on: self._update_actions())
        self.waveform.set_output_device(self.settings.output_device)

        a = mb.addMenu("&Analysis")
        self.act_analyze = self._action(a, "&Analyze selected segments", self._analyze, "Ctrl+Return",
                                        "Analyze the segments selected on the waveform (shown on the Analysis "
                                        "page before it runs)")
        self.act_measure = self._action(a, "&Measure selection", self.waveform.measure_selection, "Ctrl+M",
                                        "Level, F0, formants, HNR, jitter and shimmer of the selected range "
                                        "(Praat methods; shown, not stored)")
        self.act_cancel = self._action(a, "&Cancel running task", self.cancel_jobs, "Esc",
                                       "Cancel every running task and stop playback")

        h = mb.addMenu("&Help")
        self.act_manual = self._action(h, "User &manual", self.show_manual, "F1",
                                       "The short user manual (docs/manual.md)")
        self._action(h, "Open &log folder", self.open_log_folder, None, "Show the folder with the application log")
        self._action(h, "Third-party &licences", lambda: self.about(TAB_NOTICES), None,
                     "Licences and notices of the third-party software this application contains")
        self._action(h, "&About s2f-desktop", self.about, None, "Version, licence and data directory")
        self._action(h, "About &Qt", QApplication.aboutQt, None, "Version and licence of the Qt toolkit")
        self.waveform_actions = [self.act_delete, self.act_label, self.act_accept, self.act_reject,
                                 self.act_accept_all, self.act_select_all, self.act_select_speaker,
                                 self.act_select_label, self.act_speaker, self.act_group,
                                 self.act_export_labels, self.act_import_labels, self.act_loop,
                                 self.act_vad, self.act_zoom_in, self.act_zoom_out,
                                 self.act_zoom_fit, self.act_zoom_sel, self.act_pan_left, self.act_pan_right,
                                 self.act_spectrogram, self.act_tracks, self.act_measure, self.act_play]
        for menu in mb.findChildren(QMenu):
            menu.setToolTipsVisible(True)
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
        writable = self.case is not None and self.case.status is CaseStatus.OPEN
        has_rec = self.waveform.evidence is not None and self.waveform.model.overview is not None
        sel = self.waveform.model.selected
        chosen = self.waveform.model.selected_segments()
        for act in self.waveform_actions:
            act.setEnabled(on_wave and has_rec)
        if not on_wave:
            self.pointer_label.clear()
        self.act_delete.setEnabled(on_wave and writable and sel is not None)
        self.act_label.setEnabled(on_wave and writable and bool(chosen))
        self.act_speaker.setEnabled(on_wave and writable and bool(chosen))
        self.act_accept.setEnabled(on_wave and writable and any(s.status.value != "accepted" for s in chosen))
        self.act_reject.setEnabled(on_wave and writable and any(s.status.value != "rejected" for s in chosen))
        self.act_select_speaker.setEnabled(on_wave and has_rec and sel is not None and bool(sel.speaker_tag))
        self.act_select_label.setEnabled(on_wave and has_rec and sel is not None and bool(sel.label))
        self.act_group.setEnabled(on_wave and writable and has_rec)
        self.act_import_labels.setEnabled(on_wave and writable and has_rec)
        self.act_play.setEnabled(on_wave and has_rec and self.waveform.playback_available)
        self.act_loop.setEnabled(on_wave and has_rec and self.waveform.playback_available)
        self.act_vad.setEnabled(on_wave and writable and has_rec)
        suggested = any(s.status.value == "suggested" for s in self.waveform.model.segments()) if has_rec else False
        self.act_accept_all.setEnabled(on_wave and writable and suggested)
        self.act_import.setEnabled(writable)
        self.act_record.setEnabled(writable)
        self.act_close_view.setEnabled(has_case)
        self.act_close_case.setEnabled(writable)
        self.act_analyze.setEnabled(writable)
        self.act_report.setEnabled(has_case)

    def _segments_changed(self) -> None:
        self._update_actions()

    # ------------------------------------------------------------------ observing the store
    def _store_changed(self, changes: list[Any]) -> None:
        """Refresh every view a batch of committed changes concerns (whoever made them)."""
        from s2f_desktop.services import cases as case_svc

        self.cases.refresh()
        if self.case is not None:
            mine = [c for c in changes if c.case_id == self.case.id]
            actions = {c.action for c in mine}
            if any(a.startswith("case.") for a in actions):
                try:
                    self.case = case_svc.get_case(self.ctx, self.case.number)
                except Exception as exc:
                    self.reporter.report(exc, "Case")
                self._update_title()
            if any(a.startswith("evidence.") for a in actions):
                self.evidence.refresh()
            if any(a.startswith("segment.") for a in actions):
                self.waveform.reload_segments()
            if mine:
                self.analysis.refresh()
            comp = self.composites
            if (any(a.startswith("composite.") for a in actions) and comp.run is not None
                    and not comp.changes() and self.runner.current("composite") is None):
                comp.refresh(select_id=comp.current.id if comp.current is not None else None)
        self._update_actions()
        self.views_refreshed.emit()

    def _waveform_selection_changed(self) -> None:
        self.analysis.set_waveform_selection([s.id for s in self.waveform.model.selected_segments()])

    def _set_tracks(self, on: bool) -> None:
        self.waveform.set_tracks(on)
        if on:
            self.act_spectrogram.setChecked(True)

    def _pointer_readout(self, text: str) -> None:
        self.pointer_label.setText(text)

    def _show_analyst(self) -> None:
        import html as _html

        name = _html.escape(self.ctx.actor)
        if not self.settings.analyst and self.ctx.actor == self.settings.resolved_analyst():
            # Neither --analyst nor Settings gave a name: the login name is used; say so.
            self.analyst_label.setText(f"Analyst: <b style='color:#b26a00'>{name}</b> "
                                       "<small>(login name — set yours in File ▸ Settings)</small>")
        else:
            self.analyst_label.setText(f"Analyst: <b>{name}</b>")
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
        if job.kind in self.QUIET_JOBS:
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
            self.job_label.setText(self.analysis.humanize(msg))

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
        from s2f_desktop.services import cases as case_svc

        def submit(v: dict[str, str]) -> str:
            try:
                case = case_svc.create_case(self.ctx, v["number"], v["title"], analyst=v["analyst"] or None,
                                            agency=v["agency"], notes=v["notes"])
            except S2FError as exc:
                return exc.message
            self.open_case(case.number)
            return ""

        dlg = NewCaseDialog(self.ctx.actor, self, submit)
        dlg.setObjectName("newCaseDialog")
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
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
        self.comparison.set_case(case)
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
        self.comparison.set_case(None)
        self.tabs.setCurrentIndex(self.PAGE_CASES)
        self._update_title()
        self._update_actions()
        self.case_closed.emit()

    def close_case_record(self, number: str | None) -> Any:
        """Ask, then mark a case closed (returns the confirmation box, for tests)."""
        number = number or (self.case.number if self.case else None)
        if number is None:
            return None
        unsaved = (" The changes typed in its details and not saved will be discarded."
                   if self.cases.unsaved_details(number) else "")
        box = QMessageBox(QMessageBox.Icon.Question, "Mark case closed",
                          f"Close case {number}? A closed case stays readable and reportable but accepts no new "
                          f"evidence, segments or analyses. This cannot be undone.{unsaved}",
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
        closed = self.case is not None and self.case.status is CaseStatus.CLOSED
        shown = self.composites.run
        if shown is not None and run is not None and shown.id == run.id and self.composites.closed == closed:
            return  # the same run re-shown after a refresh: keep the analyst's slider work
        self.composites.set_run(run, closed=closed)

    def _archive_imported(self, _result: Any) -> None:
        """An archive hit became evidence: the evidence and analysis pages show it."""
        if self.case is not None:
            self.evidence.set_case(self.case.number, closed=self.case.status is CaseStatus.CLOSED)
            self.analysis.refresh()

    def _analyze(self) -> None:
        """Analyze what is selected on the waveform; the Analysis page shows exactly that set first."""
        self.runner.flush_changes()  # the Analysis page must list what the store holds right now
        if self.tabs.currentIndex() == self.PAGE_EVIDENCE:
            self.analysis.use_waveform_selection()
        self.tabs.setCurrentIndex(self.PAGE_ANALYSIS)
        self.analysis.analyze()

    def label_dialog(self) -> Any:
        """Ask for one label for every selected segment (returns the dialog, for tests)."""
        segs = self.waveform.model.selected_segments()
        if not segs:
            return None
        dlg = QInputDialog(self)
        dlg.setObjectName("labelDialog")
        dlg.setWindowTitle("Label segments")
        dlg.setLabelText(f"Label for {len(segs)} segment(s) (e.g. greeting, threat):")
        labels = {s.label for s in segs}
        dlg.setTextValue(labels.pop() if len(labels) == 1 else "")
        dlg.textValueSelected.connect(self.waveform.label_selection)
        dlg.open()
        return dlg

    def speaker_dialog(self) -> Any:
        """Ask for the speaker group of every selected segment (returns the dialog, for tests)."""
        segs = self.waveform.model.selected_segments()
        if not segs:
            return None
        dlg = QInputDialog(self)
        dlg.setObjectName("speakerDialog")
        dlg.setWindowTitle("Speaker group")
        dlg.setLabelText(f"Speaker of {len(segs)} segment(s) (e.g. A, B, caller; empty: no group):")
        dlg.setComboBoxEditable(True)
        dlg.setComboBoxItems([""] + self.waveform.model.speakers())
        tags = {s.speaker_tag for s in segs}
        dlg.setTextValue(tags.pop() if len(tags) == 1 else "")
        dlg.textValueSelected.connect(self.waveform.set_speaker_of_selected)
        dlg.open()
        return dlg

    def _select_same_speaker(self) -> None:
        sel = self.waveform.model.selected
        if sel is not None and sel.speaker_tag:
            n = self.waveform.select_matching(speaker=sel.speaker_tag)
            self.show_status(f"Selected {n} segment(s) of speaker {sel.speaker_tag}")

    def _select_same_label(self) -> None:
        sel = self.waveform.model.selected
        if sel is not None and sel.label:
            n = self.waveform.select_matching(label=sel.label)
            self.show_status(f"Selected {n} segment(s) labelled “{sel.label}”")

    def suggest_speaker_groups(self) -> Any:
        """Group accepted segments by voice (in a worker); the analyst confirms the groups in a dialog."""
        from s2f_desktop.gui.speakers import SpeakerGroupsDialog

        ev = self.waveform.evidence
        accepted = [s for s in self.waveform.model.segments() if s.status.value == "accepted"]
        if ev is None or len(accepted) < 2:
            self.reporter.report(InputError("speaker grouping needs at least two accepted segments"))
            return None
        grouped = {s.id for s in accepted}
        others = sorted({s.speaker_tag for s in self.waveform.model.segments()
                         if s.speaker_tag and s.id not in grouped})
        dlg = SpeakerGroupsDialog(self.ctx, self.runner, self.reporter, ev, accepted, self.settings.device, self,
                                  other_speakers=others)
        dlg.setObjectName("speakerGroupsDialog")
        dlg.confirmed.connect(self.waveform.apply_speaker_groups)
        dlg.open()
        dlg.start()
        return dlg

    def import_labels_dialog(self) -> None:
        """Pick a TextGrid or Audacity label file and add its intervals as segments."""
        from PySide6.QtWidgets import QFileDialog

        if self.case is None or self.waveform.evidence is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import segment labels", str(Path.home()),
                                              "Label files (*.TextGrid *.txt);;All files (*)")
        if path:
            self.import_labels(Path(path))

    def import_labels(self, path: Path) -> int:
        """Add the intervals of a label file to the shown recording (one audited write)."""
        from s2f_desktop.services import segments as seg_svc

        ev = self.waveform.evidence
        if self.case is None or ev is None:
            return 0
        try:
            added = seg_svc.import_labels(self.ctx, self.case.number, ev.id, path)
        except Exception as exc:
            self.reporter.report(exc, "Import labels")
            return 0
        self.waveform.undo_stack.clear()  # an import is not an undoable edit; it is in the audit trail
        self.show_status(f"Imported {len(added)} segment(s) from {path.name}")
        return len(added)

    def export_labels_dialog(self) -> None:
        """Choose where to write this recording's segments as labels (never over an existing file)."""
        from PySide6.QtWidgets import QFileDialog

        ev = self.waveform.evidence
        if self.case is None or ev is None:
            return
        stem = Path(ev.original_name).stem
        path, _ = QFileDialog.getSaveFileName(self, "Export segment labels", str(Path.home() / f"{stem}.TextGrid"),
                                              "Praat TextGrid (*.TextGrid);;Audacity labels (*.txt)")
        if path:
            self.export_labels(Path(path))

    def export_labels(self, path: Path) -> Path | None:
        """Write the shown recording's segments to ``path`` (format from the extension)."""
        from s2f_desktop.services import segments as seg_svc

        ev = self.waveform.evidence
        if self.case is None or ev is None:
            return None
        try:
            out = seg_svc.export_labels(self.ctx, self.case.number, ev.id, path)
        except Exception as exc:
            self.reporter.report(exc, "Export labels")
            return None
        self.show_status(f"Segments written to {out}")
        return out

    def show_manual(self) -> Any:
        """Open the user manual in a window (returns it, for tests)."""
        from s2f_desktop.gui.manual import ManualWindow

        win = ManualWindow(self)
        win.setObjectName("manualWindow")
        win.show()
        return win

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

        dlg = SettingsDialog(self.settings, self.runner, self.reporter, self, session_analyst=self.ctx.actor)
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
        self.ctx.actor = new.analyst.strip() or self.ctx.actor
        self._show_analyst()
        self.analysis.set_device(new.device)
        self.comparison.set_device(new.device)
        self.waveform.set_output_device(new.output_device)
        self.archive.set_device(new.device)
        self.show_status("Settings saved" + (" — restart to use the new data directory" if data_dir_changed else ""))

    def open_log_folder(self) -> None:
        """Show the log folder in the file manager."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.ctx.store.layout.logs)))

    def about(self, tab: int = TAB_ABOUT) -> None:
        """Version, the one thing every analyst must know, the licence and the third-party notices."""
        show_about(self, self.ctx.data_dir, tab)

    # ------------------------------------------------------------------ shutdown
    def shutdown(self) -> None:
        """Stop playback, cancel every job and wait for all worker threads."""
        self.waveform.stop_playback()
        self.archive.stop_playback()
        if not self.runner.shutdown():
            log.warning("some background tasks did not stop in time")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
