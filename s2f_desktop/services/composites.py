"""Composite faces: create the composite set for a run, analyst edits, listing, export.

A composite set shows what the voice says *and how sure it is*: the primary
composite depicts the median traits, two variants show the ends of the 80 % age
interval, and a composite of the other sex is added when that sex's probability
exceeds :data:`OTHER_SEX_THRESHOLD`. When the sex is inconclusive no sex is chosen:
every composite of the set is rendered in both sexes, shown side by side. Every
parameter is recorded with its origin (voice, analyst or default); skin, hair and eye
colours and the hair style are flagged illustrative. Analyst edits create new versions
(``parent_id`` = the source); the voice-derived versions are never changed.

Every image is stored with its marking burned in (``report.marking``: "illustrative
composite - not a likeness", case, composite id, version, view); the recorded sha256
is that of the marked image, and exports copy it unchanged (or mark images stored
before marking existed). Exports never overwrite an existing file unless forced.

Rendering needs torch (anny); it is imported lazily so that listing composites does
not load it. ``face.adjustments`` and ``face.choices`` are plain data modules (no
torch), imported at module level so the GUI can build its sliders and selectors.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from s2f_desktop.core.errors import InputError, NotFoundError
from s2f_desktop.core.models import AnalysisRun, Composite, CompositeParam
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
from s2f_desktop.report.language import fmt_probability as _prob  # the report's digits
from s2f_desktop.report.marking import (
    MARK_VERSION,
    MarkInfo,
    MarkingError,
    is_marked,
    mark_image,
    side_by_side,
    verify_marking,
)
from s2f_desktop.services.cases import require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import codec, custody
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event

__all__ = [
    "ADJUSTMENTS", "ANCESTRY_CHOICES", "DEFAULT_ANCESTRY", "DEFAULT_SKIN_TONE", "KINDS", "OTHER_SEX_THRESHOLD",
    "SKIN_TONE_CHOICES", "VIEWS", "Adjustment", "adjust_composite", "composite_image_path", "create_composite_set",
    "export_composite_image", "is_sex_pair", "list_adjustments", "list_composites", "mark_info", "marked_image_bytes",
    "plan_composite_set", "preview_composite", "refuse_existing", "check_export_path", "render_primary_for_traits",
    "sex_pair", "verify_composite_image",
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
    # The report's digits (three, four near 0 or 1): two digits printed 0.9975 as "p=1.00", read as certainty.
    return f"{sex} (p={_prob(p)})"


def plan_composite_set(traits: TraitEstimate, ancestry: str | dict[str, float] | None = None,
                       skin: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, label, parameters) for each composite of the set, primary first.

    Pure bookkeeping plus anny's age mapping; nothing is rendered. Refused when the analysis
    abstained on both traits before any head's answer counted (:attr:`TraitEstimate.gate_reason`):
    a face drawn from numbers that are not findings would still look like one.
    """
    if traits.gate_reason:
        raise InputError(f"no composites: the analysis abstained on sex and age ({traits.gate_reason}); "
                         "a composite would depict numbers that are not findings")
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
    # An estimate without a band label still has its median and interval (the answer the card validates).
    age_inc = " - no age band" if traits.age.label == INCONCLUSIVE else ""
    interval = f"80 % interval {lo:.0f}-{hi:.0f}"

    def shown(age: float, context: str) -> str:
        """"age N (context)": the age a composite depicts, and why when it is not the estimate's."""
        depicted = mapping.depicted_age(age)
        if round(depicted) == round(age):
            return f"age {age:.0f} ({context})"
        return (f"age {depicted:.0f} ({context}; the estimate's {age:.0f} y lies outside the {mapping.MIN_AGE:g}-"
                f"{mapping.MAX_AGE:g} y a composite depicts)")

    def params(s: str, age: float, sex_note: str, age_note: str) -> dict[str, Any]:
        try:
            built: dict[str, Any] = mapping.build_parameters(sex=s, age_years=age, sex_note=sex_note,
                                                             age_note=age_note, ancestry=ancestry, skin=skin)
            return built
        except ValueError as exc:
            raise InputError(str(exc)) from exc

    if traits.sex.label == INCONCLUSIVE:
        return _plan_both_sexes(p_male, med, lo, hi, interval, age_inc, params, shown)
    plan = [("primary", f"Primary: {_sex_phrase(sex, p_sex)}, {shown(med, interval)}{sex_inc}{age_inc}",
             params(sex, med, f"more probable sex, p={_prob(p_sex)}", "median of the voice age estimate"))]
    plan.append(("age_low", f"Younger end: {_sex_phrase(sex, p_sex)}, {shown(lo, f'lower end of the {interval}')}",
                 params(sex, lo, f"more probable sex, p={_prob(p_sex)}", "lower end of the 80 % age interval")))
    plan.append(("age_high", f"Older end: {_sex_phrase(sex, p_sex)}, {shown(hi, f'upper end of the {interval}')}",
                 params(sex, hi, f"more probable sex, p={_prob(p_sex)}", "upper end of the 80 % age interval")))
    if p_other > OTHER_SEX_THRESHOLD:
        plan.append(("other_sex", f"Other sex: {_sex_phrase(other, p_other)}, {shown(med, interval)}",
                     params(other, med, f"less probable sex, p={_prob(p_other)} > {OTHER_SEX_THRESHOLD:.2f}",
                            "median of the voice age estimate")))
    return plan


