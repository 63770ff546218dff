"""Desktop GUI benchmarks.

* Cold start: wall time of ``python -m s2f_desktop --quit-after-show`` (new process,
  empty data directory, offscreen platform: start, build the main window, show it,
  quit) against a bare PySide6 script that shows an empty QMainWindow the same way.
  Median of N runs each; the ratio is the cost of the application over Qt itself.
* Scrolling: a synthesised overview of a 3-hour, 48 kHz recording with 2,000 segments;
  the detail view (1600x420) pans by a tenth of its width per frame at three zoom
  levels; each frame renders the detail view and the overview strip (1600x56) into
  preallocated images (``QWidget.render``: exactly their paint events). Median and
  95th percentile of the paint time per frame; target <= 16 ms (60 fps).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BARE = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(1600, 1000); w.show()
QTimer.singleShot(0, app.quit)
app.exec()
"""


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1", S2F_CONFIG_DIR=str(tmp / "config"),
               S2F_DATA_DIR=str(tmp / "data"))
    return env


def _time_process(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - t0


def cold_start(runs: int) -> tuple[float, float]:
    """Median seconds (app, bare window)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp))
        app_cmd = [sys.executable, "-m", "s2f_desktop", "--quit-after-show", "--data-dir", str(Path(tmp) / "data")]
        bare_cmd = [sys.executable, "-c", BARE]
        _time_process(app_cmd, env)  # first run creates the data directory and warms the OS file cache
        _time_process(bare_cmd, env)
        app_t, bare_t = [], []
        for _ in range(runs):
            app_t.append(_time_process(app_cmd, env))
            bare_t.append(_time_process(bare_cmd, env))
    return statistics.median(app_t), statistics.median(bare_t)


def synthetic_overview(hours: float = 3.0, sr: int = 48000):  # type: ignore[no-untyped-def]
    """An Overview with the real pyramid layout, filled with speech-like random envelopes."""
    from s2f_desktop.audio.overview import Overview, _plan_levels

    frames = int(hours * 3600 * sr)
    levels = _plan_levels(frames)
    n = levels[-1].offset + levels[-1].n_bins
    rng = np.random.default_rng(0)
    amp = np.abs(rng.normal(0.2, 0.15, size=n)).astype(np.float32)
    data = np.empty((3, 1, n), dtype=np.float32)
    data[0, 0] = -amp
    data[1, 0] = amp
    data[2, 0] = (amp * 0.4) ** 2
    return Overview(data, sr, frames, 1, levels)


def track_tiles(ov):  # type: ignore[no-untyped-def]
    """A spectrogram image and an F0/formant track image as the panel would hand the view."""
    from s2f_desktop.gui.waveform import argb_to_qimage, rgb_to_qimage, spectrogram_rgb, tracks_rgba

    rng = np.random.default_rng(1)
    spec = rgb_to_qimage(spectrogram_rgb(rng.normal(-40, 10, size=(257, 1600))))
    t = np.arange(0, 10.0, 0.01)  # 10 ms frames over the visible 10 s
    f0 = np.where(rng.random(len(t)) < 0.6, 120 + 20 * np.sin(t), np.nan)
    fm = np.stack([500 + 100 * np.sin(t * k) + 1000 * k for k in range(4)], axis=1)
    tracks = argb_to_qimage(tracks_rgba(t, f0, fm, 10.0, 1600, 512, ov.sample_rate / 2, 500.0))
    return spec, tracks


def scroll_frames(ov, visible_s: float, frames: int, segments, tracks: bool = False) -> list[float]:  # type: ignore[no-untyped-def]
    """Paint times (ms) while panning ``frames`` times at a zoom showing ``visible_s`` seconds.

    ``tracks``: the spectrogram with F0 and formant tracks is shown, its tiles following the view
    (as after each debounced recomputation in the app).
    """
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from s2f_desktop.gui.waveform import OverviewStrip, SpectrogramTile, TrackTile, WaveformModel, WaveformView

    model = WaveformModel()
    view = WaveformView(model)
    strip = OverviewStrip(model, view)
    view.resize(1600, 420)
    strip.resize(1600, 56)
    view.show()
    strip.show()
    QApplication.processEvents()  # deliver the first resize before the viewport is set
    model.set_overview(ov)
    model.set_segments(segments)
    view.set_view(0, visible_s * ov.sample_rate / view.width())
    if tracks:
        spec_img, track_img = track_tiles(ov)
        view.show_spectrogram = view.show_tracks = True
    # Paint into a preallocated image: exactly the widget's paintEvent, whatever the platform plugin.
    target = QImage(view.size(), QImage.Format.Format_ARGB32_Premultiplied)
    strip_target = QImage(strip.size(), QImage.Format.Format_ARGB32_Premultiplied)
    view.render(target)
    strip.render(strip_target)
    out = []
    step = view.width() / 10
    spp = view.spp
    for _ in range(frames):
        if view.visible_range[1] >= ov.frames - 1:
            view.set_view(0, spp)
        view.pan_pixels(step)
        if tracks:
            a, b = int(view.visible_range[0]), int(view.visible_range[1])
            view.spectrogram = SpectrogramTile(a, b, spec_img, ov.sample_rate / 2)
            view.tracks = TrackTile(a, b, track_img, 500.0)
        t0 = time.perf_counter()
        view.render(target)
        strip.render(strip_target)  # the overview strip's frame moves with every scroll
        out.append((time.perf_counter() - t0) * 1000)
    view.close()
    strip.close()
    strip.deleteLater()
    view.deleteLater()
    model.deleteLater()
    return out


def make_segments(ov, n: int):  # type: ignore[no-untyped-def]
    from datetime import datetime

    from s2f_desktop.core.models import Segment, SegmentSource, SegmentStatus

    starts = np.linspace(0, ov.frames - 10 * ov.sample_rate, n).astype(int)
    statuses = [SegmentStatus.ACCEPTED, SegmentStatus.SUGGESTED, SegmentStatus.REJECTED]
    return [Segment(f"s{i}", 1, int(s), int(s + 4 * ov.sample_rate), ov.sample_rate, f"seg {i}", "AB"[i % 2],
                    SegmentSource.VAD, statuses[i % 3], 0.9, {}, datetime(2024, 1, 1)) for i, s in enumerate(starts)]


def run(quick: bool = False) -> list[dict]:
    """Benchmark rows (see module docstring)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["bench"])  # noqa: F841 - keeps Qt alive
    rows: list[dict] = []
    runs = 2 if quick else 5
    app_s, bare_s = cold_start(runs)
    rows.append({"benchmark": "cold start to window shown (s2f-desktop)", "value": round(app_s, 3), "unit": "s",
                 "note": f"median of {runs} processes, offscreen, quit right after show"})
    rows.append({"benchmark": "cold start to window shown (bare PySide6 QMainWindow)", "value": round(bare_s, 3),
                 "unit": "s", "note": f"median of {runs} processes"})
    rows.append({"benchmark": "cold start ratio app / bare", "value": round(app_s / bare_s, 2), "unit": "x",
                 "note": "application cost over Qt itself"})
    ov = synthetic_overview(3.0)
    segs = make_segments(ov, 2000)
    n = 60 if quick else 300
    for visible_s, name in ((10.0, "10 s visible"), (300.0, "5 min visible"), (3 * 3600.0, "whole 3 h visible")):
        times = scroll_frames(ov, visible_s, n, segs)
        rows.append({"benchmark": f"scroll 3 h recording, {name}: frame median",
                     "value": round(statistics.median(times), 2), "unit": "ms", "target": "<= 16",
                     "note": f"{n} frames, 1600x420 px, 2000 segments"})
        rows.append({"benchmark": f"scroll 3 h recording, {name}: frame p95",
                     "value": round(float(np.percentile(times, 95)), 2), "unit": "ms", "target": "<= 16", "note": ""})
    times = scroll_frames(ov, 10.0, n, segs, tracks=True)
    rows.append({"benchmark": "scroll 3 h recording, 10 s visible, spectrogram + F0/formant tracks: frame median",
                 "value": round(statistics.median(times), 2), "unit": "ms", "target": "<= 16",
                 "note": f"{n} frames, 1600x420 px, 2000 segments in two speaker groups"})
    rows.append({"benchmark": "scroll 3 h recording, 10 s visible, spectrogram + F0/formant tracks: frame p95",
                 "value": round(float(np.percentile(times, 95)), 2), "unit": "ms", "target": "<= 16", "note": ""})
    app.processEvents()  # run the deleteLater()s while Qt is fully alive
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
