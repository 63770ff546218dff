"""Archive indexing on Dask: one task per recording, on a LocalCluster or an existing scheduler.

The driver (this module, in the ``s2f`` process) lists the recordings, drops those the
index already holds for the current index key, and submits one task per remaining
recording. Each task runs :func:`index_one` on a worker process: it hashes the file
(read-only), skips it when another task or run already wrote its rows, runs the whole
pipeline with the worker's models (loaded once per worker process and kept) and writes
its rows - or one error row - atomically (:mod:`s2f_desktop.archive.store`). Results go
to disk on the worker, not through the scheduler: only a small summary returns, so the
driver's memory does not grow with the archive, and a killed worker loses only the
recording it was working on (Dask re-runs that task elsewhere; its file name is the
content hash, so a repeat replaces rather than duplicates).

On the local cluster each worker process is confined to its own CPU (a worker plugin,
:func:`pin_process_to_cpu`): workers are the parallelism, and Praat's second analysis
thread would otherwise take time from the neighbouring worker.

Cancellation (Ctrl-C, the GUI's cancel) cancels the pending tasks and closes the local
cluster; everything already written stays, and the next run resumes from it.
"""

from __future__ import annotations

import logging
import os
import stat
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from s2f_desktop.archive.store import IndexStore, error_table, rows_for_recording, write_atomic
from s2f_desktop.core.errors import CancelledError, InputError
from s2f_desktop.core.progress import Task, null_task

log = logging.getLogger(__name__)

#: Default memory limit per worker process (models + one decoded recording fit well inside).
DEFAULT_MEMORY_LIMIT = "3GiB"
#: Catalog entries are flushed to disk at least this often (seconds) and every this many results.
_CATALOG_FLUSH_S = 10.0
_CATALOG_FLUSH_N = 200


@dataclass
class IndexSummary:
    """What one indexing run did."""

    index_dir: str
    index_key: str
    total: int = 0
    indexed: int = 0
    skipped: int = 0
    errors: int = 0
    no_speech: int = 0
    audio_s: float = 0.0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    workers: int = 0
    scheduler: str = ""
    dashboard: str | None = None
    cancelled: bool = False
    #: (recording, path) pairs this run found gone or changed on disk (their rows are left out of searches).
    withdrawn: int = 0
    error_samples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Progress:
    """Counts for a progress line: done of total, rate (recordings/s) and ETA (seconds, None if unknown)."""

    done: int
    total: int
    rate: float
    eta_s: float | None
    audio_s: float


class IndexWriteError(Exception):
    """Writing a recording's rows into the index failed: not the recording's fault, so no error row."""


# ----------------------------------------------------------------------------- worker side
def _worker_analyzer(device: str) -> Any:
    """The worker process's analyzer: models load on the first task and stay for the next ones."""
    from s2f_desktop.inference import analyzer as an_mod
    from s2f_desktop.inference.archive_pipeline import worker_setup

    if not getattr(_worker_analyzer, "_setup", False):
        worker_setup()
        _worker_analyzer._setup = True  # type: ignore[attr-defined]
    return an_mod.get_analyzer(device)


