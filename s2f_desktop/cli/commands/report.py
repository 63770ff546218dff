"""``s2f report CASE [--run ID] [--out FILE.pdf]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from s2f_desktop.cli.output import StderrProgress, print_json
from s2f_desktop.core.progress import Task


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the PDF report of a case (recorded in its audit trail)")
    p.add_argument("case", help="case number")
    p.add_argument("--run", type=int, metavar="ID", help="analysis run to report (default: the latest)")
    p.add_argument("--out", type=Path, metavar="FILE.pdf",
                   help="output file (default: <data dir>/reports/<case>-<report id>.pdf)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out file (never case data, the vault or an evidence original)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_report)


def _report(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    # Imported here so other commands do not pay for loading reportlab.
    from s2f_desktop.services import reports

    bar = StderrProgress()
    ctx = ctx_factory()
    result = reports.build_report(ctx, args.case, out=args.out, run_id=args.run, task=Task(bar),
                                  force=args.force)
    bar.done()
    if args.json:
        print_json(result)
    else:
        print(f"wrote {result.path} ({result.pages} pages)")
        print(f"report id {result.report_id}  sha256 {result.sha256}")
        if ctx.store.read_only:
            print("(read-only data directory: this report is not recorded in the case's audit trail)")
    return 0
