"""The Archive tab: search from the case's segments, filter, listen to a hit, import it (offscreen Qt).

The index is built in this process with the same per-recording task the Dask workers run
(:func:`s2f_desktop.archive.engine.index_one`), so the page is tested without a cluster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from s2f_desktop.report.language import fmt_probability

SHARED_DATA = Path(os.environ.get("S2F_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VOICES = SHARED_DATA / "librispeech-test-other-10x10"

pytestmark = [pytest.mark.slow, pytest.mark.needs_data,
              pytest.mark.skipif(not VOICES.is_dir(), reason=f"needs {VOICES}")]


@pytest.fixture
def index(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    from benchmarks.bench_archive import make_archive
    from s2f_desktop.archive import engine
    from s2f_desktop.archive.store import IndexStore

    meta = make_archive(tmp_path / "archive", 3, 0.2, 0.25, seed=5)
    idx = tmp_path / "index"
    IndexStore(idx).create()
    key, _ = engine.worker_index_key("cpu")
    for m in meta:
        assert engine.index_one(m["path"], str(idx), key, "cpu")["status"] == "indexed"
    return idx, meta


def test_archive_tab_search_listen_import(qtbot, ctx, case, index) -> None:  # type: ignore[no-untyped-def]
    from helpers import FakeStream

    from s2f_desktop.audio.devices import Player
    from s2f_desktop.gui.archive import ArchivePanel
    from s2f_desktop.gui.errors import ErrorReporter
    from s2f_desktop.gui.workers import JobRunner
    from s2f_desktop.services.evidence import audit_trail, import_file, list_evidence
    from s2f_desktop.services.segments import add_segment

    idx, meta = index
    target = str(meta[0]["speakers"][0])
    # The questioned recording: another utterance of a speaker in the archive, with one segment.
    q = import_file(ctx, "T-1", sorted((VOICES / target).glob("*.flac"))[-1]).evidence
    seg = add_segment(ctx, "T-1", q.id, 0, q.media.frames, label="questioned")

    reporter = ErrorReporter()
    reporter.show_dialogs = False
    errors: list[tuple[str, str]] = []
    reporter.reported.connect(lambda t, m: errors.append((t, m)))
    runner = JobRunner()
    panel = ArchivePanel(ctx, runner, reporter)
    qtbot.addWidget(panel)
    panel.set_device("cpu")
    panel.set_case(case)
    assert panel.seg_list.count() == 1
    panel.set_checked([seg.id])
    panel.set_index(idx)
    qtbot.waitUntil(lambda: "recordings" in panel.index_info.text(), timeout=20000)
    assert panel.index_info.text().startswith("3 recordings")

    with qtbot.waitSignal(panel.search_finished, timeout=120000) as sig:
        panel.search_btn.click()
    res = sig.args[0]
    assert not errors and res.hits and panel.table.rowCount() == len(res.hits)
    having = {m["path"] for m in meta if target in m["speakers"]}
    assert res.hits[0]["path"] in having
    assert panel.table.item(0, 4).text() == Path(res.hits[0]["path"]).name
    # The recording's voice as "voice k of n", not the index's bare 0-based group number.
    n0 = res.hits[0]["n_speakers"]
    assert n0 >= 1 and panel.table.item(0, 5).text() == f"voice {res.hits[0]['speaker'] + 1} of {n0}"
    # The stored estimates are shown with their numbers: P(male), and the age's median and 80 % interval.
    h0 = res.hits[0]
    assert panel.table.item(0, 7).text() == f"{h0['sex']['label']} (P(male) {fmt_probability(h0['sex']['p_male'])})"
    lo, hi = h0["age"]["interval_80"]
    assert panel.table.item(0, 8).text().endswith(f"{h0['age']['median_years']:.0f} y (80 % {lo:.0f}–{hi:.0f})")
    assert "need not fall" in panel.table.horizontalHeaderItem(1).toolTip()
    assert "investigative lead" in panel.notes.text()
    if not res.calibrated:
        assert "log10_lr and verbal are null" in panel.notes.text() and panel.table.item(0, 2).text() == "–"

    # Filter: only speakers labelled male (may be none); every row shown obeys it.
    panel.sex_combo.setCurrentIndex(panel.sex_combo.findData("male"))
    with qtbot.waitSignal(panel.search_finished, timeout=120000) as sig:
        panel.search_btn.click()
    assert all(h["sex"]["label"] == "male" for h in sig.args[0].hits)
    panel.sex_combo.setCurrentIndex(0)
    with qtbot.waitSignal(panel.search_finished, timeout=120000):
        panel.search_btn.click()

    # Listen to the selected hit's longest turn.
    panel.table.selectRow(0)
    panel.player_factory = lambda: Player(stream_factory=FakeStream)
    FakeStream.played = 0
    with qtbot.waitSignal(panel.playback_state, timeout=20000, check_params_cb=lambda on: on is False):
        panel.listen_btn.click()
    hit = panel.hits[0]
    assert FakeStream.played >= (hit["end_s"] - hit["start_s"]) * hit["sample_rate"] - 1024
    assert panel.player is None and panel.listen_btn.text() == "Listen to hit"

    # Import it into the case.
    with qtbot.waitSignal(panel.evidence_imported, timeout=60000) as sig:
        panel.import_btn.click()
    imported = sig.args[0]
    assert imported.evidence.sha256 == hit["sha256"]
    assert {e.sha256 for e in list_evidence(ctx, "T-1")} == {q.sha256, hit["sha256"]}
    events, check = audit_trail(ctx, "T-1")
    assert check.ok and any(e.action == "archive.import" and e.details["archive_path"] == hit["path"] for e in events)
    assert panel.seg_list.count() == 2  # the hit's turn is now an accepted segment of the case
    assert not errors
    runner.shutdown()


def test_main_window_has_the_archive_tab(qtbot, ctx) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.gui.errors import ErrorReporter
    from s2f_desktop.gui.mainwindow import MainWindow

    rep = ErrorReporter()
    rep.show_dialogs = False
    w = MainWindow(ctx, rep, save_settings_fn=lambda s: None)
    qtbot.addWidget(w)
    titles = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert "Archive" in titles
    assert not w.archive.search_btn.isEnabled()  # no case open
    w.shutdown()
