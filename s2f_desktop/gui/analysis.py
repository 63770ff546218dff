"""Analysis page: choose accepted segments, run the voice analysis, read the results.

The analysis runs in a worker with progress and cancel; the window stays usable. The
results panel renders a stored :class:`~s2f_desktop.core.models.AnalysisRun`: pooled
and per-segment traits with their intervals, the quality verdict and its reasons,
acoustic measures and speaker-consistency warnings. An abstention (``inconclusive``)
is shown as an answer in its own right, with its reason, never as a missing value.
"""

from __future__ import annotations

import html
from typing import Any, Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import AnalysisRun, Segment, SegmentStatus
from s2f_desktop.core.results import Acoustics, Consistency, Quality, QualityVerdict
from s2f_desktop.core.timeutil import format_time
from s2f_desktop.core.traits import INCONCLUSIVE, TraitEstimate
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.workers import JobRunner

LEAD_DISCLAIMER = ("These estimates are investigative leads about the voice, never an identification of a person.")


# ------------------------------------------------------------------ rendering (pure functions)
def _esc(x: Any) -> str:
    return html.escape(str(x))


def _label_html(label: str) -> str:
    if label == INCONCLUSIVE:
        return "<span style='color:#b26a00;font-weight:bold'>inconclusive (abstained)</span>"
    return f"<b>{_esc(label)}</b>"


def traits_html(traits: TraitEstimate) -> str:
    """Sex and age lines of a trait estimate."""
    sex, age = traits.sex, traits.age
    line = f"Sex: {_label_html(sex.label)} — P(male) = {sex.p_male:.2f}, P(female) = {1 - sex.p_male:.2f}"
    if sex.reason:
        line += f"<br><small>&nbsp;&nbsp;why: {_esc(sex.reason)}</small>"
    out = [line]
    line = (f"Age: {_label_html(age.label)} — median {age.median_years:.0f} years, 80 % interval "
            f"{age.interval_80[0]:.0f}–{age.interval_80[1]:.0f} years")
    if age.bin_probabilities:
        line += "<br><small>&nbsp;&nbsp;" + ", ".join(f"{_esc(k)}: {v:.2f}" for k, v in
                                                     age.bin_probabilities.items()) + "</small>"
    if age.reason:
        line += f"<br><small>&nbsp;&nbsp;why: {_esc(age.reason)}</small>"
    out.append(line)
    return "<br>".join(out)


#: Colour of each quality verdict.
VERDICT_COLOURS = {QualityVerdict.OK: "#2e7d32", QualityVerdict.WARN: "#b26a00",
                   QualityVerdict.INSUFFICIENT: "#c62828"}


def quality_html(q: Quality) -> str:
    """The quality verdict with its reasons and key numbers."""
    out = f"Quality: <b style='color:{VERDICT_COLOURS[q.verdict]}'>{_esc(q.verdict.value)}</b>"
    nums = [f"net speech {q.net_speech_s:.1f} s"]
    if q.snr_db is not None:
        nums.append(f"SNR {q.snr_db:.1f} dB")
    if q.level_dbfs is not None:
        nums.append(f"level {q.level_dbfs:.1f} dBFS")
    nums += [f"bandwidth {q.bandwidth_hz:.0f} Hz", f"clipping {q.clipping_fraction:.2%}"]
    if q.telephone_band:
        nums.append("telephone band")
    out += f" <small>({_esc(' · '.join(nums))})</small>"
    if q.reasons:
        out += "<ul style='margin-top:0;margin-bottom:0'>" + "".join(f"<li>{_esc(r)}</li>" for r in q.reasons) + "</ul>"
    return out


def acoustics_html(a: Acoustics | None) -> str:
    """Acoustic measures as a compact table, with notes."""
    if a is None:
        return ""
    rows = []
    for k, m in a.measures.items():
        text = "—" if m.value is None else f"{m.value:.2f} {_esc(m.unit)}"
        if not m.reliable:
            text += " <span style='color:#b26a00'>(unreliable on telephone band)</span>"
        rows.append(f"<tr><td>{_esc(k.replace('_', ' '))}</td><td align='right'>{text}</td></tr>")
    out = "<table cellspacing='0' cellpadding='2'>" + "".join(rows) + "</table>"
    if a.formant_ceiling_hz:
        out += f"<small>formant ceiling {a.formant_ceiling_hz:.0f} Hz</small><br>"
    if a.notes:
        out += "<small>" + "<br>".join(_esc(n) for n in a.notes) + "</small>"
    return out


