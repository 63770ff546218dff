"""Case store: constraints enforced by SQLite, transactions, repositories returning frozen dataclasses."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from s2f_desktop.core.errors import NotFoundError
from s2f_desktop.core.models import (
    Case,
    CaseStatus,
    CompositeParam,
    Evidence,
    MediaInfo,
    Origin,
    Segment,
    SegmentSource,
    SegmentStatus,
)
from s2f_desktop.core.results import ModelRecord, Timings
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import append_event, event_count

MEDIA = MediaInfo(2.0, 16000, 1, "PCM_16", "WAV", 32000)
SHA = "ab" * 32


def _evidence(store, case_id: int, sha: str = SHA) -> Evidence:  # type: ignore[no-untyped-def]
    with store.write() as s:
        return repo.add_evidence(s, case_id, "x.wav", "/tmp/x.wav", sha, 64044, MEDIA, "tester", f"{sha[:2]}/{sha}.wav")


@pytest.fixture
def store(ctx):  # type: ignore[no-untyped-def]
    return ctx.store


@pytest.fixture
def case_row(store) -> Case:  # type: ignore[no-untyped-def]
    with store.write() as s:
        return repo.add_case(s, "S-1", "Store test", "tester")


def test_repositories_return_frozen_dataclasses(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    ev = _evidence(store, case_row.id)
    with store.write() as s:
        seg = repo.add_segment(s, ev.id, 100, 200, 16000)
    with store.read() as s:
        got = [repo.get_case(s, "S-1"), repo.get_evidence(s, ev.id), repo.get_segment(s, seg.id)]
    assert isinstance(got[0], Case) and isinstance(got[1], Evidence) and isinstance(got[2], Segment)
    for obj in got:
        assert dataclasses.is_dataclass(obj)
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.id = 99  # type: ignore[misc]
    assert got[1].media == MEDIA
    assert got[2].source is SegmentSource.MANUAL and got[2].status is SegmentStatus.ACCEPTED
    assert isinstance(got[0].created_at, datetime)


def test_vad_segments_start_suggested(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    ev = _evidence(store, case_row.id)
    with store.write() as s:
        seg = repo.add_segment(s, ev.id, 0, 10, 16000, source=SegmentSource.VAD, confidence=0.8)
    assert seg.status is SegmentStatus.SUGGESTED
    assert len(seg.id) == 32 and seg.duration_s == pytest.approx(10 / 16000)


@pytest.mark.parametrize("start,end", [(200, 200), (200, 100), (-1, 50)])
def test_segment_range_check_constraints(store, case_row: Case, start: int, end: int) -> None:  # type: ignore[no-untyped-def]
    ev = _evidence(store, case_row.id)
    with pytest.raises(SAIntegrityError, match="CHECK constraint"):
        with store.write() as s:
            repo.add_segment(s, ev.id, start, end, 16000)
    with store.read() as s:
        assert repo.list_segments(s, ev.id) == []


def test_segment_status_and_source_check_constraints(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    ev = _evidence(store, case_row.id)
    seg_sql = ("insert into segments (id, evidence_id, start_sample, end_sample, sample_rate, label, speaker_tag, "
               "source, status, params, created_at) values (:id, :ev, 0, 10, 16000, '', '', :src, :st, '{}', "
               "'2026-01-01 00:00:00')")
    for src, st in (("robot", "accepted"), ("manual", "maybe")):
        with pytest.raises(SAIntegrityError, match="CHECK constraint"):
            with store.write() as s:
                s.execute(text(seg_sql), {"id": f"{src}{st}", "ev": ev.id, "src": src, "st": st})


def test_evidence_for_missing_case_is_rejected(store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SAIntegrityError, match="FOREIGN KEY"):
        _evidence(store, 12345)


def test_segment_for_missing_evidence_is_rejected(store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SAIntegrityError, match="FOREIGN KEY"):
        with store.write() as s:
            repo.add_segment(s, 999, 0, 10, 16000)


def test_case_number_unique_and_status_checked(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SAIntegrityError, match="UNIQUE"):
        with store.write() as s:
            repo.add_case(s, "S-1", "again", "tester")
    with pytest.raises(SAIntegrityError, match="CHECK constraint"):
        with store.write() as s:
            s.execute(text("update cases set status = 'archived' where id = :i"), {"i": case_row.id})
    with pytest.raises(SAIntegrityError, match="CHECK constraint"):
        with store.write() as s:
            repo.add_case(s, "", "empty number", "tester")


def test_evidence_hash_checks_and_per_case_uniqueness(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    _evidence(store, case_row.id)
    with pytest.raises(SAIntegrityError, match="UNIQUE"):
        _evidence(store, case_row.id)
    with pytest.raises(SAIntegrityError, match="CHECK constraint"):
        _evidence(store, case_row.id, sha="abc")
    with pytest.raises(SAIntegrityError, match="CHECK constraint"):
        with store.write() as s:
            repo.add_evidence(s, case_row.id, "x", "/x", "cd" * 32, 0, MEDIA, "t", "cd/x")
    # The same content may be evidence in another case.
    with store.write() as s:
        other = repo.add_case(s, "S-2", "Other", "tester")
    assert _evidence(store, other.id).sha256 == SHA


def test_case_with_evidence_cannot_be_deleted_and_segments_cascade(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    ev = _evidence(store, case_row.id)
    with store.write() as s:
        repo.add_segment(s, ev.id, 0, 10, 16000)
    with pytest.raises(SAIntegrityError, match="FOREIGN KEY"):
        with store.write() as s:
            s.execute(text("delete from cases where id = :i"), {"i": case_row.id})
    with store.write() as s:
        s.execute(text("delete from evidence where id = :i"), {"i": ev.id})
    with store.read() as s:
        assert s.execute(text("select count(*) from segments")).scalar_one() == 0


def test_composite_parent_and_run_foreign_keys(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    from helpers import stub_results  # the store test needs a run row, not an analysis

    with store.write() as s:
        run = repo.add_run(s, case_row.id, ["a"], [ModelRecord("m", "f", "0" * 64)], "0.1.0", "cpu", {}, 1,
                           stub_results(), Timings(0, 0, 0), "t")
        c1 = repo.add_composite(s, run.id, "voice", "v1", {"age": CompositeParam(30, Origin.VOICE)}, {}, {}, "t")
        c2 = repo.add_composite(s, run.id, "voice", "v2", {}, {}, {}, "t", parent_id=c1.id, version=2)
    assert c2.parent_id == c1.id
    with pytest.raises(SAIntegrityError, match="FOREIGN KEY"):
        with store.write() as s:
            repo.add_composite(s, 777, "voice", "x", {}, {}, {}, "t")
    with pytest.raises(SAIntegrityError, match="CHECK constraint"):
        with store.write() as s:
            repo.add_composite(s, run.id, "voice", "x", {}, {}, {}, "t", version=0)
    with store.read() as s:
        assert [c.id for c in repo.list_composites(s, run.id)] == [c1.id, c2.id]
        assert repo.get_run(s, run.id).segment_ids == ("a",)


def test_write_block_rolls_back_everything_on_error(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="boom"):
        with store.write() as s:
            repo.add_case(s, "S-9", "rolled back", "tester")
            append_event(s, case_id=case_row.id, actor="t", action="case.update", object_type="case")
            raise RuntimeError("boom")
    with store.read() as s:
        assert repo.find_case(s, "S-9") is None
        assert event_count(s, case_row.id) == 0


def test_not_found_errors_are_one_line(store) -> None:  # type: ignore[no-untyped-def]
    with store.read() as s:
        for call in (lambda: repo.get_case(s, "nope"), lambda: repo.get_evidence(s, 5),
                     lambda: repo.get_segment(s, "x"), lambda: repo.get_run(s, 5), lambda: repo.get_composite(s, 5),
                     lambda: repo.get_case_by_id(s, 5)):
            with pytest.raises(NotFoundError) as info:
                call()
            assert "\n" not in str(info.value)


def test_update_case_refuses_unknown_fields(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="not an editable case field"):
        with store.write() as s:
            repo.update_case(s, "S-1", created_at=None)
    with store.write() as s:
        c = repo.update_case(s, "S-1", status=CaseStatus.CLOSED, notes="done")
    assert c.status is CaseStatus.CLOSED and c.notes == "done"


def test_single_writer_serialises_threads(store, case_row: Case) -> None:  # type: ignore[no-untyped-def]
    """Writers on several threads, each with its own session, all commit (no 'database is locked')."""
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(5):
                with store.write() as s:
                    append_event(s, case_id=case_row.id, actor=f"w{k}", action="test.write", object_type="case",
                                 object_ids=[case_row.id], details={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as s:
        assert event_count(s, case_row.id) == 20
        seqs = [r[0] for r in s.execute(text("select seq from audit_events where case_id = :c order by seq"),
                                        {"c": case_row.id})]
    assert seqs == list(range(1, 21))
