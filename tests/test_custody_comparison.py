"""Speaker-comparison runs are bound to the audit chain (attack suite, as tests/test_custody_tamper.py).

A comparison is made through the shipped service (``services.comparison.compare_segments``) with
the comparison system replaced by a stub that returns a verdict stored by the real system (the
``STORED_LR`` row of tests/test_comparison_results.py), so the row and its ``comparison.run``
event are exactly what the service writes. Each test then edits the database as someone with
sqlite3 would and asserts that ``verify`` names the object, the field and the event.
"""

from __future__ import annotations

import json
import types
from typing import Any

import pytest

from s2f_desktop.core.comparison_results import ComparisonVerdict
from s2f_desktop.core.errors import InputError, IntegrityError
from s2f_desktop.services import cases, evidence, segments
from s2f_desktop.services import comparison as svc
from s2f_desktop.store import codec, custody
from s2f_desktop.store.audit import _payload, event_hash, list_events

# Imported from the neighbouring test module (pytest puts tests/ on sys.path): the verdict as the real
# comparison system stored it, copied verbatim from a SQLite file.
from test_comparison_results import STORED_ABSTAIN, STORED_LR  # isort: skip
from test_custody_tamper import sql, sql_value  # isort: skip

MODELS = [{"id": "resemblyzer-ge2e-0.1.4", "file": "pretrained.pt", "sha256": "1" * 64},
          {"id": "comparison-v1", "file": "calibration.json", "sha256": "2" * 64}]




def failing(report):  # type: ignore[no-untyped-def]
    return [f for f in report.custody if f.failing]


class _StubComparator:
    """Returns a verdict the real system stored; records what a run records (models, device, parameters)."""

    device = "cpu (stub)"

    def __init__(self, stored: str, during: Any = None) -> None:
        self.verdict = codec.decode_comparison_verdict(json.loads(stored))
        self.during = during

    def compare(self, q: Any, k: Any, task: Any, side_check: Any = None) -> ComparisonVerdict:
        if self.during is not None:
            self.during()
        return self.verdict

    def model_record(self) -> dict[str, str]:
        return {"id": "comparison-v1", "sha256": "2" * 64}

    def models(self) -> list[dict[str, str]]:
        return [dict(m) for m in MODELS]

    def parameters(self) -> dict[str, Any]:
        return {"top_k": 200, "bounds_log10_lr": [-2.5, 3.67], "verbal_scale": "ENFSI 2015"}


@pytest.fixture
def stub_comparison(monkeypatch):  # type: ignore[no-untyped-def]
    """The comparison service with the system stubbed; ``use(stored, during)`` picks the verdict."""
    mod = types.SimpleNamespace(SidePart=lambda name, x, sr: types.SimpleNamespace(id=name, x=x, sr=sr))
    monkeypatch.setattr(svc, "_mod", lambda: mod)
    state = {"cmp": _StubComparator(STORED_LR)}
    monkeypatch.setattr(svc, "comparator", lambda device="auto": state["cmp"])

    def use(stored: str, during: Any = None) -> None:
        state["cmp"] = _StubComparator(stored, during)

    return use


@pytest.fixture
def compared_case(ctx, case, tone_wav, stub_comparison):  # type: ignore[no-untyped-def]
    """A case with one recording, two segments and one stored comparison of them (made by the service)."""
    a = evidence.import_file(ctx, case.number, tone_wav(seconds=2.0, name="call.wav")).evidence
    q = segments.add_segment(ctx, case.number, a.id, 0, 12000, speaker_tag="caller")
    k = segments.add_segment(ctx, case.number, a.id, 16000, 30000, speaker_tag="suspect")
    run = svc.compare_segments(ctx, case.number, [q.id], [k.id], device="cpu")
    return case, run, q, k


def _comparison_event(ctx, number: str):  # type: ignore[no-untyped-def]
    return next(e for e in evidence.audit_trail(ctx, number)[0] if e.action == "comparison.run")


def test_comparison_run_is_bound_and_an_untouched_case_verifies(ctx, compared_case) -> None:  # type: ignore[no-untyped-def]
    case, run, q, k = compared_case
    ev = _comparison_event(ctx, case.number)
    entry = ev.details["custody"][0]
    assert entry["object"] == "comparison_run" and entry["id"] == str(run.id)
    assert entry["values"]["log10_lr"] == 3.67 and entry["values"]["questioned_ids"] == [q.id]
    assert entry["hash"] == custody.content_hash(entry["values"])
    # What the event recorded before the binding is still there (the audit table and old readers use it).
    assert {"questioned", "known", "models", "device", "log10_lr", "verbal", "label", "abstain_reason"} < set(
        ev.details)
    report = evidence.verify_case(ctx, case.number)
    assert report.ok and report.custody == ()


