"""The comparison page: pick sides by speaker label, run off the GUI thread, show LR, words and Tippett plot."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.core.comparison_results import BySide, ComparisonModelRef, ComparisonResults
from s2f_desktop.core.results import Quality, QualityVerdict
from s2f_desktop.store.comparisons import ComparisonRun
from s2f_desktop.voice import lr as lrm

TEXT = ("The committee met on Thursday morning to review the annual budget. After a long discussion about "
        "maintenance costs, they agreed to postpone the decision until the next quarterly meeting.")


def test_result_html_states_propositions_and_abstention() -> None:
    from s2f_desktop.gui.comparison import comparison_html

    q = Quality(QualityVerdict.INSUFFICIENT, ("net speech 1.1 s is below the 3 s minimum",), 1.1, 30.0, 0.0, 8000.0,
                False, -20.0, 1.5, "pauses", {})
    results = ComparisonResults(
        score=0.5, snorm=None, log10_lr=None, lr=None, verbal=lrm.verbal(None), label="abstain",
        abstain_reason="too little net speech on the questioned side", speech_s=BySide(1.1, 9.0), at_bound=False,
        hp=lrm.HP, hd=lrm.HD, scale=lrm.SCALE_NAME, channel="wideband", quality=BySide(q, q),
        segments_used=BySide(("a",), ("b",)), validation_position=None, segments=(), evidence=(),
        model=ComparisonModelRef("comparison-v1", "0" * 64))
    run = ComparisonRun(7, 1, ("a",), ("b",), (), "0", "cpu", {}, results, {}, datetime(2026, 12, 1), "analyst")
    text = comparison_html(run)
    assert "abstains" in text and "too little net speech" in text and "Hp" in text and "Hd" in text
    results2 = replace(results, log10_lr=-1.5, lr=10 ** -1.5, verbal=lrm.verbal(-1.5), label="different",
                       abstain_reason=None)
    run2 = ComparisonRun(8, 1, ("a",), ("b",), (), "0", "cpu", {}, results2, {}, datetime(2026, 12, 1), "analyst")
    t2 = comparison_html(run2)
    assert "log10 LR -1.50" in t2 and "moderate support for Hd" in t2 and "not an identification" in t2
    assert "markedly worse" in t2 and "Across sources" in t2  # the cross-source caveat beside every LR


def _case_with_two_voices(ctx, speech_wav, tmp_path: Path):  # type: ignore[no-untyped-def]
    from s2f_desktop.services import evidence as ev_svc
    from s2f_desktop.services import segments as seg_svc

    m = speech_wav(TEXT, voice="en-us+m3", name="m.wav")
    f = speech_wav(TEXT, voice="en-us+f3", name="f.wav")
    xm, sr = sf.read(str(m), dtype="float32")
    xf, _ = sf.read(str(f), dtype="float32")
    gap = np.zeros(sr // 2, np.float32)
    both = tmp_path / "call.wav"
    sf.write(str(both), np.concatenate([xm, gap, xf, gap, xm]), sr)
    ev = ev_svc.import_file(ctx, "T-1", both).evidence
    a, b = len(xm) + len(gap), len(xm) + len(gap) + len(xf) + len(gap)
    seg_svc.add_segment(ctx, "T-1", ev.id, 0, len(xm), speaker_tag="caller")
    seg_svc.add_segment(ctx, "T-1", ev.id, a, a + len(xf), speaker_tag="suspect")
    seg_svc.add_segment(ctx, "T-1", ev.id, b, b + len(xm), speaker_tag="witness")


@pytest.mark.slow
def test_panel_compares_off_the_gui_thread_and_marks_the_case_lr(qtbot, ctx, case, speech_wav,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    from s2f_desktop.gui.comparison import ComparisonPanel
    from s2f_desktop.gui.workers import JobRunner

    _case_with_two_voices(ctx, speech_wav, tmp_path)
    runner = JobRunner()
    panel = ComparisonPanel(ctx, runner)
    qtbot.addWidget(panel)
    panel.set_device("cpu")
    panel.set_case(case)
    assert [panel.q_combo.itemText(i) for i in range(panel.q_combo.count())] == ["caller", "suspect", "witness"]
    panel.q_combo.setCurrentText("caller")
    panel.k_combo.setCurrentText("witness")
    assert len(panel.questioned_ids()) == 1 and len(panel.known_ids()) == 1
    with qtbot.waitSignal(panel.comparison_finished, timeout=180_000) as blocker:
        panel.run_btn.click()
        assert not panel.run_btn.isEnabled() and panel.cancel_btn.isEnabled()
    run = blocker.args[0]
    assert run.results.label == "same"
    assert panel.current_run().id == run.id
    assert f"Comparison #{run.id}" in panel.results.toHtml() and "support for Hp" in panel.results.toPlainText()
    # The stored run says what it compared (recording and time of each side), whatever the lists show.
    shown = panel.results.toPlainText()
    assert "Questioned: call.wav 0:00.000–" in shown and "Known: call.wav 0:" in shown
    assert "Speech compared: questioned" in shown and "Net speech" not in shown
    assert panel.case_line is not None and abs(panel.case_line.value() - run.results.log10_lr) < 1e-9
    assert len(panel.plot.getPlotItem().listDataItems()) == 2  # Hp and Hd Tippett curves
    if os.environ.get("S2F_SCREENSHOTS"):
        panel.resize(1300, 800)
        panel.grab().save(os.path.join(os.environ["S2F_SCREENSHOTS"], "comparison_panel.png"))

    # A refused request: the stored run stays on show under a banner that says it is not this request's result.
    panel.reporter.show_dialogs = False
    panel.k_combo.setCurrentText("caller")
    with qtbot.waitSignal(panel.reporter.reported, timeout=60_000) as refused:
        panel.run_btn.click()
    assert "on both sides" in refused.args[1]
    shown = panel.results.toPlainText()
    assert "The comparison just started was not run" in shown and "on both sides" in shown
    assert "Nothing was stored" in shown and f"Comparison #{run.id}" in shown
    assert [r.id for r in panel.runs] == [run.id]
    if os.environ.get("S2F_SCREENSHOTS"):
        panel.grab().save(os.path.join(os.environ["S2F_SCREENSHOTS"], "comparison_refused.png"))
    panel.history.activated.emit(0)  # the analyst picks the (only) stored run again: the banner goes
    assert "not run" not in panel.results.toPlainText()

    # Cancel: the job ends, nothing new is stored.
    panel.k_combo.setCurrentText("suspect")
    with qtbot.waitSignal(panel.comparison_ended, timeout=180_000):
        panel.run_btn.click()
        panel.cancel_btn.click()
    panel.refresh()
    assert [r.id for r in panel.runs] == [run.id] or panel.runs[-1].results.label == "different"
    # A closed case's comparisons are read, not run: Compare is disabled (the service would refuse).
    from s2f_desktop.services import cases

    panel.set_case(cases.close_case(ctx, case.number))
    assert not panel.run_btn.isEnabled() and panel.runs
    runner.shutdown()


def test_refused_analysis_offers_one_run_per_speaker_group(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox, QWidget

    from s2f_desktop.gui.comparison import offer_group_runs
    from s2f_desktop.services.comparison import MultipleSpeakersError
    from s2f_desktop.voice.consistency import SpeakerSplit

    w = QWidget()
    qtbot.addWidget(w)
    err = MultipleSpeakersError(SpeakerSplit((("a", "b"), ("c",)), ("d",), ((0, 1, -2.0),), True), "T-1")
    assert "1 segment(s) with too little speech to judge belong to no group" in err.message and "(d)" in err.message
    started: list[list[str]] = []

    times = {"a": "0:01.0–0:02.0", "b": "0:03.0–0:04.0", "c": "0:05.0–0:06.0", "d": "0:07.0–0:07.5"}
    assert offer_group_runs(w, err, started.append, times.get)
    box = w.findChild(QMessageBox, "several_voices_dialog")
    assert box is not None and box.isVisible() and "2 different voices" in box.text()
    assert "1 segment with too little speech to judge (0:07.0–0:07.5) belongs to no group" in box.informativeText()
    labels = [b.text() for b in box.buttons()]
    assert "Analyse group 1 (2 segments)" in labels and "Analyse group 2 (1 segment)" in labels
    assert "Group 1: 0:01.0–0:02.0, 0:03.0–0:04.0 (2 segments)" in box.informativeText()
    assert "Group 2: 0:05.0–0:06.0 (1 segment)" in box.informativeText()
    next(b for b in box.buttons() if b.text().startswith("Analyse group 2")).click()
    assert started == [["c"]]
    assert not offer_group_runs(w, ValueError("other"), started.append)


def test_unlabelled_segments_start_unticked(qtbot, ctx, case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Segments without a speaker label may be several voices: choosing that group ticks none of them."""
    from s2f_desktop.gui.comparison import UNLABELLED, ComparisonPanel
    from s2f_desktop.gui.workers import JobRunner
    from s2f_desktop.services import evidence as ev_svc
    from s2f_desktop.services import segments as seg_svc

    wav = tmp_path / "tone.wav"
    sr = 16000
    sf.write(str(wav), (0.1 * np.sin(np.arange(sr * 6) * 0.05)).astype(np.float32), sr)
    ev = ev_svc.import_file(ctx, "T-1", wav).evidence
    seg_svc.add_segment(ctx, "T-1", ev.id, 0, sr)
    seg_svc.add_segment(ctx, "T-1", ev.id, 2 * sr, 3 * sr)
    seg_svc.add_segment(ctx, "T-1", ev.id, 4 * sr, 5 * sr, speaker_tag="caller")
    runner = JobRunner()
    panel = ComparisonPanel(ctx, runner)
    qtbot.addWidget(panel)
    panel.set_case(case)
    panel.q_combo.setCurrentText(UNLABELLED)
    assert panel.q_list.count() == 2 and panel.questioned_ids() == []
    panel.q_combo.setCurrentText("caller")
    assert panel.q_list.count() == 1 and len(panel.questioned_ids()) == 1
    # A refused first comparison: the banner, and no claim of a stored comparison below it (there is none).
    from s2f_desktop.core.errors import InputError

    panel.reporter.show_dialogs = False
    panel._failed(InputError("a side cannot be compared with itself"))
    shown = panel.results.toPlainText()
    assert "was not run: a side cannot be compared with itself" in shown and "Shown below" not in shown
    runner.shutdown()
