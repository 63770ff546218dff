"""Screenshots of every main view on a demo case (``make screenshots``).

Usage: ``python -m s2f_desktop.gui.screenshots OUT_DIR`` (under ``xvfb-run``, or with
``QT_QPA_PLATFORM=offscreen``). Everything happens in a temporary data directory: a
demo case is made from espeak-ng speech (a male and a female voice taking turns), the
recording is imported, speech detection runs, every suggestion is accepted in one
step, speaker groups are suggested from the voices and confirmed, the spectrogram
shows F0 and formant tracks, one analysis runs per speaker, a composite slider
previews live, and the report dialog, settings and manual are shown. Each view is
saved as a 1600x1000 PNG.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

SIZE = (1600, 1000)

SCRIPT = [
    ("en-us+m3", 110, "This is the second time I am calling about the delivery. "
                      "I was told somebody would be at the warehouse on Tuesday morning, and nobody was there."),
    ("en-us+f3", 190, "I understand. Can you tell me the reference number on your receipt, please?"),
    ("en-us+m3", 110, "It is four seven two nine. I need the boxes before the end of the week, "
                      "otherwise the whole order is useless to me."),
]


def make_demo_recording(out: Path) -> tuple[Path, list[tuple[str, float, float]]]:
    """A two-voice 'phone call' from espeak-ng, with pauses, as a 22.05 kHz mono WAV.

    Returns the file and the turns as ``(voice, start_s, end_s)``.
    """
    import soundfile as sf

    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed to make the demo recording (apt-get install espeak-ng)")
    parts: list[np.ndarray] = []
    turns: list[tuple[str, float, float]] = []
    sr = 22050
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (voice, pitch, text) in enumerate(SCRIPT):
            wav = Path(tmp) / f"{i}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch // 4), "-s", "150", "-w", str(wav), text],
                           check=True, capture_output=True)
            x, sr = sf.read(str(wav), dtype="float32")
            parts.append(np.zeros(int(0.9 * sr), dtype=np.float32))
            start = sum(len(p) for p in parts) / sr
            parts.append(x * 0.8)
            turns.append((voice, start, start + len(x) / sr))
        parts.append(np.zeros(int(0.9 * sr), dtype=np.float32))
    y = np.concatenate(parts)
    y = y + rng.normal(0, 0.004, size=y.shape).astype(np.float32)  # a little line noise
    sf.write(str(out), y, sr, subtype="PCM_16")
    return out, turns


def wait_for(signal: Any, timeout_s: float = 600.0, trigger: Callable[[], Any] | None = None,
             check: Callable[..., bool] | None = None) -> list[Any]:
    """Run the event loop until ``signal`` fires (optionally after calling ``trigger``)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list[Any] = []

    def on(*args: Any) -> None:
        if check is None or check(*args):
            got.extend(args)
            got.append(True)
            loop.quit()

    signal.connect(on)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(int(timeout_s * 1000))
    if trigger is not None:
        trigger()
    if not got:
        loop.exec()
    signal.disconnect(on)
    if not got:
        raise SystemExit(f"timed out waiting for {signal}")
    return got[:-1]


