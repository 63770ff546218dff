"""Producing the PDF report of a case (one service for the GUI and ``s2f report``).

The report is built only from stored data: the case's rows in the store, a fresh
re-hash of every evidence file in the vault and of every composite image, the model
cards under ``models/``. It never looks at what a window currently shows, so the same
stored state and the same ``generated_at`` give the same report text (and, because the
PDF is written in reportlab's invariant mode, the same bytes). The file's SHA-256 is
recorded in the case's audit trail as a ``report.export`` event.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from s2f_desktop import __version__
from s2f_desktop.core.errors import NotFoundError
from s2f_desktop.core.hashing import file_sha256
from s2f_desktop.core.models import AnalysisRun
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.core.timeutil import fmt_clock, utcnow
from s2f_desktop.report.comparison import build_comparison_section
from s2f_desktop.report.model import ReportData, build_report_data
from s2f_desktop.report.modelcards import ModelCardInfo, load_model_card, trait_performance
from s2f_desktop.report.pdf import RENDERER_VERSIONS, render_pdf
from s2f_desktop.services.context import AppContext
from s2f_desktop.services.evidence import check_composite_images, check_evidence, safe_output
from s2f_desktop.store import comparisons as crepo
from s2f_desktop.store import custody
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event, list_events, verify_chain
from s2f_desktop.system.env import models_dir
from s2f_desktop.system.faults import fault_point
from s2f_desktop.system.paths import StagedOutput, TempJournal, write_failure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportResult:
    """A written report: where, its SHA-256 (as recorded in the audit trail), its id and page count."""

    path: Path
    sha256: str
    report_id: str
    pages: int


def _choose_runs(runs: list[AnalysisRun], case_number: str, run_ids: Sequence[int] | None) -> list[AnalysisRun]:
    """The runs to report: all of the case's (in order) unless restricted to ``run_ids``."""
    if run_ids is None:
        return runs
    by_id = {r.id: r for r in runs}
    missing = [i for i in run_ids if i not in by_id]
    if missing:
        raise NotFoundError(f"case {case_number} has no analysis run #{missing[0]}")
    return [by_id[i] for i in sorted(set(run_ids))]


