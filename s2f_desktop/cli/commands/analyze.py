"""``s2f analyze``: voice analysis of files (no case) or of a case's selected segments.

    s2f analyze AUDIO... [--start SEC --end SEC] [--device auto|cpu|cuda] [--json] [--composite OUT.png [--force]]
    s2f analyze CASE --segments ID,ID,... [--device ...] [--json]
    s2f analyze CASE --group-speakers EVIDENCE [--segments ID,...] [--json]

With files: one AUDIO gives one JSON object; several give one JSON object per line, in
order; an unreadable file's line carries ``"error"`` and the batch continues (exit code 3
if any failed). With a case: the analysis is stored as a run and audited.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.args import seconds
from s2f_desktop.cli.output import StderrProgress, print_json
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.progress import Task
from s2f_desktop.core.traits import INCONCLUSIVE, TraitEstimate, age_limit_note
from s2f_desktop.report.language import fmt_probability
from s2f_desktop.services import analysis
from s2f_desktop.system.settings import DEVICES

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("analyze",
                       help="estimate speaker sex and age (with abstention) from audio files or case segments",
                       description="Voice analysis: speech detection, quality gate, speaker embedding, Praat measures "
                       "and calibrated sex/age estimates. Results are investigative leads, never identifications.")
    p.add_argument("inputs", nargs="+", metavar="AUDIO_OR_CASE",
                   help="audio files, or one case number with --segments / --group-speakers")
    p.add_argument("--segments", help="comma-separated segment ids of the case to analyse, or 'accepted' for "
                   "every accepted segment of the case (stores a run)")
    p.add_argument("--group-speakers", metavar="EVIDENCE",
                   help="group the evidence's speech segments (or --segments) by probable speaker; stores nothing")
    p.add_argument("--start", type=seconds, help="start of the range to analyse (seconds; files only)")
    p.add_argument("--end", type=seconds, help="end of the range to analyse (seconds; files only)")
    p.add_argument("--device", default="auto", choices=DEVICES,
                   help="where inference runs (default auto: the GPU when one is usable, else the CPU)")
    p.add_argument("--composite", type=Path, metavar="OUT.png",
                   help="also render the primary frontal composite for a single AUDIO (marked 'illustrative "
                   "composite - not a likeness'; both sexes side by side when the sex is inconclusive)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --composite file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_analyze)


def _ids(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def _analyze(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    if args.group_speakers:
        return _groups(ctx_factory, args)
    if args.segments is not None:
        return _case_run(ctx_factory, args)
    if args.composite and len(args.inputs) != 1:
        raise InputError("--composite needs exactly one AUDIO file")
    if args.composite:
        # Checked before the analysis: never an input, never the case data; a user's file only with --force.
        from s2f_desktop.system.settings import data_dir_in_force, load_settings

        importlib.import_module("s2f_desktop.services.composites").check_render_path(
            args.composite, args.force, data_dir_in_force(args.data_dir, load_settings()),
            [Path(p) for p in args.inputs])
    bar = StderrProgress()
    failed = 0
    refused = False  # a requested composite that was not drawn (input error: status 2)
    results = analysis.analyze_files([Path(p) for p in args.inputs], args.start, args.end, args.device, Task(bar))
    for fa in results:
        bar.done()
        if isinstance(fa, analysis.FileError):
            failed += 1
            if not args.json:
                print(f"s2f: error: {fa.path}: {fa.error}", file=sys.stderr)
        if isinstance(fa, analysis.FileAnalysis):
            for note in fa.notes:  # on stderr: stdout stays the JSON contract
                print(f"s2f: note: {note}", file=sys.stderr)
        if args.json:
            print(json.dumps(analysis.file_json(fa), ensure_ascii=False), flush=True)
        elif isinstance(fa, analysis.FileAnalysis):
            _print_human(fa)
        if args.composite and isinstance(fa, analysis.FileAnalysis):
            # Imported here: rendering pulls in the 3D face stack, which plain analysis does not need.
            composites = importlib.import_module("s2f_desktop.services.composites")
            # The renderer's GPU toolkit (NVIDIA Warp) prints its banner on stdout; keep stdout pure JSON.
            traits = fa.analysis.pooled.traits
            if traits.gate_reason:
                # Nothing to depict: the estimate's numbers are not findings (services.composites refuses).
                print(f"s2f: error: composite not rendered: the analysis abstained on sex and age "
                      f"({traits.gate_reason})", file=sys.stderr)
                refused = True
                continue
            with contextlib.redirect_stdout(sys.stderr):
                out = composites.render_primary_for_traits(traits, args.composite, force=args.force,
                                                           reference=f"audio sha256 {fa.sha256[:12]}")
            both = " (sex inconclusive: female and male side by side)" if traits.sex.label == "inconclusive" else ""
            print(f"composite: {out}{both}", file=sys.stderr)
    return 3 if failed else 2 if refused else 0


def trait_lines(traits: TraitEstimate) -> list[str]:
    """The sex and age lines of the text output, worded as the GUI and the report word them: numbers of an
    estimate the gate stopped are for the record only, and a run where nothing was measured shows none."""
    sex, age = traits.sex, traits.age
    lo, hi = age.interval_80
    gate = traits.gate_reason
    if gate and not traits.measured:
        return [f"  sex and age: inconclusive  [{gate}]; nothing could be measured, no estimate exists"]
    if gate:
        return [f"  sex and age: inconclusive  [{gate}]",
                f"  for the record only, not findings: P(male) = {fmt_probability(sex.p_male)}; age median "
                f"{age.median_years:.0f} y, 80 % interval {lo:.0f}-{hi:.0f} y"]
    band = "" if age.label == INCONCLUSIVE else f"{age.label}, "
    lines = [f"  sex: {sex.label}  P(male) = {fmt_probability(sex.p_male)}"
             + (f"  [{sex.reason}]" if sex.reason else ""),
             f"  age: {band}median {age.median_years:.0f} y, 80 % interval {lo:.0f}-{hi:.0f} y"
             + ("  (no age band stated)" if age.label == INCONCLUSIVE else "")]
    base = traits.extra.get("age_baseline")
    if "age_p_40_plus" in traits.extra and isinstance(base, dict):
        # As the GUI and the report show it: the answer beside what always answering the training median gives.
        b_lo, b_hi = base["interval_80_years"]
        lines.append(f"       P(40 or over) = {float(traits.extra['age_p_40_plus']):.2f}; baseline (always the "
                     f"training median): {float(base['median_years']):.0f} y, 80 % interval {b_lo:.0f}-{b_hi:.0f} y, "
                     f"P(40 or over) {float(base['p_40_plus']):.2f}")
    limit = age_limit_note(age, traits.extra)
    if limit:
        lines.append(f"       {limit}")
    return lines


def _print_human(fa: analysis.FileAnalysis) -> None:
    pooled = fa.analysis.pooled
    q, ac = pooled.quality, pooled.acoustics.measures
    print(f"{fa.path}  sha256 {fa.sha256}")
    print(f"  speech {pooled.speech_s:.1f} s of {fa.range_s[1] - fa.range_s[0]:.1f} s; quality {q.verdict.value}"
          + (f" ({'; '.join(q.reasons)})" if q.reasons else ""))
    for line in trait_lines(pooled.traits):
        print(line)
    f0, p5, p95, hnr = (ac[k].value for k in ("f0_median", "f0_p5", "f0_p95", "hnr"))
    if f0 is not None and p5 is not None and p95 is not None:
        print(f"  F0 median {f0:.0f} Hz (5-95 %: {p5:.0f}-{p95:.0f} Hz), "
              f"HNR {hnr if hnr is not None else float('nan'):.1f} dB")
    print(f"  model {pooled.traits.model_id} ({pooled.traits.model_sha256[:12]}), device {fa.device}")


def _case_run(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    if len(args.inputs) != 1:
        raise InputError("with --segments give exactly one case number")
    ignored = [flag for flag, given in (("--start", args.start is not None), ("--end", args.end is not None),
                                        ("--composite", args.composite is not None)) if given]
    if ignored:
        # Not silently ignored: a case run analyses its segments' ranges and makes composites with `s2f composite`.
        raise InputError(f"{'/'.join(ignored)} apply to audio files; a case run analyses its segments' ranges "
                         "(composites of a run: `s2f composite CASE RUN`)")
    ids = _ids(args.segments)
    if ids == ["accepted"]:
        ids = analysis.accepted_segment_ids(ctx_factory(), args.inputs[0])
        if not ids:
            raise InputError(f"case {args.inputs[0]} has no accepted segments; accept or add some with `s2f segments`")
    if not ids:
        raise InputError("--segments needs at least one segment id")
    bar = StderrProgress()
    run = analysis.analyze_selection(ctx_factory(), args.inputs[0], ids, device=args.device, task=Task(bar))
    bar.done()
    for note in run.results.notes:  # on stderr, as for files; stored with the run as well
        print(f"s2f: note: {note}", file=sys.stderr)
    if args.json:
        print_json(analysis.run_json(run))
        return 0
    pooled = run.results.pooled
    print(f"analysis run #{run.id} over {len(run.segment_ids)} segment(s); quality {pooled.quality.verdict.value}")
    for line in trait_lines(pooled.traits):
        print(line)
    cons = run.results.consistency
    if cons and cons.flagged:
        print(f"  possible second speaker in: {', '.join(cons.flagged)}")
    return 0


def _groups(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    from s2f_desktop.core.models import SegmentStatus
    from s2f_desktop.services import evidence as evidence_svc
    from s2f_desktop.services import segments as seg_svc

    if len(args.inputs) != 1:
        raise InputError("with --group-speakers give exactly one case number")
    ctx = ctx_factory()
    ev = evidence_svc.resolve_evidence(ctx, args.inputs[0], args.group_speakers)
    ids = _ids(args.segments) or [s.id for s in seg_svc.list_segments(ctx, ev.id)
                                  if s.status is not SegmentStatus.REJECTED]
    if not ids:
        raise InputError(f"evidence #{ev.id} has no segments; run `s2f segments {args.inputs[0]} {ev.id} --vad` first")
    bar = StderrProgress()
    groups, not_judged = analysis.speaker_groups(ctx, ev.id, ids, device=args.device, task=Task(bar))
    bar.done()
    if args.json:
        print_json({"evidence_id": ev.id, "groups": groups, "not_judged": not_judged})
    else:
        for i, g in enumerate(groups, 1):
            print(f"speaker group {i}: {len(g)} segment(s): {', '.join(g)}")
        if not_judged:
            print(f"not judged (too little speech to compare): {len(not_judged)} segment(s): "
                  f"{', '.join(not_judged)}")
    return 0
