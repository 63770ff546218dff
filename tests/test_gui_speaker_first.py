"""The analyst's desk (issue 16), through the widgets, offscreen, on the real services.

* views follow the store: a change made elsewhere (the CLI in this process, a bulk edit)
  reaches the waveform, the Analysis page and the Cases tab without reopening the case;
* speaker-first: two speakers in one recording -> speech detection -> select all and
  accept in one step -> speaker groups suggested from the voices and confirmed ->
  one run per speaker, named;
* precise editing: wide edge handles, no segment from a slip, typed start/end;
* listening: a failing output device gives a plain message and switches playback off;
  loop replays the selection;
* identity: the session's analyst is in the dialogs and on every event.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from s2f_desktop.core.models import SegmentStatus  # noqa: E402
from s2f_desktop.gui.mainwindow import MainWindow  # noqa: E402

LONG = 120_000

A_LINES = ["I arrived at the office around nine and the door was already open.",
           "Nobody told me about the delivery, I only saw the boxes later.",
           "I left before six because my train was at half past."]
B_LINES = ["Can you tell me who else had a key to the building?",
           "Did you see anyone near the loading bay that morning?",
           "Thank you, that is all for now, we will call you again."]


@pytest.fixture
def app_ctx(tmp_path: Path):  # type: ignore[no-untyped-def]
    from s2f_desktop.services.context import open_context
    from s2f_desktop.system.settings import Settings

    ctx = open_context(tmp_path / "data", "J. Newcomer", Settings(analyst="", device="cpu"))
    yield ctx
    ctx.close()


def make_window(qtbot, ctx, reporter):  # type: ignore[no-untyped-def]
    w = MainWindow(ctx, reporter, save_settings_fn=lambda s: None, pdf_opener=lambda p: True)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    return w


def interview_wav(speech_wav, tmp_path: Path) -> tuple[Path, list[tuple[float, float, str]]]:  # type: ignore[no-untyped-def]
    """A (male voice) and B (female voice) taking turns, 0.8 s of silence between turns."""
    parts, truth, t = [], [], 0.0
    sr = None
    for i in range(3):
        for who, line, voice in (("B", B_LINES[i], "en-us+f3"), ("A", A_LINES[i], "en-us+m3")):
            p = speech_wav(line, voice=voice, name=f"{who}{i}.wav")
            with wave.open(str(p)) as f:
                sr = f.getframerate()
                x = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16)
            parts += [x, np.zeros(int(0.8 * sr), np.int16)]
            truth.append((t, t + len(x) / sr, who))
            t += len(x) / sr + 0.8
    out = tmp_path / "interview.wav"
    with wave.open(str(out), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sr)
        f.writeframes(np.concatenate(parts).tobytes())
    return out, truth


def who_spoke(seg, truth) -> str:  # type: ignore[no-untyped-def]
    mid = (seg.start_s + seg.end_s) / 2
    return next(w for a, b, w in truth if a - 0.3 <= mid <= b + 0.3)


def test_views_follow_the_store(qtbot, app_ctx, reporter, tone_wav) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services import cases, evidence, segments

    ctx = app_ctx
    cases.create_case(ctx, "V-1", "Views")
    w = make_window(qtbot, ctx, reporter)
    w.open_case("V-1")
    # import outside the window (as the CLI would): the evidence list and the Cases tab follow
    with qtbot.waitSignal(w.waveform.overview_loaded, timeout=LONG):
        ev = evidence.import_file(ctx, "V-1", tone_wav(seconds=3.0)).evidence
    assert w.evidence.list.count() == 1
    seg = segments.add_segment(ctx, "V-1", ev.id, 1000, 9000, label="outside", speaker_tag="A")
    with qtbot.waitSignal(w.views_refreshed, timeout=LONG):
        pass
    assert w.waveform.model.get(seg.id) is not None  # the waveform shows it
    assert w.analysis.use_speaker(ev.id, "A") and w.analysis.selected_ids() == [seg.id]  # so does Analysis
    assert "1 evidence item(s), 1 segment(s), 0 analysis run(s)" in w.cases.d_counts.text()
    last_change = w.cases.table.item(0, 5).text()
    assert last_change  # the time of the newest audit event
    # typing in the case details is not wiped by a refresh
    w.cases.d_notes.setPlainText("half-typed note")
    segments.update_segment(ctx, seg.id, label="changed")
    with qtbot.waitSignal(w.views_refreshed, timeout=LONG):
        pass
    assert w.cases.d_notes.toPlainText() == "half-typed note"
    assert w.waveform.model.get(seg.id).label == "changed"
    # identity: the session's analyst fills the new-case form and Settings, and is on the status bar
    from s2f_desktop.gui.cases import NewCaseDialog

    w.act_new.trigger()
    dlg = w.findChild(NewCaseDialog, "newCaseDialog")
    assert dlg.analyst.text() == "J. Newcomer"
    dlg.reject()
    sdlg = w.settings_dialog()
    assert sdlg.analyst.text() == "J. Newcomer"
    sdlg.reject()
    assert "J. Newcomer" in w.analyst_label.text()
    assert not reporter.shown, reporter.shown
    w.close()


def test_bulk_edits_precise_editing_and_playback(qtbot, app_ctx, reporter, tone_wav) -> None:  # type: ignore[no-untyped-def]
    from helpers import FakeStream

    from s2f_desktop.audio.devices import Player
    from s2f_desktop.services import cases, evidence, segments

    ctx = app_ctx
    cases.create_case(ctx, "E-1", "Editing")
    ev = evidence.import_file(ctx, "E-1", tone_wav(seconds=4.0, sr=16000)).evidence
    for i in range(4):
        segments.add_segment(ctx, "E-1", ev.id, 4000 + i * 14000, 12000 + i * 14000)
    w = make_window(qtbot, ctx, reporter)
    with qtbot.waitSignal(w.waveform.overview_loaded, timeout=LONG):
        w.open_case("E-1")
    panel, view, model = w.waveform, w.waveform.view, w.waveform.model
    # multi-select in the table (Ctrl+click), bulk speaker and label in one undo step each
    table = panel.table
    for row in (0, 2):
        rect = table.visualRect(table.model().index(row, 2))
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                         rect.center())
    assert len(model.selected_ids) == 2
    n0 = panel.undo_stack.count()
    assert panel.set_speaker_of_selected("A") == 2 and panel.undo_stack.count() == n0 + 1
    assert panel.label_selection("question") == 2
    assert {s.speaker_tag for s in model.segments()} == {"A", ""}
    cell = table.item(0, panel.COL_SPEAKER)
    assert cell.text() == "A" and cell.background().color().name() != "#000000"
    # select all of speaker A, from another segment of the group
    model.select(model.segments()[2].id)
    w.tabs.setCurrentIndex(w.PAGE_EVIDENCE)
    w.act_select_speaker.trigger()
    assert len(model.selected_ids) == 2
    w.act_undo.trigger()  # the label step
    w.act_undo.trigger()  # the speaker step
    assert {s.speaker_tag for s in segments.list_segments(ctx, ev.id)} == {""}
    # typed start/end in the table (seconds or m:ss)
    first = model.segments()[0]
    with qtbot.waitSignal(model.segments_changed, timeout=LONG):
        table.item(0, panel.COL_START).setText("0:00.100")
    assert model.get(first.id).start_sample == 1600
    # a slip (a drag shorter than the threshold) creates nothing and says why
    messages: list[str] = []
    panel.status_message.connect(messages.append)
    view.set_view(0, view.max_spp())
    y = int(view.height() * 0.6)
    x0 = round(view.sample_to_x(62000))
    n = len(model.segments())
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(x0, y))
    qtbot.mouseMove(view, QPoint(x0 + 6, y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(x0 + 6, y))
    assert len(model.segments()) == n and "No segment made" in messages[-1]
    # the edge grab zone is generous: 8 px off the edge still resizes
    seg = model.segments()[1]
    xe = view.sample_to_x(seg.end_sample)
    assert view.hit_test(xe + 8)[0] == "end"

    # a device that fails the way PortAudio does -> plain words, playback off, no dialog
    class BrokenStream:
        def __init__(self, **_kw):  # type: ignore[no-untyped-def]
            raise RuntimeError("Error querying device -1")

    panel.player_factory = lambda: Player(stream_factory=BrokenStream)
    model.select(seg.id)
    with qtbot.waitSignal(panel.playback_availability, timeout=LONG, check_params_cb=lambda on: on is False):
        w.act_play.trigger()
    assert "no working sound output" in messages[-1] and "-1" not in messages[-1]
    assert not w.act_play.isEnabled() and not reporter.shown
    panel.set_output_device("")  # a device chosen in Settings: playback is tried again
    assert w.act_play.isEnabled()

    # loop: the selection plays again until stopped
    starts: list[bool] = []
    panel.player_factory = lambda: starts.append(True) or Player(stream_factory=FakeStream)
    w.act_loop.trigger()
    assert panel.loop
    with qtbot.waitSignal(panel.playback_state, timeout=LONG):
        w.act_play.trigger()
    qtbot.waitUntil(lambda: len(starts) >= 3, timeout=LONG)
    w.act_play.trigger()  # stop
    assert panel.player is None
    assert not reporter.shown, reporter.shown
    w.close()


def test_two_speakers_two_runs(qtbot, app_ctx, reporter, speech_wav, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services import cases, evidence
    from s2f_desktop.services.evidence import audit_trail

    ctx = app_ctx
    wav, truth = interview_wav(speech_wav, tmp_path)
    cases.create_case(ctx, "S-1", "Two speakers")
    ev = evidence.import_file(ctx, "S-1", wav).evidence
    w = make_window(qtbot, ctx, reporter)
    with qtbot.waitSignal(w.waveform.overview_loaded, timeout=LONG):
        w.open_case("S-1")
    panel, model = w.waveform, w.waveform.model
    with qtbot.waitSignal(panel.vad_finished, timeout=LONG):
        w.act_vad.trigger()
    # select everything and accept it: one action, one undo step
    w.act_select_all.trigger()
    n = len(model.selected_ids)
    assert n >= 6
    depth = panel.undo_stack.count()
    w.act_accept.trigger()
    assert all(s.status is SegmentStatus.ACCEPTED for s in model.segments())
    assert panel.undo_stack.count() == depth + 1
    # the grouping is suggested from the voices; the analyst confirms it
    dlg = w.suggest_speaker_groups()
    with qtbot.waitSignal(dlg.suggested, timeout=LONG) as got:
        pass
    groups = got.args[0]
    assert len(groups) >= 2
    by_id = {s.id: s for s in model.segments()}
    big = [g for g in groups if len(g) >= 2]
    assert len(big) == 2 and all(len({who_spoke(by_id[i], truth) for i in g}) == 1 for g in big)
    with qtbot.waitSignal(w.views_refreshed, timeout=LONG):  # the Analysis page lists the new groups
        dlg.apply_btn.click()
    tags = {who_spoke(by_id[i], truth): model.get(i).speaker_tag for g in big for i in g}
    assert sorted(tags.values()) == ["A", "B"] and model.speakers() == ["A", "B"]
    events, _ = audit_trail(ctx, "S-1")
    assert any(e.action == "segment.speaker_groups" and e.actor == "J. Newcomer" for e in events)
    # one run per speaker group, each named after it
    runs = []
    for tag in ("A", "B"):
        assert w.analysis.use_speaker(ev.id, tag)
        ids = w.analysis.selected_ids()
        assert ids and all(model.get(i).speaker_tag == tag for i in ids)
        assert w.analysis.run_name.text() == f"Speaker {tag} — interview.wav"
        with qtbot.waitSignal(w.analysis.run_finished, timeout=LONG) as done:
            w.analysis.analyze_btn.click()
            # Name and notes are saved with the run: locked while it runs (typing there was lost).
            assert w.analysis.run_notes.isReadOnly() and w.analysis.run_name.isReadOnly()
        runs.append(done.args[0])
        qtbot.waitUntil(lambda: not w.analysis.run_notes.isReadOnly(), timeout=LONG)
    # progress text names segments by time, never by id
    sid = runs[0].segment_ids[0]
    text = w.analysis.humanize(f"reading segment {sid[:8]}")
    assert sid[:8] not in text and text.startswith("reading segment 0:")
    assert set(runs[0].segment_ids).isdisjoint(runs[1].segment_ids)
    assert {r.created_by for r in runs} == {"J. Newcomer"}
    titles = [w.analysis.run_combo.itemText(i) for i in range(w.analysis.run_combo.count())]
    assert any("Speaker A" in t for t in titles) and any("Speaker B" in t for t in titles)
    assert not reporter.shown, reporter.shown
    # The whole recording (both voices): refused, one run per group offered, and the stored run still on show is
    # marked as not this request's result.
    assert w.analysis.use_recording(ev.id)
    w.analysis.analyze_btn.click()
    qtbot.waitUntil(lambda: "The analysis just started was not stored" in w.analysis.results.toPlainText(),
                    timeout=LONG)
    assert "Shown below: a stored run" in w.analysis.results.toPlainText()
    box = w.analysis.findChild(QMessageBox, "several_voices_dialog")
    assert box is not None and "Group 1: interview.wav 0:" in box.informativeText()
    if os.environ.get("S2F_SCREENSHOTS"):
        box.grab().save(os.path.join(os.environ["S2F_SCREENSHOTS"], "several_voices_dialog.png"))
        w.analysis.grab().save(os.path.join(os.environ["S2F_SCREENSHOTS"], "analysis_refused.png"))
    box.reject()
    w.close()
    assert w.runner.active() == [] and w.runner.pool.activeThreadCount() == 0


def test_tracks_over_the_spectrogram_and_selection_measures(qtbot, app_ctx, reporter, speech_wav) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.gui.waveform import F0_RGBA, FORMANT_RGBA
    from s2f_desktop.services import cases, evidence, segments

    ctx = app_ctx
    cases.create_case(ctx, "P-1", "Praat")
    ev = evidence.import_file(ctx, "P-1", speech_wav(A_LINES[0], voice="en-us+m3", name="a.wav")).evidence
    seg = segments.add_segment(ctx, "P-1", ev.id, 0, ev.media.frames)
    w = make_window(qtbot, ctx, reporter)
    with qtbot.waitSignal(w.waveform.overview_loaded, timeout=LONG):
        w.open_case("P-1")
    w.tabs.setCurrentIndex(w.PAGE_EVIDENCE)
    with qtbot.waitSignal(w.waveform.tracks_ready, timeout=LONG):
        w.act_tracks.trigger()
    assert w.act_spectrogram.isChecked() and w.waveform.view.show_spectrogram
    img = w.waveform.view.tracks.image
    bits = np.frombuffer(img.constBits(), dtype=np.uint32, count=img.width() * img.height())
    assert (bits == F0_RGBA).sum() > 50 and (bits == FORMANT_RGBA).sum() > 100
    assert not w.waveform.view.grab().isNull()
    # pointer readout over the spectrogram gives time and frequency
    view = w.waveform.view
    rect = view.spectrogram_rect()
    text = view.readout(view.width() / 2, rect.top() + rect.height() / 2)
    assert "pointer 0:" in text and "Hz" in text
    # measures of the selection, as Praat would give them
    w.waveform.model.select(seg.id)
    with qtbot.waitSignal(w.waveform.measured, timeout=LONG) as got:
        w.act_measure.trigger()
    m = got.args[0]
    assert 60 < m.values["f0_median"] < 200 and m.values["f1"] is not None  # espeak's low male voice
    assert "F0 median" in w.waveform.measure_label.text() and "dBFS" in w.waveform.measure_label.text()
    assert not reporter.shown, reporter.shown
    w.close()


def test_tracks_follow_a_synthetic_pitch() -> None:
    from s2f_desktop.voice.tracks import compute_tracks

    sr = 16000
    t = np.arange(int(1.0 * sr)) / sr
    x = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 12)).astype(np.float32) * 0.2
    tr = compute_tracks(x, sr)
    assert abs(np.nanmedian(tr.f0_hz) - 150) < 3 and tr.formants_hz.shape == (len(tr.times_s), 4)
    empty = compute_tracks(np.zeros(100, np.float32), sr)
    assert len(empty.times_s) == 0


def test_every_control_explains_itself_and_the_manual_opens(qtbot, app_ctx, reporter) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QComboBox,
        QHeaderView,
        QLineEdit,
        QPlainTextEdit,
        QProgressBar,
        QSlider,
        QWidget,
    )

    w = make_window(qtbot, app_ctx, reporter)
    kinds = (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit, QSlider, QAbstractItemView, QProgressBar)
    missing = []
    for wid in w.findChildren(QWidget):
        if not isinstance(wid, kinds) or isinstance(wid, QHeaderView) or wid.toolTip():
            continue
        # Qt's own parts (combo pop-ups, tab scrollers, table corners) are not ours to explain
        if wid.objectName().startswith("qt_") or type(wid.parent()).__name__ in ("QFrame", "QTabBar"):
            continue
        missing.append(f"{type(wid).__name__} {wid.objectName()!r} {getattr(wid, 'text', lambda: '')()!r}")
    assert not missing, missing
    for m in w.menuBar().actions():
        for a in m.menu().actions():
            if not a.isSeparator() and a.menu() is None:
                assert a.statusTip(), a.text()
    win = w.show_manual()
    text = win.browser.toPlainText()
    assert "investigative lead" in text and "--export-labels" in text and "Suggest speaker groups" in text
    win.close()
    w.close()


def test_settings_lists_outputs_and_the_panel_plays_on_the_null_sink(pulse_null_sink, tmp_path, tone_wav) -> None:  # type: ignore[no-untyped-def]
    """Real PortAudio in a fresh process (it reads the device list once): Settings offers the
    PulseAudio output, and the waveform panel plays a segment through it to the end."""
    import subprocess
    import sys

    wav = tone_wav(seconds=1.0, sr=16000)
    code = f"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.dialogs import SettingsDialog
from s2f_desktop.gui.waveform_panel import WaveformPanel
from s2f_desktop.gui.workers import JobRunner
from s2f_desktop.services import cases, evidence, segments
from s2f_desktop.services.context import open_context
from s2f_desktop.system.settings import Settings

def wait(signal, trigger=None, s=30):
    loop = QEventLoop(); got = []
    signal.connect(lambda *a: (got.append(a), loop.quit()))
    QTimer.singleShot(int(s * 1000), loop.quit)
    if trigger: trigger()
    if not got: loop.exec()
    return got

runner, rep = JobRunner(), ErrorReporter()
rep.show_dialogs = False
shown = []
rep.reported.connect(lambda t, m: shown.append(m))
dlg = SettingsDialog(Settings(device="cpu"), runner, rep)
if not dlg.output.count() > 1:
    wait(dlg.outputs_listed)
names = [dlg.output.itemData(i) for i in range(dlg.output.count())]
if "pulse" not in names:
    print("SKIP no pulse output", names); sys.exit(0)
dlg.output.setCurrentIndex(dlg.output.findData("pulse"))
out = dlg.result_settings().output_device
ctx = open_context({str(tmp_path / 'd')!r}, "tester", Settings(device="cpu"))
cases.create_case(ctx, "N-1", "null sink")
ev = evidence.import_file(ctx, "N-1", {str(wav)!r}).evidence
seg = segments.add_segment(ctx, "N-1", ev.id, 0, 8000)
panel = WaveformPanel(ctx, runner, rep)
wait(panel.overview_loaded, lambda: panel.load_evidence("N-1", ev))
panel.set_output_device(out)
panel.model.select(seg.id)
states = []
panel.playback_state.connect(states.append)
wait(panel.playback_state, panel.toggle_playback)
if panel.player is not None:
    wait(panel.playback_state)
print("STATES", states, "OUT", out, "ERR", shown, "AVAILABLE", panel.playback_available)
runner.shutdown(); ctx.close()
"""
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                         env=pulse_null_sink)
    if "SKIP" in res.stdout:
        pytest.skip(res.stdout.strip())
    assert res.returncode == 0, res.stderr[-800:]
    assert "STATES [True, False] OUT pulse ERR [] AVAILABLE True" in res.stdout, res.stdout + res.stderr[-500:]