def settle(ms: int = 150) -> None:
    """Let pending paints and queued signals run."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def grab_with_dialog(window: Any, dialog: Any, path: Path) -> None:
    """The window with a (separate top-level) dialog painted centred over it."""
    from PySide6.QtGui import QColor, QPainter

    shot = window.grab()
    d = dialog.grab()
    p = QPainter(shot)
    p.fillRect(shot.rect(), QColor(0, 0, 0, 90))
    p.drawPixmap((shot.width() - d.width()) // 2, (shot.height() - d.height()) // 3, d)
    p.end()
    shot.save(str(path))


def main(argv: list[str] | None = None) -> int:
    """Build the demo case and write the PNGs into the folder given."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out_dir = Path(argv[0] if argv else "docs/screenshots").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    tmp = Path(tempfile.mkdtemp(prefix="s2f-shots-"))
    os.environ["S2F_CONFIG_DIR"] = str(tmp / "config")
    os.environ["S2F_DATA_DIR"] = str(tmp / "data")

    from PySide6.QtWidgets import QApplication

    from s2f_desktop.gui.errors import ErrorReporter, install_excepthook
    from s2f_desktop.gui.mainwindow import MainWindow
    from s2f_desktop.services import cases as case_svc
    from s2f_desktop.services.context import open_context
    from s2f_desktop.system.logs import configure_logging
    from s2f_desktop.system.settings import Settings

    _app = QApplication.instance() or QApplication(["s2f-desktop"])  # held: Qt needs the instance alive
    reporter = ErrorReporter()
    errors: list[str] = []
    reporter.reported.connect(lambda t, m: errors.append(f"{t}: {m}"))
    reporter.log_file = configure_logging(tmp / "data" / "logs")
    install_excepthook(reporter)
    settings = Settings(analyst="J. Analyst", device="cpu")
    ctx = open_context(tmp / "data", "J. Analyst", settings)
    saved: list[Path] = []

    def save(name: str, widget: Any = None) -> None:
        settle()
        path = out_dir / name
        (widget or window).grab().save(str(path))
        saved.append(path)
        print(f"saved {path}", flush=True)

    try:
        case_svc.create_case(ctx, "2024-0098", "Extortion calls, Harbour Street", agency="Regional Police, Unit 4")
        case_svc.close_case(ctx, "2024-0098")
        case_svc.create_case(ctx, "2024-0121", "Threatening voicemail", agency="Regional Police, Unit 2")
        wav, turns = make_demo_recording(tmp / "call-2024-03-14.wav")

        window = MainWindow(ctx, reporter, save_settings_fn=lambda s: None, pdf_opener=lambda p: True)
        window.resize(*SIZE)
        window.show()
        settle(300)
        window.create_case("2024-0117", "Delivery fraud phone call", agency="Regional Police, Fraud Unit",
                           notes="Call recorded by the victim's phone on 14 March; caller unknown.")
        page = window.evidence
        wave = window.waveform
        wait_for(wave.overview_loaded, trigger=lambda: page.import_paths([wav]))
        wait_for(wave.vad_finished, trigger=wave.detect_speech)
        segs = wave.model.segments()
        sr = wave.model.sample_rate

        def voice_at(seg: Any) -> str:
            mid = (seg.start_sample + seg.end_sample) / 2 / sr
            return min(turns, key=lambda t: 0 if t[1] <= mid <= t[2] else min(abs(mid - t[1]), abs(mid - t[2])))[0]

        # Speaker-first: select every suggestion and accept it in one step, let the app
        # suggest speaker groups from the voices, confirm them (A = caller, B = call-taker).
        wave.select_matching()
        wave.set_status_of_selected(True)
        ev = wave.evidence
        gdlg = window.suggest_speaker_groups()
        groups = wait_for(gdlg.suggested, timeout_s=900)[0] if gdlg is not None else []
        if gdlg is not None:
            for r, ids in enumerate(groups):  # name each group after who speaks most in it
                voices = [voice_at(wave.model.get(i)) for i in ids if wave.model.get(i) is not None]
                caller = voices.count(SCRIPT[0][0]) >= len(voices) / 2
                gdlg.table.item(r, 0).setText("caller" if caller else "call-taker")
            settle(300)
            grab_with_dialog(window, gdlg, out_dir / "07-speaker-groups.png")
            saved.append(out_dir / "07-speaker-groups.png")
            print(f"saved {saved[-1]}", flush=True)
            gdlg.apply_btn.click()
        segs = wave.model.segments()
        if segs:
            wave.model.select(segs[0].id)
            wave.label_selection("delivery complaint")
        window.tabs.setCurrentIndex(window.PAGE_CASES)
        window.cases.refresh(select="2024-0117")
        save("01-cases.png")

        window.tabs.setCurrentIndex(window.PAGE_EVIDENCE)
        settle()
        wave.view.zoom_to(0, min(wave.model.frames, int(16 * sr)))
        window.act_spectrogram.setChecked(True)
        window.act_tracks.setChecked(True)
        wait_for(wave.tracks_ready, trigger=lambda: window._set_tracks(True))
        wave.select_matching(speaker="caller")
        wait_for(wave.measured, trigger=wave.measure_selection, timeout_s=300)
        wave.view.pointer_moved.emit(wave.view.readout(wave.view.width() * 0.4, wave.view.height() * 0.8))
        save("02-waveform.png")

        if ev is not None:
            window.tabs.setCurrentIndex(window.PAGE_ANALYSIS)
            for tag in ("call-taker", "caller"):  # one run per speaker, named after the speaker
                if window.analysis.use_speaker(ev.id, tag):
                    if tag == "caller":
                        window.analysis.run_notes.setPlainText("Caller only; the call-taker is run separately.")
                    wait_for(window.analysis.run_finished, trigger=window.analysis.analyze, timeout_s=900)
            save("03-analysis.png")
        if window.analysis.current_run() is not None:
            window.tabs.setCurrentIndex(window.PAGE_COMPOSITES)
            comp = window.composites
            wait_for(comp.composites_changed, trigger=comp.create_set, timeout_s=900,
                     check=lambda *a: bool(comp.composites))
            name = next(iter(comp.sliders), None)
            if name is not None:
                wait_for(comp.preview_shown, trigger=lambda: comp.set_slider_value(name, 0.4), timeout_s=600)
            save("04-composites.png")
        if ev is not None:
            # Speaker comparison: the caller's turns (questioned) against the call-taker's (known).
            cp = window.comparison
            window.tabs.setCurrentIndex(window.tabs.indexOf(cp))
            cp.refresh()
            cp.q_combo.setCurrentText("caller")
            cp.k_combo.setCurrentText("call-taker")
            wait_for(cp.comparison_finished, trigger=cp.compare, timeout_s=900)
            settle(300)
            save("09-comparison.png")
        dlg = window.report_dialog()
        settle(300)
        grab_with_dialog(window, dlg, out_dir / "05-report-dialog.png")
        saved.append(out_dir / "05-report-dialog.png")
        print(f"saved {saved[-1]}", flush=True)
        dlg.reject()
        manual = window.show_manual()
        settle(300)
        grab_with_dialog(window, manual, out_dir / "08-manual.png")
        saved.append(out_dir / "08-manual.png")
        manual.close()
        sdlg = window.settings_dialog()
        wait_for(sdlg.devices_probed, timeout_s=120)
        if sdlg.output_info.text().startswith("Looking"):
            wait_for(sdlg.outputs_listed, timeout_s=120)
        grab_with_dialog(window, sdlg, out_dir / "06-settings.png")
        saved.append(out_dir / "06-settings.png")
        sdlg.reject()
        window.close()
    finally:
        ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if errors:
        print("errors shown during the run:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    print(f"{len(saved)} screenshots in {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
