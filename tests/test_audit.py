"""Hash-chained audit trail: every state change appends a link; tampering names the first broken one."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from s2f_desktop.core.errors import InputError
from s2f_desktop.services import cases, evidence
from s2f_desktop.store.audit import GENESIS, append_event, canonical_json, event_count, list_events, verify_chain


def _chain(ctx, case_id):  # type: ignore[no-untyped-def]
    with ctx.store.read() as s:
        return list_events(s, case_id)


@pytest.fixture
def busy_case(ctx, case, tone_wav):  # type: ignore[no-untyped-def]
    """A case with five events: create, update, two imports, verify."""
    cases.update_case(ctx, case.number, notes="first note")
    evidence.import_file(ctx, case.number, tone_wav(freq=300, seconds=1.0, name="a.wav"))
    evidence.import_file(ctx, case.number, tone_wav(freq=500, seconds=1.0, name="b.wav"))
    evidence.verify_case(ctx, case.number)
    return case


def test_every_state_change_is_audited_in_order(ctx, busy_case) -> None:  # type: ignore[no-untyped-def]
    events = _chain(ctx, busy_case.id)
    assert [e.action for e in events] == ["case.create", "case.update", "evidence.import", "evidence.import",
                                          "case.verify"]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(e.actor == "tester" for e in events)
    assert events[1].details["changes"] == {"notes": {"old": "", "new": "first note"}}
    # The event binds the state it created: the case row's values and their hash.
    (bound,) = events[1].details["custody"]
    assert bound["object"] == "case" and bound["values"]["notes"] == "first note"
    cases.close_case(ctx, busy_case.number)
    assert _chain(ctx, busy_case.id)[-1].action == "case.close"
    assert verify_chain(_chain(ctx, busy_case.id)).ok


def test_hash_formula_is_sha256_of_prev_hash_and_canonical_json(ctx, busy_case) -> None:  # type: ignore[no-untyped-def]
    events = _chain(ctx, busy_case.id)
    assert events[0].prev_hash == GENESIS
    for prev, ev in zip([None, *events], events):
        payload = {"case_id": ev.case_id, "seq": ev.seq, "at": ev.at.isoformat(timespec="microseconds"),
                   "actor": ev.actor, "action": ev.action, "object_type": ev.object_type,
                   "object_ids": list(ev.object_ids), "details": ev.details}
        expected_prev = GENESIS if prev is None else prev.hash
        assert ev.prev_hash == expected_prev
        blob = expected_prev + json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert ev.hash == hashlib.sha256(blob.encode("utf-8")).hexdigest()


def test_chains_are_per_case(ctx, busy_case) -> None:  # type: ignore[no-untyped-def]
    other = cases.create_case(ctx, "T-2", "Other")
    ev = _chain(ctx, other.id)
    assert len(ev) == 1 and ev[0].seq == 1 and ev[0].prev_hash == GENESIS


def test_caseless_chain(ctx) -> None:  # type: ignore[no-untyped-def]
    with ctx.store.write() as s:
        append_event(s, case_id=None, actor="t", action="settings.change", object_type="settings",
                     details={"device": "cpu"})
        append_event(s, case_id=None, actor="t", action="settings.change", object_type="settings")
    with ctx.store.read() as s:
        assert event_count(s, None) == 2
        assert verify_chain(list_events(s, None)).ok


def test_details_are_stored_canonically(ctx, case) -> None:  # type: ignore[no-untyped-def]
    with ctx.store.write() as s:
        row = append_event(s, case_id=case.id, actor="t", action="x", object_type="case", object_ids=[case.id, "b"],
                           details={"z": (1, 2), "a": {"é": 1.5}})
    assert row.details == {"a": {"é": 1.5}, "z": [1, 2]}
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'
    assert verify_chain(_chain(ctx, case.id)).ok


def test_edited_details_break_the_chain_at_that_event(ctx, busy_case) -> None:  # type: ignore[no-untyped-def]
    events = _chain(ctx, busy_case.id)
    target = events[2]  # the first import
    with ctx.store.write() as s:
        s.execute(text("update audit_events set details = :d where id = :i"),
                  {"d": json.dumps({**target.details, "original_name": "innocent.wav"}), "i": target.id})
    check = verify_chain(_chain(ctx, busy_case.id))
    assert not check.ok and check.first_broken == target.id
    assert f"event {target.id}" in check.reason and "does not match its hash" in check.reason


@pytest.mark.parametrize("column,value", [("actor", "someone else"), ("at", "2020-01-01 00:00:00.000000"),
                                          ("action", "case.delete"), ("object_ids", '["99"]')])
def test_any_edited_field_breaks_the_chain(ctx, busy_case, column: str, value: str) -> None:  # type: ignore[no-untyped-def]
    target = _chain(ctx, busy_case.id)[1]
    with ctx.store.write() as s:
        s.execute(text(f"update audit_events set {column} = :v where id = :i"), {"v": value, "i": target.id})
    check = verify_chain(_chain(ctx, busy_case.id))
    assert not check.ok and check.first_broken == target.id


def test_rehashed_edit_breaks_the_next_link(ctx, busy_case) -> None:  # type: ignore[no-untyped-def]
    """A forger who also recomputes the edited event's hash is named: the edited event, not its successor."""
    events = _chain(ctx, busy_case.id)
    target, following = events[1], events[2]
    with ctx.store.write() as s:
        s.execute(text("update audit_events set actor = 'forger', hash = :h where id = :i"),
                  {"h": "f" * 64, "i": target.id})
    check = verify_chain(_chain(ctx, busy_case.id))
    assert not check.ok and check.first_broken == target.id
    # With a correctly recomputed hash the edited event verifies, and the next link does not.
    from s2f_desktop.store.audit import _payload, event_hash

    t = _chain(ctx, busy_case.id)[1]
    good = event_hash(t.prev_hash, _payload(t.case_id, t.seq, t.at, t.actor, t.action, t.object_type,
                                             t.object_ids, t.details))
    with ctx.store.write() as s:
        s.execute(text("update audit_events set hash = :h where id = :i"), {"h": good, "i": target.id})
    check = verify_chain(_chain(ctx, busy_case.id))
    assert check.first_broken == target.id and "edited and its hash recomputed" in check.reason
    assert str(following.id) in check.reason