#: Order of the two sexes when the sex is inconclusive: fixed, never by probability,
#: so that the layout itself does not suggest a choice.
BOTH_SEXES = ("female", "male")
#: Parameter recording that a composite is one of a pair shown because the sex is inconclusive.
PAIR_KEY = "composite.pair"


def _plan_both_sexes(p_male: float, med: float, lo: float, hi: float, interval: str, age_inc: str,
                     params: Any, shown: Callable[[float, str], str]) -> list[tuple[str, str, dict[str, Any]]]:
    """The set when the sex is inconclusive: every composite in both sexes, side by side.

    Choosing the more probable sex would present a guess the model declined to make
    (an inconclusive male voice once came out as one long-haired female face). Each
    pair shares kind and age and differs only in sex; the female version comes first
    in every pair whatever the probabilities.
    """
    probs = {"male": p_male, "female": round(1.0 - p_male, 9)}
    steps = (("primary", "Primary", med, f"{shown(med, interval)}{age_inc}", "median of the voice age estimate"),
             ("age_low", "Younger end", lo, shown(lo, f"lower end of the {interval}"),
              "lower end of the 80 % age interval"),
             ("age_high", "Older end", hi, shown(hi, f"upper end of the {interval}"),
              "upper end of the 80 % age interval"))
    plan: list[tuple[str, str, dict[str, Any]]] = []
    for kind, head, age, age_text, age_note in steps:
        for sx in BOTH_SEXES:
            p = params(sx, age, f"sex inconclusive: {sx} version shown beside the other sex, p={_prob(probs[sx])}",
                       age_note)
            p[PAIR_KEY] = {"value": "sex_inconclusive", "origin": "voice", "illustrative": False,
                           "note": "the voice's sex is inconclusive: both sexes are rendered, side by side"}
            plan.append((kind, f"{head} (sex inconclusive, both sexes shown): {_sex_phrase(sx, probs[sx])}, "
                               f"{age_text}", p))
    return plan


def _value(p: Any) -> Any:
    """A parameter's value, from a stored (typed) parameter or a planned (renderer-form) one."""
    if isinstance(p, CompositeParam):
        return p.value
    if isinstance(p, dict):
        return p.get("value")
    return p


def is_sex_pair(composite: Composite) -> bool:
    """Whether a composite is one half of an inconclusive-sex pair (show it beside its partner)."""
    return bool(_value(composite.parameters.get(PAIR_KEY)) == "sex_inconclusive")


def _sex_of(c: Composite) -> str:
    return str(_value(c.parameters.get("sex")))


