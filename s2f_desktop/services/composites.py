"""Composite faces: create the composite set for a run, analyst edits, listing.

A composite set shows what the voice says *and how sure it is*: the primary
composite depicts the median traits, two variants show the ends of the 80 % age
interval, and a composite of the other sex is added when that sex's probability
exceeds :data:`OTHER_SEX_THRESHOLD`. Every parameter is recorded with its origin
(voice, analyst or default); skin, hair and eye colours and the hair style are
flagged illustrative. Analyst edits create new versions (``parent_id`` = the
source); the voice-derived versions are never changed.

Rendering needs torch (anny); it is imported lazily so that listing composites does
not load it. ``face.adjustments`` and ``face.choices`` are plain data modules (no
torch), imported at module level so the GUI can build its sliders and selectors.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any, Sequence

from s2f_desktop.core.errors import InputError, NotFoundError
from s2f_desktop.core.models import AnalysisRun, Composite
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.core.traits import INCONCLUSIVE, TraitEstimate
from s2f_desktop.face.adjustments import ADJUSTMENTS, BY_NAME, Adjustment
from s2f_desktop.face.appearance import VIEWS as VIEW_ANGLES
from s2f_desktop.face.choices import (
    ANCESTRY_CHOICES,
    DEFAULT_ANCESTRY,
    DEFAULT_SKIN_TONE,
    OTHER_SEX_THRESHOLD,
    SKIN_TONE_CHOICES,
)
from s2f_desktop.services.cases import require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import codec
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event

__all__ = [
    "ADJUSTMENTS", "ANCESTRY_CHOICES", "DEFAULT_ANCESTRY", "DEFAULT_SKIN_TONE", "KINDS", "OTHER_SEX_THRESHOLD",
    "SKIN_TONE_CHOICES", "VIEWS", "Adjustment", "adjust_composite", "composite_image_path", "create_composite_set",
    "list_adjustments", "list_composites", "plan_composite_set", "render_primary_for_traits",
]

VIEWS = tuple(VIEW_ANGLES)
KINDS = ("primary", "age_low", "age_high", "other_sex", "analyst_edit")


def list_adjustments() -> list[Adjustment]:
    """The analyst sliders (name, label, group, bounds, default) in display order."""
    return list(ADJUSTMENTS)


# ------------------------------------------------------------------- case rules
def _open_run(s: Any, run_id: int) -> AnalysisRun:
    """The run, if its case is open (a closed case accepts no new composites)."""
    run = repo.get_run(s, run_id)
    require_open(repo.get_case_by_id(s, run.case_id))
    return run


# ------------------------------------------------------------------- set planning
def _sex_phrase(sex: str, p: float) -> str:
    return f"{sex} (p={p:.2f})"


def plan_composite_set(traits: TraitEstimate, ancestry: str | dict[str, float] | None = None,
                       skin: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, label, parameters) for each composite of the set, primary first.

    Pure bookkeeping plus anny's age mapping; nothing is rendered.
    """
    mapping = importlib.import_module("s2f_desktop.face.mapping")
    p_male = min(1.0, max(0.0, float(traits.sex.p_male)))
    sex = "male" if p_male >= 0.5 else "female"
    other = "female" if sex == "male" else "male"
    p_sex = p_male if sex == "male" else 1.0 - p_male
    p_other = round(1.0 - p_sex, 9)  # 1 - 0.9 must compare as 0.1
    med = float(traits.age.median_years)
    lo, hi = (float(traits.age.interval_80[0]), float(traits.age.interval_80[1]))
    lo, hi = min(lo, med), max(hi, med)
    sex_inc = " - sex inconclusive" if traits.sex.label == INCONCLUSIVE else ""
    age_inc = " - age inconclusive" if traits.age.label == INCONCLUSIVE else ""
    interval = f"80 % interval {lo:.0f}-{hi:.0f}"

    def params(s: str, age: float, sex_note: str, age_note: str) -> dict[str, Any]:
        try:
            built: dict[str, Any] = mapping.build_parameters(sex=s, age_years=age, sex_note=sex_note,
                                                             age_note=age_note, ancestry=ancestry, skin=skin)
            return built
        except ValueError as exc:
            raise InputError(str(exc)) from exc

    plan = [("primary", f"Primary: {_sex_phrase(sex, p_sex)}, age {med:.0f} ({interval}){sex_inc}{age_inc}",
             params(sex, med, f"more probable sex, p={p_sex:.2f}", "median of the voice age estimate"))]
    plan.append(("age_low", f"Younger end: {_sex_phrase(sex, p_sex)}, age {lo:.0f} (lower end of the {interval})",
                 params(sex, lo, f"more probable sex, p={p_sex:.2f}", "lower end of the 80 % age interval")))
    plan.append(("age_high", f"Older end: {_sex_phrase(sex, p_sex)}, age {hi:.0f} (upper end of the {interval})",
                 params(sex, hi, f"more probable sex, p={p_sex:.2f}", "upper end of the 80 % age interval")))
    if p_other > OTHER_SEX_THRESHOLD:
        plan.append(("other_sex", f"Other sex: {_sex_phrase(other, p_other)}, age {med:.0f} ({interval})",
                     params(other, med, f"less probable sex, p={p_other:.2f} > {OTHER_SEX_THRESHOLD:.2f}",
                            "median of the voice age estimate")))
    return plan