def _safe_name(case_number: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", case_number)


def collect_report_data(ctx: AppContext, case_number: str, run_ids: Sequence[int] | None = None,
                        task: Task | None = None, generated_at: datetime | None = None) -> ReportData:
    """Gather and check everything the report shows (no file is written, nothing is recorded)."""
    task = task or null_task()
    generated_at = generated_at or utcnow()
    task.progress(0.0, "reading the case")
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        evidence = repo.list_evidence(s, case.id)
        runs = repo.list_runs(s, case.id)
        chosen = _choose_runs(runs, case_number, run_ids)
        segments = {g.id: g for g in repo.list_case_segments(s, case.id)}
        all_composites = {r.id: repo.list_composites(s, r.id) for r in runs}
        composites = {r.id: all_composites[r.id] for r in chosen}
        comparison_runs = crepo.list_comparisons(s, case.id)
        evidence_names = {e.id: e.original_name for e in evidence}
        events = list_events(s, case.id)
    chain = verify_chain(events)
    # The same replay of the chain against the rows as 's2f verify' (on the rows read above): a row edited
    # beside an intact chain must not be printed under "Hash chain intact" as if it were bound.
    problems = [f.describe() for f in custody.replay(events, case, evidence, segments.values(), runs,
                                                     [c for cs in all_composites.values() for c in cs],
                                                     comparison_runs) if f.failing]
    checks = []
    for i, ev in enumerate(evidence):
        task.progress(0.05 + 0.35 * i / max(1, len(evidence)), f"verifying {ev.original_name}")
        checks.append(check_evidence(ctx, ev))
    task.progress(0.4, "verifying composite images")
    image_checks = check_composite_images(ctx.store.layout.composites, [c for cs in composites.values() for c in cs])
    # An altered or missing composite image is a stored record that differs from what was recorded: said on the
    # first page and beside the chain's status, not only where the image is left out.
    problems += [f"composite #{cid}: {view} image {status}" for (cid, view), status in sorted(image_checks.items())
                 if status in ("ALTERED", "MISSING")]
    cards: list[ModelCardInfo] = []
    seen: set[tuple[str, str]] = set()
    # Every file the reported runs and every stored comparison (encoder, calibration, cohort, validation) were
    # computed with: an LR in the report names its files as an analysis run's estimates do. Comparison records
    # carry no "shipped" flag; the card's declaration column compares their hash with the manifest instead.
    used = [(m.id, m.file, m.sha256, m.shipped) for r in chosen for m in r.models] + \
        [(str(rec.get("id", "")), str(rec.get("file", "")), str(rec.get("sha256", "")), True)
         for c in comparison_runs for rec in c.models]
    for model_id, file, sha, shipped in used:
        if (model_id, file) in seen:
            continue
        seen.add((model_id, file))
        card = load_model_card(model_id, file, sha, models_dir())
        if not shipped:
            # The run used a file that is not the one this installation ships (weights swapped
            # under S2F_MODELS_DIR with a re-hashed manifest): said next to the model, in words.
            card = dataclasses.replace(card, note=(card.note + " " if card.note else "") +
                                       "NOT THE SHIPPED MODEL: the file the run used is not the one declared by the "
                                       "models shipped with this installation; its validation does not apply.")
        cards.append(card)
    traits_model = next((m.id for r in chosen for m in r.models if m.id.startswith("traits-")), None)
    performance = trait_performance(traits_model, models_dir()) if traits_model else None
    task.progress(0.45, "assembling the report")
    data = build_report_data(
        case=case, evidence=evidence, checks=checks, runs=chosen, all_runs=runs, segments=segments,
        composites=composites, image_root=ctx.store.layout.composites, image_checks=image_checks, events=events,
        chain=chain, model_cards=cards, performance=performance, generated_at=generated_at, app_version=__version__,
        renderer_versions=RENDERER_VERSIONS, custody_problems=problems, comparison_runs=comparison_runs,
    )
    # Speaker comparisons are evaluative (propositions, a likelihood ratio): every stored one is
    # reported in its own section, with the validation of the system that computed it.
    seg_names = {g.id: f"{evidence_names.get(g.evidence_id, f'evidence #{g.evidence_id}')} "
                       f"{fmt_clock(g.start_sample / g.sample_rate)}\u2013{fmt_clock(g.end_sample / g.sample_rate)}"
                 for g in segments.values()}
    rates = {e.id: e.media.sample_rate for e in evidence}
    sections = tuple(build_comparison_section(r, seg_names, models_dir(), rates) for r in comparison_runs)
    return dataclasses.replace(data, comparisons=sections) if sections else data


def build_report(ctx: AppContext, case_number: str, out: Path | None = None, run_id: int | None = None,
                 task: Task | None = None, generated_at: datetime | None = None, record: bool = True,
                 run_ids: Sequence[int] | None = None, force: bool = False) -> ReportResult:
    """Write the PDF report of a case and record its SHA-256 in the audit trail.

    The report covers every analysis run of the case with its outcome; ``run_id`` (one run)
    or ``run_ids`` (several) restrict the runs given in full, the others being listed with
    their outcomes. ``out``
    defaults to ``<data dir>/reports/<case>-<report id>.pdf`` (never overwriting an earlier
    file there). An explicit ``out`` that exists is refused unless ``force``; a path inside
    the data directory (other than its ``reports`` folder) or naming an evidence original
    is refused even with ``force`` (see :func:`s2f_desktop.services.evidence.safe_output`).
    The PDF is rendered into a temporary file beside ``out``; its ``report.export`` event is
    committed *before* the file is moved into place, so a crash at any point leaves either
    nothing, or an event whose file was never placed (and the temporary file is removed by
    the signal handlers or the next start), never an unaudited report. ``generated_at``
    (naive UTC, default now) is the report date printed on the cover and stored as the
    PDF's creation date. With ``record=False`` nothing is written to the audit trail (used
    to compare two renderings of the same state); on read-only media nothing is recorded.
    """
    task = task or null_task()
    generated_at = generated_at or utcnow()
    if out is not None:
        # Checked before the (slow) rendering, and again atomically when the file is placed.
        target = safe_output(ctx, Path(out), force)
    chosen = [run_id] if run_id is not None else (list(run_ids) if run_ids is not None else None)
    data = collect_report_data(ctx, case_number, chosen, task.sub(0.0, 0.5), generated_at)
    if out is None:
        folder = ctx.store.layout.reports
        base = f"{_safe_name(data.case_number)}-{data.report_id}"
        target = folder / f"{base}.pdf"
        n = 2
        while target.exists():
            target = folder / f"{base}-{n}.pdf"
            n += 1
        force = False
    record = record and not ctx.store.read_only
    task.progress(0.5, "rendering the PDF")
    journal = None if ctx.store.read_only else TempJournal(ctx.store.layout.root)
    with StagedOutput(target, force=force, journal=journal, prefix=".report-") as staged:
        try:
            pages = render_pdf(data, staged.path, generated_at)
            fault_point("report.rendered")
            task.check()
            sha, size = file_sha256(staged.path), staged.path.stat().st_size
        except OSError as exc:
            raise write_failure(target, exc) from exc
        if record:
            with ctx.store.write() as s:
                case = repo.get_case(s, case_number)
                append_event(s, case_id=case.id, actor=ctx.actor, action="report.export", object_type="report",
                             object_ids=[data.report_id], details={
                                 "report_id": data.report_id, "path": str(target.resolve()), "sha256": sha,
                                 "size_bytes": size, "pages": pages, "run_ids": [r.run_id for r in data.runs],
                                 "generated_at": data.generated_at,
                                 "evidence": {str(e.id): e.status for e in data.evidence},
                             })
        try:
            if record:
                fault_point("report.recorded")
            staged.place()
        except BaseException as exc:
            # The event above says the report was written: say that it was not, after all
            # (also on Ctrl-C/SIGTERM; only kill -9 or power loss can skip this).
            if record:
                with ctx.store.write() as s:
                    case = repo.get_case(s, case_number)
                    append_event(s, case_id=case.id, actor=ctx.actor, action="report.export_failed",
                                 object_type="report", object_ids=[data.report_id],
                                 details={"report_id": data.report_id, "path": str(target), "sha256": sha,
                                          "reason": str(getattr(exc, "message", None) or exc.__class__.__name__)})
            raise
    out = target
    task.progress(1.0, f"wrote {out.name}")
    log.info("report %s for case %s written to %s (sha256 %s, %d pages)", data.report_id, case_number, out, sha, pages)
    return ReportResult(out, sha, data.report_id, pages)
