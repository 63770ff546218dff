"""``s2f case new|list|show|close|edit|provenance|review``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.output import print_json, print_table
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import CaseStatus
from s2f_desktop.core.text import neutralise as nt
from s2f_desktop.core.timeutil import fmt_clock, fmt_dt
from s2f_desktop.services import cases, evidence

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
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
    rc.add_argument("number", help="case number")
    rc.add_argument("--out", type=Path, required=True, metavar="FILE.json", help="where to write the receipt")
    rc.add_argument("--force", action="store_true", help="replace an existing file (never case data or originals)")
    rc.set_defaults(func=_receipt)

    ed = csub.add_parser("edit", help="edit case details and the expert-report fields (audited)")
    ed.add_argument("number", help="case number")
    ed.add_argument("--title", help="new case title")
    # Not dest="analyst": that is the global --analyst (who acts, recorded in the audit trail), which a
    # sub-command's option of the same dest would overwrite.
    ed.add_argument("--case-analyst", dest="case_analyst",
                    help="the examiner in charge (named in the signature block)")
    ed.add_argument("--agency", help="requesting agency")
    ed.add_argument("--notes", help="case notes")
    ed.add_argument("--question", help="the question the examiner was asked")
    ed.add_argument("--propositions", help="the propositions considered (for a comparison: Hp and Hd)")
    ed.add_argument("--case-info", dest="case_info", help="case information received with the request")
    ed.add_argument("--examiner-role", dest="examiner_role", help="the examiner's role, e.g. 'forensic speech analyst'")
    ed.add_argument("--qualifications", dest="examiner_qualifications", help="the examiner's qualifications")
    ed.add_argument("--listening", dest="listening_statement",
                    help="the examiner's listening statement: language, accent, speaking style, channel heard")
    ed.set_defaults(func=_edit)

    pv = csub.add_parser("provenance", help="record an exhibit's provenance (audited)")
    pv.add_argument("number", help="case number")
    pv.add_argument("evidence", type=int, help="evidence id")
    pv.add_argument("--received-from", dest="received_from", help="who delivered the exhibit")
    pv.add_argument("--received-on", dest="received_on", help="when it was received (date as written)")
    pv.add_argument("--medium", help="original medium, e.g. 'USB stick', 'CD-R', 'e-mail attachment'")
    pv.add_argument("--seal", help="seal number or reference")
    pv.set_defaults(func=_provenance)

    rv = csub.add_parser("review", help="record a second examiner's review in the audit trail")
    rv.add_argument("number", help="case number")
    rv.add_argument("--reviewer", required=True, help="the second examiner's name")
    rv.add_argument("--role", default="", help="the second examiner's role")
    rv.add_argument("--outcome", required=True, choices=cases.REVIEW_OUTCOMES, help="the review's outcome")
    rv.add_argument("--notes", default="", help="the reviewer's comments")
    rv.set_defaults(func=_review)


def _new(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    case = cases.create_case(ctx_factory(), args.number, args.title, args.case_analyst, args.agency, args.notes)
    print(f"created case {case.number}: {nt(case.title)}")
    return 0


def _list(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    items = cases.list_cases(ctx_factory(), CaseStatus(args.status) if args.status else None)
    if args.json:
        print_json(items)
        return 0
    print_table(["number", "status", "title", "analyst", "updated"],
                [[c.number, c.status.value, c.title, c.analyst, fmt_dt(c.updated_at)] for c in items])
    return 0


def _show(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    ctx = ctx_factory()
    case = cases.get_case(ctx, args.number)
    items = evidence.list_evidence(ctx, args.number)
    if args.json:
        print_json({"case": case, "evidence": items})
        return 0
    print(f"Case {nt(case.number)} [{case.status.value}]: {nt(case.title)}")
    print(f"  analyst: {nt(case.analyst)}   agency: {nt(case.agency) or '-'}")
    print(f"  created: {fmt_dt(case.created_at)}   updated: {fmt_dt(case.updated_at)}")
    if case.notes:
        print("  notes: " + nt(case.notes, keep_newlines=True).replace("\n", "\n         "))
    print(f"Evidence ({len(items)}):")
    print_table(["id", "name", "duration", "rate", "ch", "codec", "sha256"],
                [[e.id, e.original_name, fmt_clock(e.media.duration_s), e.media.sample_rate, e.media.channels,
                  e.media.codec, e.sha256] for e in items])
    return 0


def _close(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    case = cases.close_case(ctx_factory(), args.number)
    print(f"closed case {case.number}")
    return 0


def _receipt(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    path, receipt = evidence.export_receipt(ctx_factory(), args.number, args.out, force=args.force)
    ch = receipt["chain"]
    print(f"wrote custody receipt {nt(path)}")
    print(f"case {nt(receipt['case_number'])}: chain head event #{ch['head_seq']} sha256 {ch['head_hash']} "
          f"({ch['events']} events, intact: {'yes' if ch['intact_when_exported'] else 'NO'}, rows match: "
          f"{'yes' if ch['rows_matched_chain_when_exported'] else 'NO'})")
    print(f"receipt sha256 {receipt['receipt_sha256']}")
    return 0


def _edit(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    fields = {k: getattr(args, k) for k in ("title", "agency", "notes", "question", "propositions",
                                            "case_info", "examiner_role", "examiner_qualifications",
                                            "listening_statement")}
    fields["analyst"] = args.case_analyst
    if all(v is None for v in fields.values()):
        raise InputError("nothing to change: give at least one option (see `s2f case edit --help`)")
    case = cases.update_case(ctx_factory(), args.number, **fields)
    print(f"updated case {nt(case.number)}")
    return 0


def _provenance(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    fields = {k: getattr(args, k) for k in ("received_from", "received_on", "medium", "seal")}
    if all(v is None for v in fields.values()):
        raise InputError("nothing to record: give --received-from, --received-on, --medium or --seal")
    ev = cases.set_provenance(ctx_factory(), args.number, args.evidence, **fields)
    print(f"recorded provenance of evidence #{ev.id} ({nt(ev.original_name)})")
    return 0


def _review(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    cases.record_review(ctx_factory(), args.number, args.reviewer, args.role, args.outcome, args.notes)
    print(f"recorded the review of case {nt(args.number)} by {nt(args.reviewer)}: {args.outcome}")
    return 0
