"""First-run preparation: build the caches that would otherwise slow the first use.

Each step is named by module and function and imported only when it runs, so the
headless core keeps torch out of its import graph (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass

from s2f_desktop.core.progress import Task, null_task

#: (description, module, function taking a Task) — run in this order.
FIRST_RUN_STEPS: tuple[tuple[str, str, str], ...] = (
    ("3D head model cache (anny)", "s2f_desktop.face.anny_model", "build_cache"),
)


@dataclass(frozen=True)
class StepResult:
    """How one first-run step went."""

    name: str
    seconds: float


def prepare(task: Task | None = None) -> list[StepResult]:
    """Run every first-run step; safe to call again (steps skip work already done)."""
    task = task or null_task()
    results = []
    n = len(FIRST_RUN_STEPS)
    for i, (name, module, func) in enumerate(FIRST_RUN_STEPS):
        sub = task.sub(i / n, (i + 1) / n)
        sub.progress(0.0, name)
        t0 = time.perf_counter()
        getattr(importlib.import_module(module), func)(sub)
        results.append(StepResult(name, time.perf_counter() - t0))
        sub.progress(1.0, f"{name}: ready")
    return results
