"""Case lifecycle services."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError as SAIntegrityError

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import Case, CaseStatus
from s2f_desktop.core.text import check_text
from s2f_desktop.services.context import AppContext
from s2f_desktop.store import custody
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event

_CASE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


def create_case(ctx: AppContext, number: str, title: str, analyst: str | None = None, agency: str = "",
                notes: str = "") -> Case:
    """Create a case; the number must be unique and made of letters, digits, '.', '_', '/', '-'."""
    number = number.strip()
    if not _CASE_NUMBER.match(number) or not number.isascii():
        raise InputError(f"invalid case number {ascii(number)}: use 1-64 letters, digits, '.', '_', '/' or '-'")
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


def update_case(ctx: AppContext, number: str, *, title: str | None = None, analyst: str | None = None,
                agency: str | None = None, notes: str | None = None) -> Case:
    """Edit case details; the change is audited with old and new values."""
    fields = {k: check_text(k, v, allow_newlines=(k == "notes"))
              for k, v in dict(title=title, analyst=analyst, agency=agency, notes=notes).items() if v is not None}
    if "title" in fields and not fields["title"]:
        raise InputError("a case needs a title")
    with ctx.store.write() as s:
        before = repo.get_case(s, number)
        if before.status is CaseStatus.CLOSED:
            raise InputError(f"case {number} is closed")
        case = repo.update_case(s, number, **fields)
        changes = {k: {"old": getattr(before, k), "new": v} for k, v in fields.items() if getattr(before, k) != v}
        append_event(s, case_id=case.id, actor=ctx.actor, action="case.update", object_type="case",
                     object_ids=[case.id], details={"changes": changes, "custody": [custody.state("case", case)]})
    return case


def close_case(ctx: AppContext, number: str) -> Case:
    """Close a case: it stays readable and reportable but accepts no new evidence or edits."""
    with ctx.store.write() as s:
        case = repo.get_case(s, number)
        if case.status is CaseStatus.CLOSED:
            raise InputError(f"case {number} is already closed")
        case = repo.update_case(s, number, status=CaseStatus.CLOSED)
        append_event(s, case_id=case.id, actor=ctx.actor, action="case.close", object_type="case", object_ids=[case.id],
                     details={"custody": [custody.state("case", case)]})
    return case


def require_open(case: Case) -> None:
    """Raise InputError if the case no longer accepts changes."""
    if case.status is CaseStatus.CLOSED:
        raise InputError(f"case {case.number} is closed; reopen is not allowed, start a new case")
