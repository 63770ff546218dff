"""JobRunner: results and errors arrive in the GUI thread, a new job of a kind cancels the
previous one, and shutdown leaves no thread running. Error reporter: S2FError -> message,
bugs -> logged with the log path in the dialog."""

from __future__ import annotations

import logging
import threading

import pytest
from PySide6.QtCore import QThread  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from s2f_desktop.core.errors import CancelledError, InputError  # noqa: E402
from s2f_desktop.gui.errors import ErrorReporter  # noqa: E402
from s2f_desktop.gui.workers import JobRunner  # noqa: E402


@pytest.fixture
def runner(qtbot):  # type: ignore[no-untyped-def]
    r = JobRunner()
    yield r
    assert r.shutdown(10000)
    assert r.pool.activeThreadCount() == 0


def test_result_and_progress_arrive_in_gui_thread(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}
    worker_thread: list[object] = []

    def work(task, n):  # type: ignore[no-untyped-def]
        worker_thread.append(threading.get_ident())
        for i in range(n):
            task.progress((i + 1) / n, f"step {i}")
        return n * 2

    def on_success(v):  # type: ignore[no-untyped-def]
        seen["value"] = v
        seen["in_gui"] = QThread.currentThread() is QApplication.instance().thread()

    progress: list[float] = []
    with qtbot.waitSignal(runner.job_done, timeout=10000):
        job = runner.submit("k", work, 5, on_success=on_success, on_progress=lambda f, m: progress.append(f))
    assert seen == {"value": 10, "in_gui": True}
    assert worker_thread and worker_thread[0] != threading.get_ident()
    assert progress and progress[-1] == 1.0
    assert job.finished and runner.active() == []


def test_new_job_of_same_kind_cancels_previous(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    gate = threading.Event()
    outcomes: list[str] = []

    def slow(task):  # type: ignore[no-untyped-def]
        gate.wait(10)
        task.progress(0.5, "after gate")  # cancellation point
        return "slow"

    first = runner.submit("same", slow, on_success=lambda v: outcomes.append(v))
    first.cancelled.connect(lambda: outcomes.append("first cancelled"))
    with qtbot.waitSignal(runner.job_done, timeout=10000,
                          check_params_cb=lambda j: j.kind == "same" and j is not first):
        second = runner.submit("same", lambda task: "fast", on_success=lambda v: outcomes.append(v))
        assert first.is_cancelled
    gate.set()
    if not first.finished:
        with qtbot.waitSignal(first.done, timeout=10000):
            pass
    assert "fast" in outcomes and "first cancelled" in outcomes and "slow" not in outcomes
    assert second.result == "fast"


def test_errors_are_delivered_not_raised(qtbot, runner) -> None:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def bad(task):  # type: ignore[no-untyped-def]
        raise InputError("no such thing")

    with qtbot.waitSignal(runner.job_done, timeout=10000):
        runner.submit("bad", bad, on_error=errors.append)
    assert isinstance(errors[0], InputError) and errors[0].message == "no such thing"


def test_shutdown_cancels_and_waits(qtbot) -> None:  # type: ignore[no-untyped-def]
    r = JobRunner()
    started = threading.Event()
    stopped: list[bool] = []

    def loop(task):  # type: ignore[no-untyped-def]
        started.set()
        try:
            while True:
                task.progress(None, "spinning")
                threading.Event().wait(0.001)
        except CancelledError:
            stopped.append(True)
            raise

    r.submit("loop", loop)
    assert started.wait(10)
    assert r.shutdown(10000)
    assert stopped == [True] and r.pool.activeThreadCount() == 0


def test_reporter_messages_and_log(qtbot, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    rep = ErrorReporter(log_file=tmp_path / "s2f.log")
    rep.show_dialogs = False
    got: list[tuple[str, str]] = []
    rep.reported.connect(lambda t, m: got.append((t, m)))
    cancelled: list[str] = []
    rep.cancelled.connect(cancelled.append)
    rep.report(InputError("case X-1 already exists"), "New case")
    with caplog.at_level(logging.ERROR, logger="s2f_desktop.gui"):
        try:
            raise ZeroDivisionError("boom")
        except ZeroDivisionError as exc:
            rep.excepthook(type(exc), exc, exc.__traceback__)
    rep.report(CancelledError())
    assert got[0] == ("Cannot complete the action", "New case: case X-1 already exists")
    assert got[1][0] == "Unexpected error" and str(tmp_path / "s2f.log") in got[1][1]
    assert "Traceback" not in got[1][1]
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)
    assert cancelled == ["cancelled"] and len(got) == 2


def test_reporter_dialog_is_non_blocking(qtbot) -> None:  # type: ignore[no-untyped-def]
    rep = ErrorReporter()
    rep.report(InputError("bad input"))
    box = rep.last_box
    assert box is not None and box.isVisible() and box.text() == "bad input"
    box.close()


def test_nothing_starts_after_shutdown(qtbot) -> None:  # type: ignore[no-untyped-def]
    r = JobRunner()
    assert r.shutdown(1000)
    ran: list[str] = []
    job = r.submit("late", lambda task: ran.append("ran"), on_success=ran.append, on_done=lambda: ran.append("done"))
    assert job.finished and job.is_cancelled and ran == ["done"] and r.active() == []