# ----------------------------------------------------------------------- storage
def _store_image(ctx: AppContext, data: bytes) -> tuple[str, str]:
    """Write PNG bytes content-addressed; returns (relpath, sha256)."""
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{sha[:2]}/{sha}.png"
    path = ctx.store.layout.composites / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return rel, sha


def _render(params: dict[str, Any], views: Sequence[str], size: int, device: str, task: Task) -> dict[str, bytes]:
    composite = importlib.import_module("s2f_desktop.face.composite")
    pngs: dict[str, bytes] = composite.render_parameters(params, tuple(views), size=size, device=device, task=task)
    return pngs


def _check_views(views: Sequence[str]) -> tuple[str, ...]:
    views = tuple(dict.fromkeys(views))
    bad = [v for v in views if v not in VIEWS]
    if bad or not views:
        raise InputError(f"unknown view(s) {', '.join(bad) or '(none)'}; choose from {', '.join(VIEWS)}")
    return views


def _render_record(size: int, device: str) -> dict[str, dict[str, Any]]:
    return {
        "render.size_px": {"value": size, "origin": "analyst", "note": "image size", "illustrative": False},
        "render.device": {"value": device, "origin": "default", "note": "compute device used to render",
                          "illustrative": False},
    }


def _device(ctx: AppContext) -> str:
    pref = getattr(ctx.settings, "device", "auto") or "auto"
    if pref == "cpu":
        return "cpu"
    return str(importlib.import_module("s2f_desktop.inference.device").resolve_device(pref).torch_device)


def create_composite_set(ctx: AppContext, run_id: int, views: Sequence[str] = VIEWS,
                         ancestry: str | dict[str, float] | None = None, skin: str | None = None,
                         task: Task | None = None, size: int = 512) -> list[Composite]:
    """Render and store the composite set for an analysis run (primary first)."""
    task = task or null_task()
    views = _check_views(views)
    if size < 64 or size > 4096:
        raise InputError("composite size must be between 64 and 4096 px")
    with ctx.store.read() as s:
        run = _open_run(s, run_id)
    plan = plan_composite_set(run.results.pooled.traits, ancestry, skin)
    device = _device(ctx)
    rendered = []
    for i, (kind, label, params) in enumerate(plan):
        sub = task.sub(i / len(plan), (i + 1) / len(plan))
        sub.progress(0.0, f"composite {i + 1}/{len(plan)}: {kind}")
        pngs = _render(params, views, size, device, sub)
        rendered.append((kind, label, params, pngs))
    out: list[Composite] = []
    with ctx.store.write() as s:
        _open_run(s, run.id)  # the case may have been closed while rendering
        for kind, label, params, pngs in rendered:
            images, shas = {}, {}
            for view, data in pngs.items():
                images[view], shas[view] = _store_image(ctx, data)
            record = codec.decode_params({**params, **_render_record(size, device)})
            c = repo.add_composite(s, run.id, kind, label, record, images, shas, ctx.actor)
            append_event(s, case_id=run.case_id, actor=ctx.actor, action="composite.create", object_type="composite",
                         object_ids=[c.id], details={"run_id": run.id, "kind": kind, "label": label,
                                                     "image_sha256": shas, "device": device})
            out.append(c)
    task.progress(1.0, f"{len(out)} composites")
    return out


