"""``s2f segments``: list, add, detect (VAD), import and export speech segments of an evidence item."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.args import probability
from s2f_desktop.cli.output import StderrProgress, print_json, print_table
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.progress import Task
from s2f_desktop.core.timeutil import fmt_clock
from s2f_desktop.services import evidence as evidence_svc
from s2f_desktop.services import segments as seg_svc

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("segments", help="list speech segments; add one (--add) or detect speech (--vad)")
    p.add_argument("case", help="case number")
    p.add_argument("evidence", help="evidence id, sha256 prefix or original file name")
    p.add_argument("--vad", action="store_true", help="detect speech with silero VAD (replaces earlier suggestions)")
    p.add_argument("--threshold", type=probability, default=0.5, help="VAD speech probability threshold (default 0.5)")
    p.add_argument("--add", nargs=2, metavar=("START", "END"),
                   help="add an accepted segment; times as seconds, m:ss or h:mm:ss")
    p.add_argument("--label", "-L", default="", help="label of the added segment")
    p.add_argument("--speaker", default="", help="speaker tag of the added segment")
    p.add_argument("--accept", metavar="IDS", help="accept suggested segments: comma-separated ids or unique "
                   "id prefixes (>= 6 characters), or 'all' for every suggestion")
    p.add_argument("--reject", metavar="IDS", help="reject suggested segments (ids, prefixes or 'all')")
    p.add_argument("--delete", metavar="IDS", help="delete segments (ids or prefixes)")
    p.add_argument("--relabel", nargs=2, metavar=("ID", "LABEL"), help="set a segment's label")
    p.add_argument("--status", choices=["suggested", "accepted", "rejected"], action="append",
                   help="list only these statuses (repeatable)")
    p.add_argument("--import-labels", metavar="FILE", type=Path,
                   help="add segments from a Praat TextGrid (.TextGrid) or Audacity label file (.txt)")
    p.add_argument("--export-labels", metavar="FILE", type=Path,
                   help="write the segments as a Praat TextGrid (.TextGrid) or Audacity labels (.txt); "
                        "an existing file is never overwritten")
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    p.set_defaults(func=_segments)


def _segments(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    ctx = ctx_factory()
    ev = evidence_svc.resolve_evidence(ctx, args.case, args.evidence)
    if args.label and not args.add:
        raise InputError("--label needs --add START END")
    if args.speaker and not args.add:
        raise InputError("--speaker needs --add START END")
    # Everything is checked before anything changes, so a bad id or time never leaves half the request done.
    # (With --vad the suggestions are replaced first, so ids given with it are resolved after detection.)
    added = tuple(seg_svc.parse_time(t) for t in args.add) if args.add else None
    actions = (("accept", seg_svc.accept_suggestion, "accepted"), ("reject", seg_svc.reject_suggestion, "rejected"),
               ("delete", seg_svc.delete_segment, "deleted"))

    def resolve() -> tuple[dict[str, list[str]], str | None]:
        ids = {option: _resolve_ids(ctx, ev.id, getattr(args, option), suggested_only=option != "delete")
               for option, _a, _v in actions if getattr(args, option)}
        given = [i for found in ids.values() for i in found]
        twice = next((i for i in given if given.count(i) > 1), None)
        if twice is not None:
            raise InputError(f"segment {twice} is given to more than one of --accept, --reject and --delete")
        target = None
        if args.relabel:
            (target,) = _resolve_ids(ctx, ev.id, args.relabel[0], suggested_only=False)
            if target in ids.get("delete", []):
                raise InputError(f"segment {target} is both deleted and relabelled; choose one")
        return ids, target

    resolved = None if args.vad else resolve()
    if args.vad:
        bar = StderrProgress()
        created = seg_svc.run_vad(ctx, args.case, ev.id, Task(bar), threshold=args.threshold)
        bar.done()
        if not args.json:
            print(f"VAD suggested {len(created)} speech region(s) in {ev.original_name}")
        resolved = resolve()
    assert resolved is not None
    ids, relabel_id = resolved
    if added is not None:
        sr = ev.media.sample_rate
        start, end = added
        seg = seg_svc.add_segment(ctx, args.case, ev.id, int(round(start * sr)), int(round(end * sr)),
                                  label=args.label, speaker_tag=args.speaker)
        if not args.json:
            print(f"added segment {seg.id}: {fmt_clock(seg.start_s)} - {fmt_clock(seg.end_s)}")
    for option, action, verb in actions:
        for seg_id in ids.get(option, []):
            action(ctx, seg_id)
            if not args.json:
                print(f"{verb} segment {seg_id}")
    if args.import_labels:
        imported = seg_svc.import_labels(ctx, args.case, ev.id, args.import_labels)
        if not args.json:
            print(f"imported {len(imported)} segment(s) from {args.import_labels}")
    if relabel_id is not None:
        seg_svc.update_segment(ctx, relabel_id, label=args.relabel[1])
        if not args.json:
            print(f"labelled segment {relabel_id}: {args.relabel[1]!r}")
    if args.export_labels:
        out = seg_svc.export_labels(ctx, args.case, ev.id, args.export_labels, statuses=args.status)
        if not args.json:
            print(f"segments written to {out}")
    segs = seg_svc.list_segments(ctx, ev.id, args.status)
    if args.json:
        print_json(segs)
        return 0
    print_table(["id", "start", "end", "dur s", "source", "status", "conf", "label", "speaker"],
                [[g.id, fmt_clock(g.start_s), fmt_clock(g.end_s), f"{g.duration_s:.2f}", g.source.value,
                  g.status.value, "" if g.confidence is None else f"{g.confidence:.2f}", g.label, g.speaker_tag]
                 for g in segs])
    return 0


def _resolve_ids(ctx: AppContext, evidence_id: int, refs: str, suggested_only: bool) -> list[str]:
    """Segment ids of this evidence from full ids, unique prefixes, or 'all' (suggested ones)."""
    segs = seg_svc.list_segments(ctx, evidence_id)
    if refs.strip().lower() == "all":
        if not suggested_only:
            raise InputError("'all' is only accepted with --accept and --reject")
        return [g.id for g in segs if g.status.value == "suggested"]
    out = []
    for ref in (r.strip().lower() for r in refs.split(",") if r.strip()):
        if len(ref) < 6:
            raise InputError(f"segment id {ref!r} is too short: give at least 6 characters")
        matches = [g.id for g in segs if g.id.startswith(ref)]
        if not matches:
            raise InputError(f"no segment {ref!r} in evidence #{evidence_id}")
        if len(matches) > 1:
            raise InputError(f"segment id prefix {ref!r} is ambiguous in evidence #{evidence_id}")
        out.append(matches[0])
    return out
