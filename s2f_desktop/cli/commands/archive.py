"""``s2f archive``: index an archive of recordings on Dask, search it for a voice, import a hit into a case.

    s2f archive index ROOT_OR_MANIFEST --out INDEX_DIR [--workers N | --scheduler tcp://HOST:PORT]
                      [--memory-limit 3GiB] [--retry-errors] [--device cpu|cuda|auto] [--json]
    s2f archive status INDEX_DIR [--json]
    s2f archive search INDEX_DIR --query FILE_OR_CASE_SEGMENTS [--sex male|female] [--age BIN ...]
                       [--min-quality ok|warn|insufficient] [--top K] [--json]
    s2f archive import INDEX_DIR --case CASE --sha256 SHA [--speaker N] [--no-segment]
    s2f archive compact INDEX_DIR

``--query`` is an audio file, or ``CASE:SEGMENTS`` where SEGMENTS is a comma-separated
list of segment ids of the case or ``accepted`` (every accepted segment). ``--json`` on
search prints one JSON object per hit, best first, with the stable keys ``path``,
``sha256``, ``speaker``, ``start_s``, ``end_s``, ``log10_lr``, ``verbal`` (and more), and
its notes on stderr. Ranking is an investigative lead: a hit is a recording worth listening
to, never an identification. The notes state how many speakers of an index this size would
reach LR > 1, > 10 and > 100 by chance (comparison-v1's cross-validation rates): a hit's LR
was cross-validated for one comparison, not for a database search.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from s2f_desktop.cli.args import memory_size, worker_count
from s2f_desktop.cli.output import print_json, print_table
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.jsonutil import to_jsonable
from s2f_desktop.core.progress import Task
from s2f_desktop.core.timeutil import fmt_clock
from s2f_desktop.core.traits import AGE_BINS

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]

_INDEX_HELP = "folder of an archive index (made by s2f archive index)"


def _on_index(asub: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, help_text: str,
              func: Callable[[CtxFactory, argparse.Namespace], int]) -> argparse.ArgumentParser:
    """An action on an existing index: INDEX_DIR first, handled by ``func``."""
    p = asub.add_parser(name, help=help_text)
    p.add_argument("index", type=Path, metavar="INDEX_DIR", help=_INDEX_HELP)
    p.set_defaults(func=func)
    return p


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("archive", help="index an archive of recordings (Dask) and search it for a voice",
                       description="Archive triage and speaker search. Indexing runs on a local Dask cluster or an "
                       "existing one; recordings are only read. Search results are leads, never identifications.")
    asub = p.add_subparsers(dest="archive_command", metavar="ACTION", required=True)

    ix = asub.add_parser("index", help="index (or resume indexing) a folder or manifest of recordings")
    ix.add_argument("source", type=Path, metavar="ROOT_OR_MANIFEST",
                    help="folder walked recursively, or a text/CSV manifest with one path per line")
    ix.add_argument("--out", type=Path, required=True, metavar="INDEX_DIR", help="index folder (created if needed)")
    ix.add_argument("--workers", type=worker_count, default=2,
                    help="local worker processes, one thread each (default 2; at most four per CPU core)")
    ix.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use an existing Dask cluster instead")
    ix.add_argument("--memory-limit", type=memory_size, default=None,
                    help="memory limit per local worker, e.g. 3GiB or 1500MB (default 3GiB)")
    ix.add_argument("--retry-errors", action="store_true", help="retry recordings that failed in earlier runs")
    ix.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                    help="inference device on the workers (default cpu: one core per worker)")
    ix.add_argument("--json", action="store_true", help="print the run summary as JSON")
    ix.set_defaults(func=_index)

    st = _on_index(asub, "status", "what an index holds, and the recordings that failed", _status)
    st.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")

    se = _on_index(asub, "search", "rank the archive's speakers against a query voice", _search)
    se.add_argument("--query", required=True, metavar="FILE_OR_CASE_SEGMENTS",
                    help="audio file, or CASE:ID,ID,... or CASE:accepted (segments of a case)")
    se.add_argument("--sex", choices=("male", "female"), help="only speakers the trait model labelled so")
    se.add_argument("--age", action="append", choices=AGE_BINS, default=[], metavar="BIN",
                    help="only speakers whose 80 %% age interval reaches into this band (repeatable; "
                         f"{', '.join(AGE_BINS)}); the model gives no validated band label")
    se.add_argument("--min-quality", choices=("ok", "warn", "insufficient"),
                    help="worst recording quality verdict accepted")
    se.add_argument("--top", type=int, default=20, help="number of hits (default 20)")
    se.add_argument("--include-query", action="store_true", help="keep the query's own recordings in the results")
    se.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                    help="where the query voice is embedded (default auto: the GPU when usable)")
    se.add_argument("--json", action="store_true",
                    help="one JSON object per hit, best first; the notes (chance hits, what was left out) on stderr")

    im = _on_index(asub, "import", "import a hit's recording into a case (audited; adds its segment)", _import)
    im.add_argument("--case", required=True, help="case number to import the hit into")
    im.add_argument("--sha256", required=True, help="the hit's sha256 (from search)")
    who = im.add_mutually_exclusive_group()
    who.add_argument("--voice", type=int, metavar="K",
                     help="the hit's voice as the search table shows it (voice K of the recording; default: 1)")
    who.add_argument("--speaker", type=int, metavar="N",
                     help="the hit's speaker group as --json gives it (0-based \"speaker\" key; default: 0)")
    im.add_argument("--no-segment", action="store_true", help="do not add the hit's time range as a segment")
    im.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")

    _on_index(asub, "compact", "merge the per-recording files of an index (faster search)", _compact)


class _Bar:
    """Progress line with rate and ETA (stderr, only on a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = ""

    def message(self, text: str) -> None:
        if self.tty:
            self._write(text)

    def __call__(self, p) -> None:  # type: ignore[no-untyped-def]
        if not self.tty:
            return
        eta = "--" if p.eta_s is None else fmt_clock(p.eta_s).split(".")[0]
        self._write(f"{p.done}/{p.total} recordings  {p.rate:.2f} rec/s  {p.audio_s / 3600:.2f} h audio  ETA {eta}")

    def _write(self, line: str) -> None:
        line = line[:110]
        sys.stderr.write("\r" + line.ljust(len(self.last)))
        sys.stderr.flush()
        self.last = line

    def done(self) -> None:
        if self.tty and self.last:
            sys.stderr.write("\n")
            self.last = ""


def _index(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    from s2f_desktop.core.errors import CancelledError
    from s2f_desktop.services import archive as svc

    bar = _Bar()

    def on_update(u) -> None:  # type: ignore[no-untyped-def]
        if u.message.startswith("Dask dashboard:"):
            bar.done()
            print(u.message, file=sys.stderr, flush=True)  # kept on screen while the run goes on
        else:
            bar.message(u.message)

    def on_progress(p) -> None:  # type: ignore[no-untyped-def]
        bar(p)

    task = Task(on_update)
    try:
        s = svc.index_archive(args.source, args.out, workers=args.workers, scheduler=args.scheduler,
                              memory_limit=args.memory_limit, retry_errors=args.retry_errors, device=args.device,
                              task=task,
                              on_progress=on_progress)
    except (KeyboardInterrupt, CancelledError):
        bar.done()
        print("s2f: archive indexing cancelled; every recording finished so far is kept in the index, "
              "and running the same command again resumes", file=sys.stderr)
        return 130
    bar.done()
    if args.json:
        print_json(s.to_dict())
        return 3 if s.errors else 0
    print(f"index {s.index_dir} (key {s.index_key})")
    print(f"  {s.total} recordings: {s.indexed} indexed ({s.no_speech} without speech), {s.skipped} already indexed "
          f"or unchanged, {s.errors} failed")
    if s.withdrawn:
        print(f"  {s.withdrawn} earlier entr{'y' if s.withdrawn == 1 else 'ies'} withdrawn: the file is gone or now "
              "holds other content (left out of searches; `s2f archive status` counts them)")
    if s.indexed and s.wall_s > 0:
        print(f"  {s.audio_s / 3600:.2f} h of audio in {s.wall_s:.0f} s on {s.workers} worker(s) "
              f"({s.audio_s / s.wall_s:.1f}x real time)")
    if s.dashboard:
        print(f"  Dask dashboard: {s.dashboard}")
    for e in s.error_samples:
        print(f"  failed: {e}")
    if s.errors > len(s.error_samples):
        print(f"  ... see `s2f archive status {s.index_dir}` for every failure")
    return 3 if s.errors else 0


def _status(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    from s2f_desktop.services import archive as svc

    st = svc.index_status(args.index)
    if args.json:
        print_json(st)
        return 0
    for key, k in st["keys"].items():
        print(f"key {key}: {k['recordings']} recordings ({k['audio_hours']:.2f} h), {k['speaker_rows']} speakers, "
              f"{k['no_speech']} without speech, {len(k['errors'])} failed"
              + (f", {k['withdrawn']} withdrawn (file gone or changed)" if k.get("withdrawn") else ""))
        for e in k["errors"]:
            print(f"  failed: {e['path']}: {e['error']}")
    if not st["keys"]:
        print("the index holds no recordings yet")
    return 0


def parse_query(ctx_factory: CtxFactory, text: str, device: str) -> Any:
    """``--query``: an existing audio file, or CASE:SEGMENTS."""
    from s2f_desktop.services import archive as svc

    if Path(text).is_file():
        return svc.query_from_file(text, device)
    if ":" not in text:
        raise InputError(f"--query {text}: no such file (for case segments write CASE:ID,ID or CASE:accepted)")
    case, segs = text.rsplit(":", 1)
    ctx = ctx_factory()
    if segs.strip() == "accepted":
        from s2f_desktop.services.analysis import accepted_segment_ids

        ids = accepted_segment_ids(ctx, case)
        if not ids:
            raise InputError(f"case {case} has no accepted segments")
    else:
        ids = [s.strip() for s in segs.split(",") if s.strip()]
    return svc.query_from_segments(ctx, case, ids, device)


def _search(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    from s2f_desktop.services import archive as svc

    q = parse_query(ctx_factory, args.query, args.device)
    res = svc.search_archive(args.index, q, sex=args.sex, age_bins=args.age, min_quality=args.min_quality,
                             top=args.top, include_query_recordings=args.include_query)
    if args.json:
        for h in res.hits:
            h = dict(h)
            h["scorer"] = res.scorer
            print(json.dumps(to_jsonable(h), ensure_ascii=False), flush=True)
        # The notes (chance hits at this index size, what was not searched) go beside the JSON, not into it.
        for n in res.notes:
            print(f"note: {n}", file=sys.stderr)
        return 0
    print(f"{len(res.hits)} hits of {res.candidates} speakers passing the filters ({res.searched_rows} rows); "
          f"{res.seconds * 1000:.0f} ms")
    print(f"scoring: {res.scorer}")
    from s2f_desktop.archive.search import voice_of

    rows = [[h["rank"], h["score"], "-" if h["log10_lr"] is None else f"{h['log10_lr']:+.2f}", h["verbal"] or "-",
             Path(h["path"]).name, voice_of(h), f"{h['start_s']:.1f}-{h['end_s']:.1f}",
             h["sex"]["label"], h["age"]["label"], h["quality"], h["sha256"][:12]] for h in res.hits]
    print_table(["#", "score", "log10 LR", "verbal", "recording", "voice", "longest turn s", "sex", "age", "quality",
                 "sha256"], rows)
    for n in res.notes:
        print(f"note: {n}")
    print("A hit is a recording worth listening to, an investigative lead, never an identification.")
    return 0


def _import(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    from s2f_desktop.services import archive as svc

    speaker = args.speaker
    if args.voice is not None:
        if args.voice < 1:
            raise InputError(f"--voice counts from 1 (voice 1 of the recording), got {args.voice}")
        speaker = args.voice - 1  # the table's "voice K" is the index's speaker group K-1
    r = svc.import_hit(ctx_factory(), args.case, args.index, args.sha256, speaker,
                       add_segment=not args.no_segment)
    if args.json:
        print_json({"evidence": r.evidence, "already_present": r.already_present, "segment": r.segment})
        return 0
    what = "already evidence" if r.already_present else "imported as evidence"
    print(f"{r.evidence.original_name}: {what} #{r.evidence.id} in case {args.case} (sha256 {r.evidence.sha256[:12]}…)")
    if r.segment is not None:
        print(f"  segment {r.segment.id} {r.segment.start_s:.2f}-{r.segment.end_s:.2f} s ({r.segment.label})")
    return 0


def _compact(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    from s2f_desktop.services import archive as svc

    n = svc.compact_index(args.index)
    print(f"merged {n} per-recording files")
    return 0
