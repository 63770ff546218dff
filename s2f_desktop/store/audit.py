"""Hash-chained audit trail.

Each case has its own chain (events without a case form one more chain). An event's
hash is ``sha256(prev_hash || canonical_json(event))`` where the canonical JSON covers
every stored field except the hash itself, with sorted keys and no whitespace. Editing,
deleting or reordering any stored event breaks every later link, and :func:`verify_chain`
names the first event whose stored hash no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from s2f_desktop.core.jsonutil import canonical_json
from s2f_desktop.core.models import AuditEvent, ChainCheck
from s2f_desktop.core.timeutil import utcnow
from s2f_desktop.store.orm import AuditEventRow

GENESIS = "0" * 64


def _payload(case_id: int | None, seq: int, at: datetime, actor: str, action: str,
             object_type: str, object_ids: Sequence[str], details: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_ids": [str(o) for o in object_ids],
        "details": details,
    }


def event_hash(prev_hash: str, payload: dict[str, Any]) -> str:
    """Hash of one event given its predecessor's hash."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode("utf-8")).hexdigest()


def _case_filter(case_id: int | None) -> ColumnElement[bool]:
    return AuditEventRow.case_id.is_(None) if case_id is None else AuditEventRow.case_id == case_id


def append_event(
    session: Session,
    *,
    case_id: int | None,
    actor: str,
    action: str,
    object_type: str,
    object_ids: Iterable[Any] = (),
    details: dict[str, Any] | None = None,
) -> AuditEventRow:
    """Append one event to the case's chain inside the caller's transaction."""
    last = session.execute(
        select(AuditEventRow).where(_case_filter(case_id)).order_by(AuditEventRow.seq.desc()).limit(1)
    ).scalar_one_or_none()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    # Stored naive UTC so SQLite round-trips it exactly (hashes depend on it).
    at = utcnow()
    ids = [str(o) for o in object_ids]
    details = json.loads(canonical_json(details or {}))
    payload = _payload(case_id, seq, at, actor, action, object_type, ids, details)
    row = AuditEventRow(
        case_id=case_id, seq=seq, at=at, actor=actor, action=action, object_type=object_type,
        object_ids=ids, details=details, prev_hash=prev, hash=event_hash(prev, payload),
    )
    session.add(row)
    session.flush()
    from s2f_desktop.store.db import CHANGES_KEY, StoreChange  # db imports nothing from here at module level

    session.info.setdefault(CHANGES_KEY, []).append(
        StoreChange(case_id, action, object_type, tuple(ids), actor))
    return row


def to_event(row: AuditEventRow) -> AuditEvent:
    """ORM row → dataclass."""
    return AuditEvent(
        id=row.id, case_id=row.case_id, seq=row.seq, at=row.at, actor=row.actor, action=row.action,
        object_type=row.object_type, object_ids=tuple(row.object_ids or ()), details=dict(row.details or {}),
        prev_hash=row.prev_hash, hash=row.hash,
    )


def list_events(session: Session, case_id: int | None) -> list[AuditEvent]:
    """A case's events in chain order."""
    rows = session.execute(select(AuditEventRow).where(_case_filter(case_id)).order_by(AuditEventRow.seq)).scalars()
    return [to_event(r) for r in rows]


def verify_chain(events: Sequence[AuditEvent]) -> ChainCheck:
    """Recompute every link; report the first event that does not verify."""
    prev = GENESIS
    for i, ev in enumerate(events, start=1):
        if ev.seq != i:
            return ChainCheck(False, len(events), ev.id,
                              f"event {ev.id}: sequence {ev.seq}, expected {i} (event missing)")
        if ev.prev_hash != prev:
            if i == 1:
                return ChainCheck(False, len(events), ev.id, f"event {ev.id}: first event does not start the chain")
            # The previous event verified against its own stored hash, yet this event recorded
            # another hash for it: the previous event was edited and its hash recomputed (or
            # this link was rewritten). Name the edited event, not its innocent successor.
            before = events[i - 2]
            return ChainCheck(False, len(events), before.id,
                              f"event {before.id} ({before.action}) was edited and its hash recomputed: "
                              f"event {ev.id} recorded a different hash for it")
        payload = _payload(ev.case_id, ev.seq, ev.at, ev.actor, ev.action, ev.object_type, ev.object_ids, ev.details)
        if event_hash(prev, payload) != ev.hash:
            return ChainCheck(False, len(events), ev.id,
                              f"event {ev.id} ({ev.action}): content does not match its hash")
        prev = ev.hash
    return ChainCheck(True, len(events))


def chain_head(events: Sequence[AuditEvent]) -> tuple[int, str]:
    """``(seq, hash)`` of the last event of a chain (``(0, GENESIS)`` for an empty chain).

    The head hash commits to every event before it: a copy of it kept outside the data
    directory (a custody receipt, a printed report) lets anyone detect a later rewrite.
    """
    if not events:
        return 0, GENESIS
    return events[-1].seq, events[-1].hash


def event_count(session: Session, case_id: int | None) -> int:
    """Number of events in a chain."""
    q = select(func.count()).select_from(AuditEventRow).where(_case_filter(case_id))
    return int(session.execute(q).scalar_one())


def last_event_times(session: Session) -> dict[int | None, datetime]:
    """Time of each chain's newest event (the case's last recorded change), keyed by case id."""
    rows = session.execute(select(AuditEventRow.case_id, func.max(AuditEventRow.at)).group_by(AuditEventRow.case_id))
    return {case_id: at for case_id, at in rows}


def events_with_action(session: Session, case_id: int | None, action: str) -> list[AuditEvent]:
    """A case's events of one action, in chain order."""
    rows = session.execute(select(AuditEventRow).where(_case_filter(case_id), AuditEventRow.action == action)
                           .order_by(AuditEventRow.seq)).scalars()
    return [to_event(r) for r in rows]