def consistency_html(c: Consistency | None, segments: dict[str, Segment] | None = None) -> str:
    """Speaker-consistency result: a warning per flagged segment, or a line saying why there is none."""
    if c is None:
        return "<i>Not checked: needs at least two segments with usable speech.</i>"
    segments = segments or {}
    if not c.flagged:
        return ("<span style='color:#2e7d32'>No speaker-consistency warnings: the selected segments sound like "
                f"one speaker</span> <small>(threshold {c.threshold:.2f})</small>.")
    out = []
    for sid in c.flagged:
        seg = segments.get(sid)
        where = f"{format_time(seg.start_s, 0.01)}–{format_time(seg.end_s, 0.01)}" if seg else sid[:8]
        sim = c.median_similarity.get(sid)
        extra = f" (median similarity {sim:.2f} below {c.threshold:.2f})" if sim is not None else ""
        out.append(f"<div style='color:#c62828'>⚠ Segment {_esc(where)} disagrees with the rest of the selection"
                   f"{_esc(extra)}: possibly a second speaker. Consider removing it and analysing again.</div>")
    return "".join(out)


def _section(title: str, body: str) -> str:
    return f"<h3 style='margin-bottom:2px'>{_esc(title)}</h3>{body}" if body else ""


def run_html(run: AnalysisRun, segments: dict[str, Segment] | None = None) -> str:
    """The whole results document for one run."""
    r = run.results
    segments = segments or {}
    parts = [f"<h2 style='margin-bottom:0'>Analysis run #{run.id}</h2>",
             f"<small>{run.created_at:%Y-%m-%d %H:%M} UTC by {_esc(run.created_by)} · device {_esc(run.device)} · "
             f"{len(run.segment_ids)} segment(s) · seed {run.seed}</small>",
             f"<p style='color:#555'><i>{_esc(LEAD_DISCLAIMER)}</i></p>"]
    parts.append(_section("Estimate (all selected segments pooled)",
                          traits_html(r.pooled.traits) + "<br>" + quality_html(r.pooled.quality)))
    parts.append(_section("Speaker consistency", consistency_html(r.consistency, segments)))
    parts.append(_section("Acoustic measures (pooled)", acoustics_html(r.pooled.acoustics)))
    body = []
    for rng in r.selection:
        item = r.segment(rng.segment_id)
        if item is None:
            continue
        seg = segments.get(rng.segment_id)
        where = f"{format_time(rng.start_s, 0.01)}–{format_time(rng.end_s, 0.01)}"
        if seg is None:
            where += " (segment deleted since)"
        elif (seg.start_sample, seg.end_sample) != (rng.start_sample, rng.end_sample):
            where += " (segment changed since)"
        elif seg.label:
            where += f" “{_esc(seg.label)}”"
        body.append(f"<p><b>Segment {where}</b> — {item.speech_s:.1f} s of speech<br>{traits_html(item.traits)}<br>"
                    f"{quality_html(item.quality)}</p>")
    if body:
        parts.append(_section("Per segment", "".join(body)))
    return "".join(parts)


