"""The whole analyst workflow through the widgets, offscreen, on the real services.

Create a case (dialog), import a WAV of espeak-ng speech by drag-and-drop, detect
speech, accept a suggestion, drag-create a segment in data coordinates, analyze, read
the traits, make composites and move a slider, save a version, export the report, and
reopen the case in a fresh window to see the same state. Every wait is on a signal;
at the end no worker thread is left.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QToolButton  # noqa: E402

from s2f_desktop.core.models import SegmentStatus  # noqa: E402
from s2f_desktop.gui.cases import NewCaseDialog  # noqa: E402
from s2f_desktop.gui.mainwindow import MainWindow  # noqa: E402

SPEECH = ("The delivery was supposed to arrive on Tuesday morning, but nobody was at the warehouse. "
          "I called twice and nobody answered the phone. I want the boxes before the end of the week.")

#: Generous upper bounds for the waits; the workflow normally takes far less.
LONG = 120_000


@pytest.fixture
def app_ctx(tmp_path: Path):  # type: ignore[no-untyped-def]
    from s2f_desktop.services.context import open_context
    from s2f_desktop.system.settings import Settings

    ctx = open_context(tmp_path / "data", "tester", Settings(analyst="tester", device="cpu"))
    yield ctx
    ctx.close()


def make_window(qtbot, ctx, reporter, opened=None):  # type: ignore[no-untyped-def]
    saved: list = []
    w = MainWindow(ctx, reporter, save_settings_fn=saved.append,
                   pdf_opener=(lambda p: opened.append(p) or True) if opened is not None else (lambda p: True))
    w.saved_settings = saved  # type: ignore[attr-defined]
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    return w


def drop_files(widget, paths) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = widget.rect().center()
    # Qt delivers a drop to the widget that accepted the drag's entry, so enter first.
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    assert QApplication.sendEvent(widget, enter) and enter.isAccepted()
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    assert drop.isAccepted()


def assert_no_threads(window) -> None:  # type: ignore[no-untyped-def]
    window.close()
    assert window.runner.active() == []
    assert window.runner.pool.activeThreadCount() == 0


def test_full_workflow(qtbot, app_ctx, reporter, speech_wav, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = app_ctx
    opened: list[Path] = []
    w = make_window(qtbot, ctx, reporter, opened)

    # 1. new case through the dialog
    w.act_new.trigger()
    dlg = w.findChild(NewCaseDialog, "newCaseDialog")
    assert dlg is not None and dlg.isVisible()
    dlg.number.setText("W-1")
    dlg.title.setText("Workflow case")
    dlg.agency.setText("Test agency")
    dlg.accept()
    assert w.case is not None and w.case.number == "W-1"
    assert w.saved_settings[-1].recent_cases[0] == "W-1"
    assert w.tabs.currentIndex() == w.PAGE_EVIDENCE

    # 2. import a WAV (drag-and-drop onto the evidence list) plus a bad file: errors are listed
    wav = speech_wav(SPEECH, voice="en-us+m3", name="call.wav")
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    # the list follows the store as each file is committed; the per-file errors come with the import's end
    with qtbot.waitSignals([w.waveform.overview_loaded, w.evidence.import_finished], timeout=LONG):
        drop_files(w.evidence.list.viewport(), [wav, bad])
    assert w.evidence.list.count() == 1
    assert not w.evidence.errors.isHidden() and "notes.wav" in w.evidence.errors.text()
    ev = w.evidence.current()
    sr = ev.media.sample_rate
    assert not w.act_accept_all.isEnabled()  # no suggestions yet: nothing to accept

    # 3. speech detection -> suggestions drawn; accept one with the menu action
    with qtbot.waitSignal(w.waveform.vad_finished, timeout=LONG) as vad:
        w.act_vad.trigger()
    assert vad.args[0] >= 1 and w.act_accept_all.isEnabled()
    sugg = [s for s in w.waveform.model.segments() if s.status is SegmentStatus.SUGGESTED]
    assert sugg
    w.waveform.model.select(sugg[0].id)
    assert w.act_accept.isEnabled()
    w.act_accept.trigger()
    assert w.waveform.model.get(sugg[0].id).status is SegmentStatus.ACCEPTED

    # 4. drag-create a manual segment in data coordinates (the last second of speech)
    view = w.waveform.view
    frames = w.waveform.model.frames
    s0, s1 = int(frames * 0.55), int(frames * 0.80)
    view.set_view(s0 - 0.5 * sr, view.spp)
    y = int(view.height() * 0.6)
    # speech detection covers the speech, so Shift+drag (create anywhere) is the gesture here
    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, shift, QPoint(round(view.sample_to_x(s0)), y))
    qtbot.mouseMove(view, QPoint(round(view.sample_to_x((s0 + s1) / 2)), y))
    qtbot.mouseMove(view, QPoint(round(view.sample_to_x(s1)), y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, shift, QPoint(round(view.sample_to_x(s1)), y))
    manual = w.waveform.model.selected
    assert manual is not None and manual.source.value == "manual"
    assert abs(manual.start_sample - s0) <= 2 * view.spp and abs(manual.end_sample - s1) <= 2 * view.spp
    w.act_undo.trigger()
    assert w.waveform.model.get(manual.id) is None
    w.act_redo.trigger()
    assert w.waveform.model.get(manual.id) is not None

    # 5. the Analysis page follows the store without reopening the case: both accepted segments are there
    with qtbot.waitSignal(w.views_refreshed, timeout=LONG):
        pass
    accepted_rows = {w.analysis.source.itemData(i) for i in range(w.analysis.source.count())}
    assert ("recording", ev.id) in accepted_rows
    assert w.analysis.use_recording(ev.id) and set(w.analysis.selected_ids()) == {sugg[0].id, manual.id}
    # ... and analyzes what is selected on the waveform (Ctrl+click adds to the selection), nothing hidden
    w.waveform.model.select(manual.id)
    view.set_view(0, view.max_spp())
    x = round((view.sample_to_x(sugg[0].start_sample) + view.sample_to_x(sugg[0].end_sample)) / 2)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, QPoint(x, y))
    assert set(w.waveform.model.selected_ids) == {sugg[0].id, manual.id}
    w.tabs.setCurrentIndex(w.PAGE_EVIDENCE)

    # 6. the manual segment lies inside the detected one: analysing both would count its speech twice,
    #    so the service refuses and names them; the analyst trims the detected segment and tries again
    with qtbot.waitSignal(w.analysis.analysis_ended, timeout=LONG):
        w.act_analyze.trigger()
    ((_title, message),) = reporter.shown
    assert "overlapping segments of call.wav" in message and "counted twice" in message
    assert w.analysis.runs == [] and w.analysis.progress.format() == "not stored"
    reporter.shown.clear()
    assert w.waveform.move_segment(sugg[0].id, sugg[0].start_sample, manual.start_sample)
    w.waveform.model.select_many([sugg[0].id, manual.id])
    w.tabs.setCurrentIndex(w.PAGE_EVIDENCE)

    # 7. analyze; the window stays responsive (progress arrives)
    progress: list[float] = []
    w.analysis.progress.valueChanged.connect(progress.append)
    finished: list = []
    w.analysis.run_finished.connect(finished.append)
    with qtbot.waitSignal(w.analysis.analysis_ended, timeout=LONG):
        w.act_analyze.trigger()
        assert w.tabs.currentIndex() == w.PAGE_ANALYSIS
        assert not w.analysis.analyze_btn.isEnabled() and w.analysis.cancel_btn.isEnabled()
    assert not reporter.shown, reporter.shown
    (run,) = finished
    assert set(run.segment_ids) == {sugg[0].id, manual.id}
    text = w.analysis.results.toPlainText()
    assert "Sex:" in text and "Age:" in text and "never an identification" in text
    assert progress, "no progress reached the GUI"
    assert not reporter.shown, reporter.shown

    # 6. composites: create the set, move a slider (live preview), save a version
    comp = w.composites
    w.tabs.setCurrentIndex(w.PAGE_COMPOSITES)
    assert comp.run is not None and comp.run.id == run.id
    comp.views = ("front", "profile")  # two views keep the render time down; both are switchable
    # Nothing to change yet: sliders and "Save version" wait for a composite (they silently did nothing).
    assert not comp.composites and not comp.save_btn.isEnabled() and not comp.slider_box.isEnabled()
    with qtbot.waitSignal(comp.composites_changed, timeout=LONG, check_params_cb=lambda: bool(comp.composites)):
        comp.create_btn.click()
    assert comp.current is not None and comp.current.kind == "primary"
    assert comp.slider_box.isEnabled()
    assert not comp.image.pixmap().isNull() and comp.view_name == "front"
    assert {c.kind for c in comp.composites} >= {"primary", "age_low", "age_high"}
    comp.findChild(QToolButton, "view_profile").click()
    assert comp.view_name == "profile" and "profile view" in comp.caption.text()
    assert "not a likeness" in comp.illustrative.text().lower() or "illustrative" in comp.illustrative.text().lower()
    first = comp.current
    name = next(iter(comp.sliders))
    n_stored = len(comp.composites)
    # the slider previews live (debounced, rendered in a worker) and stores nothing
    with qtbot.waitSignal(comp.preview_shown, timeout=LONG) as pv:
        comp.set_slider_value(name, 0.5)
    assert pv.args[0] == {name: pytest.approx(0.5, abs=0.01)} and "PREVIEW" in comp.image.badge
    # what is on screen is not stored: no export of it (an export would be the stored version)
    assert not comp.export_btn.isEnabled() and "Save version" in comp.export_btn.toolTip()
    from s2f_desktop.services.composites import list_composites

    assert len(list_composites(ctx, run.id)) == n_stored
    assert comp.changes() == {name: pytest.approx(0.5, abs=0.01)}
    with qtbot.waitSignal(comp.composites_changed, timeout=LONG,
                          check_params_cb=lambda: comp.current is not None and comp.current.id != first.id):
        comp.save_btn.click()
    assert comp.current.parent_id == first.id and comp.current.version == first.version + 1
    comp.reset_slider(name)
    assert comp.changes() == {} and comp.export_btn.isEnabled()

    # 7. report export opens the PDF with the (injected) system viewer
    rdlg = w.report_dialog()
    with qtbot.waitSignal(rdlg.report_built, timeout=LONG) as built:
        rdlg.export_btn.click()
    pdf = Path(built.args[0].path)
    assert opened == [pdf] and pdf.read_bytes()[:5] == b"%PDF-"
    assert not reporter.shown, reporter.shown
    n_runs = len(w.analysis.runs)
    segs = w.waveform.model.segments()
    comps = [c.id for c in w.composites.composites]
    assert_no_threads(w)

    # 8. state persists: a new window reopening the case shows the same segments, runs, composites
    w2 = make_window(qtbot, ctx, reporter)
    with qtbot.waitSignal(w2.waveform.overview_loaded, timeout=LONG):
        assert w2.open_case("W-1")
    assert w2.waveform.model.segments() == segs
    assert len(w2.analysis.runs) == n_runs
    assert [c.id for c in w2.composites.composites] == comps
    assert_no_threads(w2)


def test_analysis_can_be_cancelled(qtbot, app_ctx, reporter, speech_wav) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services import cases, evidence, segments

    ctx = app_ctx
    cases.create_case(ctx, "C-1", "Cancel case")
    ev = evidence.import_file(ctx, "C-1", speech_wav("Cancel me please, this is a test.")).evidence
    segments.add_segment(ctx, "C-1", ev.id, 0, ev.media.frames)
    w = make_window(qtbot, ctx, reporter)
    with qtbot.waitSignal(w.waveform.overview_loaded, timeout=LONG):
        w.open_case("C-1")
    w.tabs.setCurrentIndex(w.PAGE_ANALYSIS)
    assert w.analysis.selected_ids() == []  # nothing is analyzed unless chosen
    assert not w.analysis.analyze_btn.isEnabled()
    assert w.analysis.use_recording(ev.id) and w.analysis.analyze_btn.isEnabled()
    job_done = []
    w.runner.job_done.connect(lambda j: job_done.append(j) if j.kind == "analysis" else None)
    with qtbot.waitSignal(w.runner.job_done, timeout=LONG, check_params_cb=lambda j: j.kind == "analysis"):
        w.analysis.analyze()
        w.analysis.cancel()
    assert job_done and job_done[0].result is None
    assert w.analysis.analyze_btn.isEnabled() and not w.analysis.cancel_btn.isEnabled()
    assert w.analysis.runs == [] and not reporter.shown
    assert_no_threads(w)


def test_settings_dialog_and_errors(qtbot, app_ctx, reporter) -> None:  # type: ignore[no-untyped-def]
    w = make_window(qtbot, app_ctx, reporter)
    dlg = w.settings_dialog()
    with qtbot.waitSignal(dlg.devices_probed, timeout=LONG):
        pass
    model = dlg.device.model()
    cpu_row = dlg.device.findData("cpu")
    assert model.item(cpu_row).isEnabled()
    assert "Available:" in dlg.device_info.text()
    dlg.analyst.setText("Dr. Example")
    dlg.accept()
    assert w.saved_settings[-1].analyst == "Dr. Example" and app_ctx.actor == "Dr. Example"
    # a refused action becomes a one-line message, not a traceback
    assert w.create_case("bad number!", "x") is None
    assert reporter.shown and "invalid case number" in reporter.shown[-1][1]
    assert "Traceback" not in reporter.shown[-1][1]
    assert_no_threads(w)


def test_record_from_microphone(qtbot, app_ctx, reporter) -> None:  # type: ignore[no-untyped-def]
    """Recording dialog -> Recorder (fake input stream) -> record_evidence -> new evidence shown."""
    import numpy as np

    from s2f_desktop.audio.devices import Recorder
    from s2f_desktop.services import cases

    class FakeInput:
        def __init__(self, callback, samplerate, channels, **_kw):  # type: ignore[no-untyped-def]
            self.cb, self.sr, self.ch = callback, samplerate, channels

        def start(self) -> None:
            t = np.arange(self.sr // 10) / self.sr
            block = (0.3 * np.sin(2 * np.pi * 220 * t))[:, None].repeat(self.ch, axis=1).astype(np.float32)
            for _ in range(10):  # one second of audio, delivered as the device would
                self.cb(block, len(block), None, None)

        def stop(self) -> None:
            pass

        def close(self) -> None:
            pass

    cases.create_case(app_ctx, "R-1", "Recording case")
    w = make_window(qtbot, app_ctx, reporter)
    w.open_case("R-1")
    w.input_devices = [{"index": 3, "name": "Test microphone", "channels": 1, "default_samplerate": 16000.0,
                        "hostapi": "ALSA"}]
    w.recorder_factory = lambda: Recorder(stream_factory=FakeInput)
    dlg = w.record_dialog()
    assert dlg.device.currentData() == 3 and dlg.start_btn.isEnabled()
    dlg.start_btn.click()
    assert dlg.stop_btn.isEnabled()
    with qtbot.waitSignal(dlg.recorded, timeout=LONG) as rec:
        dlg.stop_btn.click()
    ev = rec.args[0]
    assert ev.media.frames == ev.media.sample_rate and w.evidence.current().id == ev.id  # 1 s recorded
    assert not reporter.shown, reporter.shown
    assert_no_threads(w)


def test_shortcuts_are_in_the_menus(qtbot, app_ctx, reporter) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QKeySequence

    w = make_window(qtbot, app_ctx, reporter)
    menu_actions = {a for m in w.menuBar().actions() for a in m.menu().actions()}
    expected = {w.act_undo: "Ctrl+Z", w.act_redo: "Ctrl+Shift+Z", w.act_play: "Space", w.act_zoom_in: "+",
                w.act_zoom_out: "-", w.act_accept: "A", w.act_reject: "R", w.act_label: "F2",
                w.act_vad: "Ctrl+D", w.act_spectrogram: "S", w.act_analyze: "Ctrl+Return"}
    for act, key in expected.items():
        assert act in menu_actions, act.text()
        assert act.shortcut().toString(QKeySequence.SequenceFormat.PortableText) == key
    assert w.act_delete.shortcut() == QKeySequence(QKeySequence.StandardKey.Delete)
    # without a case, nothing that edits is enabled
    assert not w.act_import.isEnabled() and not w.act_play.isEnabled() and not w.act_analyze.isEnabled()
    assert_no_threads(w)


def test_closed_case_is_read_only(qtbot, app_ctx, reporter) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox

    from s2f_desktop.services import cases

    cases.create_case(app_ctx, "X-1", "Closed case")
    w = make_window(qtbot, app_ctx, reporter)
    assert w.open_case("X-1")
    w.cases.refresh(select="X-1")
    w.cases.d_title.setText("UNSAVED TITLE")  # typed, not saved
    box = w.close_case_record(None)  # the analyst confirms in the dialog
    assert "not saved will be discarded" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    assert cases.get_case(app_ctx, "X-1").status.value == "closed"
    # The closed case's form shows what is stored, not the typing it can no longer save.
    assert w.cases.d_title.text() == "Closed case" and not w.cases.d_title.isEnabled()
    assert "(closed)" in w.windowTitle()
    assert not w.act_import.isEnabled() and not w.act_analyze.isEnabled() and not w.act_record.isEnabled()
    assert not w.evidence.import_btn.isEnabled()
    assert_no_threads(w)


def test_entry_point_starts_and_quits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``python -m s2f_desktop`` in its own process (as the analyst starts it): opens a case, shows, quits."""
    import os
    import subprocess
    import sys

    from s2f_desktop.services import cases
    from s2f_desktop.services.context import open_context

    ctx = open_context(tmp_path / "d", "tester")
    cases.create_case(ctx, "E-1", "Entry case")
    ctx.close()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", S2F_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.run([sys.executable, "-m", "s2f_desktop", "--data-dir", str(tmp_path / "d"), "--case", "E-1",
                           "--quit-after-show"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    log = (tmp_path / "d" / "logs" / "s2f-desktop.log").read_text()
    assert "starting" in log
    assert (tmp_path / "cfg" / "settings.json").exists()  # the opened case went into the recent list