def test_scrubbing_the_ruler_moves_playback(qtbot, app_ctx, reporter, tone_wav) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.audio.devices import Player
    from s2f_desktop.services import cases, evidence

    class SlowStream:  # never finishes by itself: playback runs until stopped
        def __init__(self, callback, finished_callback, **_kw):  # type: ignore[no-untyped-def]
            self.fin = finished_callback

        def start(self) -> None:
            pass

        def stop(self) -> None:
            self.fin()

        def close(self) -> None:
            pass

    cases.create_case(app_ctx, "U-1", "Scrub")
    evidence.import_file(app_ctx, "U-1", tone_wav(seconds=4.0, sr=16000))
    w = make_window(qtbot, app_ctx, reporter)
    with qtbot.waitSignal(w.waveform.overview_loaded, timeout=LONG):
        w.open_case("U-1")
    panel, view = w.waveform, w.waveform.view
    offsets: list[int] = []
    panel.player_factory = lambda: Player(stream_factory=SlowStream)
    orig = panel._start_player
    panel._start_player = lambda x, sr, off: (offsets.append(off), orig(x, sr, off))  # type: ignore[method-assign]
    with qtbot.waitSignal(panel.playback_state, timeout=LONG, check_params_cb=lambda on: on):
        w.act_play.trigger()
    x1, x2 = round(view.sample_to_x(8000)), round(view.sample_to_x(32000))
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x1, 5))
    qtbot.mouseMove(view, QPoint(x2, 5))
    with qtbot.waitSignal(panel.playback_state, timeout=LONG, check_params_cb=lambda on: on):
        qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x2, 5))
    assert abs(offsets[-1] - 32000) <= 2 * view.spp and len(offsets) == 2
    panel.stop_playback()
    assert "login name" not in w.analyst_label.text()  # the session has a name (not the login fallback)
    w.close()


