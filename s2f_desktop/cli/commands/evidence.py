"""``s2f import``, ``s2f verify`` and ``s2f audit``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2f_desktop.cli.output import StderrProgress, print_json, print_table
from s2f_desktop.core.models import VerifyStatus
from s2f_desktop.core.progress import Task
from s2f_desktop.core.timeutil import fmt_dt
from s2f_desktop.services import evidence


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import recordings into a case's evidence vault")
    p.add_argument("case")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=_import)

    v = sub.add_parser("verify", help="re-hash every evidence item and check the audit chain")
    v.add_argument("case")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_verify)

    a = sub.add_parser("audit", help="show a case's audit trail and whether its hash chain is intact")
    a.add_argument("case")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_audit)


def _import(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    bar = StderrProgress()
    results = evidence.import_files(ctx_factory(), args.case, args.files, Task(bar))
    bar.done()
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            print(f"s2f: error: {r.error}", file=sys.stderr)
        elif r.already_present:
            print(f"already present: {r.path.name} is evidence #{r.evidence.id} (sha256 {r.evidence.sha256})")
        else:
            e = r.evidence
            print(f"imported #{e.id}: {e.original_name}  {e.media.duration_s:.2f} s  {e.media.sample_rate} Hz  "
                  f"{e.media.channels} ch  {e.media.codec}  sha256 {e.sha256}")
    return 3 if failed else 0


def _verify(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    report = evidence.verify_case(ctx_factory(), args.case)
    if args.json:
        print_json(report)
    else:
        print_table(["id", "status", "name", "sha256"],
                    [[c.evidence_id, c.status.value, c.original_name, c.sha256] for c in report.evidence])
        if report.chain.ok:
            print(f"audit chain: OK ({report.chain.events} events)")
        else:
            print(f"audit chain: BROKEN at event {report.chain.first_broken}: {report.chain.reason}")
        print("verification: PASSED" if report.ok else "verification: FAILED")
    if not report.ok:
        # One line on stderr naming every problem, for scripts and logs that only keep stderr.
        problems = [f"#{c.evidence_id} {c.original_name} {c.status.value}"
                    for c in report.evidence if c.status is not VerifyStatus.OK]
        if not report.chain.ok:
            problems.append(f"audit chain broken at event {report.chain.first_broken}")
        print(f"s2f: verification FAILED for case {report.case_number}: {'; '.join(problems)}", file=sys.stderr)
    return 0 if report.ok else 4


def _audit(ctx_factory, args) -> int:  # type: ignore[no-untyped-def]
    events, chain = evidence.audit_trail(ctx_factory(), args.case)
    if args.json:
        print_json({"events": events, "chain": chain})
    else:
        print_table(["#", "id", "at", "actor", "action", "objects", "hash"],
                    [[e.seq, e.id, fmt_dt(e.at), e.actor, e.action, f"{e.object_type}:{','.join(e.object_ids)}",
                      e.hash[:16]] for e in events])
        if chain.ok:
            print(f"chain: OK ({chain.events} events)")
        else:
            print(f"chain: BROKEN at event {chain.first_broken}: {chain.reason}")
    if not chain.ok:
        print(f"s2f: audit chain of case {args.case} is broken at event {chain.first_broken}: {chain.reason}",
              file=sys.stderr)
    return 0 if chain.ok else 4