def index_one(path: str, index_dir: str, ikey: str, device: str = "cpu") -> dict[str, Any]:
    """Index one recording into ``index_dir`` (runs on a worker). Never raises for a bad file;
    raises :class:`IndexWriteError` when the index itself cannot be written.

    Returns a summary: ``{path, sha256, size_bytes, mtime_ns, status, audio_s, seconds, error}``
    where status is ``indexed``, ``no_speech``, ``skipped`` (rows already there) or ``error``.
    """
    from s2f_desktop import __version__
    from s2f_desktop.core.errors import MediaError, S2FError
    from s2f_desktop.inference.archive_pipeline import index_key, index_recording, model_records
    from s2f_desktop.store.vault import sha256_file

    key = ikey
    t0 = time.perf_counter()
    c0 = time.process_time()
    store = IndexStore(index_dir)
    out: dict[str, Any] = {"path": path, "sha256": None, "size_bytes": None, "mtime_ns": None, "status": "error",
                           "audio_s": 0.0, "seconds": 0.0, "cpu_s": 0.0, "error": "", "pid": os.getpid()}
    try:
        st = os.stat(path)
        out["size_bytes"], out["mtime_ns"] = int(st.st_size), int(st.st_mtime_ns)
        if not stat.S_ISREG(st.st_mode):  # a pipe or device named like audio would block the read forever
            raise MediaError(f"{Path(path).name}: not a regular file (a pipe, device or socket)")
        sha, _ = sha256_file(Path(path))  # opens the file read-only
        out["sha256"] = sha
        if store.row_file(key, sha).exists():
            out["status"] = "skipped"
            return out
        an = _worker_analyzer(device)
        if index_key(an) != key:
            raise InputError("the worker's models differ from the driver's (different model files on this worker)")
        res = index_recording(path, an)
        table = rows_for_recording(res, sha256=sha, key=key, path=path, size=out["size_bytes"],
                                   mtime_ns=out["mtime_ns"], models=model_records(an), app_version=__version__)
        try:
            write_atomic(table, store.row_file(key, sha))
        except OSError as exc:
            # The index, not the recording, failed (disk full, index folder removed): no error row
            # blaming the recording; the task fails, Dask retries it, and the next run tries again.
            raise IndexWriteError(f"{Path(path).name}: the index could not be written "
                                  f"({exc.strerror or exc.__class__.__name__})") from exc
        try:
            store.error_file(key, path).unlink(missing_ok=True)  # an earlier failure of this path is superseded
        except OSError as exc:  # the rows are written: the recording is indexed whatever this says
            log.warning("%s: an earlier error row could not be removed (%s)", path, exc)
        out["status"] = "indexed" if res.speakers else "no_speech"
        out["audio_s"] = float(res.media["duration_s"])
    except (S2FError, OSError, ValueError, RuntimeError) as exc:
        # Failure isolation: the reason is recorded as an error row and the run continues.
        name = Path(path).name
        if isinstance(exc, S2FError):
            msg = exc.message
        elif isinstance(exc, FileNotFoundError):
            msg = f"{name}: no such file"
        elif isinstance(exc, OSError):
            msg = f"{name}: cannot be read ({exc.strerror or exc.__class__.__name__})"
        else:
            msg = f"{name}: {exc.__class__.__name__}: {exc}"
        out["error"] = msg
        out["status"] = "error"
        try:
            write_atomic(error_table(path=path, size=out["size_bytes"], mtime_ns=out["mtime_ns"],
                                     sha256=out["sha256"], key=key, error=msg), store.error_file(key, path))
        except OSError as exc2:  # the index failed too: no row at all, the next run retries this path
            raise IndexWriteError(f"{Path(path).name}: the index could not be written "
                                  f"({exc2.strerror or exc2.__class__.__name__})") from exc2
    finally:
        out["seconds"] = time.perf_counter() - t0
        out["cpu_s"] = time.process_time() - c0  # CPU time of this worker process for this recording
    return out


# ----------------------------------------------------------------------------- driver side
def worker_index_key(device: str = "cpu") -> tuple[str, list[dict[str, str]]]:
    """The index key and model records of a worker's models (loads them there; the driver stays torch-free)."""
    from s2f_desktop.inference.archive_pipeline import index_key, model_records

    an = _worker_analyzer(device)
    return index_key(an), model_records(an)


def plan(paths: Sequence[Path], store: IndexStore, key: str, retry_errors: bool = False,
         known: dict[str, str | None] | None = None) -> tuple[list[str], int]:
    """Paths that still need work, and how many were skipped as unchanged and already indexed (or failed).

    ``known`` (filled when given): path -> the sha256 the catalog holds for the file as it is now (None when
    the catalog has none), for :func:`withdraw_stale`.
    """
    done = store.indexed_shas(key)
    catalog = store.catalog()
    errored = {} if retry_errors else store.errored(key)
    todo: list[str] = []
    skipped = 0
    for p in paths:
        sp = str(p)
        try:
            st = os.stat(sp)
        except OSError:
            todo.append(sp)  # the worker records why it cannot be read
            continue
        sig = (int(st.st_size), int(st.st_mtime_ns))
        sha = catalog.get((sp, *sig))
        if known is not None:
            known[sp] = sha
        if sha is not None and sha in done or errored.get(sp) == sig:
            skipped += 1
        else:
            todo.append(sp)
    return todo, skipped