def test_interview_plus_phone_call(qtbot, app_ctx, reporter, speech_wav, asterisk_sounds, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two recordings in one case: the waveform selection analyzes exactly the phone segment,
    one speaker tag across both recordings is pooled only when ticked, the phone's telephone
    band is named in the measures, and label files go out and come back through the window."""
    import soundfile as sf

    from s2f_desktop.services import cases, evidence, segments

    ctx = app_ctx
    x, sr = sf.read(str(asterisk_sounds / "demo-congrats.wav"), dtype="float32")
    phone = tmp_path / "phone-call.wav"
    sf.write(str(phone), x[: int(6 * sr)], sr)  # 6 s of a real 8 kHz voice
    cases.create_case(ctx, "I-1", "Interview and call")
    ev_i = evidence.import_file(ctx, "I-1", speech_wav(A_LINES[1], voice="en-us+m3", name="interview.wav")).evidence
    ev_p = evidence.import_file(ctx, "I-1", phone).evidence
    seg_i = segments.add_segment(ctx, "I-1", ev_i.id, 0, ev_i.media.frames, speaker_tag="A")
    seg_p = segments.add_segment(ctx, "I-1", ev_p.id, int(0.5 * sr), int(5.5 * sr))
    w = make_window(qtbot, ctx, reporter)
    with qtbot.waitSignal(w.waveform.overview_loaded, timeout=LONG):
        w.open_case("I-1")
    with qtbot.waitSignal(w.waveform.overview_loaded, timeout=LONG):
        w.evidence.list.setCurrentRow(1)  # the phone call
    assert w.waveform.evidence.id == ev_p.id
    # the same speaker tag on the phone segment, typed in the table
    with qtbot.waitSignal(w.views_refreshed, timeout=LONG):
        w.waveform.table.item(0, w.waveform.COL_SPEAKER).setText("A")
    # one tag across two recordings: listed, but pooled only when the analyst ticks the box
    assert w.analysis.use_speaker_everywhere("A")
    assert set(w.analysis.selected_ids()) == {seg_i.id, seg_p.id}
    assert "2 recordings" in w.analysis.summary.text() and not w.analysis.analyze_btn.isEnabled()
    w.analysis.allow_mix.setChecked(True)
    assert w.analysis.analyze_btn.isEnabled()
    # measures of the phone segment name the telephone band
    w.tabs.setCurrentIndex(w.PAGE_EVIDENCE)
    w.waveform.model.select(seg_p.id)
    with qtbot.waitSignal(w.waveform.measured, timeout=LONG) as got:
        w.act_measure.trigger()
    assert any("telephone band" in n for n in got.args[0].notes)
    # labels out and back in through the window (never over an existing file)
    tg = tmp_path / "phone.TextGrid"
    assert w.export_labels(tg) == tg and 'name = "A"' in tg.read_text()
    assert w.export_labels(tg) is None and "already exists" in reporter.shown[-1][1]
    reporter.shown.clear()
    more = tmp_path / "more.txt"
    more.write_text("0.100000\t0.400000\t[B] hello\n")
    with qtbot.waitSignal(w.views_refreshed, timeout=LONG):
        assert w.import_labels(more) == 1
    assert [s.speaker_tag for s in w.waveform.model.segments()] == ["B", "A"]
    # the waveform selection (the phone segment only) is what Ctrl+Return analyzes
    w.waveform.model.select(seg_p.id)
    with qtbot.waitSignal(w.analysis.run_finished, timeout=LONG) as done:
        w.act_analyze.trigger()
    assert done.args[0].segment_ids == (seg_p.id,) or list(done.args[0].segment_ids) == [seg_p.id]
    assert not reporter.shown, reporter.shown
    w.close()