def adjust_composite(ctx: AppContext, composite_id: int, changes: dict[str, float],
                     task: Task | None = None) -> Composite:
    """A new composite version with slider changes (origin ``analyst``); the source stays as it was.

    Unknown slider names and values outside a slider's bounds raise InputError.
    """
    task = task or null_task()
    if not changes:
        raise InputError("no adjustment given")
    with ctx.store.read() as s:
        src = repo.get_composite(s, composite_id)
        run = _open_run(s, src.run_id)
        siblings = repo.list_composites(s, src.run_id)
    params = codec.encode_params(src.parameters)  # the face renderer's form, edited below
    applied: dict[str, dict[str, float]] = {}
    for name, value in changes.items():
        adj = BY_NAME.get(name)
        if adj is None:
            raise InputError(f"unknown adjustment {name!r}; see `s2f composite sliders`")
        try:
            v = adj.validate(value)
        except (TypeError, ValueError) as exc:
            raise InputError(str(exc)) from exc
        key = f"adjust.{name}"
        old = float(src.parameters[key].value) if key in src.parameters else adj.default
        params[key] = {"value": v, "origin": "analyst", "note": adj.label, "illustrative": False}
        applied[name] = {"old": old, "new": v}
    size = int(src.parameters["render.size_px"].value)
    device = "cpu" if src.parameters["render.device"].value == "cpu" else _device(ctx)
    params.update(_render_record(size, device))
    views = tuple(v for v in VIEWS if v in src.images) or ("front",)
    pngs = _render(params, views, size, device, task)
    root_kind = src.kind if src.kind != "analyst_edit" else str(src.parameters["source_kind"].value)
    params["source_kind"] = {"value": root_kind, "origin": "analyst", "note": "kind of the composite first edited",
                             "illustrative": False}
    version = 1 + max((c.version for c in siblings), default=0)
    label = f"Analyst edit v{version} of composite #{src.id} ({root_kind}): " + ", ".join(
        f"{BY_NAME[n].label} {d['new']:+.2f}" for n, d in applied.items())
    with ctx.store.write() as s:
        _open_run(s, run.id)
        images, shas = {}, {}
        for view, data in pngs.items():
            images[view], shas[view] = _store_image(ctx, data)
        c = repo.add_composite(s, src.run_id, "analyst_edit", label, codec.decode_params(params), images, shas,
                               ctx.actor, parent_id=src.id, version=version)
        append_event(s, case_id=run.case_id, actor=ctx.actor, action="composite.adjust", object_type="composite",
                     object_ids=[c.id, src.id], details={"parent_id": src.id, "changes": applied,
                                                         "image_sha256": shas})
    return c


def list_composites(ctx: AppContext, run_id: int) -> list[Composite]:
    """Every composite of a run, oldest first (NotFoundError if the run does not exist)."""
    with ctx.store.read() as s:
        repo.get_run(s, run_id)
        return repo.list_composites(s, run_id)


def get_composite(ctx: AppContext, composite_id: int) -> Composite:
    """One composite by id."""
    with ctx.store.read() as s:
        return repo.get_composite(s, composite_id)


def composite_image_path(ctx: AppContext, composite: Composite, view: str = "front") -> Path:
    """Where a composite's image for ``view`` is stored."""
    rel = composite.images.get(view)
    if rel is None:
        raise NotFoundError(f"composite #{composite.id} has no {view} view "
                            f"(has: {', '.join(composite.images) or 'none'})")
    return ctx.store.layout.composites / rel


def render_primary_for_traits(traits: TraitEstimate, out_png: Path, size: int = 512, view: str = "front",
                              device: str = "cpu") -> Path:
    """Render the primary composite for ``traits`` to ``out_png`` (no case store involved)."""
    _check_views([view])
    kind, label, params = plan_composite_set(traits)[0]
    data = _render(params, (view,), size, device, null_task())[view]
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    out_png.write_bytes(data)
    return out_png