def test_deleted_event_breaks_the_chain_at_the_next(ctx, busy_case) -> None:  # type: ignore[no-untyped-def]
    events = _chain(ctx, busy_case.id)
    with ctx.store.write() as s:
        s.execute(text("delete from audit_events where id = :i"), {"i": events[1].id})
    check = verify_chain(_chain(ctx, busy_case.id))
    assert not check.ok and check.first_broken == events[2].id and "missing" in check.reason


def test_verify_reports_broken_chain_and_audit_trail_agrees(ctx, busy_case) -> None:  # type: ignore[no-untyped-def]
    target = _chain(ctx, busy_case.id)[3]
    with ctx.store.write() as s:
        s.execute(text("update audit_events set details = '{}' where id = :i"), {"i": target.id})
    report = evidence.verify_case(ctx, busy_case.number)
    assert not report.ok and report.chain.first_broken == target.id
    assert all(c.status.value == "OK" for c in report.evidence)
    _, chain = evidence.audit_trail(ctx, busy_case.number)
    assert chain.first_broken == target.id


def test_refused_changes_append_nothing(ctx, case) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError):
        cases.create_case(ctx, case.number, "duplicate")
    with pytest.raises(InputError):
        cases.update_case(ctx, case.number, title="  ")
    cases.close_case(ctx, case.number)
    with pytest.raises(InputError):
        cases.close_case(ctx, case.number)
    with pytest.raises(InputError):
        cases.update_case(ctx, case.number, notes="late")
    assert [e.action for e in _chain(ctx, case.id)] == ["case.create", "case.close"]