def sex_pair(composite: Composite, siblings: Sequence[Composite]) -> list[Composite]:
    """The inconclusive-sex pair a composite belongs to, female first; ``[composite]`` if none.

    The partner of a composite of the set is the composite of the same run, kind and
    age with the other sex (the set stores each pair female, male). An analyst edit is
    paired with the voice-derived partner of the composite it was derived from.
    """
    if not is_sex_pair(composite):
        return [composite]
    by_id = {c.id: c for c in siblings}
    base = composite
    while base.parent_id is not None and base.parent_id in by_id:
        base = by_id[base.parent_id]
    other = "male" if _sex_of(composite) == "female" else "female"
    cands = [c for c in siblings if c.id != base.id and c.parent_id is None and is_sex_pair(c)
             and c.kind == base.kind and _sex_of(c) == other
             and _value(c.parameters.get("age_years")) == _value(base.parameters.get("age_years"))]
    if not cands:
        return [composite]
    partner = min(cands, key=lambda c: abs(c.id - base.id))
    return sorted([composite, partner], key=lambda c: BOTH_SEXES.index(_sex_of(c)))


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


# ------------------------------------------------------------ marking and export
def _mark_note(params: Mapping[str, Any]) -> str:
    """The extra remark of an image's bottom band (which sex, when both are shown)."""
    if _value(params.get(PAIR_KEY)) == "sex_inconclusive":
        return f"Sex inconclusive: {_value(params.get('sex'))} version, one of a female/male pair"
    return ""


def mark_info(case_number: str, composite: Composite, view: str) -> MarkInfo:
    """What the marking of a stored composite's ``view`` image says."""
    return MarkInfo(case_number, composite.id, composite.version, view, _mark_note(composite.parameters))


def _store_marked(ctx: AppContext, s: Any, case_number: str, composite: Composite,
                  pngs: dict[str, bytes]) -> Composite:
    """Burn the marking into each rendered view, store it and record its sha256.

    The marking names the composite's id, so the row is created first (without images)
    and the marked images are attached in the same transaction.
    """
    images, shas = {}, {}
    for view, data in pngs.items():
        marked = mark_image(data, mark_info(case_number, composite, view))
        images[view], shas[view] = _store_image(ctx, marked)
    return repo.attach_composite_images(s, composite.id, images, shas)


def _marking_record() -> dict[str, dict[str, Any]]:
    return {"render.marking": {"value": MARK_VERSION, "origin": "default", "illustrative": False,
                               "note": "marking burned into every stored image: 'illustrative composite - not a "
                                       "likeness', case, composite id, version and view"}}


def _case_number(ctx: AppContext, run_id: int) -> str:
    with ctx.store.read() as s:
        return repo.get_case_by_id(s, repo.get_run(s, run_id).case_id).number


def marked_image_bytes(ctx: AppContext, composite: Composite, view: str = "front") -> bytes:
    """The image of ``view`` as it may leave the application: always marked.

    Images stored by this version carry their marking and are returned as stored
    (after checking them against the recorded sha256). Composites stored before images
    were marked (no ``render.marking`` record) are marked now, on the copy; the store
    is not changed. Raises InputError if the stored image is missing or altered.
    """
    path = composite_image_path(ctx, composite, view)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"composite #{composite.id} {view} image cannot be read: {exc}") from exc
    recorded = composite.image_sha256.get(view)
    if recorded and hashlib.sha256(data).hexdigest() != recorded:
        raise InputError(f"composite #{composite.id} {view} image does not match its recorded sha256; not exported")
    if is_marked(composite.parameters):
        return data
    try:
        return mark_image(data, mark_info(_case_number(ctx, composite.run_id), composite, view))
    except MarkingError as exc:
        raise InputError(f"composite #{composite.id} {view} image cannot be marked: {exc}") from exc


