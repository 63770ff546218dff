"""``s2f case new|list|show|close``."""

from __future__ import annotations

import argparse

from s2f_desktop.cli.output import print_json, print_table
from s2f_desktop.core.timeutil import fmt_clock, fmt_dt
from s2f_desktop.core.models import CaseStatus
from s2f_desktop.services import cases, evidence


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("case", help="create, list, show and close cases")
    csub = p.add_subparsers(dest="case_command", metavar="ACTION", required=True)

    n = csub.add_parser("new", help="create a case")
    n.add_argument("number", help="unique case number, e.g. 2026-0042")
    n.add_argument("--title", required=True)
    n.add_argument("--case-analyst", dest="case_analyst", help="analyst in charge (default: the acting analyst)")
    n.add_argument("--agency", default="")
    n.add_argument("--notes", default="")
    n.set_defaults(func=_new)

    ls = csub.add_parser("list", help="list cases")
    ls.add_argument("--status", choices=[s.value for s in CaseStatus])
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)

    sh = csub.add_parser("show", help="case details and evidence")
    sh.add_argument("number")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=_show)

    cl = csub.add_parser("close", help="close a case (read-only afterwards)")
    cl.add_argument("number")
    cl.set_defaults(func=_close)


def _new(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    case = cases.create_case(ctx_factory(), args.number, args.title, args.case_analyst, args.agency, args.notes)
    print(f"created case {case.number}: {case.title}")
    return 0


def _list(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    items = cases.list_cases(ctx_factory(), CaseStatus(args.status) if args.status else None)
    if args.json:
        print_json(items)
        return 0
    print_table(["number", "status", "title", "analyst", "updated"],
                [[c.number, c.status.value, c.title, c.analyst, fmt_dt(c.updated_at)] for c in items])
    return 0


def _show(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    ctx = ctx_factory()
    case = cases.get_case(ctx, args.number)
    items = evidence.list_evidence(ctx, args.number)
    if args.json:
        print_json({"case": case, "evidence": items})
        return 0
    print(f"Case {case.number} [{case.status.value}]: {case.title}")
    print(f"  analyst: {case.analyst}   agency: {case.agency or '-'}")
    print(f"  created: {fmt_dt(case.created_at)}   updated: {fmt_dt(case.updated_at)}")
    if case.notes:
        print(f"  notes: {case.notes}")
    print(f"Evidence ({len(items)}):")
    print_table(["id", "name", "duration", "rate", "ch", "codec", "sha256"],
                [[e.id, e.original_name, fmt_clock(e.media.duration_s), e.media.sample_rate, e.media.channels,
                  e.media.codec, e.sha256] for e in items])
    return 0


def _close(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    case = cases.close_case(ctx_factory(), args.number)
    print(f"closed case {case.number}")
    return 0
