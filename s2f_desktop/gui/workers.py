"""Running service calls off the GUI thread.

A :class:`JobRunner` runs a callable ``fn(task, *args)`` on its own ``QThreadPool``.
The callable receives a :class:`~s2f_desktop.core.progress.Task` whose sink emits Qt
signals; because the :class:`Job` relay object lives in the GUI thread, those signals
are queued to the GUI thread, so callbacks may touch widgets while the worker never
does. Jobs have a *kind*: submitting a new job of a kind cancels the previous one
(through its :class:`~s2f_desktop.core.progress.CancelToken`), and the superseded
job's result is dropped. :meth:`JobRunner.shutdown` cancels everything and waits, so
no thread outlives the window.

The runner is also the views' window on the store: :meth:`JobRunner.attach_store`
subscribes to the store's committed, audited changes (from any thread: a worker, the
GUI thread, another writer in this process) and re-emits them in the GUI thread as
``store_changed(list[StoreChange])``, coalesced per event-loop turn so a bulk edit of
a hundred segments refreshes each view once. Views refresh from that signal, never
from who they think made the change.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, cast

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from s2f_desktop.core.errors import CancelledError
from s2f_desktop.core.progress import CancelToken, ProgressUpdate, Task

log = logging.getLogger(__name__)

#: Progress updates closer together than this (seconds) are merged, unless they finish.
_PROGRESS_INTERVAL_S = 0.05


class Job(QObject):
    """One submitted piece of work, observed from the GUI thread.

    Signals: ``progress(fraction_or_minus_one, message)``, ``succeeded(result)``,
    ``failed(exception)``, ``cancelled()`` and ``done()`` (always last, exactly once).
    """

    progress = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    done = Signal()

    # Internal: emitted from the worker thread, delivered (queued) in the GUI thread.
    _finished_from_worker = Signal(str, object)
    _progress_from_worker = Signal(float, str)

    def __init__(self, kind: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.token = CancelToken()
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None
        self._last_emit = 0.0
        #: Set by the worker once it holds no reference to this object any more.
        self.released = threading.Event()
        self._finished_from_worker.connect(self._on_finished)
        self._progress_from_worker.connect(self._on_progress)

    # -- called in the worker thread -------------------------------------------------
    def sink(self, update: ProgressUpdate) -> None:
        """Progress sink handed to the service (runs in the worker thread)."""
        now = time.monotonic()
        frac = -1.0 if update.fraction is None else float(update.fraction)
        if frac < 1.0 and now - self._last_emit < _PROGRESS_INTERVAL_S:
            return
        self._last_emit = now
        self._progress_from_worker.emit(frac, update.message)

    # -- GUI thread ---------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the work to stop at its next progress point."""
        self.token.cancel()

    @property
    def is_cancelled(self) -> bool:
        """Whether cancellation was requested."""
        return self.token.cancelled

    @Slot(float, str)
    def _on_progress(self, frac: float, message: str) -> None:
        if not self.token.cancelled and not self.finished:
            self.progress.emit(frac, message)

    @Slot(str, object)
    def _on_finished(self, outcome: str, payload: object) -> None:
        self.finished = True
        if outcome == "ok" and not self.token.cancelled:
            self.result = payload
            self.succeeded.emit(payload)
        elif outcome == "ok" or isinstance(payload, CancelledError) or self.token.cancelled:
            self.cancelled.emit()
        else:
            self.error = cast(BaseException, payload)  # the worker only sends exceptions here
            self.failed.emit(payload)
        self.done.emit()