def verify_composite_image(ctx: AppContext, composite: Composite, view: str = "front") -> list[str]:
    """Problems with a stored composite image: sha256 against the store, marking against a fresh render."""
    path = composite_image_path(ctx, composite, view)
    if not path.is_file():
        return [f"{path} is missing"]
    data = path.read_bytes()
    problems = []
    if hashlib.sha256(data).hexdigest() != composite.image_sha256.get(view):
        problems.append("sha256 differs from the store")
    if not is_marked(composite.parameters):
        problems.append("stored before images were marked (marked only when exported)")
    else:
        problems += verify_marking(data, mark_info(_case_number(ctx, composite.run_id), composite, view))
    return problems


def refuse_existing(path: Path, force: bool = False) -> Path:
    """``path`` if it may be written: an existing file is never overwritten unless ``force`` (the last check
    before writing; :func:`check_render_path` is the full check a caller makes first)."""
    path = Path(path)
    if path.exists() and (not force or not path.is_file()):
        raise InputError(f"{path} already exists; not overwritten (choose another name"
                         + (")" if not path.is_file() else "; on the command line, --force replaces it)"))
    return path


def check_render_path(out: Path, force: bool, data_dir: Path | None, inputs: Sequence[Path] = ()) -> Path:
    """Check where a composite rendered outside any case (``s2f analyze FILE --composite``) may go, before the
    analysis: never one of the recordings being analysed, never inside the data directory (its database, its
    vault), not even with ``force``; an existing file only with ``force``; its folder must be writable."""
    from s2f_desktop.system.paths import check_output_path

    out = Path(out)
    for src in inputs:
        try:
            same = Path(src).resolve() == out.resolve() or (out.exists() and os.path.samefile(src, out))
        except OSError:
            same = False
        if same:
            raise InputError(f"refusing to write {out}: it is a recording being analysed; inputs are never "
                             "overwritten, not even with --force")
    target = check_output_path(out, force=force, protected_dirs=[data_dir] if data_dir is not None else [])
    folder = next((p for p in (target.parent, *target.parent.parents) if p.exists()), target.parent)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {out}: the folder {folder} is not writable")
    return target


def _write_new(path: Path, data: bytes, force: bool) -> None:
    """Write ``data`` to ``path`` completely or not at all; never replaces a file unless ``force``."""
    path = refuse_existing(path, force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.s2f-tmp")
        tmp.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror or exc.__class__.__name__})") from exc
    try:
        if force:
            tmp.replace(path)
        else:
            try:
                os.link(tmp, path)  # atomic, and fails if a file appeared there meanwhile
            except FileExistsError:
                raise
            except OSError:  # no hard links there (FAT/exFAT media, some shares): exclusive create
                with open(path, "xb") as f:
                    f.write(data)
    except FileExistsError:
        raise InputError(f"{path} already exists; not overwritten") from None
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror or exc.__class__.__name__})") from exc
    finally:
        tmp.unlink(missing_ok=True)


def check_export_path(ctx: AppContext, dest: Path, force: bool = False) -> Path:
    """Refuse an export path inside the data directory (the vault, the database: even with ``force``),
    an evidence original, or an existing file without ``force`` (the rules of report files)."""
    from s2f_desktop.services.evidence import safe_output

    return safe_output(ctx, dest, force)


