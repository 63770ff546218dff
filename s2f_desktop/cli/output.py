"""Small helpers for CLI output: tables, JSON and a progress line on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, Sequence

from s2f_desktop.core.jsonutil import to_jsonable
from s2f_desktop.core.progress import ProgressUpdate
from s2f_desktop.core.text import neutralise


def print_json(obj: Any) -> None:
    """One JSON document on stdout."""
    print(json.dumps(to_jsonable(obj), ensure_ascii=False, sort_keys=False))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain, aligned text table."""
    # Every cell is neutralised: a stored newline or escape sequence cannot forge rows or drive the terminal.
    cells = [[neutralise(h) for h in headers]] + [["" if c is None else neutralise(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, r in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


class StderrProgress:
    """Progress sink that redraws one line on stderr when it is a terminal."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = ""

    def __call__(self, update: ProgressUpdate) -> None:
        if not self.enabled:
            return
        pct = "" if update.fraction is None else f"{update.fraction * 100:5.1f}% "
        line = f"{pct}{update.message}"[:100]
        if line != self._last:
            sys.stderr.write("\r" + line.ljust(len(self._last)))
            sys.stderr.flush()
            self._last = line

    def done(self) -> None:
        """Finish the progress line."""
        if self.enabled and self._last:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._last = ""
