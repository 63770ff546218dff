"""Names and notes of analysis runs.

A run's name and notes are the analyst's annotation, not part of the computed result,
so they are not written into the run row (which stays exactly what the analysis
produced). Each annotation is an ``analysis.annotate`` audit event; the newest one for
a run is in force and the earlier ones stay in the chain, so a renamed run keeps its
history. No schema change is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from s2f_desktop.core.errors import InputError
from s2f_desktop.services.cases import require_open
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event, events_with_action

ACTION = "analysis.annotate"
MAX_NAME = 120


@dataclass(frozen=True)
class RunNote:
    """The analyst's name and notes for one run, and who wrote them."""

    run_id: int
    name: str
    notes: str
    by: str


def annotate_run(ctx: AppContext, case_number: str, run_id: int, name: str, notes: str = "") -> RunNote:
    """Name and annotate a run of the case (audited; the previous annotation stays in the chain)."""
    name, notes = name.strip(), notes.strip()
    if len(name) > MAX_NAME:
        raise InputError(f"a run name may have at most {MAX_NAME} characters")
    with ctx.store.write() as s:
        case = repo.get_case(s, case_number)
        require_open(case)
        run = repo.get_run(s, int(run_id))
        if run.case_id != case.id:
            raise InputError(f"run #{run_id} does not belong to case {case_number}")
        append_event(s, case_id=case.id, actor=ctx.actor, action=ACTION, object_type="analysis_run",
                     object_ids=[run.id], details={"name": name, "notes": notes})
    return RunNote(int(run_id), name, notes, ctx.actor)


def run_notes(ctx: AppContext, case_number: str) -> dict[int, RunNote]:
    """The annotation in force for each annotated run of the case."""
    with ctx.store.read() as s:
        case = repo.get_case(s, case_number)
        events = events_with_action(s, case.id, ACTION)
    out: dict[int, RunNote] = {}
    for ev in events:
        for oid in ev.object_ids:
            out[int(oid)] = RunNote(int(oid), str(ev.details.get("name", "")), str(ev.details.get("notes", "")),
                                    ev.actor)
    return out
