"""Attack suite, part 2: crashes. The CLI is killed or fails at each step of import and report.

Every run is a real ``s2f`` subprocess that injures itself at a named fault point
(:mod:`s2f_desktop.system.faults`): SIGTERM, SIGHUP, SIGINT, an injected OSError, or
SIGKILL (no cleanup at all, like a power loss). Afterwards a fresh process checks the
store, the vault and the chain: nothing half-written is kept, temporary files are gone
(at once, or at the next start for SIGKILL), an orphan vault file is reported by verify
and repaired by an audited command, and a report's file never exists without its event.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from s2f_desktop.services import cases, evidence
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import open_store
from s2f_desktop.store.audit import list_events


def run_s2f(data: Path, *args: str, fault: str | None = None, action: str = "raise") -> subprocess.CompletedProcess:
    env = dict(os.environ, S2F_DEBUG="")
    env.pop("S2F_FAULT_AT", None)
    if fault:
        env.update(S2F_FAULT_AT=fault, S2F_FAULT_ACTION=action)
    return subprocess.run([sys.executable, "-m", "s2f_desktop.cli.main", "--data-dir", str(data), *args],
                          capture_output=True, text=True, env=env, timeout=300, preexec_fn=_default_sigint)


def _default_sigint() -> None:
    # A test runner started in the background by a shell inherits SIGINT ignored, and so would the CLI
    # (Python keeps an ignored SIGINT): the Ctrl-C cases would then test nothing. Ctrl-C as a user sends it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def verify_json(data: Path, case: str) -> dict:
    r = run_s2f(data, "verify", case, "--json", "--no-record")
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)


def temp_files(*folders: Path) -> list[Path]:
    out: list[Path] = []
    for f in folders:
        out += [p for p in f.rglob(".*") if p.is_file()]
    return out


@pytest.fixture
def setup(tmp_path, tone_wav):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    ctx = AppContext(open_store(data), "tester")
    cases.create_case(ctx, "C-1", "Crash case")
    ctx.close()
    return data, tone_wav(seconds=1.5, name="call.wav")


EXPECTED_RC = {"sigterm": 128 + signal.SIGTERM, "sighup": 128 + signal.SIGHUP, "sigint": 130,
               "kill9": -signal.SIGKILL}


@pytest.mark.parametrize("point,action", [
    ("import.hashed", "sigterm"), ("import.copying", "sigterm"), ("import.copying", "sighup"),
    ("import.copying", "sigint"), ("import.copying", "raise"), ("import.staged", "sigterm"),
    ("import.staged", "raise"), ("import.placed", "sigterm"), ("import.placed", "raise"),
])
def test_interrupted_import_leaves_nothing(setup, point: str, action: str) -> None:  # type: ignore[no-untyped-def]
    data, wav = setup
    before = wav.read_bytes()
    r = run_s2f(data, "import", "C-1", str(wav), fault=point, action=action)
    if action in EXPECTED_RC:
        assert r.returncode == EXPECTED_RC[action], r.stderr
    else:
        assert r.returncode != 0
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert temp_files(data / "vault") == [] and list((data / "vault").rglob("*.wav")) == []
    assert not list((data / ".pending").glob("*")) if (data / ".pending").exists() else True
    v = verify_json(data, "C-1")
    assert v["ok"] and v["evidence"] == [] and v["orphans"] == [] and v["leftovers"] == []
    assert wav.read_bytes() == before  # the original is never touched


@pytest.mark.parametrize("point", ["import.copying", "import.staged"])
def test_kill9_leftover_is_removed_at_next_start(setup, point: str) -> None:  # type: ignore[no-untyped-def]
    data, wav = setup
    r = run_s2f(data, "import", "C-1", str(wav), fault=point, action="kill9")
    assert r.returncode == -signal.SIGKILL
    left = temp_files(data / "vault")
    assert len(left) == 1 and left[0].name.startswith(".import-")  # what a power loss leaves
    v = verify_json(data, "C-1")
    assert v["ok"] and v["evidence"] == []
    assert len(v["leftovers"]) == 1 and "removed" in v["leftovers"][0] and left[0].name in v["leftovers"][0]
    assert temp_files(data / "vault") == []
    # The next import of the same file works normally.
    r = run_s2f(data, "import", "C-1", str(wav))
    assert r.returncode == 0 and "imported #1" in r.stdout


@pytest.mark.parametrize("repair", ["quarantine", "adopt"])
def test_kill9_between_placing_and_commit_leaves_an_orphan_that_verify_reports(setup, repair: str) -> None:  # type: ignore[no-untyped-def]
    data, wav = setup
    r = run_s2f(data, "import", "C-1", str(wav), fault="import.placed", action="kill9")
    assert r.returncode == -signal.SIGKILL
    v = verify_json(data, "C-1")
    assert not v["ok"] and v["evidence"] == [] and len(v["orphans"]) == 1
    r = run_s2f(data, "verify", "C-1")
    assert r.returncode == 4 and "ORPHAN vault file" in r.stdout and "orphan vault file" in r.stderr
    args = ["repair", repair] + (["C-1"] if repair == "adopt" else [])
    r = run_s2f(data, *args)
    assert r.returncode == 0 and repair[:5] in r.stdout, r.stderr
    v = verify_json(data, "C-1")
    assert v["ok"] and v["orphans"] == []
    ctx = AppContext(open_store(data), "t")
    try:
        with ctx.store.read() as s:
            repairs = [e for e in list_events(s, None) + list_events(s, 1) if e.action == "store.repair"]
        assert len(repairs) == 1 and repairs[0].details["action"] == repair
        if repair == "quarantine":
            assert len(list((data / "quarantine").iterdir())) == 1 and v["evidence"] == []
        else:
            assert [e["status"] for e in v["evidence"]] == ["OK"]
    finally:
        ctx.close()


@pytest.fixture
def report_case(setup, tmp_path):  # type: ignore[no-untyped-def]
    data, wav = setup
    ctx = AppContext(open_store(data), "tester")
    evidence.import_file(ctx, "C-1", wav)
    ctx.close()
    out = tmp_path / "exports" / "report.pdf"
    return data, out


def _report_events(data: Path) -> list[str]:
    ctx = AppContext(open_store(data), "t")
    try:
        with ctx.store.read() as s:
            return [e.action for e in list_events(s, 1) if e.action.startswith("report.")]
    finally:
        ctx.close()


@pytest.mark.parametrize("point,action", [("report.rendered", "sigterm"), ("report.rendered", "sighup"),
                                          ("report.recorded", "sigterm"), ("report.recorded", "raise")])
def test_interrupted_report_is_consistent_with_its_event(report_case, point: str, action: str) -> None:  # type: ignore[no-untyped-def]
    data, out = report_case
    r = run_s2f(data, "report", "C-1", "--out", str(out), fault=point, action=action)
    assert r.returncode != 0 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists() and temp_files(out.parent) == []
    events = _report_events(data)
    # Either no event, or an export event followed by the event saying it failed: never an unaudited file.
    assert events in ([], ["report.export", "report.export_failed"])
    assert events == ([] if point == "report.rendered" else ["report.export", "report.export_failed"])
    assert verify_json(data, "C-1")["ok"]


def test_kill9_during_report_leaves_no_unaudited_file(report_case) -> None:  # type: ignore[no-untyped-def]
    data, out = report_case
    r = run_s2f(data, "report", "C-1", "--out", str(out), fault="report.rendered", action="kill9")
    assert r.returncode == -signal.SIGKILL
    left = temp_files(out.parent)
    assert len(left) == 1 and not out.exists()
    v = verify_json(data, "C-1")  # the next start removes the temp file through the journal
    assert v["ok"] and any(left[0].name in line for line in v["leftovers"])
    assert temp_files(out.parent) == [] and _report_events(data) == []
    # Killed after the event: the event exists, the file was never placed (never the reverse).
    r = run_s2f(data, "report", "C-1", "--out", str(out), fault="report.recorded", action="kill9")
    assert r.returncode == -signal.SIGKILL and not out.exists()
    assert _report_events(data) == ["report.export"]
    verify_json(data, "C-1")
    assert temp_files(out.parent) == []
    r = run_s2f(data, "report", "C-1", "--out", str(out))
    assert r.returncode == 0 and out.exists()


def test_three_processes_importing_at_once_keep_one_consistent_chain(setup, tone_wav) -> None:  # type: ignore[no-untyped-def]
    data, wav = setup
    files = [wav] + [tone_wav(freq=200 + 100 * i, seconds=1.0, name=f"c{i}.wav") for i in range(5)]
    env = dict(os.environ, S2F_DEBUG="")
    cmd = [sys.executable, "-m", "s2f_desktop.cli.main", "--data-dir", str(data), "import", "C-1"]
    # Overlapping sets: the same bytes offered by two processes at once must become one item.
    procs = [subprocess.Popen(cmd + [str(f) for f in chunk], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env) for chunk in (files[0:3], files[2:5], files[4:6] + files[0:1])]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    v = verify_json(data, "C-1")
    assert v["ok"] and v["chain"]["ok"] and v["custody"] == [] and v["orphans"] == []
    assert sorted(e["original_name"] for e in v["evidence"]) == sorted(f.name for f in files)


def test_sweep_removes_only_dead_processes_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json as _json

    from s2f_desktop.system.paths import JOURNAL_DIR, sweep_leftovers

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    root, vault, reports = tmp_path / "d", tmp_path / "d" / "vault", tmp_path / "d" / "reports"
    (vault / "ab").mkdir(parents=True)
    reports.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    files = {"dead_vault": vault / "ab" / f".import-{dead}-x1",
             "live_vault": vault / "ab" / f".import-{os.getpid()}-x2",
             "dead_out": outside / f".report-{dead}-x3.pdf", "live_out": outside / f".report-{os.getpid()}-x4.pdf"}
    for p in files.values():
        p.write_bytes(b"partial")
    (root / JOURNAL_DIR).mkdir()
    for key, pid in (("dead_out", dead), ("live_out", os.getpid())):
        (root / JOURNAL_DIR / f"{pid}-{key}.json").write_text(_json.dumps({"pid": int(pid), "path": str(files[key])}))
    done = sweep_leftovers(root, vault, reports)
    assert not files["dead_vault"].exists() and not files["dead_out"].exists()
    assert files["live_vault"].exists() and files["live_out"].exists()
    assert len(done) == 2 and all(line.startswith("removed") for line in done)
    assert [p.name for p in (root / JOURNAL_DIR).iterdir()] == [f"{os.getpid()}-live_out.json"]


def test_concurrent_writers_never_fork_the_chain(setup) -> None:  # type: ignore[no-untyped-def]
    """Four processes editing one case as fast as they can: every event lands, in one unbroken chain."""
    data, _ = setup
    script = ("import sys\n"
              "from s2f_desktop.services import cases, evidence\n"
              "from s2f_desktop.services.context import AppContext\n"
              "from s2f_desktop.store import open_store\n"
              "ctx = AppContext(open_store(sys.argv[1]), 'w' + sys.argv[2])\n"
              "for i in range(15):\n"
              "    cases.update_case(ctx, 'C-1', notes=f'writer {sys.argv[2]} edit {i}')\n"
              "    evidence.verify_case(ctx, 'C-1')  # an event appended with no row written first\n"
              "ctx.close()\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(data), str(k)], stderr=subprocess.PIPE)
             for k in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-500:]
    v = verify_json(data, "C-1")
    assert v["ok"] and v["chain"]["ok"] and v["chain"]["events"] == 1 + 4 * 15 * 2


@pytest.mark.parametrize("action", ["kill9", "sigterm", "raise"])
def test_interrupted_analysis_stores_no_run_and_keeps_the_chain(tmp_path, speech_wav, action: str) -> None:  # type: ignore[no-untyped-def]
    """A real `s2f analyze CASE --segments` process injured while recording its run (inside the write
    transaction): no run row, no `analysis.run` event, the chain intact and every row still bound."""
    from s2f_desktop.services import segments

    data = tmp_path / "data"
    ctx = AppContext(open_store(data), "tester")
    cases.create_case(ctx, "A-1", "Analysis crash case")
    ev = evidence.import_file(ctx, "A-1", speech_wav("This is a test of an interrupted analysis run.",
                                                     name="call.wav")).evidence
    assert ev is not None
    seg = segments.add_segment(ctx, "A-1", ev.id, 0, ev.media.frames)
    ctx.close()
    r = run_s2f(data, "analyze", "A-1", "--segments", seg.id, "--device", "cpu", fault="analysis.recording",
                action=action)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    if action in EXPECTED_RC:
        assert r.returncode == EXPECTED_RC[action]
    ctx = AppContext(open_store(data), "tester")
    try:
        from s2f_desktop.store import repositories as repo

        with ctx.store.read() as s:
            case = repo.get_case(s, "A-1")
            assert repo.list_runs(s, case.id) == []
            assert not any(e.action == "analysis.run" for e in list_events(s, case.id))
    finally:
        ctx.close()
    report = verify_json(data, "A-1")
    assert report["ok"], report
