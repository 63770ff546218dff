"""``s2f composite CASE RUN``, ``s2f composite list|adjust|sliders``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from s2f_desktop.cli.output import StderrProgress, print_json, print_table
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.progress import Task
from s2f_desktop.services import cases
from s2f_desktop.services import composites as svc

if TYPE_CHECKING:
    from s2f_desktop.services.context import AppContext

CtxFactory = Callable[[], "AppContext"]


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "composite",
        help="render composite faces for an analysis run (illustrative; never an identification)",
        description="s2f composite CASE RUN [--views ...] [--out DIR] renders the composite set of a run; "
                    "s2f composite list|adjust|sliders inspect and edit it.",
    )
    p.add_argument("case", help="case number, or one of: list, adjust, sliders")
    p.add_argument("rest", nargs="*", help="RUN (create/list) or COMPOSITE_ID NAME=VALUE ... (adjust)")
    p.add_argument("--views", default=",".join(svc.VIEWS), help="comma-separated: front,three_quarter,profile")
    p.add_argument("--out", type=Path, help="also write the (marked) images into this folder; existing files are "
                   "refused unless --force")
    p.add_argument("--force", action="store_true", help="overwrite existing files in --out")
    p.add_argument("--ancestry", choices=list(svc.ANCESTRY_CHOICES), help="ancestry mix (default: neutral)")
    p.add_argument("--skin", choices=list(svc.SKIN_TONE_CHOICES), help="skin tone (default: medium)")
    p.add_argument("--size", type=int, default=512, help="image size in pixels (default 512)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    p.set_defaults(func=_dispatch)


def _dispatch(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    if args.case == "sliders":
        if args.rest:
            raise InputError("usage: s2f composite sliders [--json] (it takes no other argument)")
        return _sliders(args)
    if args.case == "list":
        return _list(ctx_factory, args)
    if args.case == "adjust":
        return _adjust(ctx_factory, args)
    return _create(ctx_factory, args)


def _run_id(ctx: AppContext, case_number: str, raw: list[str]) -> int:
    if len(raw) != 1:
        raise InputError("give exactly one analysis run id")
    try:
        run_id = int(raw[0].lstrip("#"))
    except ValueError:
        raise InputError(f"run id must be a number, got {raw[0]!r}") from None
    case = cases.get_case(ctx, case_number)
    from s2f_desktop.store import repositories as repo

    with ctx.store.read() as s:
        run = repo.get_run(s, run_id)
    if run.case_id != case.id:
        raise InputError(f"run #{run_id} does not belong to case {case_number}")
    return run_id


def _out_dir(ctx, out: Path) -> None:  # type: ignore[no-untyped-def]
    """The --out folder, checked (and created) before anything is rendered or stored: not a file, not inside the
    data directory, writable. A refusal is one line and leaves nothing behind."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the images")
    svc.check_export_path(ctx, out / "composite.png", force=True)  # the data directory is never written into
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {out} ({exc.strerror or exc.__class__.__name__})") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"cannot write into the folder {out} (not writable)")


def _show(ctx, items, out: Path | None, as_json: bool, force: bool = False) -> None:  # type: ignore[no-untyped-def]
    copied: dict[int, dict[str, str]] = {}
    if out is not None:
        # Every image leaves marked ("illustrative composite - not a likeness", case, id,
        # version): the stored, marked PNG is exported unchanged. All names are checked
        # before anything is written so that a refusal leaves no partial export.
        planned = [(c, view, out / f"composite-{c.id}-{c.kind}-{view}.png") for c in items for view in c.images]
        _out_dir(ctx, out)
        for _c, _view, dst in planned:
            svc.check_export_path(ctx, dst, force)
        for c, view, dst in planned:
            try:
                path, _sha = svc.export_composite_image(ctx, c.id, view, dst, force=force)
            except OSError as exc:  # a full or failing disk: one line, naming what was written before it
                done = sum(len(v) for v in copied.values())
                raise InputError(f"cannot write {dst} ({exc.strerror or exc.__class__.__name__}); {done} image(s) "
                                 "were written before it") from exc
            copied.setdefault(c.id, {})[view] = str(path)
    if as_json:
        print_json([{"composite": c, "files": copied.get(c.id, {})} for c in items])
        return
    print_table(["id", "kind", "v", "parent", "label", "front sha256"],
                [[c.id, c.kind, c.version, c.parent_id or "", c.label, c.image_sha256.get("front", "")[:16]]
                 for c in items])
    if out is not None:
        print(f"images written to {out}")
    if any(svc.is_sex_pair(c) for c in items):
        print("The sex is inconclusive: each composite is shown in both sexes (female and male versions); "
              "neither is the more likely one.")
    print("Composites are illustrative leads, not likenesses: skin, hair and eye colours and the hair style "
          "are not estimated from the voice. Every image carries this marking.")


def _create(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    ctx = ctx_factory()
    run_id = _run_id(ctx, args.case, args.rest)
    views = [v.strip() for v in args.views.split(",") if v.strip()]
    if args.out is not None:
        _out_dir(ctx, args.out)  # before the composites are stored: a bad folder stores nothing
    bar = StderrProgress()
    items = svc.create_composite_set(ctx, run_id, views=views, ancestry=args.ancestry, skin=args.skin,
                                     task=Task(bar), size=args.size)
    bar.done()
    try:
        _show(ctx, items, args.out, args.json, args.force)
    except InputError as exc:
        raise InputError(f"{exc}; the composites were stored (#{items[0].id}-#{items[-1].id}): write them with "
                         f"`s2f composite list {args.case} {run_id} --out DIR`") from None
    return 0


def _list(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    if len(args.rest) != 2:
        raise InputError("usage: s2f composite list CASE RUN")
    ctx = ctx_factory()
    run_id = _run_id(ctx, args.rest[0], args.rest[1:])
    _show(ctx, svc.list_composites(ctx, run_id), args.out, args.json, args.force)
    return 0


def _adjust(ctx_factory: CtxFactory, args: argparse.Namespace) -> int:
    if len(args.rest) < 2:
        raise InputError("usage: s2f composite adjust COMPOSITE_ID NAME=VALUE [NAME=VALUE ...]")
    try:
        cid = int(args.rest[0].lstrip("#"))
        pairs = [(k.strip(), float(v)) for k, v in (item.split("=", 1) for item in args.rest[1:])]
    except ValueError:
        raise InputError("adjustments are NAME=VALUE with a numeric value, e.g. nose_width=0.3") from None
    names = [k for k, _v in pairs]
    twice = next((k for k in names if names.count(k) > 1), None)
    if twice is not None:  # which value was meant? Not the last one silently.
        raise InputError(f"{twice} is given more than once; give each slider one value")
    changes = dict(pairs)
    ctx = ctx_factory()
    bar = StderrProgress()
    c = svc.adjust_composite(ctx, cid, changes, Task(bar))
    bar.done()
    _show(ctx, [c], args.out, args.json, args.force)
    return 0


def _sliders(args: argparse.Namespace) -> int:
    items = svc.list_adjustments()
    if args.json:
        print_json(items)
        return 0
    print_table(["name", "group", "label", "min", "max", "default"],
                [[a.name, a.group, a.label, a.minimum, a.maximum, a.default] for a in items])
    print(file=sys.stdout)
    return 0
