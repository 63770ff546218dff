"""``s2f quality``: the speech quality gate for an evidence item or one segment."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.output import StderrProgress, print_json, print_table
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import SegmentStatus
from s2f_desktop.core.progress import Task
from s2f_desktop.services import audio as audio_svc
from s2f_desktop.services import evidence as evidence_svc
from s2f_desktop.services import segments as seg_svc

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("quality", help="net speech, SNR, clipping, bandwidth and level with a verdict")
    p.add_argument("case", help="case number")
    p.add_argument("evidence", help="evidence id, sha256 prefix or original file name")
    p.add_argument("--segment", action="append", metavar="ID",
                   help="assess this segment (repeatable: pooled); default: all accepted segments")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--vad", action="store_true",
                     help="find speech inside the segments with silero VAD, as the analysis does (the default)")
    how.add_argument("--energy", action="store_true",
                     help="use the faster energy detector instead (a quick look; the analysis's gate can differ)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    p.set_defaults(func=_quality)


def _quality(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    ctx = ctx_factory()
    ev = evidence_svc.resolve_evidence(ctx, args.case, args.evidence)
    if args.segment:
        ids = list(args.segment)
        for sid in ids:
            if seg_svc.get_segment(ctx, sid).evidence_id != ev.id:
                raise InputError(f"segment {sid} does not belong to evidence {ev.id}")
    else:
        ids = [g.id for g in seg_svc.list_segments(ctx, ev.id, [SegmentStatus.ACCEPTED])]
        if not ids:
            raise InputError(f"evidence {ev.id} has no accepted segments; add one or name --segment ID")
    bar = StderrProgress()
    report = audio_svc.segment_quality(ctx, ids, Task(bar), vad=not args.energy)
    bar.done()
    if args.json:
        print_json({"evidence_id": ev.id, "segments": ids, **report.to_dict()})
        return 0
    snr = "n/a" if report.snr_db is None else f"{report.snr_db:.1f} dB ({report.snr_method})"
    level = "n/a" if report.level_dbfs is None else f"{report.level_dbfs:.1f} dBFS"
    print_table(["metric", "value"], [
        ["speech found by", "energy detector (the analysis uses silero VAD)" if args.energy else "silero VAD"],
        ["segments", len(ids)],
        ["net speech", f"{report.net_speech_s:.2f} s of {report.duration_s:.2f} s"],
        ["SNR", snr],
        ["clipping", f"{report.clipping_fraction * 100:.3f} %"],
        ["bandwidth", f"{report.bandwidth_hz:.0f} Hz" + (" (telephone band)" if report.telephone_band else "")],
        ["level", level],
        ["verdict", report.verdict.upper()],
    ])
    for r in report.reasons:
        print(f"- {r}")
    return 0
