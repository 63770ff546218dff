"""Waveform view and panel: sample<->pixel mapping, zoom/pan, drag gestures in data
coordinates, undo/redo of every segment edit through the real segment service,
spectrogram tiles, playback cursor (fake output stream) and a 3-hour overview."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt  # noqa: E402

from s2f_desktop.core.models import SegmentSource, SegmentStatus  # noqa: E402
from s2f_desktop.gui.waveform import WaveformModel, WaveformView, format_time, nice_tick_step  # noqa: E402
from s2f_desktop.gui.waveform_panel import WaveformPanel  # noqa: E402
from s2f_desktop.gui.workers import JobRunner  # noqa: E402


class FakeOverview:
    """Peaks of a synthetic recording, computed on the fly (any length, no file)."""

    def __init__(self, frames: int, sample_rate: int = 16000) -> None:
        self.frames, self.sample_rate = frames, sample_rate
        self.calls: list[tuple[int, int, int]] = []

    def peaks(self, start, end, width):  # type: ignore[no-untyped-def]
        self.calls.append((start, end, width))
        centres = np.linspace(start, end, width)
        env = 0.5 + 0.4 * np.sin(centres / self.sample_rate)
        return -env, env, env * 0.5


@pytest.fixture
def runner(qtbot):  # type: ignore[no-untyped-def]
    r = JobRunner()
    yield r
    assert r.shutdown(20000)


@pytest.fixture
def loaded(qtbot, ctx, case, tone_wav, runner, reporter):  # type: ignore[no-untyped-def]
    """A panel showing a 4 s tone imported into case T-1 (real overview service)."""
    from s2f_desktop.services.evidence import import_file

    ev = import_file(ctx, case.number, tone_wav(seconds=4.0, sr=16000)).evidence
    panel = WaveformPanel(ctx, runner, reporter)
    qtbot.addWidget(panel)
    panel.resize(1000, 500)
    panel.show()
    qtbot.waitExposed(panel)
    with qtbot.waitSignal(panel.overview_loaded, timeout=20000):
        panel.load_evidence(case.number, ev)
    return panel, ev


def drag(qtbot, view, x0: float, x1: float, y: int = 150) -> None:  # type: ignore[no-untyped-def]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(int(round(x0)), y))
    qtbot.mouseMove(view, QPoint(int(round((x0 + x1) / 2)), y))
    qtbot.mouseMove(view, QPoint(int(round(x1)), y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(int(round(x1)), y))


def test_ticks_and_time_format() -> None:
    assert nice_tick_step(1 / 1000) == 0.1  # 1 ms per pixel -> 100 ms ticks
    assert nice_tick_step(10.0) == 900  # 10 s per pixel -> 15 min ticks
    assert format_time(3725.5, 1) == "1:02:05"
    assert format_time(65.25, 0.01) == "1:05.25"


def test_mapping_zoom_and_pan(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = WaveformModel()
    view = WaveformView(model)
    qtbot.addWidget(view)
    view.resize(800, 300)
    model.set_overview(FakeOverview(16000 * 60))
    assert view.spp == pytest.approx(16000 * 60 / 800)
    for x in (0, 123.5, 799):
        assert view.sample_to_x(view.x_to_sample(x)) == pytest.approx(x)
    anchor = view.x_to_sample(200)
    view.zoom(4.0, 200)
    assert view.x_to_sample(200) == pytest.approx(anchor, abs=view.spp)
    assert view.spp == pytest.approx(16000 * 60 / 800 / 4)
    view.pan_pixels(-10_000)
    assert view.start == 0
    view.pan_pixels(10_000_000)
    assert view.visible_range[1] == pytest.approx(model.frames)
    view.zoom(1e9)
    assert view.spp == view.MIN_SPP
    view.fit_all()
    assert view.visible_range == (0.0, pytest.approx(model.frames))


def test_three_hour_recording_paints_visible_range_only(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = WaveformModel()
    view = WaveformView(model)
    qtbot.addWidget(view)
    view.resize(1200, 300)
    ov = FakeOverview(3 * 3600 * 48000, 48000)
    model.set_overview(ov)
    view.zoom(3600.0)  # about 3 s visible
    ov.calls.clear()
    view.grab()
    (start, end, width), = ov.calls
    assert width <= 1200 and end - start <= view.width() * view.spp + 2
    view.grab()  # unchanged viewport: cached, no new peaks request
    assert len(ov.calls) == 1


def test_drag_create_move_resize_with_undo(qtbot, loaded, ctx) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services.segments import list_segments

    panel, ev = loaded
    view = panel.view
    sr = ev.media.sample_rate
    drag(qtbot, view, view.sample_to_x(1.0 * sr), view.sample_to_x(2.0 * sr))
    (seg,) = list_segments(ctx, ev.id)
    assert seg.source is SegmentSource.MANUAL and seg.status is SegmentStatus.ACCEPTED
    assert abs(seg.start_sample - sr) <= view.spp and abs(seg.end_sample - 2 * sr) <= view.spp
    assert panel.model.selected_id == seg.id and panel.table.rowCount() == 1

    # move by half a second: drag the body
    drag(qtbot, view, view.sample_to_x(1.5 * sr), view.sample_to_x(2.0 * sr))
    (moved,) = list_segments(ctx, ev.id)
    assert moved.id == seg.id
    assert moved.end_sample - moved.start_sample == seg.end_sample - seg.start_sample
    assert abs(moved.start_sample - 1.5 * sr) <= 2 * view.spp

    # resize: drag the end edge to 3.0 s
    drag(qtbot, view, view.sample_to_x(moved.end_sample), view.sample_to_x(3.0 * sr))
    (resized,) = list_segments(ctx, ev.id)
    assert resized.start_sample == moved.start_sample and abs(resized.end_sample - 3 * sr) <= 2 * view.spp

    stack = panel.undo_stack
    assert [stack.text(i) for i in range(stack.count())] == ["Add segment", "Move segment", "Resize segment"]
    stack.undo()
    assert list_segments(ctx, ev.id)[0].end_sample == moved.end_sample
    stack.undo()
    assert list_segments(ctx, ev.id)[0].start_sample == seg.start_sample
    stack.undo()
    assert list_segments(ctx, ev.id) == [] and panel.model.segments() == []
    stack.redo()
    (again,) = list_segments(ctx, ev.id)
    assert again.id == seg.id  # same id after undo/redo
    stack.redo()
    stack.redo()
    (final,) = list_segments(ctx, ev.id)
    assert (final.id, final.start_sample, final.end_sample) == (resized.id, resized.start_sample, resized.end_sample)


def test_delete_label_accept_reject_undo(qtbot, loaded, ctx) -> None:  # type: ignore[no-untyped-def]
    from helpers import add_suggestions

    from s2f_desktop.services.segments import get_segment, list_segments

    panel, ev = loaded
    (sugg,) = add_suggestions(ctx, ev, [(8000, 24000, 0.9)])
    panel.reload_segments()
    panel.model.select(sugg.id)
    assert panel.set_selected_status(True)
    assert get_segment(ctx, sugg.id).status is SegmentStatus.ACCEPTED
    panel.undo_stack.undo()
    assert get_segment(ctx, sugg.id).status is SegmentStatus.SUGGESTED
    assert panel.set_selected_status(False)
    assert get_segment(ctx, sugg.id).status is SegmentStatus.REJECTED
    assert panel.label_selected("speaker A")
    assert get_segment(ctx, sugg.id).label == "speaker A"
    assert panel.delete_selected()
    assert list_segments(ctx, ev.id) == []
    panel.undo_stack.undo()
    restored = get_segment(ctx, sugg.id)
    assert restored.label == "speaker A" and restored.status is SegmentStatus.REJECTED
    assert panel.model.get(sugg.id) == restored


def test_service_refusal_is_reported_not_raised(qtbot, loaded, ctx, case, reporter) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services.cases import close_case

    panel, ev = loaded
    close_case(ctx, case.number)
    with qtbot.waitSignal(reporter.reported, timeout=5000) as blocker:
        ok = panel.create_segment(100, 2000)
    assert not ok and "closed" in blocker.args[1]
    assert panel.undo_stack.count() == 0 and panel.model.segments() == []


def test_spectrogram_tile_for_visible_range(qtbot, loaded) -> None:  # type: ignore[no-untyped-def]
    panel, ev = loaded
    with qtbot.waitSignal(panel.spectrogram_ready, timeout=20000):
        panel.set_spectrogram(True)
    tile = panel.view.spectrogram
    v0, v1 = panel.view.visible_range
    assert tile is not None and tile.start == int(v0) and tile.end <= ev.media.frames
    assert tile.image.width() > 10 and tile.max_hz == pytest.approx(8000, rel=0.01)
    assert not panel.view.grab().isNull()


def test_playback_moves_cursor(qtbot, loaded) -> None:  # type: ignore[no-untyped-def]
    from helpers import FakeStream

    from s2f_desktop.audio.devices import Player

    panel, ev = loaded
    panel.player_factory = lambda: Player(stream_factory=FakeStream)
    assert panel.create_segment(16000, 32000)
    positions: list[int] = []
    panel._relay.position.connect(positions.append)
    with qtbot.waitSignal(panel.playback_state, timeout=10000, check_params_cb=lambda on: on is False):
        panel.toggle_playback()
    assert positions and positions[0] > 16000 and positions[-1] == 32000
    assert panel.view.playhead is None and panel.player is None


def test_painting_keeps_none_alive(qtbot) -> None:  # type: ignore[no-untyped-def]
    """PySide6 6.12 returned None without a reference on Python 3.11, so every QPainter
    call drained None's refcount until the interpreter aborted; the pinned version must not."""
    import sys

    from PySide6.QtGui import QImage

    model = WaveformModel()
    view = WaveformView(model)
    qtbot.addWidget(view)
    view.resize(800, 300)
    model.set_overview(FakeOverview(16000 * 600))
    target = QImage(view.size(), QImage.Format.Format_ARGB32_Premultiplied)
    before = sys.getrefcount(None)
    for i in range(200):
        view.pan_pixels(37 if i % 2 else -37)
        view.render(target)
    assert sys.getrefcount(None) >= before - 50


def test_deep_zoom_draws_decoded_samples(qtbot, loaded) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.gui.waveform import sample_peaks

    panel, ev = loaded
    with qtbot.waitSignal(panel.detail_ready, timeout=20000):
        panel.view.zoom_to(16000, 16400)  # 400 samples across the view: below one overview bin per pixel
    first, x = panel.view.detail
    v0, v1 = panel.view.visible_range
    assert first <= v0 and first + len(x) >= v1
    # the tone's samples, not 256-sample bins: adjacent columns differ
    assert np.abs(np.diff(x[:64])).max() > 0.01
    assert not panel.view.grab().isNull()
    mins, maxs, rms = sample_peaks(np.array([0.0, 1.0, -1.0, 0.5]), 2)
    assert mins.tolist() == [0.0, -1.0] and maxs.tolist() == [1.0, 0.5]
    assert rms[0] == pytest.approx(np.sqrt(0.5))
