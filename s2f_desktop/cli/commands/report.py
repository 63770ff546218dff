"""``s2f report CASE [--run ID | --runs ID,ID,...] [--out FILE.pdf]``: the case report (every run by default)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.output import StderrProgress, print_json
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.progress import Task

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("report", help="write the PDF report of a case (recorded in its audit trail)")
    p.add_argument("case", help="case number")
    runs = p.add_mutually_exclusive_group()
    runs.add_argument("--run", type=int, metavar="ID", help="report this analysis run in full (default: every run)")
    runs.add_argument("--runs", metavar="ID,ID,...", help="report these analysis runs in full (default: every run); "
                      "the others are still listed with their outcomes")
    p.add_argument("--out", type=Path, metavar="FILE.pdf",
                   help="output file (default: <data dir>/reports/<case>-<report id>.pdf)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file (never case data, the vault or an evidence original)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_report)


def _report(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    # Imported here so other commands do not pay for loading reportlab.
    from s2f_desktop.services import reports

    bar = StderrProgress()
    run_ids = None
    if args.runs is not None:
        try:
            run_ids = [int(x.strip().lstrip("#")) for x in args.runs.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--runs takes run ids separated by commas, got {args.runs!r}") from None
        if not run_ids:
            raise InputError("--runs needs at least one run id")
    ctx = ctx_factory()
    result = reports.build_report(ctx, args.case, out=args.out, run_id=args.run, run_ids=run_ids,
                                  task=Task(bar), force=args.force)
    bar.done()
    if args.json:
        print_json(result)
    else:
        print(f"wrote {result.path} ({result.pages} pages)")
        print(f"report id {result.report_id}  sha256 {result.sha256}")
        if ctx.store.read_only:
            print("(read-only data directory: this report is not recorded in the case's audit trail)")
    return 0
