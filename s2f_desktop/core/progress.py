"""Progress reporting and cooperative cancellation for long-running work.

Workers receive a :class:`Task` handle. They call :meth:`Task.progress` from time to
time; that call also raises :class:`~s2f_desktop.core.errors.CancelledError` once the
task was cancelled, so cancellation points coincide with progress points. The handle
is thread-safe and knows nothing about Qt: the GUI adapts it to signals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Protocol

from s2f_desktop.core.errors import CancelledError


@dataclass(frozen=True)
class ProgressUpdate:
    """One progress report: ``fraction`` in [0, 1] (or ``None`` if unknown) and a message."""

    fraction: float | None
    message: str = ""


class ProgressSink(Protocol):
    """Anything that accepts progress updates (a CLI bar, a Qt signal adapter, a list)."""

    def __call__(self, update: ProgressUpdate) -> None: ...


class CancelToken:
    """A thread-safe, one-way cancellation flag."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Request cancellation; idempotent."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancellation was requested."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`CancelledError` if cancellation was requested."""
        if self._event.is_set():
            raise CancelledError()


class Task:
    """Progress and cancellation handle passed to long-running service functions."""

    def __init__(
        self,
        sink: ProgressSink | Callable[[ProgressUpdate], None] | None = None,
        token: CancelToken | None = None,
    ) -> None:
        self._sink = sink
        self.token = token or CancelToken()

    def progress(self, fraction: float | None, message: str = "") -> None:
        """Report progress and act as a cancellation point."""
        self.token.raise_if_cancelled()
        if self._sink is not None:
            if fraction is not None:
                fraction = min(1.0, max(0.0, float(fraction)))
            self._sink(ProgressUpdate(fraction, message))

    def check(self) -> None:
        """A cancellation point that reports nothing."""
        self.token.raise_if_cancelled()

    def sub(self, start: float, end: float) -> "Task":
        """A child task whose [0, 1] maps onto [start, end] of this task."""
        parent = self

        def _sink(update: ProgressUpdate) -> None:
            frac = None if update.fraction is None else start + (end - start) * update.fraction
            if parent._sink is not None:
                parent._sink(ProgressUpdate(frac, update.message))

        return Task(_sink, self.token)


def null_task() -> Task:
    """A task that reports nowhere and is never cancelled."""
    return Task()
