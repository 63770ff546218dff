"""Case lifecycle services."""

from __future__ import annotations

import re
from typing import Sequence

from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from s2f_desktop.core.errors import InputError, IntegrityError
from s2f_desktop.core.models import Case, CaseStatus, Evidence, Segment
from s2f_desktop.core.text import check_text
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import custody
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event, list_events

_CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
#: Words the command line reads as sub-commands where a case number may stand (`s2f composite list|adjust|sliders`).
_RESERVED = {"list", "adjust", "sliders"}


def create_case(ctx: AppContext, number: str, title: str, analyst: str | None = None, agency: str = "",
                notes: str = "") -> Case:
    """Create a case; the number must be unique and made of letters, digits, '.', '_', '/', '-'."""
    number = number.strip()
    if not _CASE_NUMBER.match(number) or not number.isascii():
        raise InputError(f"invalid case number {ascii(number)}: use 1-64 ASCII letters (A-Z, a-z), digits, '.', '_', "
                         "'/' or '-', starting with a letter or digit")
    if number.lower() in _RESERVED:
        raise InputError(f"{number!r} cannot be a case number: `s2f composite {number.lower()}` is a command")
    title = check_text("title", title)
    if not title:
        raise InputError("a case needs a title")
    analyst = check_text("analyst", analyst or ctx.actor)
    agency = check_text("agency", agency)
    notes = check_text("notes", notes, allow_newlines=True)
    try:
        with ctx.store.write() as s:
            if repo.find_case(s, number) is not None:
                raise InputError(f"case {number} already exists")
            case = repo.add_case(s, number, title, analyst, agency, notes)
            append_event(s, case_id=case.id, actor=ctx.actor, action="case.create", object_type="case",
                         object_ids=[case.id], details={"number": number, "title": case.title, "analyst": analyst,
                                                        "agency": case.agency,
                                                        "custody": [custody.state("case", case)]})
    except SAIntegrityError as exc:
        raise InputError(f"case {number} already exists") from exc
    return case


def list_cases(ctx: AppContext, status: CaseStatus | None = None) -> list[Case]:
    """All cases, most recently changed first."""
    with ctx.store.read() as s:
        return repo.list_cases(s, status)


def get_case(ctx: AppContext, number: str) -> Case:
    """One case by number (NotFoundError if unknown)."""
    with ctx.store.read() as s:
        return repo.get_case(s, number)


def update_case(ctx: AppContext, number: str, **changes: str | None) -> Case:
    """Edit case details (any of ``repositories.CASE_FIELDS``); the change is audited with old and new values.

    The expert-report fields are the question asked, the propositions, the case information
    received, the examiner's role and qualifications and the listening statement.
    """
    unknown = sorted(set(changes) - set(repo.CASE_FIELDS))
    if unknown:
        raise InputError(f"not an editable case field: {', '.join(unknown)}")
    multiline = {"notes", "question", "propositions", "case_info", "examiner_qualifications", "listening_statement"}
    fields = {k: check_text(k, v, allow_newlines=(k in multiline)) for k, v in changes.items() if v is not None}
    if "title" in fields and not fields["title"].strip():
        raise InputError("a case needs a title")
    if "analyst" in fields and not fields["analyst"].strip():
        # The analyst is the examiner the report's signature block names: never blank (a new case takes the
        # session's analyst when none is given).
        raise InputError("a case needs an analyst")
    with ctx.store.write() as s:
        before = repo.get_case(s, number)
        if before.status is CaseStatus.CLOSED:
            raise InputError(f"case {number} is closed")
        require_bound(s, before)
        case = repo.update_case(s, number, **fields)
        diff = {k: {"old": getattr(before, k), "new": v} for k, v in fields.items() if getattr(before, k) != v}
        append_event(s, case_id=case.id, actor=ctx.actor, action="case.update", object_type="case",
                     object_ids=[case.id], details={"changes": diff, "custody": [custody.state("case", case)]})
    return case


