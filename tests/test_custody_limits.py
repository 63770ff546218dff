"""Attack suite, part 3: hostile media at import (implausible headers, mid-file corruption, decoder noise)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.audio.probe import probe
from s2f_desktop.core.errors import MediaError
from s2f_desktop.services import evidence


def _tone(seconds: float = 3.0, sr: int = 16000) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)


def test_implausible_sample_rate_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "one-hertz.wav"
    sf.write(str(p), _tone(1.0)[:240], 1)
    with pytest.raises(MediaError, match="one-hertz.wav: implausible sample rate 1 Hz"):
        probe(p)


def test_implausible_channel_count_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "wide.wav"
    sf.write(str(p), np.zeros((16000, 100), dtype=np.float32), 16000)
    with pytest.raises(MediaError, match="implausible channel count 100"):
        probe(p)


def test_flac_corrupted_in_the_middle_is_refused_naming_the_file(ctx, case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.flac"
    sf.write(str(good), _tone(20.0), 16000)
    data = bytearray(good.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4000] = bytes((b * 7 + 13) % 256 for b in data[mid:mid + 4000])
    bad = tmp_path / "interview.flac"
    bad.write_bytes(bytes(data))
    res = evidence.import_files(ctx, case.number, [bad])
    assert res[0].evidence is None and res[0].error.startswith("interview.flac: the audio is corrupt")
    assert evidence.list_evidence(ctx, case.number) == []
    assert [p for p in ctx.store.layout.vault.rglob("*") if p.is_file()] == []
    assert probe(good).frames == 20 * 16000


def test_mp3_decoder_noise_stays_out_of_stderr(tmp_path: Path) -> None:
    clean = tmp_path / "clean.mp3"
    sf.write(str(clean), _tone(3.0), 16000, format="MP3")
    raw = clean.read_bytes()
    noisy = tmp_path / "noisy.mp3"
    noisy.write_bytes(raw[: len(raw) // 2] + b"\x00JUNKJUNK" * 50 + raw[len(raw) // 2:])
    data = tmp_path / "data"
    env = dict(os.environ, S2F_DEBUG="")
    base = [sys.executable, "-m", "s2f_desktop.cli.main", "--data-dir", str(data)]
    subprocess.run(base + ["case", "new", "N-1", "--title", "noise"], check=True, capture_output=True, env=env)
    r = subprocess.run(base + ["import", "N-1", str(noisy)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    log = (data / "logs" / "s2f-desktop.log").read_text()
    assert "decoder messages for noisy.mp3" in log


def test_models_outside_the_shipped_set_are_marked_in_the_run_record() -> None:
    import json

    from s2f_desktop.services.analysis import mark_unshipped
    from s2f_desktop.system.env import install_root

    manifest = json.loads((install_root() / "models" / "traits-v1" / "manifest.json").read_text())
    from s2f_desktop.core.results import ModelRecord

    shipped = ModelRecord("traits-v1", "heads.npz", manifest["files"]["heads.npz"])
    swapped = ModelRecord("traits-v1", "heads.npz", "f" * 64)  # other weights behind S2F_MODELS_DIR, re-hashed
    unknown = ModelRecord("mystery-v9", "w.bin", "0" * 64)
    assert mark_unshipped([shipped, swapped, unknown]) == (
        shipped, ModelRecord("traits-v1", "heads.npz", "f" * 64, shipped=False),
        ModelRecord("mystery-v9", "w.bin", "0" * 64, shipped=False))


def test_overlong_selection_is_refused_before_decoding(ctx, case, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.core.errors import InputError
    from s2f_desktop.services import analysis, segments

    monkeypatch.setattr(analysis, "MAX_SELECTION_S", 2.0)
    wav = tmp_path / "long.wav"
    sf.write(str(wav), _tone(5.0), 16000)
    ev = evidence.import_file(ctx, case.number, wav).evidence
    a = segments.add_segment(ctx, case.number, ev.id, 0, 16000 * 3)
    monkeypatch.setattr(analysis, "_analyzer", lambda device: pytest.fail("models must not be loaded"))
    with pytest.raises(InputError, match="the selection is 0.1 min long; one analysis reads at most 0 min"):
        analysis.analyze_selection(ctx, case.number, [a.id])
    with pytest.raises(InputError, match="range of long.wav"):
        analysis.analyze_file(wav, 0.0, 4.0)


def test_unshipped_models_are_named_in_the_gui_and_the_report_method(ctx, case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A run that used files outside the shipped set says so where the analyst and the court read it."""
    import dataclasses

    from helpers import stub_results

    from s2f_desktop.audio.quality import THRESHOLDS
    from s2f_desktop.core.results import ModelRecord, Timings
    from s2f_desktop.gui.analysis import run_html
    from s2f_desktop.services.reports import collect_report_data
    from s2f_desktop.store import repositories as repo

    res = stub_results(THRESHOLDS)
    swapped = ModelRecord("traits-v1", "heads.npz", "f" * 64, shipped=False)
    with ctx.store.write() as s:
        run = repo.add_run(s, case.id, [], (swapped,), "test", "cpu", {}, 0, res, Timings(0, 0, 0), "tester")
    assert run.models[0].shipped is False
    assert "Not the shipped models" in run_html(run) and "traits-v1/heads.npz" in run_html(run)
    assert "Not the shipped models" not in run_html(dataclasses.replace(run, models=(dataclasses.replace(
        swapped, shipped=True),)))
    data = collect_report_data(ctx, case.number)
    card = next(c for c in data.models if c.id == "traits-v1")
    assert "NOT THE SHIPPED MODEL" in card.note


def test_a_run_with_mixed_channels_says_so_in_the_gui_and_the_report(ctx, case) -> None:  # type: ignore[no-untyped-def]
    """The run's stored channel note reaches the results page and the report's conclusions (rebuilt from the store)."""
    import dataclasses

    from helpers import stub_results

    from s2f_desktop.audio.quality import THRESHOLDS
    from s2f_desktop.core.results import Timings
    from s2f_desktop.gui.analysis import run_html
    from s2f_desktop.services.reports import collect_report_data
    from s2f_desktop.store import repositories as repo

    note = "call.wav 0:01.000\u20130:04.000: its 2 channels carry different signals (correlation 0.02)"
    res = dataclasses.replace(stub_results(THRESHOLDS), notes=(note,))
    with ctx.store.write() as s:
        run = repo.add_run(s, case.id, [], (), "test", "cpu", {}, 0, res, Timings(0, 0, 0), "tester")
    assert "Channels mixed:" in run_html(run) and "(correlation 0.02)" in run_html(run)
    assert "Channels mixed:" not in run_html(dataclasses.replace(run, results=stub_results(THRESHOLDS)))
    (section,) = collect_report_data(ctx, case.number).runs
    assert f"Channels: {note}." in section.conclusions