def test_view_menu_reaches_every_page(qtbot, app_ctx, reporter) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QKeySequence

    w = make_window(qtbot, app_ctx, reporter)
    view = next(a.menu() for a in w.menuBar().actions() if a.text() == "&View")
    pages = {a.shortcut().toString(QKeySequence.SequenceFormat.PortableText): a for a in view.actions()
             if a.shortcut().toString(QKeySequence.SequenceFormat.PortableText).startswith("Ctrl+")
             and a.shortcut().toString(QKeySequence.SequenceFormat.PortableText)[5:].isdigit()}
    assert sorted(pages) == [f"Ctrl+{i}" for i in range(1, w.tabs.count() + 1)]
    for i in range(w.tabs.count()):
        w.tabs.setCurrentIndex(0 if i else 1)
        pages[f"Ctrl+{i + 1}"].trigger()
        assert w.tabs.currentIndex() == i
        # The menu entry names the page it shows (tab text without its mnemonic escape).
        assert w.tabs.tabText(i).replace("&&", "&").split()[0].lower() in \
            pages[f"Ctrl+{i + 1}"].text().replace("&", "").lower()
    assert (w.PAGE_COMPARISON, w.PAGE_ARCHIVE) == (w.tabs.indexOf(w.comparison), w.tabs.indexOf(w.archive))
    assert_no_threads(w)
