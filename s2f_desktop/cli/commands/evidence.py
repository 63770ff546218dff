"""``s2f import``, ``s2f verify`` and ``s2f audit``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.output import StderrProgress, print_json, print_table
from s2f_desktop.core.progress import Task
from s2f_desktop.core.text import neutralise as nt
from s2f_desktop.core.timeutil import fmt_dt
from s2f_desktop.services import evidence

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("import", help="import recordings into a case's evidence vault")
    p.add_argument("case", help="case number")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="audio or video files to copy into the vault (originals are never modified)")
    p.set_defaults(func=_import)

    v = sub.add_parser("verify", help="re-hash every evidence item and check the audit chain")
    v.add_argument("case", help="case number")
    v.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    v.add_argument("--receipt", type=Path, metavar="FILE", help="also check a custody receipt exported earlier")
    v.add_argument("--no-record", action="store_true",
                   help="do not record this verification in the audit trail (automatic on read-only media)")
    v.set_defaults(func=_verify)

    r = sub.add_parser("repair", help="deal with orphan vault files found by verify (audited)")
    r.add_argument("action", choices=["quarantine", "adopt"],
                   help="quarantine: move them to <data dir>/quarantine; adopt: import them into CASE")
    r.add_argument("case", nargs="?", help="case to adopt the files into (adopt only)")
    r.set_defaults(func=_repair)

    a = sub.add_parser("audit", help="show a case's audit trail and whether its hash chain is intact")
    a.add_argument("case", help="case number")
    a.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    a.set_defaults(func=_audit)


def _import(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    bar = StderrProgress()
    results = evidence.import_files(ctx_factory(), args.case, args.files, Task(bar))
    bar.done()
    failed = 0
    for r in results:
        e = r.evidence
        if r.error or e is None:
            failed += 1
            print(f"s2f: error: {nt(r.error)}", file=sys.stderr)
        elif r.already_present:
            print(f"already present: {nt(r.path.name)} is evidence #{e.id} (sha256 {e.sha256})")
        else:
            print(f"imported #{e.id}: {nt(e.original_name)}  {e.media.duration_s:.2f} s  {e.media.sample_rate} Hz  "
                  f"{e.media.channels} ch  {e.media.codec}  sha256 {e.sha256}")
    return 3 if failed else 0


def _verify(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    ctx = ctx_factory()
    report = evidence.verify_case(ctx, args.case, record=not args.no_record)
    receipt_problems = evidence.check_receipt(ctx, args.case, args.receipt) if args.receipt else []
    ok = report.ok and not receipt_problems
    if args.json:
        from s2f_desktop.core.jsonutil import to_jsonable

        out = to_jsonable(report)
        out["ok"] = ok
        out["custody"] = [dict(to_jsonable(f), description=f.describe()) for f in report.custody]
        if args.receipt:
            out["receipt"] = {"file": str(args.receipt), "problems": receipt_problems}
        print_json(out)
    else:
        for line in report.leftovers:
            print(f"start-up check: {nt(line)}")
        print_table(["id", "status", "name", "sha256"],
                    [[c.evidence_id, c.status.value, c.original_name, c.sha256] for c in report.evidence])
        if report.chain.ok:
            print(f"audit chain: OK ({report.chain.events} events, head #{report.head[0]} {report.head[1]})")
        else:
            print(f"audit chain: BROKEN at event {report.chain.first_broken}: {nt(report.chain.reason)}")
        failing = [f for f in report.custody if f.failing]
        unbound = [f for f in report.custody if not f.failing]
        if failing:
            print(f"rows versus chain: {len(failing)} problem(s)")
            for f in failing:
                print(f"  {f.problem}: {nt(f.describe())}")
        else:
            print("rows versus chain: every bound row matches the state its last event recorded")
        if unbound:
            print(f"  note: {len(unbound)} row(s) only partly bound (recorded by events of an older version):")
            for f in unbound[:20]:
                print(f"    {nt(f.describe())}")
        for rel in report.orphans:
            print(f"ORPHAN vault file {nt(rel)}: no evidence row names it (see 's2f repair')")
        if args.receipt:
            if receipt_problems:
                for p in receipt_problems:
                    print(f"receipt: MISMATCH: {nt(p)}")
            else:
                print("receipt: matches (the chain up to the receipt's head is unchanged)")
        if not report.recorded:
            print("(this verification was not recorded in the audit trail)")
        print("verification: PASSED" if ok else "verification: FAILED")
    if not ok:
        # One line on stderr naming every problem, for scripts and logs that only keep stderr.
        problems = report.problems + [f"receipt: {p}" for p in receipt_problems]
        print(f"s2f: verification FAILED for case {nt(report.case_number)}: {nt('; '.join(problems))}",
              file=sys.stderr)
    return 0 if ok else 4


def _repair(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    lines = evidence.repair_orphans(ctx_factory(), args.action, args.case)
    for line in lines:
        print(nt(line))
    if not lines:
        print("no orphan vault files")
    return 0


def _audit(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
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
            print(f"chain: BROKEN at event {chain.first_broken}: {nt(chain.reason)}")
    if not chain.ok:
        print(f"s2f: audit chain of case {nt(args.case)} is broken at event {chain.first_broken}: {nt(chain.reason)}",
              file=sys.stderr)
    return 0 if chain.ok else 4
