"""``s2f setup``: build first-run caches with a progress bar."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.output import StderrProgress
from s2f_desktop.core.progress import Task
from s2f_desktop.services.setup import prepare

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("setup", help="build first-run caches (3D head model); safe to repeat")
    p.set_defaults(func=_setup)


def _setup(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    bar = StderrProgress(enabled=True)
    for step in prepare(Task(bar)):
        bar.done()
        print(f"{step.name}: ready ({step.seconds:.1f} s)")
    return 0
