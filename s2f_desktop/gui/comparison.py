"""Comparison page: questioned vs known speech of a case, as a calibrated likelihood ratio.

The analyst picks the questioned and the known side by speaker label (the accepted segments
with that label, each tickable), runs the comparison in a worker (progress and cancel; the
run is stored and audited by :func:`s2f_desktop.services.comparison.compare_segments`), and
reads the result from the stored run: the propositions, the LR with its ENFSI 2015 verbal
expression side by side (or the reason the system abstained), and a Tippett plot of the
model's validation LRs with this case's LR marked.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import CaseStatus, SegmentStatus
from s2f_desktop.core.timeutil import fmt_clock
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.pages import JobPage, refusal_html, run_position, split_page
from s2f_desktop.gui.workers import JobRunner, show_progress

UNLABELLED = "(no speaker label)"


def _esc(x: Any) -> str:
    return html.escape(str(x))


def comparison_html(run: Any, rates: Mapping[int, int] | None = None) -> str:
    """The result document of a stored comparison run (pure function: tested without widgets).

    The sides are listed from the ranges stored with the run (``rates``: evidence id -> sample rate), so the
    result says what it compared whatever the lists beside it show now, and after a segment was edited;
    a run that stored no ranges (none written by this release) is named by its segment ids."""
    from s2f_desktop.report.comparison import channel_text, lr_text, side_text, telephone_sides

    r = run.results

    def side(name: str, ids: Sequence[str]) -> str:
        return _esc(side_text(r, name, rates) or "; ".join(f"segment {i[:8]}" for i in ids))

    out = [f"<h2 style='margin-bottom:0'>Comparison #{run.id}</h2>",
           f"<small>{run.created_at:%Y-%m-%d %H:%M} UTC by {_esc(run.created_by)} · device {_esc(run.device)} · "
           f"{len(run.questioned_ids)} questioned / {len(run.known_ids)} known segment(s)</small>",
           f"<p><small><b>Questioned</b>: {side('questioned', run.questioned_ids)}<br><b>Known</b>: "
           f"{side('known', run.known_ids)}"
           "</small></p>",
           f"<p><b>Hp</b>: {_esc(r.hp)}.<br><b>Hd</b>: {_esc(r.hd)}.</p>"]
    if r.notes:
        out.append("<p style='color:#c62828'><b>⚠ Channels mixed:</b> " + _esc("; ".join(r.notes)) + ".</p>")
    if r.log10_lr is None:
        out.append("<p style='color:#b26a00;font-size:large'><b>No likelihood ratio: the system abstains.</b></p>"
                   f"<p>Why: {_esc(r.abstain_reason or 'not stated')}</p>")
    else:
        bound = " <small>(at the bound the validation supports)</small>" if r.at_bound else ""
        out.append("<table cellpadding='4'><tr><td>"
                   f"<b style='font-size:large'>{_esc(lr_text(r.log10_lr))}</b>{bound}"
                   f"</td><td style='font-size:large'>{_esc(r.verbal)}</td></tr></table>"
                   f"<p><small>Verbal scale: {_esc(r.scale)}.</small></p>")
    out.append(f"<p>Speech compared: questioned {float(r.speech_s.questioned):.1f} s, "
               f"known {float(r.speech_s.known):.1f} s <small>(after the speaker model's own silence trimming; an "
               "analysis's net speech of the same segments can differ)</small>"
               f"<br>Channel: {_esc(channel_text(r.channel, telephone_sides(r)))} · model {_esc(r.model.id)}</p>")
    out.append("<p><small>The LR says how much more probable the measured speech is if the same speaker spoke both "
               "sides than if different speakers of the relevant population did. "
               "It is not an identification. The system was cross-validated on held-out speakers of its two "
               "training sources (LibriSpeech read speech, avspeech-968 speech from online videos); calibrated "
               "on one and tested on the other its LRs were markedly worse (model card and report: \"Across "
               "sources\"), "
               "so an LR on recordings unlike both deserves caution.</small></p>")
    return "".join(out)


class ComparisonPanel(JobPage):
    """Pick questioned/known segment sets, run the comparison off the GUI thread, show the stored result."""

    status_message = Signal(str)
    comparison_finished = Signal(object)
    comparison_ended = Signal()

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(ctx, runner, reporter or ErrorReporter(), parent)
        self.case: Any = None
        self.device = "auto"
        self.by_speaker: dict[str, list[Any]] = {}
        self.runs: list[Any] = []
        self._validation: tuple[np.ndarray, np.ndarray] | None = None
        self._names: dict[int, str] = {}
        self._rates: dict[int, int] = {}  # evidence id -> sample rate (stored ranges as times)
        # Why the last comparison started here was not run (None: it ran, or none was started). The pane
        # still shows a stored run below it: without the banner that run read as the refused one's result.
        self._refusal: str | None = None

        self.q_combo, self.k_combo = QComboBox(), QComboBox()
        self.q_list, self.k_list = QListWidget(), QListWidget()
        for combo, lst, name in ((self.q_combo, self.q_list, "questioned"), (self.k_combo, self.k_list, "known")):
            combo.setObjectName(f"{name}_speaker")
            combo.setToolTip(f"Speaker label of the {name} speech")
            lst.setObjectName(f"{name}_segments")
            lst.setToolTip(f"Tick the {name} segments (accepted segments of the chosen speaker label)")
            combo.currentIndexChanged.connect(lambda _i, c=combo, li=lst: self._fill(c, li))
        self.run_btn = QPushButton("Compare")
        self.run_btn.setToolTip("Compare the ticked questioned segments with the ticked known segments")
        self.run_btn.clicked.connect(self.compare)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.setToolTip("Stop the running comparison (nothing is stored)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("idle")
        self.progress.setTextVisible(True)
        self.progress.setToolTip("Progress of the running comparison")
        self.history = QComboBox()
        self.history.setObjectName("comparison_runs")
        self.history.setToolTip("Stored comparison runs of this case")
        self.history.currentIndexChanged.connect(self._show_run)
        # Any pick by the analyst, the shown run included (activated fires even when the index does not change):
        # they moved on from the refused request, so its banner goes.
        self.history.activated.connect(self._pick_run)
        self.results = QTextBrowser()
        self.results.setObjectName("comparison_result")
        self.results.setToolTip("The comparison's propositions, likelihood ratio, verbal scale and limits")

        # The Tippett plot is built the first time there is something to plot: pyqtgraph costs about
        # 0.4 s to import, which the window's cold start should not pay for a case without comparisons.
        self.plot: Any = None
        self.plot_box = QWidget()
        self.plot_box.setMinimumHeight(220)
        self.plot_layout = QVBoxLayout(self.plot_box)
        self.plot_layout.setContentsMargins(0, 0, 0, 0)
        self.case_line: Any = None

        pick = QGridLayout()
        pick.addWidget(QLabel("<b>Questioned</b> speaker"), 0, 0)
        pick.addWidget(self.q_combo, 1, 0)
        pick.addWidget(self.q_list, 2, 0)
        pick.addWidget(QLabel("<b>Known</b> speaker"), 0, 1)
        pick.addWidget(self.k_combo, 1, 1)
        pick.addWidget(self.k_list, 2, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_btn)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.progress, 1)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addLayout(pick)
        lv.addLayout(buttons)
        lv.addWidget(QLabel("Stored comparisons"))
        lv.addWidget(self.history)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.results, 1)
        rv.addWidget(self.plot_box, 1)
        split_page(self, (left, right), stretch=(0, 2))
        self.refresh()

    # ------------------------------------------------------------------ state
    def set_device(self, device: str) -> None:
        """Device preference for comparisons."""
        self.device = device

    def _open(self) -> bool:
        """A case is shown and open: a closed case's comparisons can be read, not run (the service refuses)."""
        return self.case is not None and self.case.status is not CaseStatus.CLOSED

    def set_case(self, case: Any) -> None:
        """Show a case (None: no case)."""
        self.case = case
        self._refusal = None
        self.refresh()

    def refresh(self, select_run: int | None = None) -> None:
        """Reload speaker labels, segments and stored comparisons from the store."""
        from s2f_desktop.store import comparisons as crepo
        from s2f_desktop.store import repositories as repo

        self.by_speaker, self.runs = {}, []
        if self.case is not None:
            with self.ctx.store.read() as s:
                segs = repo.list_case_segments(s, self.case.id)
                evidence = repo.list_evidence(s, self.case.id)
                self._names = {e.id: e.original_name for e in evidence}
                self._rates = {e.id: e.media.sample_rate for e in evidence}
                self.runs = crepo.list_comparisons(s, self.case.id)
            for seg in segs:
                if seg.status is SegmentStatus.ACCEPTED:
                    self.by_speaker.setdefault(seg.speaker_tag or UNLABELLED, []).append(seg)
        labels = sorted(self.by_speaker)
        for i, combo in enumerate((self.q_combo, self.k_combo)):
            old = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(labels)
            if old in labels:
                combo.setCurrentText(old)
            elif len(labels) > 1:
                combo.setCurrentIndex(min(i, len(labels) - 1))
            combo.blockSignals(False)
        self._fill(self.q_combo, self.q_list)
        self._fill(self.k_combo, self.k_list)
        self.history.blockSignals(True)
        self.history.clear()
        for run in self.runs:
            llr = run.results.log10_lr
            self.history.addItem(f"#{run.id}  {run.created_at:%Y-%m-%d %H:%M}  "
                                 + ("abstained" if llr is None else f"log10 LR {llr:+.2f}"), run.id)
        self.history.blockSignals(False)
        self.run_btn.setEnabled(self._open() and len(labels) > 0 and self.runner.current("comparison") is None)
        if self.runs:
            idx = run_position(self.runs, select_run)
            self.history.setCurrentIndex(idx)
            self._show_run(idx)
        else:
            self.results.setHtml(self._refusal_html() + "<p><i>" + ("Open a case first." if self.case is None else
                                             "No comparison yet. Choose the questioned and the known speaker, tick "
                                             "their segments and press <b>Compare</b>.") + "</i></p>")
            self._plot(None)

    def _fill(self, combo: QComboBox, lst: QListWidget) -> None:
        lst.clear()
        # A speaker group's segments start ticked; the unlabelled ones do not: they may be several voices, so the
        # analyst ticks those of one voice (the command line refuses "speaker:" without a label for the same reason).
        unlabelled = combo.currentText() == UNLABELLED
        for seg in self.by_speaker.get(combo.currentText(), []):
            # Times first: the column is narrow, and the range is what tells segments apart.
            text = (f"{fmt_clock(seg.start_s)}–{fmt_clock(seg.end_s)} ({seg.duration_s:.2f} s)  "
                    f"{self._names.get(seg.evidence_id, seg.evidence_id)}")
            item = QListWidgetItem(text)
            item.setToolTip(text)
            item.setData(Qt.ItemDataRole.UserRole, seg.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if unlabelled else Qt.CheckState.Checked)
            lst.addItem(item)

    @staticmethod
    def _checked(lst: QListWidget) -> list[str]:
        return [lst.item(i).data(Qt.ItemDataRole.UserRole) for i in range(lst.count())
                if lst.item(i).checkState() == Qt.CheckState.Checked]

    def questioned_ids(self) -> list[str]:
        """Ticked questioned segment ids."""
        return self._checked(self.q_list)

    def known_ids(self) -> list[str]:
        """Ticked known segment ids."""
        return self._checked(self.k_list)

    def current_run(self) -> Any:
        """The stored comparison shown."""
        idx = self.history.currentIndex()
        return self.runs[idx] if 0 <= idx < len(self.runs) else None

    def _show_run(self, idx: int) -> None:
        run = self.runs[idx] if 0 <= idx < len(self.runs) else None
        if run is None:
            return
        self.results.setHtml(self._refusal_html(shown=True) + comparison_html(run, self._rates))
        self._plot(run)

    def _pick_run(self, idx: int) -> None:
        self._refusal = None  # the analyst moved on to another stored run
        self._show_run(idx)

    def _refusal_html(self, shown: bool = False) -> str:
        """The banner of a refused request; ``shown``: a stored comparison is displayed below it."""
        return refusal_html("The comparison just started was not run:", self._refusal, "<br>Nothing was stored."
                            + (" Shown below: a stored comparison, not a result of that request." if shown else ""))

    def _ensure_plot(self) -> Any:
        import pyqtgraph as pg

        if self.plot is None:
            self.plot = pg.PlotWidget(background="w")
            self.plot.setObjectName("tippett_plot")
            self.plot.setToolTip("Tippett plot of the comparison system's validation LRs; the dashed line is this "
                                 "comparison's LR")
            self.plot.setLabel("bottom", "log10 LR")
            self.plot.setLabel("left", "share of validation LRs ≥ x")
            self.plot.showGrid(x=True, y=True, alpha=0.3)
            # Below the Hp curve's plateau and right of the bound, where neither curve nor the case
            # line runs (at the top-left corner the legend covered both).
            self.plot.addLegend(offset=(120, 90), labelTextColor="k", brush=(255, 255, 255, 220))
            self.plot_layout.addWidget(self.plot)
        return self.plot

    def _plot(self, run: Any) -> None:
        if run is None and self.plot is None:
            return  # nothing drawn yet, nothing to clear
        import pyqtgraph as pg

        self._ensure_plot().clear()
        self.case_line = None
        if run is None:
            return
        if self._validation is None:
            from s2f_desktop.report.comparison import load_validation

            try:
                _, llr, lab = load_validation(run.results.model.id)
            except Exception as exc:  # a missing or altered model file: say so, show no plot
                self.reporter.report(exc, "Tippett plot")
                return
            self._validation = (llr, lab)
        llr, lab = self._validation
        xs = np.linspace(float(llr.min()) - 0.25, float(llr.max()) + 0.25, 300)
        for cls, color, name in ((1, "#1f5fa8", "same speaker (Hp true)"),
                                 (0, "#c62828", "different speakers (Hd true)")):
            v = np.sort(llr[lab == cls])
            share = 1.0 - np.searchsorted(v, xs, side="left") / max(1, len(v))
            self.plot.plot(xs, share, pen=pg.mkPen(color, width=2), name=f"{name}, n = {len(v)}")
        case_llr = run.results.log10_lr
        if case_llr is not None:
            self.case_line = pg.InfiniteLine(pos=float(case_llr), angle=90,
                                             pen=pg.mkPen("k", width=2, style=Qt.PenStyle.DashLine),
                                             label=f"this case {case_llr:+.2f}",
                                             labelOpts={"position": 0.9, "color": "k"})
            self.plot.addItem(self.case_line)

    # ------------------------------------------------------------------ work
    def compare(self) -> None:
        """Compare the ticked segments in a worker; the result is stored, then shown."""
        from s2f_desktop.core.errors import InputError
        from s2f_desktop.services import comparison as svc

        if self.case is None:
            return
        q, k = self.questioned_ids(), self.known_ids()
        if not q or not k:
            self.reporter.report(InputError("tick at least one questioned and one known segment"))
            return
        case_number, device = self.case.number, self.device
        self.run_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        job = self.runner.submit("comparison",
                                 lambda task: svc.compare_segments(self.ctx, case_number, q, k,
                                                                   device=device, task=task),
                                 on_success=self._done, on_error=self._failed,
                                 on_progress=self._progress, on_done=self._ended)
        job.cancelled.connect(lambda: self.status_message.emit("Comparison cancelled"))

    def _failed(self, exc: BaseException) -> None:
        from s2f_desktop.core.errors import CancelledError

        if not isinstance(exc, CancelledError):
            self._refusal = self.reporter.describe(exc)[1].split("\n")[0]
            self.status_message.emit("Comparison not run (see the message)")
            idx = self.history.currentIndex()
            if 0 <= idx < len(self.runs):
                self._show_run(idx)
            else:
                self.refresh()
        self.reporter.report(exc, "Comparison")

    def cancel(self) -> None:
        """Cancel the running comparison."""
        self.runner.cancel("comparison")
        self.progress.setFormat("cancelling…")

    def _progress(self, frac: float, message: str) -> None:
        show_progress(self.progress, frac, message)

    def _ended(self) -> None:
        self.cancel_btn.setEnabled(False)
        self.run_btn.setEnabled(self._open())
        self.progress.setRange(0, 1000)
        if self.progress.value() < 1000:
            self.progress.setFormat("idle")
            self.progress.setValue(0)
        self.comparison_ended.emit()

    def _done(self, run: Any) -> None:
        self._refusal = None
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self.refresh(select_run=run.id)
        self.status_message.emit(f"Comparison #{run.id} finished")
        self.comparison_finished.emit(run)