def withdraw_stale(store: IndexStore, current: dict[str, str | None], roots: Sequence[Path], run_id: str) -> int:
    """Withdraw the rows whose file, in this run's scope, is gone or holds other content; list again those
    found back. Returns how many pairs were withdrawn.

    ``current``: every path of this run -> the sha256 of its content now (None when unknown, e.g. a file
    that could not be read: its rows are left as they are). The scope is this run's paths and, for a
    folder, every path under ``roots``: rows of other folders or manifests indexed into the same index
    (perhaps on a drive that is not mounted now) are never touched.
    """
    prefixes = tuple(str(r).rstrip(os.sep) + os.sep for r in roots)
    t = store.read_rows(columns=["path"], include_withdrawn=True)
    pairs = set(zip(t.column("sha256").to_pylist(), t.column("path").to_pylist()))
    gone = store.withdrawn()
    entries: list[dict[str, Any]] = []
    for sha, path in sorted(pairs, key=lambda sp: (sp[1] or "", sp[0] or "")):
        if not path or not (path in current or path.startswith(prefixes)):
            continue
        now = current.get(path, "")
        if path not in current:
            if (sha, path) not in gone:
                entries.append({"sha256": sha, "path": path, "withdrawn": True,
                                "reason": "the file is no longer in the archive"})
        elif now is not None and now != sha:
            if (sha, path) not in gone:
                entries.append({"sha256": sha, "path": path, "withdrawn": True,
                                "reason": f"the file now holds other content (sha256 {now[:12]}…)"})
        elif now == sha and (sha, path) in gone:
            entries.append({"sha256": sha, "path": path, "withdrawn": False, "reason": "the file is back"})
    store.add_withdrawn(entries, run_id)
    return sum(e["withdrawn"] for e in entries)


def _size_desc(path: str) -> tuple[int, str]:
    try:
        return -os.stat(path).st_size, path
    except OSError:
        return 0, path


