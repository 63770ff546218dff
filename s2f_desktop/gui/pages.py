"""What the main window's pages share: what they are given, their side-by-side frame, the stored run they show."""

from __future__ import annotations

import html
from typing import Any, Sequence

from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.workers import JobRunner


class JobPage(QWidget):
    """A page (or a panel of one) that reads the store and runs background jobs.

    It holds what the main window hands every such page: the application context (``ctx``),
    the window's one job runner and the error reporter.
    """

    def __init__(self, ctx: Any, runner: JobRunner, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.reporter = reporter


def split_page(page: QWidget, panes: Sequence[QWidget], stretch: Sequence[int],
               sizes: Sequence[int] | None = None) -> QSplitter:
    """Lay ``page`` out as ``panes`` side by side in a splitter the analyst can drag.

    ``stretch`` shares out extra width between the panes; ``sizes`` are their first widths in
    pixels (None: Qt's own).
    """
    split = QSplitter()
    for pane in panes:
        split.addWidget(pane)
    for i, factor in enumerate(stretch):
        split.setStretchFactor(i, factor)
    if sizes is not None:
        split.setSizes(list(sizes))
    lay = QVBoxLayout(page)
    lay.addWidget(split)
    return split


def refusal_html(head: str, reason: str | None, tail: str) -> str:
    """The red banner a page puts above what it keeps showing after a request was refused ("" when none was):
    ``head`` says what was not done, ``tail`` (HTML) what the page shows below it."""
    if reason is None:
        return ""
    return (f"<p style='background:#fdecea;color:#b71c1c;padding:4px'><b>{head}</b> {html.escape(reason)}{tail}"
            "</p>")


def run_position(runs: Sequence[Any], run_id: int | None) -> int:
    """Where the run ``run_id`` stands in ``runs`` (objects with an ``id``); the newest (last) when it is
    None or not there. ``runs`` must not be empty."""
    newest = len(runs) - 1
    if run_id is None:
        return newest
    return next((i for i, r in enumerate(runs) if r.id == run_id), newest)