def close_case(ctx: AppContext, number: str) -> Case:
    """Close a case: it stays readable and reportable but accepts no new evidence or edits."""
    with ctx.store.write() as s:
        case = repo.get_case(s, number)
        if case.status is CaseStatus.CLOSED:
            raise InputError(f"case {number} is already closed")
        require_bound(s, case)
        case = repo.update_case(s, number, status=CaseStatus.CLOSED)
        append_event(s, case_id=case.id, actor=ctx.actor, action="case.close", object_type="case", object_ids=[case.id],
                     details={"custody": [custody.state("case", case)]})
    return case


def require_bound(s: Session, case: Case, evidence: Sequence[Evidence] = (), segments: Sequence[Segment] = ()) -> None:
    """Refuse to change rows that differ from what the audit chain recorded for them (IntegrityError).

    Checked before a change, in the writer's session: an audited change records the row's new state as
    trusted, so changing a row that was altered outside the services would launder the alteration (the next
    verification would pass). The case row is always checked with the given rows."""
    findings = custody.row_findings(list_events(s, case.id), case, evidence, segments)
    if findings:
        shown = "; ".join(f.describe() for f in findings[:3]) + \
            (f"; and {len(findings) - 3} more" if len(findings) > 3 else "")
        raise IntegrityError(f"case {case.number}: the stored record differs from what the audit trail recorded "
                             f"({shown}); it was changed outside the application. Nothing was changed now: run "
                             "'s2f verify' and resolve the discrepancy before editing")


def require_open(case: Case) -> None:
    """Raise InputError if the case no longer accepts changes."""
    if case.status is CaseStatus.CLOSED:
        raise InputError(f"case {case.number} is closed; reopen is not allowed, start a new case")


def case_evidence(s: Session, case_number: str, evidence_id: int, writable: bool = False) -> tuple[Case, Evidence]:
    """A case and one of its evidence items, read in the caller's session.

    InputError when the item belongs to another case and, with ``writable``, when the case is
    closed (checked first, before the item is read).
    """
    case = repo.get_case(s, case_number)
    if writable:
        require_open(case)
    ev = repo.get_evidence(s, evidence_id)
    if ev.case_id != case.id:
        raise InputError(f"evidence #{evidence_id} does not belong to case {case_number}")
    return case, ev


def set_provenance(ctx: AppContext, number: str, evidence_id: int, **changes: str | None) -> Evidence:
    """Record an exhibit's provenance (received from, received on, medium, seal or reference); audited."""
    unknown = sorted(set(changes) - set(repo.PROVENANCE_FIELDS))
    if unknown:
        raise InputError(f"not a provenance field: {', '.join(unknown)}")
    fields = {k: v.strip() for k, v in changes.items() if v is not None}
    with ctx.store.write() as s:
        case, before = case_evidence(s, number, evidence_id, writable=True)
        require_bound(s, case, evidence=[before])
        ev = repo.update_provenance(s, evidence_id, **fields)
        diff = {k: {"old": getattr(before, k), "new": v} for k, v in fields.items() if getattr(before, k) != v}
        append_event(s, case_id=case.id, actor=ctx.actor, action="evidence.provenance", object_type="evidence",
                     object_ids=[evidence_id], details={"changes": diff, "custody": [custody.state("evidence", ev)]})
    return ev


#: What a second examiner may conclude about the work reviewed.
REVIEW_OUTCOMES = ("agreed", "agreed with comments", "not agreed")


def record_review(ctx: AppContext, number: str, reviewer: str, role: str, outcome: str, notes: str = "") -> None:
    """Record a second examiner's review of the case in its audit trail (the report prints the latest).

    The reviewer is a person other than the examiner; what they concluded is stored as given.
    A review may be recorded on a closed case (it changes no evidence or finding).
    """
    if outcome not in REVIEW_OUTCOMES:
        raise InputError(f"review outcome must be one of: {', '.join(REVIEW_OUTCOMES)}")
    if not reviewer.strip():
        raise InputError("a review needs the reviewer's name")
    with ctx.store.write() as s:
        case = repo.get_case(s, number)
        if reviewer.strip() == case.analyst:
            raise InputError("the second examiner must be someone other than the examiner of the case")
        append_event(s, case_id=case.id, actor=ctx.actor, action="case.review", object_type="case",
                     object_ids=[case.id], details={"reviewer": reviewer.strip(), "role": role.strip(),
                                                    "outcome": outcome, "notes": notes.strip()})