def _bokeh_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def pin_process_to_cpu(index: int) -> int | None:
    """Confine this process (every thread) to one CPU of those it may use: the ``index``-th, cyclically.

    A worker is meant to be one core: torch runs one thread, but Praat's pitch and harmonicity
    analyses start a second one (measured: 1.8x CPU time over wall time), which on a machine with
    one worker per core only takes time from the next worker. Returns the CPU, or None where the
    platform cannot set affinities.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[index % len(allowed)]
    for tid in os.listdir("/proc/self/task"):  # threads started later inherit their creator's affinity
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except OSError:  # a thread that ended meanwhile
            pass
    return cpu


def open_client(workers: int, scheduler: str | None, memory_limit: str) -> tuple[Any, Any]:
    """A Dask client on ``scheduler`` or on a new LocalCluster of ``workers`` processes (one thread each)."""
    from dask.distributed import Client, LocalCluster

    # dask.distributed's Client and LocalCluster constructors carry no annotations: the
    # ignores below are for those untyped third-party calls only.
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    if workers < 1:
        raise InputError("--workers must be at least 1")
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
        dashboard_address=":0", silence_logs=logging.ERROR,
        env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    from s2f_desktop.archive.worker_plugin import OneCorePerWorker

    client = Client(cluster)  # type: ignore[no-untyped-call]
    # Our own cluster on this machine: one core per worker (an existing cluster is its operator's to lay out).
    client.register_plugin(OneCorePerWorker())
    return client, cluster


def run_index(paths: Sequence[Path], index_dir: Path, *, workers: int = 2, scheduler: str | None = None,
              memory_limit: str = DEFAULT_MEMORY_LIMIT, device: str = "cpu", retry_errors: bool = False,
              client: Any = None, task: Task | None = None,
              on_progress: Callable[[Progress], None] | None = None,
              on_result: Callable[[dict[str, Any]], None] | None = None,
              roots: Sequence[Path] = ()) -> IndexSummary:
    """Index ``paths`` into ``index_dir``; see the module docstring. ``client``: use an existing Dask client.

    ``roots``: the folders ``paths`` were collected from (none for a manifest). A run that completes then
    withdraws the rows of files in its scope that are gone or changed (:func:`withdraw_stale`).
    """
    from dask.distributed import as_completed

    task = task or null_task()
    t0 = time.perf_counter()
    store = IndexStore(index_dir)
    made = _index_made_here(index_dir)
    store.create()
    store.remove_stale_temps()
    own = client is None
    cluster = None
    if own:
        task.progress(0.0, "starting workers")
        try:
            client, cluster = open_client(workers, scheduler, memory_limit)
        except BaseException:
            _undo_create(store, made)
            raise
    summary = IndexSummary(str(index_dir), "", total=len(paths))
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    catalog: list[dict[str, Any]] = []
    n_flush = 0
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal catalog, n_flush, last_flush
        store.add_catalog(catalog, run_id, n_flush)
        catalog, n_flush, last_flush = [], n_flush + 1, time.monotonic()

    futures: list[Any] = []
    todo: list[str] = []
    try:
        task.progress(0.0, "loading the models on a worker")
        key, _models = client.submit(worker_index_key, device, pure=False).result()
        summary.index_key = key
        known: dict[str, str | None] = {}
        todo, summary.skipped = plan(paths, store, key, retry_errors, known)
        if not todo:
            summary.withdrawn = withdraw_stale(store, known, roots, run_id)
            task.progress(1.0, "nothing to do: every recording is already indexed")
            return summary
        info = client.scheduler_info()
        summary.workers = len(info.get("workers", {}))
        summary.scheduler = str(info.get("address", scheduler or ""))
        summary.dashboard = client.dashboard_link if (scheduler or _bokeh_available()) else None
        if summary.dashboard:
            task.progress(0.0, f"Dask dashboard: {summary.dashboard}")
        # Largest files first: the run then ends on short recordings, so no worker sits idle at the
        # end while another finishes a long one (files that cannot be stat-ed sort last).
        todo = sorted(todo, key=_size_desc)
        # One key per (index, path): resubmitting the same work in the same cluster is recognised.
        futures = client.map(index_one, todo, index_dir=str(index_dir), ikey=key, device=device, pure=False,
                             retries=1)
        path_of = {f.key: p for f, p in zip(futures, todo)}
        done = 0
        t_start = time.perf_counter()
        task.progress(0.0, f"indexing {len(todo)} recordings on {summary.workers} workers")
        for fut in as_completed(futures):  # type: ignore[no-untyped-call]  # untyped dask.distributed API
            task.check()
            try:
                r = fut.result()
            except CancelledError:
                raise
            except Exception as exc:  # the task itself died (its workers were killed, e.g. over the memory limit)
                # No error row: the next run retries it. The summary names it.
                p = path_of.get(fut.key, "?")
                r = {"path": p, "status": "error", "sha256": None, "audio_s": 0.0,
                     "error": f"{Path(p).name}: task failed ({exc.__class__.__name__}: {exc}); retried on the next run"}
            done += 1
            status = r["status"]
            if status in ("indexed", "no_speech"):
                summary.indexed += 1
                summary.no_speech += status == "no_speech"
                summary.audio_s += float(r.get("audio_s") or 0.0)
                summary.cpu_s += float(r.get("cpu_s") or 0.0)
            elif status == "skipped":
                summary.skipped += 1
            else:
                summary.errors += 1
                if len(summary.error_samples) < 5:
                    summary.error_samples.append(str(r["error"]))  # messages name their file
            known[r["path"]] = r.get("sha256") or None
            if r.get("sha256") and r.get("size_bytes") is not None:
                catalog.append({"path": r["path"], "size_bytes": r["size_bytes"], "mtime_ns": r["mtime_ns"],
                                "sha256": r["sha256"], "index_key": key, "status": status})
            if len(catalog) >= _CATALOG_FLUSH_N or time.monotonic() - last_flush > _CATALOG_FLUSH_S:
                flush()
            el = time.perf_counter() - t_start
            rate = done / el if el > 0 else 0.0
            eta = (len(todo) - done) / rate if rate > 0 else None
            prog = Progress(done, len(todo), rate, eta, summary.audio_s)
            if on_result is not None:
                on_result(r)
            if on_progress is not None:
                on_progress(prog)
            task.progress(done / len(todo), f"{done}/{len(todo)} recordings")
        flush()
        summary.withdrawn = withdraw_stale(store, known, roots, run_id)
    except BaseException as exc:
        if isinstance(exc, (CancelledError, KeyboardInterrupt)):
            summary.cancelled = True
            client.cancel(futures)
        # Only before any task was sent out: a task already running (Dask cannot stop one) may still write
        # its rows, and must find an index there, not a folder without index.json that the next run refuses.
        if not futures:
            _undo_create(store, made)
        raise
    finally:
        if summary.index_key:
            flush()
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
        summary.wall_s = time.perf_counter() - t0
    return summary


def _index_made_here(index_dir: Path) -> tuple[bool, bool]:
    """(the folder is new, its index.json is new): what a failed first run may take back."""
    return not index_dir.exists(), not (index_dir / "index.json").exists()


def _undo_create(store: IndexStore, made: tuple[bool, bool]) -> None:
    """Take back an index this run created when the run failed before writing anything into it: a failed
    start (workers that would not start, a missing model) must not leave an empty index behind, which the
    next run, or the Archive page, would take for a real one. Nothing else is ever removed."""
    new_dir, new_meta = made
    root = store.root
    if not new_meta or not root.is_dir():
        return
    try:
        files = [p for p in root.rglob("*") if p.is_file()]
        if [p.name for p in files] != ["index.json"]:
            return  # something was written (rows, errors, a catalog): the index is real now
        (root / "index.json").unlink()
        for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            d.rmdir()
        if new_dir:
            root.rmdir()
    except OSError as exc:  # something appeared meanwhile: leave it; the run's own error is the one to report
        log.warning("could not take back the index folder %s: %s", root, exc)