def export_composite_image(ctx: AppContext, composite_id: int, view: str, dest: Path,
                           force: bool = False, with_pair: bool = False) -> tuple[Path, str]:
    """Write a composite's marked ``view`` image to ``dest``; returns (path, sha256 of the file).

    Refuses an existing ``dest`` unless ``force``. With ``with_pair``, a composite of
    an inconclusive-sex pair is written side by side with its partner (female left),
    so that a single export never shows one sex alone. The export is audited with the
    file's sha256 (for a single image stored marked, the stored sha256).
    """
    check_export_path(ctx, Path(dest), force)
    with ctx.store.read() as s:
        comp = repo.get_composite(s, composite_id)
        run = repo.get_run(s, comp.run_id)
        siblings = repo.list_composites(s, comp.run_id)
    shown = sex_pair(comp, siblings) if with_pair else [comp]
    shown = [c for c in shown if view in c.images] or [comp]
    panels = [marked_image_bytes(ctx, c, view) for c in shown]
    data = panels[0] if len(panels) == 1 else side_by_side(panels)
    dest = Path(dest)
    _write_new(dest, data, force)
    sha = hashlib.sha256(data).hexdigest()
    with ctx.store.write() as s:
        append_event(s, case_id=run.case_id, actor=ctx.actor, action="composite.export", object_type="composite",
                     object_ids=[c.id for c in shown],
                     details={"view": view, "path": str(dest), "sha256": sha,
                              "marked_at_export": any(not is_marked(c.parameters) for c in shown)})
    return dest, sha


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
        **_marking_record(),
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
        case_number = repo.get_case_by_id(s, run.case_id).number
        for kind, label, params, pngs in rendered:
            record = codec.decode_params({**params, **_render_record(size, device)})
            c = repo.add_composite(s, run.id, kind, label, record, {}, {}, ctx.actor)
            c = _store_marked(ctx, s, case_number, c, pngs)
            append_event(s, case_id=run.case_id, actor=ctx.actor, action="composite.create", object_type="composite",
                         object_ids=[c.id], details={"run_id": run.id, "kind": kind, "label": label,
                                                     "image_sha256": c.image_sha256, "device": device,
                                                     "custody": [custody.state("composite", c)]})
            out.append(c)
    task.progress(1.0, f"{len(out)} composites")
    return out


def _adjusted(src: Composite, changes: dict[str, float]) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The source's parameters with validated slider changes (origin ``analyst``), and what changed."""
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
    return params, applied


def preview_composite(ctx: AppContext, composite_id: int, changes: dict[str, float], view: str = "front",
                      size: int = 320, task: Task | None = None) -> bytes:
    """PNG bytes of one view with slider changes applied, rendered but NOT stored (live slider preview).

    Same parameters and renderer as :func:`adjust_composite`, so the saved version looks like
    the preview; nothing is written and nothing is audited until the analyst saves.
    """
    task = task or null_task()
    _check_views((view,))
    with ctx.store.read() as s:
        src = repo.get_composite(s, composite_id)
    params, _ = _adjusted(src, changes)
    device = "cpu" if params.get("render.device", {}).get("value", "cpu") == "cpu" else _device(ctx)
    return _render(params, (view,), int(size), device, task)[view]


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
    params, applied = _adjusted(src, changes)
    size = int(params.get("render.size_px", {}).get("value", 512))
    device = "cpu" if params.get("render.device", {}).get("value", "cpu") == "cpu" else _device(ctx)
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
        case_number = repo.get_case_by_id(s, run.case_id).number
        c = repo.add_composite(s, src.run_id, "analyst_edit", label, codec.decode_params(params), {}, {}, ctx.actor,
                               parent_id=src.id, version=version)
        c = _store_marked(ctx, s, case_number, c, pngs)
        append_event(s, case_id=run.case_id, actor=ctx.actor, action="composite.adjust", object_type="composite",
                     object_ids=[c.id, src.id], details={"parent_id": src.id, "changes": applied,
                                                         "image_sha256": c.image_sha256,
                                                         "custody": [custody.state("composite", c)]})
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
                              device: str = "cpu", force: bool = False, reference: str = "") -> Path:
    """Render the marked primary composite for ``traits`` to ``out_png`` (no case store involved).

    When the sex is inconclusive the file shows both primary composites (female, male)
    side by side, each with its own marking. ``reference`` names the source in the
    bottom band (e.g. the audio's sha256). An existing ``out_png`` is refused unless ``force``.
    """
    _check_views([view])
    out_png = refuse_existing(Path(out_png), force)
    primaries = [(label, params) for kind, label, params in plan_composite_set(traits) if kind == "primary"]
    panels = []
    for _label, params in primaries:
        data = _render(params, (view,), size, device, null_task())[view]
        panels.append(mark_image(data, MarkInfo(None, None, None, view, _mark_note(params), reference)))
    _write_new(out_png, panels[0] if len(panels) == 1 else side_by_side(panels), force)
    return out_png
