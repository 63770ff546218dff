"""Dialogs: settings, report export and microphone recording."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, cast

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import AnalysisRun
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.workers import JobRunner
from s2f_desktop.system.settings import DEVICES, Settings

log = logging.getLogger(__name__)


def probe_devices(task: Any = None) -> tuple[list[str], str]:
    """Devices available here and a description of what ``auto`` resolves to (imports torch: run in a worker)."""
    from s2f_desktop.inference.device import available_devices, resolve_device

    return available_devices(), resolve_device("auto").description


class SettingsDialog(QDialog):
    """Analyst name, data directory and inference device.

    The device list shows every choice; the ones this machine cannot use are disabled
    once the (slow, torch-importing) probe has answered in a worker.
    """

    devices_probed = Signal()
    outputs_listed = Signal()

    def __init__(self, settings: Settings, runner: JobRunner, reporter: ErrorReporter,
                 parent: QWidget | None = None, session_analyst: str = "",
                 output_devices: list[dict[str, Any]] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self.settings = settings
        # The name in force this session (``--analyst`` at start-up wins over the stored one).
        self.analyst = QLineEdit(session_analyst or settings.analyst)
        self.analyst.setPlaceholderText(settings.resolved_analyst())
        self.analyst.setToolTip("Recorded on every change, analysis run and audit event from now on")
        self.data_dir = QLineEdit(settings.data_dir)
        self.data_dir.setPlaceholderText(str(settings.resolved_data_dir()))
        self.data_dir.setToolTip("Where cases, the evidence vault and logs are kept (takes effect after a restart)")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose the data directory")
        browse.clicked.connect(self._browse)
        self.output = QComboBox()
        self.output.setObjectName("outputDevice")
        self.output.setToolTip("Sound output used for playback")
        self.output.addItem("System default", "")
        if settings.output_device:
            self.output.addItem(f"{settings.output_device} (saved)", settings.output_device)
            self.output.setCurrentIndex(1)
        self.output_info = QLabel("Looking for sound outputs…")
        self.output_info.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.data_dir, 1)
        row.addWidget(browse)
        self.device = QComboBox()
        for d in DEVICES:
            self.device.addItem({"auto": "Automatic (GPU if available)", "cpu": "CPU",
                                 "cuda": "CUDA (NVIDIA GPU)"}[d], d)
        self.device.setCurrentIndex(max(0, list(DEVICES).index(settings.device)))
        self.device_info = QLabel("Checking which devices are available…")
        self.device_info.setWordWrap(True)
        self.restart_note = QLabel("<small>A new data directory takes effect after a restart.</small>")
        form = QFormLayout()
        form.addRow("&Analyst name", self.analyst)
        form.addRow("Data directory", row)
        form.addRow("&Inference device", self.device)
        form.addRow("", self.device_info)
        form.addRow("Sound &output", self.output)
        form.addRow("", self.output_info)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.restart_note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.device.setToolTip("Where the neural models run; recorded with every result")
        runner.submit("device-probe", probe_devices, on_success=self._probed,
                      on_error=lambda e: self.device_info.setText(f"Device check failed: {e}"))
        if output_devices is not None:
            self._outputs(output_devices)
        else:
            from s2f_desktop.audio.devices import list_output_devices

            runner.submit("output-devices", lambda task: list_output_devices(), on_success=self._outputs,
                          on_error=lambda e: self._outputs([]))

    def _outputs(self, devices: list[dict[str, Any]]) -> None:
        """Fill the output list; with none, say so in plain words (playback stays off until one appears)."""
        keep = self.output.currentData()
        self.output.clear()
        self.output.addItem("System default", "")
        for d in devices:
            self.output.addItem(f"{d['name']} ({d.get('hostapi', '')})", d["name"])
        if keep and self.output.findData(keep) < 0:
            self.output.addItem(f"{keep} (not found now)", keep)
        self.output.setCurrentIndex(max(0, self.output.findData(keep)))
        self.output_info.setText(f"{len(devices)} sound output(s) found." if devices else
                                 "No sound output device was found: playback is off until one appears.")
        self.outputs_listed.emit()

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Data directory", self.data_dir.text() or str(Path.home()))
        if d:
            self.data_dir.setText(d)

    def _probed(self, result: tuple[list[str], str]) -> None:
        available, auto_desc = result
        model = cast(QStandardItemModel, self.device.model())  # a QComboBox's default model
        for i in range(self.device.count()):
            ok = self.device.itemData(i) in available
            model.item(i).setEnabled(ok)
            if not ok:
                model.item(i).setText(model.item(i).text() + " — not available here")
        self.device_info.setText(f"Available: {', '.join(available)}. Automatic uses {auto_desc}.")
        self.devices_probed.emit()

    def result_settings(self) -> Settings:
        """The edited settings."""
        return replace(self.settings, analyst=self.analyst.text().strip(), data_dir=self.data_dir.text().strip(),
                       device=str(self.device.currentData()), output_device=str(self.output.currentData() or ""))


class ReportDialog(QDialog):
    """Choose run and output file, build the PDF in a worker, then open it with the system viewer."""

    report_built = Signal(object)  # ReportResult

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, case_number: str,
                 runs: list[AnalysisRun], selected_run: int | None = None,
                 opener: Callable[[Path], bool] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export report — case {case_number}")
        self.setMinimumWidth(620)
        self.ctx, self.runner, self.reporter, self.case_number = ctx, runner, reporter, case_number
        self.opener = opener or (lambda p: QDesktopServices.openUrl(QUrl.fromLocalFile(str(p))))
        self.result: Any = None
        self.run = QComboBox()
        self.run.setObjectName("reportRun")
        self.run.addItem("Latest run", None)
        for r in runs:
            n = len(r.segment_ids)
            self.run.addItem(f"Run #{r.id} — {r.created_at:%Y-%m-%d %H:%M} ({n} segment{'' if n == 1 else 's'})", r.id)
        if selected_run is not None:
            idx = self.run.findData(selected_run)
            if idx >= 0:
                self.run.setCurrentIndex(idx)
        self.out = QLineEdit()
        self.out.setObjectName("reportPath")
        self.out.setPlaceholderText(f"automatic: {ctx.store.layout.reports}/<case>-<report id>.pdf")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out, 1)
        row.addWidget(browse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("ready")
        self.progress.hide()  # shown once an export starts
        self.status = QLabel("The report lists the evidence and its hashes, the segments, the models and their "
                             "limits, the estimates with their uncertainty and the composites. It states that the "
                             "results are investigative leads, never an identification.")
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Analysis &run", self.run)
        form.addRow("Save as", row)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addWidget(self.progress)
        self.buttons = QDialogButtonBox()
        self.export_btn = self.buttons.addButton("Export and open", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_btn.setObjectName("exportButton")
        self.cancel_btn = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_btn.clicked.connect(self.export)
        self.cancel_btn.clicked.connect(self._cancel)
        lay.addWidget(self.buttons)

    def _browse(self) -> None:
        start = self.out.text() or str(self.ctx.store.layout.reports)
        p, _ = QFileDialog.getSaveFileName(self, "Save report", start, "PDF (*.pdf)")
        if p:
            self.out.setText(p if p.lower().endswith(".pdf") else p + ".pdf")

    def _cancel(self) -> None:
        if self.runner.current("report") is not None:
            self.runner.cancel("report")
        else:
            self.reject()

    def export(self) -> None:
        """Build the report in a worker."""
        from s2f_desktop.services import reports

        text = self.out.text().strip()
        out = Path(text).expanduser() if text else None  # None: the service picks a new, unique name
        run_id = self.run.currentData()
        self.export_btn.setEnabled(False)
        self.progress.show()
        self.progress.setFormat("starting…")
        self.runner.submit("report", lambda task: reports.build_report(self.ctx, self.case_number, out=out,
                                                                       run_id=run_id, task=task),
                           on_success=self._built, on_error=lambda e: self.reporter.report(e, "Report"),
                           on_progress=self._progress, on_done=lambda: self.export_btn.setEnabled(True))

    def _progress(self, frac: float, msg: str) -> None:
        if frac >= 0:
            self.progress.setValue(int(frac * 1000))
        self.progress.setFormat(f"{msg} — %p%" if msg else "%p%")

    def _built(self, result: Any) -> None:
        self.result = result
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self.status.setText(f"Saved {result.path} ({result.pages} pages)\nsha256 {result.sha256}")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report_built.emit(result)
        if not self.opener(Path(result.path)):
            self.status.setText(self.status.text() + "\nNo PDF viewer could be started; open the file yourself.")
            self.cancel_btn.setText("Close")  # the report is saved: nothing is cancelled by leaving
            return
        self.accept()


class RecordDialog(QDialog):
    """Record evidence from a microphone; the recording is imported into the case when stopped."""

    recorded = Signal(object)  # Evidence

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, case_number: str,
                 parent: QWidget | None = None, input_devices: list[dict[str, Any]] | None = None,
                 recorder_factory: Callable[[], Any] | None = None) -> None:
        super().__init__(parent)
        from s2f_desktop.audio import devices

        self.setWindowTitle(f"Record evidence — case {case_number}")
        self.ctx, self.runner, self.reporter, self.case_number = ctx, runner, reporter, case_number
        self.recorder_factory = recorder_factory or devices.Recorder
        self.recorder: Any = None
        self.started = 0.0
        self.device = QComboBox()
        if input_devices is not None:
            inputs = input_devices
        else:
            try:
                inputs = devices.list_input_devices()
            except Exception as exc:  # no audio system at all: say so, the dialog stays usable
                inputs = []
                self.reporter.report(exc, "Listing microphones")
        for dev in inputs:
            self.device.addItem(f"{dev['name']} ({dev['channels']} ch, {dev['hostapi']})", dev["index"])
        self.elapsed = QLabel("0:00")
        self.elapsed.setStyleSheet("font-size: 20pt;")
        self.start_btn = QPushButton("● Record")
        self.stop_btn = QPushButton("■ Stop and import")
        self.stop_btn.setEnabled(False)
        self.start_btn.setEnabled(bool(inputs))
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.stop)
        self.note = QLabel("" if inputs else "No microphone was found on this computer.")
        form = QFormLayout()
        form.addRow("&Microphone", self.device)
        form.addRow("Elapsed", self.elapsed)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(self.start_btn)
        row.addWidget(self.stop_btn)
        lay.addLayout(row)
        lay.addWidget(self.note)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        lay.addWidget(close)
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        s = int(time.monotonic() - self.started)
        self.elapsed.setText(f"{s // 60}:{s % 60:02d}")

    def start(self) -> None:
        """Start recording from the chosen device."""
        recorder = self.recorder_factory()
        try:
            recorder.start(device=self.device.currentData())
        except Exception as exc:
            self.reporter.report(exc, "Recording")
            return
        self.recorder = recorder
        self.started = time.monotonic()
        self.timer.start()
        self.start_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)

    def stop(self) -> None:
        """Stop, then import the recording into the case in a worker."""
        from s2f_desktop.services import audio as audio_svc

        self.timer.stop()
        recorder, self.recorder = self.recorder, None
        self.stop_btn.setEnabled(False)
        if recorder is None:
            return
        self.note.setText("Saving and importing the recording…")
        self.runner.submit("record-import",
                           lambda task: audio_svc.record_evidence(self.ctx, self.case_number, recorder, task=task),
                           on_success=self._done, on_error=lambda e: self.reporter.report(e, "Recording"))

    def _done(self, result: Any) -> None:
        self.recorded.emit(result)
        self.accept()

    def reject(self) -> None:  # noqa: D102 - stop a running recording before closing
        if self.recorder is not None:
            try:
                self.recorder.cancel()  # closing the dialog discards an unfinished recording
            except Exception:
                log.warning("discarding the recording failed", exc_info=True)
            self.recorder = None
        self.timer.stop()
        super().reject()