class _Runnable(QRunnable):
    def __init__(self, job: Job, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job: Job | None = job
        self._fn: Callable[..., Any] | None = fn
        self._args = args
        self._kwargs = kwargs

    def run(self) -> None:  # worker thread: never touch widgets here
        job, self._job = self._job, None
        assert job is not None, "a _Runnable runs once"
        released = job.released
        try:
            job.token.raise_if_cancelled()
            assert self._fn is not None
            result = self._fn(Task(job.sink, job.token), *self._args, **self._kwargs)
            job._finished_from_worker.emit("ok", result)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI
            if not isinstance(exc, CancelledError):
                log.debug("job %s failed", job.kind, exc_info=True)
            job._finished_from_worker.emit("error", exc)
        finally:
            # Drop the worker's references first, then say so: the GUI thread keeps the Job
            # alive until `released` is set, so a QObject is never destroyed in this thread.
            del job
            self._fn, self._args, self._kwargs = None, (), {}
            released.set()


class JobRunner(QObject):
    """Runs jobs on a private thread pool; one live job per kind.

    ``submit`` returns the :class:`Job`; connect to its signals. ``active()`` lists
    jobs not yet finished, ``shutdown()`` cancels them and waits for the threads.
    """

    job_started = Signal(object)
    job_done = Signal(object)
    #: Committed store changes (``list[StoreChange]``), delivered in the GUI thread.
    store_changed = Signal(list)
    _changes_from_any_thread = Signal(list)

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._latest: dict[str, Job] = {}
        self._live: set[Job] = set()
        self._retired: list[Job] = []
        self._closed = False
        self._pending_changes: list[Any] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush_changes)
        self._changes_from_any_thread.connect(self._queue_changes)

    # ------------------------------------------------------------------ store changes
    def attach_store(self, store: Any) -> None:
        """Observe ``store`` (a :class:`~s2f_desktop.store.db.Store`); replaces an earlier one."""
        self.detach_store()
        self._unsubscribe = store.subscribe(self._changes_from_any_thread.emit)

    def detach_store(self) -> None:
        """Stop observing the store (at shutdown, before this object goes away)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @Slot(list)
    def _queue_changes(self, changes: list[Any]) -> None:
        self._pending_changes.extend(changes)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush_changes(self) -> None:
        changes, self._pending_changes = self._pending_changes, []
        if changes:
            self.store_changed.emit(changes)

    def flush_changes(self) -> None:
        """Deliver queued store changes now (tests and code that must see them synchronously)."""
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        self._flush_timer.stop()
        self._flush_changes()

    def submit(self, kind: str, fn: Callable[..., Any], *args: Any,
               on_success: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None,
               on_progress: Callable[[float, str], None] | None = None,
               on_done: Callable[[], None] | None = None, **kwargs: Any) -> Job:
        """Run ``fn(task, *args, **kwargs)`` off the GUI thread; cancels the previous job of ``kind``."""
        previous = self._latest.get(kind)
        if previous is not None and not previous.finished:
            previous.cancel()
        self._prune()
        job = Job(kind)  # no Qt parent: lifetime is managed by _live/_retired below
        if on_success is not None:
            job.succeeded.connect(on_success)
        if on_error is not None:
            job.failed.connect(on_error)
        if on_progress is not None:
            job.progress.connect(on_progress)
        if on_done is not None:
            job.done.connect(on_done)
        job.done.connect(lambda j=job: self._forget(j))
        self._latest[kind] = job
        self._live.add(job)
        if self._closed:
            # After shutdown (the window is closing) nothing new may start: the job ends
            # at once as cancelled, so only its on_done callback runs.
            job.cancel()
            job.released.set()
            job._finished_from_worker.emit("error", CancelledError("the window is closing"))
            return job
        self.job_started.emit(job)
        self.pool.start(_Runnable(job, fn, args, kwargs))
        return job

    def _forget(self, job: Job) -> None:
        self._live.discard(job)
        self._retired.append(job)
        if self._latest.get(job.kind) is job:
            del self._latest[job.kind]
        self.job_done.emit(job)

    def _prune(self) -> None:
        """Drop finished jobs the worker no longer references (they are destroyed here, in the GUI thread)."""
        self._retired = [j for j in self._retired if not j.released.is_set()]

    def current(self, kind: str) -> Job | None:
        """The live job of a kind, if any."""
        job = self._latest.get(kind)
        return job if job is not None and not job.finished else None

    def cancel(self, kind: str) -> None:
        """Cancel the live job of a kind (no-op if none)."""
        job = self.current(kind)
        if job is not None:
            job.cancel()

    def active(self) -> list[Job]:
        """Jobs whose completion has not been delivered yet."""
        return [j for j in self._live if not j.finished]

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel every job, refuse new ones, and wait for the pool's threads; True when all stopped."""
        self._closed = True
        for job in list(self._live):
            job.cancel()
        ok = bool(self.pool.waitForDone(timeout_ms))
        # Deliver the finished jobs' queued completions now, while every object is alive,
        # so nothing is left in the event queue addressed to a runner about to be deleted.
        for job in list(self._live):
            QCoreApplication.sendPostedEvents(job, QEvent.Type.MetaCall)
        self.detach_store()
        self._flush_timer.stop()
        self._pending_changes = []
        if ok:
            self._prune()
        return ok


def show_progress(bar: Any, frac: float, message: str) -> None:
    """A job's progress on a QProgressBar: a fraction in [0, 1], or busy (frac < 0) when unknown."""
    if frac >= 0:
        bar.setRange(0, 1000)
        bar.setValue(int(frac * 1000))
    else:
        bar.setRange(0, 0)
    bar.setFormat(f"{message} — %p%" if message else "%p%")