# --------------------------------------------------------------------------------- widget
class AnalysisPanel(QWidget):
    """Segment picker, Analyze / Cancel with progress, run selector and the results browser."""

    run_finished = Signal(object)  # AnalysisRun
    analysis_ended = Signal()  # after success, failure or cancellation
    run_selected = Signal(object)  # AnalysisRun or None
    status_message = Signal(str)

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.reporter = reporter
        self.case: Any = None
        self.runs: list[AnalysisRun] = []
        self.segments: dict[str, Segment] = {}
        self.device = "auto"

        self.seg_list = QListWidget()
        self.seg_list.setObjectName("analysisSegments")
        self.all_btn = QPushButton("All")
        self.none_btn = QPushButton("None")
        self.all_btn.clicked.connect(lambda: self._check_all(True))
        self.none_btn.clicked.connect(lambda: self._check_all(False))
        self.analyze_btn = QPushButton("Analyze")
        self.analyze_btn.setObjectName("analyzeButton")
        self.analyze_btn.clicked.connect(self.analyze)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.device_label = QLabel()
        self.device_label.setWordWrap(True)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("<b>Accepted segments</b> (tick the ones to analyze)"))
        ll.addWidget(self.seg_list, 1)
        sel = QHBoxLayout()
        sel.addWidget(self.all_btn)
        sel.addWidget(self.none_btn)
        sel.addStretch(1)
        ll.addLayout(sel)
        ll.addWidget(self.device_label)
        act = QHBoxLayout()
        act.addWidget(self.analyze_btn)
        act.addWidget(self.cancel_btn)
        ll.addLayout(act)
        ll.addWidget(self.progress)

        self.run_combo = QComboBox()
        self.run_combo.setObjectName("runCombo")
        self.run_combo.currentIndexChanged.connect(self._run_changed)
        self.results = QTextBrowser()
        self.results.setObjectName("resultsBrowser")
        self.results.setOpenExternalLinks(False)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Run</b>"))
        top.addWidget(self.run_combo, 1)
        rl.addLayout(top)
        rl.addWidget(self.results, 1)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 5)
        split.setSizes([380, 1200])
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        self.set_case(None)

    # ------------------------------------------------------------------ state
    def set_device(self, device: str) -> None:
        """Inference device preference used for new runs."""
        self.device = device
        self.device_label.setText(f"<small>Inference device: <b>{_esc(device)}</b> (change in Settings)</small>")

    def set_case(self, case: Any) -> None:
        """Show a case (None: no case)."""
        self.case = case
        self.refresh()

    def refresh(self, select_run: int | None = None) -> None:
        """Reload segments and runs from the store."""
        from s2f_desktop.store import repositories as repo

        checked = set(self.checked_ids())
        self.seg_list.clear()
        self.segments = {}
        self.runs = []
        if self.case is not None:
            with self.ctx.store.read() as s:
                segs = repo.list_case_segments(s, self.case.id)
                evidence = {e.id: e for e in repo.list_evidence(s, self.case.id)}
                self.runs = repo.list_runs(s, self.case.id)
            self.segments = {x.id: x for x in segs}
            for seg in segs:
                if seg.status is not SegmentStatus.ACCEPTED:
                    continue
                ev = evidence.get(seg.evidence_id)
                text = (f"{ev.original_name if ev else seg.evidence_id}  {format_time(seg.start_s, 0.01)}–"
                        f"{format_time(seg.end_s, 0.01)} ({seg.duration_s:.1f} s)" + (f"  “{seg.label}”" if seg.label else ""))
                item = QListWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, seg.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if (not checked or seg.id in checked) else Qt.CheckState.Unchecked)
                self.seg_list.addItem(item)
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in self.runs:
            self.run_combo.addItem(f"#{run.id}  {run.created_at:%Y-%m-%d %H:%M}  ({len(run.segment_ids)} segments, "
                                   f"{run.device})", run.id)
        self.run_combo.blockSignals(False)
        busy = self.runner.current("analysis") is not None
        self.analyze_btn.setEnabled(self.case is not None and not busy)
        if self.runs:
            idx = len(self.runs) - 1
            if select_run is not None:
                idx = next((i for i, r in enumerate(self.runs) if r.id == select_run), idx)
            self.run_combo.setCurrentIndex(idx)
            self._run_changed(idx)
        else:
            self.results.setHtml("<p><i>No analysis yet. Tick accepted segments on the left and press "
                                 "<b>Analyze</b> (Ctrl+Return).</i></p>" if self.case else
                                 "<p><i>Open a case first.</i></p>")
            self.run_selected.emit(None)

    def checked_ids(self) -> list[str]:
        """Ids of ticked segments, in list order."""
        out = []
        for i in range(self.seg_list.count()):
            item = self.seg_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def set_checked(self, ids: Iterable[str]) -> None:
        """Tick exactly these segments."""
        ids = set(ids)
        for i in range(self.seg_list.count()):
            item = self.seg_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in ids
                               else Qt.CheckState.Unchecked)

    def _check_all(self, on: bool) -> None:
        for i in range(self.seg_list.count()):
            self.seg_list.item(i).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def current_run(self) -> AnalysisRun | None:
        """The run shown."""
        idx = self.run_combo.currentIndex()
        return self.runs[idx] if 0 <= idx < len(self.runs) else None

    def _run_changed(self, idx: int) -> None:
        run = self.runs[idx] if 0 <= idx < len(self.runs) else None
        if run is not None:
            self.results.setHtml(run_html(run, self.segments))
        self.run_selected.emit(run)

    # ------------------------------------------------------------------ work
    def analyze(self) -> None:
        """Analyze the ticked segments in a worker."""
        from s2f_desktop.core.errors import InputError
        from s2f_desktop.services import analysis as analysis_svc

        if self.case is None:
            return
        ids = self.checked_ids()
        if not ids:
            self.reporter.report(InputError("tick at least one accepted segment to analyze"))
            return
        case_number, device = self.case.number, self.device
        self.analyze_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.runner.submit("analysis",
                           lambda task: analysis_svc.analyze_selection(self.ctx, case_number, ids, device=device,
                                                                       task=task),
                           on_success=self._analysis_done,
                           on_error=lambda e: self.reporter.report(e, "Analysis"),
                           on_progress=self._progress,
                           on_done=self._analysis_ended)
        self.runner.current("analysis").cancelled.connect(lambda: self.status_message.emit("Analysis cancelled"))

    def cancel(self) -> None:
        """Cancel the running analysis."""
        self.runner.cancel("analysis")
        self.progress.setFormat("cancelling…")

    def _progress(self, frac: float, message: str) -> None:
        if frac >= 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(frac * 1000))
        else:
            self.progress.setRange(0, 0)
        self.progress.setFormat(f"{message} — %p%" if message else "%p%")
        if message:
            self.status_message.emit(f"Analysis: {message}")

    def _analysis_ended(self) -> None:
        self.cancel_btn.setEnabled(False)
        self.analyze_btn.setEnabled(self.case is not None)
        self.progress.setRange(0, 1000)
        if self.progress.format().startswith(("cancelling", "starting")) or self.progress.value() < 1000:
            self.progress.setFormat("idle")
            self.progress.setValue(0)
        self.analysis_ended.emit()

    def _analysis_done(self, run: AnalysisRun) -> None:
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self.refresh(select_run=run.id)
        self.status_message.emit(f"Analysis run #{run.id} finished")
        self.run_finished.emit(run)
