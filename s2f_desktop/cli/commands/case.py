"""``s2f case new|list|show|close``."""

from __future__ import annotations

import argparse

from pathlib import Path

from s2f_desktop.cli.output import fmt_seconds, fmt_time, print_json, print_table
from s2f_desktop.core.models import CaseStatus
from s2f_desktop.core.text import neutralise as nt
from s2f_desktop.services import cases, evidence


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("case", help="create, list, show and close cases")
    csub = p.add_subparsers(dest="case_command", metavar="ACTION", required=True)

    n = csub.add_parser("new", help="create a case")
    n.add_argument("number", help="unique case number, e.g. 2026-0042")
    n.add_argument("--title", required=True, help="short case title")
    n.add_argument("--case-analyst", dest="case_analyst", help="analyst in charge (default: the acting analyst)")
    n.add_argument("--agency", default="", help="requesting agency or client (default: none)")
    n.add_argument("--notes", default="", help="free-text case notes (default: none)")
    n.set_defaults(func=_new)

    ls = csub.add_parser("list", help="list cases")
    ls.add_argument("--status", choices=[s.value for s in CaseStatus], help="only cases with this status")
    ls.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    ls.set_defaults(func=_list)

    sh = csub.add_parser("show", help="case details and evidence")
    sh.add_argument("number", help="case number")
    sh.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    sh.set_defaults(func=_show)

    cl = csub.add_parser("close", help="close a case (read-only afterwards)")
    cl.add_argument("number", help="case number")
    cl.set_defaults(func=_close)

    rc = csub.add_parser("receipt", help="export a custody receipt (the audit chain's head) to keep outside the data "
                                         "directory; check it later with 's2f verify CASE --receipt FILE'")
    rc.add_argument("number")
    rc.add_argument("--out", type=Path, required=True, metavar="FILE.json")
    rc.add_argument("--force", action="store_true", help="replace an existing file (never case data or originals)")
    rc.set_defaults(func=_receipt)


def _new(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    case = cases.create_case(ctx_factory(), args.number, args.title, args.case_analyst, args.agency, args.notes)
    print(f"created case {case.number}: {nt(case.title)}")
    return 0


def _list(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    items = cases.list_cases(ctx_factory(), CaseStatus(args.status) if args.status else None)
    if args.json:
        print_json(items)
        return 0
    print_table(["number", "status", "title", "analyst", "updated"],
                [[c.number, c.status.value, c.title, c.analyst, fmt_time(c.updated_at)] for c in items])
    return 0


def _show(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    ctx = ctx_factory()
    case = cases.get_case(ctx, args.number)
    items = evidence.list_evidence(ctx, args.number)
    if args.json:
        print_json({"case": case, "evidence": items})
        return 0
    print(f"Case {nt(case.number)} [{case.status.value}]: {nt(case.title)}")
    print(f"  analyst: {nt(case.analyst)}   agency: {nt(case.agency) or '-'}")
    print(f"  created: {fmt_time(case.created_at)}   updated: {fmt_time(case.updated_at)}")
    if case.notes:
        print("  notes: " + nt(case.notes, keep_newlines=True).replace("\n", "\n         "))
    print(f"Evidence ({len(items)}):")
    print_table(["id", "name", "duration", "rate", "ch", "codec", "sha256"],
                [[e.id, e.original_name, fmt_seconds(e.media.duration_s), e.media.sample_rate, e.media.channels,
                  e.media.codec, e.sha256] for e in items])
    return 0


def _close(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    case = cases.close_case(ctx_factory(), args.number)
    print(f"closed case {case.number}")
    return 0


def _receipt(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    path, receipt = evidence.export_receipt(ctx_factory(), args.number, args.out, force=args.force)
    ch = receipt["chain"]
    print(f"wrote custody receipt {nt(path)}")
    print(f"case {nt(receipt['case_number'])}: chain head event #{ch['head_seq']} sha256 {ch['head_hash']} "
          f"({ch['events']} events, intact: {'yes' if ch['intact_when_exported'] else 'NO'}, rows match: "
          f"{'yes' if ch['rows_matched_chain_when_exported'] else 'NO'})")
    print(f"receipt sha256 {receipt['receipt_sha256']}")
    return 0
