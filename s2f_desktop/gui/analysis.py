"""Analysis page: choose what to analyze, run the voice analysis, read the results.

What is analyzed is explicit and visible: the segments selected on the waveform, a
speaker group, a label, or all accepted segments of one recording, listed before the
run starts; segments of different recordings are pooled only when the analyst says so.
Runs carry the analyst's name and notes (:mod:`s2f_desktop.services.runs`).

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
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import AnalysisRun, Segment, SegmentStatus
from s2f_desktop.core.results import Acoustics, Consistency, Quality, QualityVerdict
from s2f_desktop.core.timeutil import fmt_clock
from s2f_desktop.core.traits import INCONCLUSIVE, TraitEstimate, age_limit_note
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.pages import JobPage, refusal_html, run_position, split_page
from s2f_desktop.gui.workers import JobRunner, show_progress
from s2f_desktop.report.language import fmt_probability

LEAD_DISCLAIMER = ("These estimates are investigative leads about the voice, never an identification of a person.")


# ------------------------------------------------------------------ rendering (pure functions)
def _esc(x: Any) -> str:
    return html.escape(str(x))


def _label_html(label: str) -> str:
    if label == INCONCLUSIVE:
        return "<span style='color:#b26a00;font-weight:bold'>inconclusive (abstained)</span>"
    return f"<b>{_esc(label)}</b>"


def traits_html(traits: TraitEstimate) -> str:
    """Sex and age lines of a trait estimate.

    When both traits abstained before any answer counted (the quality gate, or nothing measurable),
    the numbers are shown only as a record, marked as not findings, as the report prints them. An
    age estimate without a band label is an answer (median and interval), not an abstention.
    """
    sex, age = traits.sex, traits.age
    gate = traits.gate_reason
    if gate:
        text = f"Sex and age: {_label_html(INCONCLUSIVE)}<br><small>&nbsp;&nbsp;why: {_esc(gate)}</small>"
        if not traits.measured:
            return text + "<br><small>&nbsp;&nbsp;Nothing could be measured: no estimate exists.</small>"
        return text + (f"<br><small style='color:#555'>&nbsp;&nbsp;For the record only, not findings: P(male) = "
                      f"{fmt_probability(sex.p_male)}; age median {age.median_years:.0f} years, 80 % interval "
                      f"{age.interval_80[0]:.0f}–{age.interval_80[1]:.0f} years.</small>")
    # The report's digits (three; four near 0 or 1): two had shown a calibrated 0.998 as "P(female) = 1.00".
    line = (f"Sex: {_label_html(sex.label)} — P(male) = {fmt_probability(sex.p_male)}, "
            f"P(female) = {fmt_probability(1 - sex.p_male)}")
    if sex.reason:
        line += f"<br><small>&nbsp;&nbsp;why: {_esc(sex.reason)}</small>"
    out = [line]
    line = (f"Age: {'' if age.label == INCONCLUSIVE else _label_html(age.label) + ' — '}median "
            f"{age.median_years:.0f} years, 80 % interval {age.interval_80[0]:.0f}–{age.interval_80[1]:.0f} years"
            + (" <small>(no age band stated)</small>" if age.label == INCONCLUSIVE else ""))
    base = traits.extra.get("age_baseline")
    if "age_p_40_plus" in traits.extra and isinstance(base, dict):
        # No band is validated: the interval is the answer, shown with P(40+) and the baseline
        # of always answering the training median (band probabilities would read as findings).
        b_lo, b_hi = base["interval_80_years"]
        line += (f"<br><small>&nbsp;&nbsp;P(40 or over) = {float(traits.extra['age_p_40_plus']):.2f} · baseline "
                 f"(always the training median): {float(base['median_years']):.0f} years, 80 % "
                 f"{b_lo:.0f}–{b_hi:.0f}, P(40 or over) {float(base['p_40_plus']):.2f}</small>")
    elif age.bin_probabilities:
        line += "<br><small>&nbsp;&nbsp;" + ", ".join(f"{_esc(k)}: {v:.2f}" for k, v in
                                                     age.bin_probabilities.items()) + "</small>"
    limit = age_limit_note(age, traits.extra)
    if limit:
        line += f"<br><small>&nbsp;&nbsp;{_esc(limit)}</small>"
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
    # Two decimals, as the report prints them: a value rounded to one decimal could read as the threshold
    # that the reasons (rounded down) say it is below, e.g. "net speech 2.2 s" beside "2.1 s is below 3 s".
    nums = [f"net speech {q.net_speech_s:.2f} s"]
    if q.snr_db is not None:
        nums.append(f"SNR {q.snr_db:.2f} dB")
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
        short = (f" <small>{len(c.not_judged)} segment(s) too short to judge.</small>" if c.not_judged else "")
        how = ("calibrated comparison" if c.method == "calibrated" else f"threshold {c.threshold:.2f}")
        return ("<span style='color:#2e7d32'>No speaker-consistency warnings: the automatic check found no "
                f"segment of another voice</span> <small>({how})</small>." + short)
    out = []
    for sid in c.flagged:
        seg = segments.get(sid)
        where = f"{fmt_clock(seg.start_s)}–{fmt_clock(seg.end_s)}" if seg else sid[:8]
        if c.method == "calibrated":
            llr = c.log10_lr.get(sid)
            extra = (f" (log10 LR {llr:+.2f} against the main speaker group; groups are kept apart at "
                     f"{c.threshold:+.1f} or below)") if llr is not None else ""
        else:
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
    unshipped = [m for m in run.models if not m.shipped]
    if unshipped:
        parts.append("<p style='color:#c62828'><b>⚠ Not the shipped models:</b> "
                     + _esc(", ".join(f"{m.id}/{m.file}" for m in unshipped))
                     + " — the files this run used are not the ones this installation ships; their validation "
                       "does not apply.</p>")
    if r.notes:
        parts.append("<p style='color:#c62828'><b>⚠ Channels mixed:</b> " + _esc("; ".join(r.notes)) + ".</p>")
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
        where = f"{fmt_clock(rng.start_s)}–{fmt_clock(rng.end_s)}"
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
def speaker_name(tag: str) -> str:
    """'Speaker A' for a short tag, 'Speaker “caller”' for a word."""
    return f"Speaker {tag}" if len(tag) <= 3 else f"Speaker “{tag}”"


#: Where the analysis selection comes from (the first item of a source key).
SOURCE_SELECTION, SOURCE_SPEAKER, SOURCE_LABEL, SOURCE_RECORDING = "selection", "speaker", "label", "recording"
#: One speaker tag across every recording that has it (pooled only when the analyst ticks the box).
SOURCE_SPEAKER_ALL = "speaker-all"


class AnalysisPanel(JobPage):
    """What to analyze (explicit, listed), Analyze / Cancel with progress, the runs and their results."""

    run_finished = Signal(object)  # AnalysisRun
    analysis_ended = Signal()  # after success, failure or cancellation
    run_selected = Signal(object)  # AnalysisRun or None
    status_message = Signal(str)
    selection_shown = Signal(list)  # the segment ids the next run would analyze

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(ctx, runner, reporter, parent)
        self.case: Any = None
        self.runs: list[AnalysisRun] = []
        # Why the last analysis started here was not stored (None: it was, or none was started); said above
        # the stored run the page keeps showing, which otherwise read as the refused request's result.
        self._refusal: str | None = None
        self.notes: dict[int, Any] = {}
        self.segments: dict[str, Segment] = {}
        self.evidence: dict[int, Any] = {}
        self.device = "auto"
        self.waveform_ids: list[str] = []
        self._source_key: tuple[Any, ...] = (SOURCE_SELECTION,)
        self._name_edited = False

        self.source = QComboBox()
        self.source.setObjectName("analysisSource")
        self.source.setToolTip("What the next run analyzes: the segments selected on the waveform, a speaker "
                               "group, a label, or every accepted segment of one recording")
        self.source.currentIndexChanged.connect(self._source_changed)
        self.seg_list = QListWidget()
        self.seg_list.setObjectName("analysisSegments")
        self.seg_list.setToolTip("Exactly the segments the next run analyzes")
        self.summary = QLabel()
        self.summary.setObjectName("analysisSummary")
        self.summary.setWordWrap(True)
        self.allow_mix = QCheckBox("Pool segments from different recordings")
        self.allow_mix.setObjectName("allowMix")
        self.allow_mix.setToolTip("Only if you are sure the recordings hold the same speaker: the run pools them "
                                  "into one estimate")
        self.allow_mix.toggled.connect(lambda _on: self._update_summary())
        self.run_name = QLineEdit()
        self.run_name.setObjectName("runName")
        self.run_name.setToolTip("A name for the run (e.g. 'Speaker A, interview'); shown in the run list "
                                 "and the report")
        self.run_name.textEdited.connect(lambda _t: setattr(self, "_name_edited", True))
        self.run_notes = QPlainTextEdit()
        self.run_notes.setObjectName("runNotes")
        self.run_notes.setTabChangesFocus(True)
        self.run_notes.setFixedHeight(60)
        self.run_notes.setToolTip("Notes kept with the run (why this selection, what to watch for)")
        self.analyze_btn = QPushButton("Analyze")
        self.analyze_btn.setObjectName("analyzeButton")
        self.analyze_btn.setToolTip("Analyze the listed segments (Ctrl+Return)")
        self.analyze_btn.clicked.connect(self.analyze)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop the running analysis (Esc); nothing is stored")
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.progress.setToolTip("Progress of the running analysis")
        self.device_label = QLabel()
        self.device_label.setWordWrap(True)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("<b>Analyze</b>"))
        ll.addWidget(self.source)
        ll.addWidget(self.seg_list, 1)
        ll.addWidget(self.summary)
        ll.addWidget(self.allow_mix)
        form = QFormLayout()
        form.addRow("Run &name", self.run_name)
        form.addRow("N&otes", self.run_notes)
        ll.addLayout(form)
        ll.addWidget(self.device_label)
        act = QHBoxLayout()
        act.addWidget(self.analyze_btn)
        act.addWidget(self.cancel_btn)
        ll.addLayout(act)
        ll.addWidget(self.progress)

        self.run_combo = QComboBox()
        self.run_combo.setObjectName("runCombo")
        self.run_combo.setToolTip("Stored runs of this case, newest last")
        self.run_combo.currentIndexChanged.connect(self._run_changed)
        self.run_combo.activated.connect(self._run_picked)  # the analyst's own pick (as on the Comparison page)
        self.run_info = QLabel()
        self.run_info.setObjectName("runInfo")
        self.run_info.setWordWrap(True)
        self.annotate_btn = QPushButton("Name / notes…")
        self.annotate_btn.setToolTip("Rename the shown run or change its notes (kept in the audit trail)")
        self.annotate_btn.clicked.connect(self.annotate_dialog)
        self.results = QTextBrowser()
        self.results.setObjectName("resultsBrowser")
        self.results.setOpenExternalLinks(False)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Run</b>"))
        top.addWidget(self.run_combo, 1)
        top.addWidget(self.annotate_btn)
        rl.addLayout(top)
        rl.addWidget(self.run_info)
        rl.addWidget(self.results, 1)

        split_page(self, (left, right), stretch=(2, 5), sizes=(420, 1160))
        self.set_case(None)

    # ------------------------------------------------------------------ state
    def set_device(self, device: str) -> None:
        """Inference device preference used for new runs."""
        self.device = device
        self.device_label.setText(f"<small>Inference device: <b>{_esc(device)}</b> (change in Settings)</small>")

    def set_case(self, case: Any) -> None:
        """Show a case (None: no case)."""
        self.case = case
        self._refusal = None
        self.waveform_ids = []
        self._source_key = (SOURCE_SELECTION,)
        self.run_notes.clear()
        self.run_name.clear()
        self._name_edited = False
        self.refresh()

    def set_waveform_selection(self, ids: Iterable[str]) -> None:
        """What is selected on the waveform now (the 'selected on the waveform' source follows it)."""
        self.waveform_ids = list(ids)
        if self._source_key[0] == SOURCE_SELECTION:
            self._show_selection()

    def use_waveform_selection(self) -> None:
        """Make the waveform's selection the thing to analyze."""
        self._set_source((SOURCE_SELECTION,))

    def use_speaker(self, evidence_id: int, tag: str) -> bool:
        """Make one recording's speaker group the thing to analyze; False if there is no such group."""
        return self._set_source((SOURCE_SPEAKER, int(evidence_id), tag))

    def use_speaker_everywhere(self, tag: str) -> bool:
        """One speaker tag across every recording (needs the pooling box ticked to run)."""
        return self._set_source((SOURCE_SPEAKER_ALL, tag))

    def use_recording(self, evidence_id: int) -> bool:
        """Analyze every accepted segment of one recording."""
        return self._set_source((SOURCE_RECORDING, int(evidence_id)))

    def _set_source(self, key: tuple[Any, ...]) -> bool:
        for i in range(self.source.count()):
            if self.source.itemData(i) == key:
                self.source.setCurrentIndex(i)
                self._source_key = key
                self._show_selection()
                return True
        return False

    def refresh(self, select_run: int | None = None) -> None:
        """Reload segments, sources and runs from the store (keeps the chosen source and run)."""
        from s2f_desktop.services import runs as runs_svc
        from s2f_desktop.store import repositories as repo

        shown = self.current_run()
        keep_run = select_run if select_run is not None else (shown.id if shown else None)
        self.segments, self.evidence, self.runs, self.notes = {}, {}, [], {}
        if self.case is not None:
            with self.ctx.store.read() as s:
                segs = repo.list_case_segments(s, self.case.id)
                self.evidence = {e.id: e for e in repo.list_evidence(s, self.case.id)}
                self.runs = repo.list_runs(s, self.case.id)
            self.segments = {x.id: x for x in segs}
            self.notes = runs_svc.run_notes(self.ctx, self.case.number)
        self._fill_sources()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in self.runs:
            self.run_combo.addItem(self.run_title(run), run.id)
        self.run_combo.blockSignals(False)
        if self.runs:
            idx = run_position(self.runs, keep_run)
            self.run_combo.setCurrentIndex(idx)
            self._run_changed(idx)
        else:
            self.run_info.clear()
            self.results.setHtml(self._refusal_html(shown=False) + "<p><i>No analysis yet. Choose what to analyze "
                                 "on the left (or select segments "
                                 "on the waveform) and press <b>Analyze</b> (Ctrl+Return).</i></p>" if self.case else
                                 "<p><i>Open a case first.</i></p>")
            self.run_selected.emit(None)
        self.annotate_btn.setEnabled(bool(self.runs) and self._writable())

    def _writable(self) -> bool:
        return self.case is not None and getattr(self.case.status, "value", "open") == "open"

    def run_title(self, run: AnalysisRun) -> str:
        """How a run is listed: number, name, time, size."""
        note = self.notes.get(run.id)
        name = f"  {note.name}" if note is not None and note.name else ""
        n = len(run.segment_ids)
        return (f"#{run.id}{name}  —  {run.created_at:%Y-%m-%d %H:%M}  ({n} segment{'' if n == 1 else 's'}, "
                f"{run.device})")

    def _accepted(self) -> list[Segment]:
        return sorted((g for g in self.segments.values() if g.status is SegmentStatus.ACCEPTED),
                      key=lambda g: (g.evidence_id, g.start_sample))

    def _ev_name(self, evidence_id: int) -> str:
        ev = self.evidence.get(evidence_id)
        return ev.original_name if ev is not None else f"evidence #{evidence_id}"

    def _fill_sources(self) -> None:
        acc = self._accepted()
        items: list[tuple[str, tuple[Any, ...]]] = [("Segments selected on the waveform", (SOURCE_SELECTION,))]
        speakers: dict[tuple[int, str], int] = {}
        labels: dict[tuple[int, str], int] = {}
        recordings: dict[int, int] = {}
        for g in acc:
            recordings[g.evidence_id] = recordings.get(g.evidence_id, 0) + 1
            if g.speaker_tag:
                speakers[(g.evidence_id, g.speaker_tag)] = speakers.get((g.evidence_id, g.speaker_tag), 0) + 1
            if g.label:
                labels[(g.evidence_id, g.label)] = labels.get((g.evidence_id, g.label), 0) + 1
        for (ev_id, tag), n in sorted(speakers.items()):
            items.append((f"{speaker_name(tag)} — {self._ev_name(ev_id)} ({n})", (SOURCE_SPEAKER, ev_id, tag)))
        across: dict[str, list[int]] = {}
        for (ev_id, tag), n in speakers.items():
            across.setdefault(tag, []).append(n)
        for tag, counts in sorted(across.items()):
            if len(counts) > 1:  # the same tag in several recordings: offered, never pooled silently
                items.append((f"{speaker_name(tag)} — {len(counts)} recordings ({sum(counts)})",
                              (SOURCE_SPEAKER_ALL, tag)))
        for (ev_id, label), n in sorted(labels.items()):
            items.append((f"Label “{label}” — {self._ev_name(ev_id)} ({n})", (SOURCE_LABEL, ev_id, label)))
        for ev_id, n in sorted(recordings.items()):
            items.append((f"All accepted segments of {self._ev_name(ev_id)} ({n})", (SOURCE_RECORDING, ev_id)))
        self.source.blockSignals(True)
        self.source.clear()
        for text, key in items:
            self.source.addItem(text, key)
        keys = [k for _t, k in items]
        if self._source_key not in keys:
            self._source_key = (SOURCE_SELECTION,)
        self.source.setCurrentIndex(keys.index(self._source_key))
        self.source.blockSignals(False)
        self._show_selection()

    def _source_changed(self, idx: int) -> None:
        key = self.source.itemData(idx)
        if key is not None:
            self._source_key = tuple(key)
            self._name_edited = False
            self._show_selection()

    def selected_ids(self) -> list[str]:
        """The segment ids the next run analyzes (accepted segments only), in time order."""
        key = self._source_key
        acc = self._accepted()
        if key[0] == SOURCE_SELECTION:
            chosen = set(self.waveform_ids)
            return [g.id for g in acc if g.id in chosen]
        if key[0] == SOURCE_SPEAKER:
            return [g.id for g in acc if g.evidence_id == key[1] and g.speaker_tag == key[2]]
        if key[0] == SOURCE_LABEL:
            return [g.id for g in acc if g.evidence_id == key[1] and g.label == key[2]]
        if key[0] == SOURCE_SPEAKER_ALL:
            return [g.id for g in acc if g.speaker_tag == key[1]]
        if key[0] == SOURCE_RECORDING:
            return [g.id for g in acc if g.evidence_id == key[1]]
        return []

    def describe_source(self) -> str:
        """A default run name for the chosen source."""
        key = self._source_key
        if key[0] == SOURCE_SPEAKER:
            return f"{speaker_name(key[2])} — {self._ev_name(key[1])}"
        if key[0] == SOURCE_LABEL:
            return f"Label “{key[2]}” — {self._ev_name(key[1])}"
        if key[0] == SOURCE_RECORDING:
            return f"All accepted — {self._ev_name(key[1])}"
        if key[0] == SOURCE_SPEAKER_ALL:
            return f"{speaker_name(key[1])} — all recordings"
        ids = self.selected_ids()
        evs = {self.segments[i].evidence_id for i in ids}
        return f"Selection — {', '.join(self._ev_name(e) for e in sorted(evs))}" if ids else ""

    def segment_text(self, seg: Segment) -> str:
        """A segment in words: recording, time range, speaker and label (never its id)."""
        return (f"{self._ev_name(seg.evidence_id)}  {fmt_clock(seg.start_s)}–{fmt_clock(seg.end_s)}"
                f" ({seg.duration_s:.1f} s)" + (f"  [{seg.speaker_tag}]" if seg.speaker_tag else "")
                + (f"  “{seg.label}”" if seg.label else ""))

    def _show_selection(self) -> None:
        ids = self.selected_ids()
        self.seg_list.clear()
        for sid in ids:
            item = QListWidgetItem(self.segment_text(self.segments[sid]))
            item.setData(Qt.ItemDataRole.UserRole, sid)
            self.seg_list.addItem(item)
        if not self._name_edited:
            self.run_name.setText(self.describe_source())
        self._update_summary()
        self.selection_shown.emit(ids)

    def mixed_recordings(self) -> list[int]:
        """Evidence ids of the selection when it spans more than one recording (else empty)."""
        evs = sorted({self.segments[i].evidence_id for i in self.selected_ids()})
        return evs if len(evs) > 1 else []

    def _update_summary(self) -> None:
        ids = self.selected_ids()
        busy = self.runner.current("analysis") is not None
        mixed = self.mixed_recordings()
        self.allow_mix.setVisible(bool(mixed))
        if self._source_key[0] == SOURCE_SELECTION:
            left_out = [i for i in self.waveform_ids if i in self.segments and i not in ids]
        else:
            left_out = []
        if not ids:
            text = ("Nothing to analyze: select accepted segments on the waveform (Shift/Ctrl+click in the segment "
                    "table), or choose a speaker group or recording above." if self.case else "")
        else:
            total = sum(self.segments[i].duration_s for i in ids)
            text = f"<b>{len(ids)}</b> segment(s), {total:.1f} s"
            if left_out:
                text += f"; {len(left_out)} selected segment(s) not accepted and left out"
            if mixed:
                text += ("<br><span style='color:#c62828'>These segments come from "
                         f"{len(mixed)} recordings ({_esc(', '.join(self._ev_name(e) for e in mixed))}). "
                         "They are pooled only if you tick the box below.</span>")
        self.summary.setText(text)
        ok = bool(ids) and (not mixed or self.allow_mix.isChecked())
        self.analyze_btn.setEnabled(self.case is not None and self._writable() and not busy and ok)

    def current_run(self) -> AnalysisRun | None:
        """The run shown."""
        idx = self.run_combo.currentIndex()
        return self.runs[idx] if 0 <= idx < len(self.runs) else None

    def _run_changed(self, idx: int) -> None:
        run = self.runs[idx] if 0 <= idx < len(self.runs) else None
        if run is not None:
            note = self.notes.get(run.id)
            info = ""
            if note is not None and (note.name or note.notes):
                info = (f"<b>{_esc(note.name)}</b>" if note.name else "") + \
                       (f"<br>{_esc(note.notes)}" if note.notes else "") + f" <small>(by {_esc(note.by)})</small>"
            evs = sorted({self.segments[i].evidence_id for i in run.segment_ids if i in self.segments})
            if evs:
                info += ("<br>" if info else "") + "<small>Recordings: " + \
                        _esc(", ".join(self._ev_name(e) for e in evs)) + "</small>"
            self.run_info.setText(info)
            self.results.setHtml(self._refusal_html(shown=True) + run_html(run, self.segments))
        self.run_selected.emit(run)

    # ------------------------------------------------------------------ work
    def analyze(self) -> None:
        """Analyze the listed segments in a worker; the run gets the name and notes typed beside them."""
        from s2f_desktop.core.errors import InputError
        from s2f_desktop.services import analysis as analysis_svc
        from s2f_desktop.services import runs as runs_svc

        if self.case is None:
            return
        ids = self.selected_ids()
        if not ids:
            self.reporter.report(InputError("nothing to analyze: select accepted segments on the waveform or "
                                            "choose a speaker group, label or recording on the Analysis page"))
            return
        mixed = self.mixed_recordings()
        if mixed and not self.allow_mix.isChecked():
            self.reporter.report(InputError(
                f"the selection holds segments of {len(mixed)} recordings; tick 'Pool segments from different "
                "recordings' to analyze them together, or choose one recording"))
            return
        case_number, device = self.case.number, self.device
        name, notes = self.run_name.text().strip(), self.run_notes.toPlainText().strip()
        # Read now and saved with the run: locked until it ends, so nothing typed meanwhile is lost.
        self.run_name.setReadOnly(True)
        self.run_notes.setReadOnly(True)
        self.analyze_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat("starting…")

        def work(task: Any) -> AnalysisRun:
            run = analysis_svc.analyze_selection(self.ctx, case_number, ids, device=device, task=task)
            if name or notes:
                runs_svc.annotate_run(self.ctx, case_number, run.id, name, notes)
            return run

        job = self.runner.submit("analysis", work,
                                 on_success=self._analysis_done,
                                 on_error=self._analysis_failed,
                                 on_progress=self._progress,
                                 on_done=self._analysis_ended)
        job.cancelled.connect(lambda: self.status_message.emit("Analysis cancelled"))

    def _analysis_failed(self, exc: BaseException) -> None:
        """A selection of several voices is refused by the service: offer one run per speaker group."""
        from s2f_desktop.core.errors import CancelledError
        from s2f_desktop.gui.comparison import offer_group_runs

        def run_group(ids: list[str]) -> None:
            self.set_waveform_selection(ids)
            self.use_waveform_selection()
            self.analyze()

        def where(sid: str) -> str:
            seg = self.segments.get(sid)
            return f"{self._ev_name(seg.evidence_id)} {fmt_clock(seg.start_s)}–{fmt_clock(seg.end_s)}" if seg \
                else sid[:8]

        # The analyzer's own progress ends with "analysis done" before the service refuses to store it.
        self.progress.setValue(0)
        self.progress.setFormat("not stored")
        self.status_message.emit("Analysis not stored (see the message)")
        if not isinstance(exc, CancelledError):
            self._refusal = self.reporter.describe(exc)[1].split("\n")[0]
            if self.runs:
                self._run_changed(self.run_combo.currentIndex())
            else:
                self.refresh()
        if not offer_group_runs(self, exc, run_group, where):
            self.reporter.report(exc, "Analysis")

    def annotate_dialog(self) -> Any:
        """Rename the shown run or change its notes (returns the dialog, for tests)."""
        from PySide6.QtWidgets import QDialog, QDialogButtonBox

        run = self.current_run()
        if run is None or self.case is None:
            return None
        note = self.notes.get(run.id)
        dlg = QDialog(self)
        dlg.setObjectName("annotateRunDialog")
        dlg.setWindowTitle(f"Run #{run.id}: name and notes")
        name = QLineEdit(note.name if note else "")
        name.setObjectName("name")
        text = QPlainTextEdit(note.notes if note else "")
        text.setObjectName("notes")
        text.setTabChangesFocus(True)
        form = QFormLayout(dlg)
        form.addRow("&Name", name)
        form.addRow("N&otes", text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dlg.accept)
        buttons.rejected.connect(dlg.reject)
        form.addRow(buttons)

        def save() -> None:
            from s2f_desktop.services import runs as runs_svc

            try:
                runs_svc.annotate_run(self.ctx, self.case.number, run.id, name.text(), text.toPlainText())
            except Exception as exc:
                self.reporter.report(exc, "Run name")

        dlg.accepted.connect(save)
        dlg.open()
        return dlg

    def cancel(self) -> None:
        """Cancel the running analysis."""
        self.runner.cancel("analysis")
        self.progress.setFormat("cancelling…")

    def humanize(self, message: str) -> str:
        """Progress text in words: segment ids (full or the 8-character prefix) become their time ranges."""
        import re

        for sid, seg in self.segments.items():
            if sid[:8] in message:
                where = f"segment {fmt_clock(seg.start_s)}–{fmt_clock(seg.end_s)}"
                message = re.sub(rf"(?:segment\s+)?{re.escape(sid[:8])}[0-9a-f-]*", where, message)
        return message

    def _progress(self, frac: float, message: str) -> None:
        message = self.humanize(message)
        show_progress(self.progress, frac, message)
        if message:
            self.status_message.emit(f"Analysis: {message}")

    def _analysis_ended(self) -> None:
        self.cancel_btn.setEnabled(False)
        self.run_name.setReadOnly(False)
        self.run_notes.setReadOnly(False)
        self._update_summary()
        self.progress.setRange(0, 1000)
        refused = self.progress.format() == "not stored"  # kept: the refusal is the job's outcome
        if not refused and (self.progress.format().startswith(("cancelling", "starting"))
                            or self.progress.value() < 1000):
            self.progress.setFormat("idle")
            self.progress.setValue(0)
        self.analysis_ended.emit()

    def _run_picked(self, idx: int) -> None:
        self._refusal = None  # the analyst moved on from the refused request
        self._run_changed(idx)

    def _refusal_html(self, shown: bool) -> str:
        """The banner of a refused request; ``shown``: a stored run is displayed below it."""
        return refusal_html("The analysis just started was not stored:", self._refusal,
                            "<br>Shown below: a stored run, not a result of that request." if shown else "")

    def _analysis_done(self, run: AnalysisRun) -> None:
        self._refusal = None
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self._name_edited = False
        self.run_notes.clear()
        self.refresh(select_run=run.id)
        self.status_message.emit(f"Analysis run #{run.id} finished")
        self.run_finished.emit(run)