def test_edited_lr_is_named_with_the_comparison_event(ctx, compared_case) -> None:  # type: ignore[no-untyped-def]
    case, run, _, _ = compared_case
    stored = json.loads(sql_value(ctx, "select results from comparison_runs where id = :i", i=run.id))
    stored["log10_lr"] = 5.0
    sql(ctx, "update comparison_runs set results = :r where id = :i", r=json.dumps(stored), i=run.id)
    report = evidence.verify_case(ctx, case.number)
    assert not report.ok
    by_field = {f.field: f for f in failing(report)}
    assert set(by_field) == {"log10_lr", "results_sha256"}
    f = by_field["log10_lr"]
    assert (f.object_type, f.object_id, f.problem) == ("comparison_run", str(run.id), "CHANGED")
    assert (f.expected, f.found) == ("3.67", "5.0")
    ev = _comparison_event(ctx, case.number)
    assert f.event_id == ev.id
    assert f"comparison run #{run.id}: log10_lr is 5.0, expected 3.67 (recorded by event #{ev.seq}" in f.describe()


def test_edited_results_beyond_the_verdict_are_named_by_their_hash(ctx, compared_case) -> None:  # type: ignore[no-untyped-def]
    case, run, _, _ = compared_case
    stored = json.loads(sql_value(ctx, "select results from comparison_runs where id = :i", i=run.id))
    stored["hd"] = "a different proposition"
    sql(ctx, "update comparison_runs set results = :r where id = :i", r=json.dumps(stored), i=run.id)
    report = evidence.verify_case(ctx, case.number)
    assert [(f.object_type, f.field, f.problem) for f in failing(report)] == [
        ("comparison_run", "results_sha256", "CHANGED")]


def test_edited_segment_lists_device_and_models_are_named(ctx, compared_case) -> None:  # type: ignore[no-untyped-def]
    case, run, q, k = compared_case
    sql(ctx, "update comparison_runs set known_ids = :k, questioned_ids = :q, device = 'cuda:0', models = '[]' "
             "where id = :i", k=json.dumps([q.id]), q=json.dumps([k.id]), i=run.id)
    report = evidence.verify_case(ctx, case.number)
    found = {f.field: f for f in failing(report)}
    assert set(found) == {"known_ids", "questioned_ids", "device", "models"}
    assert all(f.object_type == "comparison_run" and f.problem == "CHANGED" for f in found.values())
    assert found["known_ids"].expected == json.dumps([k.id]) and found["known_ids"].found == json.dumps([q.id])


def test_deleted_comparison_row_is_named(ctx, compared_case) -> None:  # type: ignore[no-untyped-def]
    case, run, _, _ = compared_case
    sql(ctx, "delete from comparison_runs where id = :i", i=run.id)
    report = evidence.verify_case(ctx, case.number)
    assert [(f.object_type, f.object_id, f.problem) for f in failing(report)] == [
        ("comparison_run", str(run.id), "DELETED")]
    assert "row is missing" in failing(report)[0].describe()


def test_comparison_row_inserted_outside_the_services_is_unrecorded(ctx, compared_case) -> None:  # type: ignore[no-untyped-def]
    case, run, q, k = compared_case
    sql(ctx, "insert into comparison_runs (case_id, questioned_ids, known_ids, models, app_version, device, "
             "parameters, results, timings, created_at, created_by) values (:c, :q, :k, '[]', '0.1.0', 'cpu', "
             "'{}', :r, '{}', '2026-01-01 00:00:00', 'forger')",
        c=case.id, q=json.dumps([q.id]), k=json.dumps([k.id]), r=STORED_LR)
    forged = sql_value(ctx, "select max(id) from comparison_runs")
    assert forged != run.id
    report = evidence.verify_case(ctx, case.number)
    assert [(f.object_type, f.object_id, f.problem) for f in failing(report)] == [
        ("comparison_run", str(forged), "UNRECORDED")]


def test_results_edited_into_an_unreadable_shape_stop_verify_naming_the_run(  # type: ignore[no-untyped-def]
        ctx, compared_case, capsys) -> None:
    from s2f_desktop.cli.main import main

    case, run, _, _ = compared_case
    stored = json.loads(sql_value(ctx, "select results from comparison_runs where id = :i", i=run.id))
    stored["log10_lr"] = "5.0"
    sql(ctx, "update comparison_runs set results = :r where id = :i", r=json.dumps(stored), i=run.id)
    with pytest.raises(IntegrityError, match=f"comparison run #{run.id}: comparison results are malformed"):
        evidence.verify_case(ctx, case.number, record=False)
    assert main(["--data-dir", str(ctx.data_dir), "verify", case.number]) == 4
    assert f"comparison run #{run.id}" in capsys.readouterr().err


