"""Archive indexing on a real two-worker Dask LocalCluster, with a worker killed mid-run.

One cluster is shared by the steps of the scenario (starting workers and loading models
costs most of the time on this machine): index a small generated archive (LibriSpeech
test-other voices; one- and two-speaker recordings, 8 kHz telephone band and 16 kHz) while
SIGKILLing a worker that is processing a recording; check the index is consistent (every
recording exactly once, no partial file visible) and the archive untouched; add a
recording and check only it is indexed (incremental); cancel a run and check it resumes;
search for a voice; import a hit into a case with its audit trail.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

SHARED_DATA = Path(os.environ.get("S2F_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VOICES = SHARED_DATA / "librispeech-test-other-10x10"

pytestmark = [pytest.mark.slow, pytest.mark.needs_data,
              pytest.mark.skipif(not VOICES.is_dir(), reason=f"needs {VOICES}")]


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    from s2f_desktop.store.vault import sha256_file

    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns, sha256_file(p)[0]) for p in sorted(root.rglob("*"))
            if p.is_file()}


def _check_consistent(index: Path, n_recordings: int) -> Any:
    from s2f_desktop.archive.store import IndexStore

    store = IndexStore(index)
    (key,) = store.keys()
    files = list(store.rows_dir(key).glob("*.parquet"))
    assert not [p for p in store.rows_dir(key).iterdir() if p.name.startswith(".")], "a partial write is visible"
    rows = store.read_rows(key)
    shas = rows.column("sha256").to_pylist()
    pairs = list(zip(shas, rows.column("speaker").to_pylist()))
    assert len(pairs) == len(set(pairs)), "duplicate rows"
    assert len(set(shas)) == len(files) == n_recordings
    return rows


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    from benchmarks.bench_archive import make_archive

    root = tmp_path_factory.mktemp("arch")
    meta = make_archive(root / "archive", 6, 0.25, 0.35, seed=3)
    bad = root / "archive" / "clean" / "zz-truncated.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")  # a header and nothing else
    return root / "archive", meta


@pytest.fixture(scope="module")
def client() -> Any:
    from s2f_desktop.archive import engine

    c, cluster = engine.open_client(2, None, "3GiB")
    yield c
    c.close()
    cluster.close()


def test_two_workers_kill_one_midrun_index_stays_consistent_and_resumes(archive, client, tmp_path: Path) -> None:
    from s2f_desktop.archive import engine
    from s2f_desktop.archive.store import IndexStore
    from s2f_desktop.core.errors import CancelledError
    from s2f_desktop.core.progress import CancelToken, Task
    from s2f_desktop.services.archive import collect_recordings

    root, meta = archive
    before = _snapshot(root)
    index = tmp_path / "index"
    paths = collect_recordings(root)
    assert len(paths) == 7
    killed: list[int] = []

    def kill_a_busy_worker(result: dict[str, Any]) -> None:
        if killed:
            return
        busy = [addr for addr, keys in client.processing().items() if keys]
        pids = client.run(os.getpid)
        assert busy, "no worker was processing a recording"
        pid = pids[busy[0]]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    s = engine.run_index(paths, index, client=client, on_result=kill_a_busy_worker)
    assert killed, "the worker was not killed"
    assert s.errors == 1 and "zz-truncated.wav" in s.error_samples[0]
    assert s.indexed + s.skipped == 6
    rows = _check_consistent(index, 6)
    assert set(rows.column("path").to_pylist()) == {m["path"] for m in meta}
    # Every recording has speech; two-speaker recordings may give two rows.
    assert rows.column("status").to_pylist().count("ok") >= 6
    assert _snapshot(root) == before, "the archive was modified"

    # Resume: nothing left to do, nothing read again (unchanged paths are skipped from the catalog).
    s2 = engine.run_index(paths, index, client=client)
    assert (s2.indexed, s2.errors, s2.skipped) == (0, 0, 7)

    # Incremental: a new recording only.
    from benchmarks.bench_archive import make_archive

    extra = make_archive(root / "new", 1, 0.25, 0.3, seed=11)
    s3 = engine.run_index(collect_recordings(root), index, client=client)
    assert (s3.indexed, s3.skipped) == (1, 7)
    _check_consistent(index, 7)

    # Cancel after the first result: what was written stays, and the next run completes it.
    index2 = tmp_path / "index2"
    token = CancelToken()
    with pytest.raises(CancelledError):
        engine.run_index(paths, index2, client=client, task=Task(None, token),
                         on_result=lambda r: token.cancel())
    partial = IndexStore(index2)
    assert 1 <= len(partial.indexed_shas(partial.keys()[0])) + len(partial.errored(partial.keys()[0])) <= 7
    s4 = engine.run_index(paths, index2, client=client)
    assert s4.indexed + s4.skipped + s4.errors == 7
    _check_consistent(index2, 6)
    assert len(partial.errored(partial.keys()[0])) == 1
    assert extra


def test_search_finds_the_voice_and_a_hit_imports_with_audit(archive, client, tmp_path: Path, ctx, case) -> None:
    from s2f_desktop.archive import engine
    from s2f_desktop.services import archive as svc
    from s2f_desktop.services.evidence import audit_trail
    from s2f_desktop.services.segments import list_segments

    root, meta = archive
    index = tmp_path / "index"
    engine.run_index(svc.collect_recordings(root), index, client=client)
    # Query: a LibriSpeech utterance of a speaker present in the archive.
    target = str(meta[0]["speakers"][0])
    query_file = sorted((VOICES / target).glob("*.flac"))[-1]
    q = svc.query_from_file(query_file, device="cpu")
    res = svc.search_archive(index, q, top=3)
    assert res.hits and all(h["log10_lr"] is None or isinstance(h["log10_lr"], float) for h in res.hits)
    having = {m["path"] for m in meta if target in m["speakers"]}
    assert res.hits[0]["path"] in having, (res.hits, having)
    # Filters narrow the candidates to the stored labels.
    fem = svc.search_archive(index, q, sex="female", top=50)
    assert all(h["sex"]["label"] == "female" for h in fem.hits)

    hit = res.hits[0]
    before = _snapshot(Path(hit["path"]).parent)
    out = svc.import_hit(ctx, "T-1", index, hit["sha256"], hit["speaker"])
    assert out.evidence.sha256 == hit["sha256"] and not out.already_present
    seg = list_segments(ctx, out.evidence.id)
    assert len(seg) == 1 and abs(seg[0].start_s - hit["start_s"]) < 1e-3
    events, check = audit_trail(ctx, "T-1")
    assert check.ok
    arch = [e for e in events if e.action == "archive.import"]
    assert len(arch) == 1 and arch[0].details["archive_path"] == hit["path"]
    assert arch[0].details["entry"]["speaker"] == hit["speaker"] and arch[0].details["index_key"] == hit["index_key"]
    assert [e.action for e in events][-3:] == ["evidence.import", "archive.import", "segment.add"]
    assert _snapshot(Path(hit["path"]).parent) == before
    # Importing again recognises the evidence (no second copy), and still records the archive lookup.
    again = svc.import_hit(ctx, "T-1", index, hit["sha256"], hit["speaker"], add_segment=False)
    assert again.already_present and again.evidence.id == out.evidence.id
    # A third time with the segment (and the hash in upper case): the hit's segment is there, not added twice.
    third = svc.import_hit(ctx, "T-1", index, hit["sha256"].upper(), hit["speaker"])
    assert third.already_present and third.segment is not None and third.segment.id == seg[0].id
    assert [g.id for g in list_segments(ctx, out.evidence.id)] == [seg[0].id]
    from s2f_desktop.archive.search import voice_of

    assert seg[0].label == f"archive hit: {voice_of(hit)}"
    # The command line takes the voice as the search table shows it ("voice K of n"), or the JSON's 0-based group.
    from s2f_desktop.cli.main import main as cli_main

    base = ["--data-dir", str(ctx.store.layout.root), "archive", "import", str(index), "--case", "T-1",
            "--sha256", hit["sha256"], "--json"]
    assert cli_main(base + ["--voice", str(hit["speaker"] + 1)]) == 0
    assert cli_main(base + ["--voice", "0"]) == 2  # counts from 1: one line, nothing imported
    assert cli_main(base + ["--voice", str(hit["n_speakers"] + 1)]) != 0  # no such voice
    events, _ = audit_trail(ctx, "T-1")
    assert [e.details["entry"]["speaker"] for e in events if e.action == "archive.import"][-1] == hit["speaker"]


def test_local_cluster_runs_each_worker_on_its_own_core(client) -> None:
    """Praat starts a second analysis thread: each worker is confined to one CPU, and the workers to different ones
    (checked after the kill above too: the restarted worker is pinned again by the plugin)."""
    cpus = client.run(lambda: sorted(os.sched_getaffinity(0)))
    assert len(cpus) == 2 and all(len(v) == 1 for v in cpus.values())
    if len(os.sched_getaffinity(0)) >= 2:
        assert len({v[0] for v in cpus.values()}) == 2


def test_pin_process_to_cpu_confines_every_thread(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import os, threading, time\n"
            "from s2f_desktop.archive.engine import pin_process_to_cpu\n"
            "ev = threading.Event(); t = threading.Thread(target=ev.wait); t.start()\n"
            "cpu = pin_process_to_cpu(5)\n"
            "late = []; u = threading.Thread(target=lambda: late.append(sorted(os.sched_getaffinity(0)))); "
            "u.start(); u.join()\n"
            "print(cpu, sorted({c for tid in os.listdir('/proc/self/task') "
            "for c in os.sched_getaffinity(int(tid))}), late[0]); ev.set()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.returncode == 0, out.stderr
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[5 % len(allowed)]
    assert out.stdout.split(maxsplit=1)[0] == str(cpu)
    assert out.stdout.strip().endswith(f"[{cpu}] [{cpu}]")


def test_a_failed_index_write_blames_the_index_not_the_recording(archive, tmp_path: Path, monkeypatch) -> None:
    """A row write that fails (here: its temp removed under it, as a new run's clean-up once did to
    a still-running task of a cancelled run) must not leave an error row calling a good recording
    unreadable: the next run would skip that recording for ever."""
    from s2f_desktop.archive import engine
    from s2f_desktop.archive import store as store_mod
    from s2f_desktop.archive.store import IndexStore

    root, meta = archive
    index = tmp_path / "index"
    IndexStore(index).create()
    key, _ = engine.worker_index_key("cpu")
    real = store_mod._write_atomic

    def temp_vanishes(final: Path, write: Any) -> None:
        def write_then_lose(fh: Any) -> None:
            write(fh)
            Path(fh.name).unlink()  # another process's clean-up removes the temp before the rename
        real(final, write_then_lose if final.parent.parent.name == "rows" else write)  # error rows still write

    monkeypatch.setattr(store_mod, "_write_atomic", temp_vanishes)
    with pytest.raises(engine.IndexWriteError, match="the index could not be written"):
        engine.index_one(meta[0]["path"], str(index), key, "cpu")
    monkeypatch.undo()
    store = IndexStore(index)
    assert store.errored(key) == {} and store.indexed_shas(key) == set()
    # The next run plans it again and indexes it.
    todo, skipped = engine.plan([Path(meta[0]["path"])], store, key)
    assert (todo, skipped) == ([meta[0]["path"]], 0)
    assert engine.index_one(meta[0]["path"], str(index), key, "cpu")["status"] == "indexed"


def test_index_side_failures_never_blame_the_recording(archive, tmp_path: Path, monkeypatch) -> None:
    """An old error row that cannot be removed does not undo a good recording's rows; an error row that
    cannot be written raises IndexWriteError (no row at all: the next run retries the path)."""
    from s2f_desktop.archive import engine
    from s2f_desktop.archive import store as store_mod
    from s2f_desktop.archive.store import IndexStore

    root, meta = archive
    index = tmp_path / "index"
    IndexStore(index).create()
    key, _ = engine.worker_index_key("cpu")

    class Stuck(type(Path())):  # type: ignore[misc]
        def unlink(self, missing_ok: bool = False) -> None:
            raise PermissionError(13, "Permission denied")

    real_error_file = IndexStore.error_file
    monkeypatch.setattr(IndexStore, "error_file", lambda self, k, p: Stuck(real_error_file(self, k, p)))
    assert engine.index_one(meta[0]["path"], str(index), key, "cpu")["status"] == "indexed"
    monkeypatch.undo()

    real = store_mod._write_atomic

    def errors_unwritable(final: Path, write: Any) -> None:
        if final.parent.parent.name == "errors":
            raise OSError(28, "No space left on device")
        real(final, write)

    monkeypatch.setattr(store_mod, "_write_atomic", errors_unwritable)
    bad = next(p for p in root.rglob("zz-truncated.wav"))
    with pytest.raises(engine.IndexWriteError, match="No space left on device"):
        engine.index_one(str(bad), str(index), key, "cpu")
    monkeypatch.undo()
    assert IndexStore(index).errored(key) == {}
