"""``s2f compare``: speaker comparison with calibrated likelihood ratios.

    s2f compare QUESTIONED KNOWN [--q-start S --q-end S --k-start S --k-end S] [--json]
    s2f compare CASE --questioned SEGMENTS --known SEGMENTS [--json]
    s2f compare --pairs PAIRS.tsv [--json]

SEGMENTS is ``ID,ID,...`` or ``speaker:LABEL`` (the case's accepted segments with that
speaker label). A case comparison is stored as a comparison run and audited. With
``--pairs`` each TSV line is ``questioned_path<TAB>known_path``; the output is one JSON
object per line in the same order, the models load once, and a line that fails carries
``"error"`` while the batch continues (exit code 3 if any failed).

The LR answers: how much more probable are these observations if the same speaker spoke
both (Hp) than if different speakers of the relevant population did (Hd)? It is not an
identification.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.args import seconds
from s2f_desktop.cli.output import StderrProgress, print_json
from s2f_desktop.core.comparison_results import BySide
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.jsonutil import to_jsonable
from s2f_desktop.core.progress import Task
from s2f_desktop.services import comparison as svc

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("compare", help="compare a questioned voice with a known voice (calibrated likelihood ratio)",
                       description="Forensic speaker comparison: GE2E embeddings, adaptive s-norm and a calibrated, "
                       "bounded likelihood ratio for Hp (same speaker) vs Hd (different speakers of the relevant "
                       "population), with its ENFSI 2015 verbal expression. Not an identification.")
    p.add_argument("inputs", nargs="*", metavar="QUESTIONED KNOWN | CASE",
                   help="two audio files, or one case number with --questioned and --known")
    p.add_argument("--questioned", metavar="SEGMENTS",
                   help="case segments of the questioned side: ID,ID,... or speaker:LABEL")
    p.add_argument("--known", metavar="SEGMENTS", help="case segments of the known side: ID,ID,... or speaker:LABEL")
    p.add_argument("--pairs", type=Path, metavar="PAIRS.tsv",
                   help="batch: questioned_path<TAB>known_path per line; relative paths are read from the pairs "
                        "file's folder")
    for side, name in (("q", "questioned"), ("k", "known")):
        p.add_argument(f"--{side}-start", type=seconds, help=f"start of the {name} file's range (seconds)")
        p.add_argument(f"--{side}-end", type=seconds, help=f"end of the {name} file's range (seconds)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where embeddings are computed (default auto: the GPU when usable, else the CPU)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_compare)


def _compare(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    if args.pairs is not None:
        ranges = (args.q_start, args.q_end, args.k_start, args.k_end)
        if args.inputs or args.questioned or args.known or any(r is not None for r in ranges):
            raise InputError("--pairs takes no other inputs (each pair is compared whole)")
        return _pairs(args)
    if args.questioned is not None or args.known is not None:
        if len(args.inputs) != 1 or not args.questioned or not args.known:
            raise InputError("a case comparison needs one CASE with both --questioned and --known")
        if any(r is not None for r in (args.q_start, args.q_end, args.k_start, args.k_end)):
            # Not silently ignored: a case side is its segments' ranges (edit or add segments instead).
            raise InputError("--q-start/--q-end/--k-start/--k-end apply to audio files; a case comparison uses "
                             "its segments' ranges (add a segment for another range)")
        return _case(ctx_factory, args)
    if len(args.inputs) != 2:
        raise InputError("give QUESTIONED and KNOWN audio files, or CASE --questioned ... --known ..., or --pairs FILE")
    bar = StderrProgress()
    notes: list[str] = []
    tel: list[bool] = []
    obj = svc.compare_files(Path(args.inputs[0]), Path(args.inputs[1]), args.q_start, args.q_end, args.k_start,
                            args.k_end, args.device, Task(bar), notes, tel)
    bar.done()
    for note in notes:  # on stderr: stdout stays the JSON contract
        print(f"s2f: note: {note}", file=sys.stderr)
    if args.json:
        print_json(obj)
    else:
        _print_human(obj, BySide(tel[0], tel[1]) if len(tel) == 2 else None)
    return 0


def _pairs(args: argparse.Namespace) -> int:
    pairs = svc.read_pairs(args.pairs)
    bar = StderrProgress()
    failed = 0
    notes: list[str] = []
    for obj in svc.compare_pairs(pairs, args.device, Task(bar), base=args.pairs.parent, notes=notes):
        for note in notes:  # a file's note once, when it is first read; on stderr
            print(f"s2f: note: {note}", file=sys.stderr)
        notes.clear()
        if "error" in obj:
            failed += 1
            if not args.json:
                print(f"s2f: error: {obj['questioned']['path']} / {obj['known']['path']}: {obj['error']}",
                      file=sys.stderr)
        if args.json:
            print(json.dumps(to_jsonable(obj), ensure_ascii=False), flush=True)
        elif "error" not in obj:
            _print_human(obj)
    bar.done()
    return 3 if failed else 0


def _case(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    ctx = ctx_factory()
    case = args.inputs[0]
    q = svc.resolve_segment_spec(ctx, case, args.questioned)
    k = svc.resolve_segment_spec(ctx, case, args.known)
    bar = StderrProgress()
    run = svc.compare_segments(ctx, case, q, k, device=args.device, task=Task(bar))
    bar.done()
    for note in run.results.notes:  # on stderr, as for files; stored with the comparison as well
        print(f"s2f: note: {note}", file=sys.stderr)
    obj = svc.comparison_to_dict(run)
    if args.json:
        print_json(obj)
    else:
        print(f"comparison #{run.id} stored in case {case}")
        # The case JSON has no ``at_bound`` key (its contract predates it); the stored results do.
        _print_human({**obj, "questioned": {"path": f"{len(q)} segment(s)", "speech_s": obj["speech_s"]["questioned"]},
                      "known": {"path": f"{len(k)} segment(s)", "speech_s": obj["speech_s"]["known"]},
                      "at_bound": run.results.at_bound},
                     telephone=BySide(run.results.quality.questioned.telephone_band,
                                      run.results.quality.known.telephone_band))
    return 0


def _print_human(obj: dict, telephone: BySide[bool] | None = None) -> None:  # type: ignore[type-arg]
    from s2f_desktop.report.comparison import channel_text, lr_text

    q, k = obj["questioned"], obj["known"]
    # "Speech compared", as the report says: the audio left after the speaker model's own silence trimming,
    # which can differ from the speech detector's net speech of an analysis of the same segments.
    print(f"questioned: {q['path']}  ({q['speech_s']:.1f} s of speech compared)")
    print(f"known:      {k['path']}  ({k['speech_s']:.1f} s of speech compared)")
    print(f"  Hp: {obj['hp']}")
    print(f"  Hd: {obj['hd']}")
    if obj["log10_lr"] is None:
        print(f"  no LR: the system abstains ({obj['abstain_reason']})")
    else:
        # The words of the GUI and the report (one formatter), so the three never state one LR two ways.
        bound = " (at the bound the validation supports)" if obj["at_bound"] else ""
        print(f"  {lr_text(obj['log10_lr'])}{bound}")
        print(f"  {obj['verbal']}  [{obj['scale']}]")
    print(f"  channel: {channel_text(obj['channel'], telephone)}")
    print(f"  model {obj['model']['id']} ({obj['model']['sha256'][:12]}), device {obj['device']}")
    print("  A likelihood ratio weighs the two propositions; it is not an identification.")