def test_abstention_is_bound_too(ctx, compared_case, stub_comparison) -> None:  # type: ignore[no-untyped-def]
    """An abstention's missing LR is a bound value: a number written into it is named."""
    case, _, q, k = compared_case
    stub_comparison(STORED_ABSTAIN)
    run = svc.compare_segments(ctx, case.number, [k.id], [q.id], device="cpu")
    assert run.results.abstained and evidence.verify_case(ctx, case.number).ok
    stored = json.loads(sql_value(ctx, "select results from comparison_runs where id = :i", i=run.id))
    stored.update(log10_lr=2.0, abstain_reason=None)
    sql(ctx, "update comparison_runs set results = :r where id = :i", r=json.dumps(stored), i=run.id)
    report = evidence.verify_case(ctx, case.number)
    assert {f.field for f in failing(report)} == {"log10_lr", "abstain_reason", "results_sha256"}
    assert next(f for f in failing(report) if f.field == "log10_lr").expected == "null"


def test_case_closed_during_a_comparison_stores_nothing(ctx, compared_case, stub_comparison) -> None:  # type: ignore[no-untyped-def]
    """The case is re-checked when the run is recorded, so a comparison never follows the close in the chain."""
    case, _, q, k = compared_case
    stub_comparison(STORED_LR, during=lambda: cases.close_case(ctx, case.number))
    n = len(evidence.audit_trail(ctx, case.number)[0])
    with pytest.raises(InputError):
        svc.compare_segments(ctx, case.number, [k.id], [q.id], device="cpu")
    events = evidence.audit_trail(ctx, case.number)[0]
    assert len(events) == n + 1 and events[-1].action == "case.close"
    assert len(svc.list_comparisons(ctx, case.number)) == 1
    assert evidence.verify_case(ctx, case.number).ok


def _strip_custody(ctx, case_id: int) -> None:  # type: ignore[no-untyped-def]
    """Rewrite the chain as the 0.1.0 writer made it: ``comparison.run`` events without the custody block."""
    with ctx.store.read() as s:
        events = list_events(s, case_id)
    prev = "0" * 64
    for ev in events:
        details = ev.details
        if ev.action == "comparison.run":
            details = {k: v for k, v in ev.details.items() if k != "custody"}
        h = event_hash(prev, _payload(ev.case_id, ev.seq, ev.at, ev.actor, ev.action, ev.object_type,
                                      ev.object_ids, details))
        sql(ctx, "update audit_events set details = :d, prev_hash = :p, hash = :h where id = :i",
            d=json.dumps(details), p=prev, h=h, i=ev.id)
        prev = h


def test_legacy_comparison_event_verifies_as_not_bound_and_its_verdict_stays_enforced(  # type: ignore[no-untyped-def]
        ctx, compared_case) -> None:
    case, run, q, k = compared_case
    _strip_custody(ctx, case.id)
    ev = _comparison_event(ctx, case.number)
    assert "custody" not in ev.details and ev.details["log10_lr"] == 3.67
    report = evidence.verify_case(ctx, case.number, record=False)
    assert report.ok and report.chain.ok
    unbound = [f for f in report.custody if f.problem == "UNBOUND"]
    assert [(f.object_type, f.object_id) for f in unbound] == [("comparison_run", str(run.id))]
    u = unbound[0]
    assert {"results_sha256", "parameters", "created_at", "lr"} <= set(u.field.split(", "))
    assert "log10_lr" not in u.field.split(", ") and "known_ids" not in u.field.split(", ")
    assert u.event_id == ev.id and "not bound (legacy event)" in u.describe()
    # What the old event recorded (the sides and the verdict) is still enforced; the rest is not bound.
    stored = json.loads(sql_value(ctx, "select results from comparison_runs where id = :i", i=run.id))
    stored["log10_lr"] = 5.0
    sql(ctx, "update comparison_runs set results = :r, known_ids = :k, parameters = '{}' where id = :i",
        r=json.dumps(stored), k=json.dumps([q.id]), i=run.id)
    report = evidence.verify_case(ctx, case.number, record=False)
    assert {(f.object_type, f.field) for f in failing(report)} == {("comparison_run", "log10_lr"),
                                                                    ("comparison_run", "known_ids")}