def offer_group_runs(parent: QWidget, error: Any, run_group: Any, where: Callable[[str], str] | None = None) -> bool:
    """When an analysis was refused because its selection holds several voices, offer one run per group.

    ``error`` is a :class:`s2f_desktop.services.comparison.MultipleSpeakersError`; ``run_group(ids)`` starts
    the analysis of one group (e.g. tick exactly those segments and analyse); ``where(id)`` names a segment
    as the analyst sees it (its times). Returns True when the error was of that kind (the dialog was
    shown), False otherwise so the caller reports it as usual.
    """
    from PySide6.QtWidgets import QMessageBox

    from s2f_desktop.services.comparison import MultipleSpeakersError

    if not isinstance(error, MultipleSpeakersError):
        return False
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Several voices in the selection")
    box.setText(f"The selected segments hold {len(error.groups)} different voices: one profile must not pool them.")
    name: Callable[[str], str] = where or (lambda sid: sid[:8])

    def listing(ids: Any) -> str:
        ids = list(ids)
        return ", ".join(name(i) for i in ids[:4]) + (" …" if len(ids) > 4 else "")

    # The groups are listed in the text and the buttons carry only their numbers: a button holding the
    # segments' times outgrew the dialog and was cut off, hiding which group it ran.
    info = "\n".join(f"Group {i}: {listing(g)} ({len(g)} segment{'s' if len(g) != 1 else ''})"
                     for i, g in enumerate(error.groups, start=1))
    info += "\n\nAnalyse one speaker group at a time. Each group becomes its own analysis run."
    short = list(error.split.unassessed)
    if short:
        info += (f" {len(short)} segment{'s' if len(short) != 1 else ''} with too little speech to judge "
                 f"({listing(short)}) belong{'s' if len(short) == 1 else ''} to no group and stay out of these runs.")
    box.setInformativeText(info)
    buttons = []
    for i, g in enumerate(error.groups, start=1):
        buttons.append((box.addButton(f"Analyse group {i} ({len(g)} segment{'s' if len(g) != 1 else ''})",
                                      QMessageBox.ButtonRole.AcceptRole), g))
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setObjectName("several_voices_dialog")

    def clicked(button: Any) -> None:
        for b, g in buttons:
            if button is b:
                run_group(list(g))

    # Window-modal and non-blocking (open, not exec): the event loop keeps running, so progress,
    # cancellation and tests are never stuck behind the question.
    box.buttonClicked.connect(clicked)
    box.open()
    return True
