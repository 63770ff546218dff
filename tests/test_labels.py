"""Segment label files (Praat TextGrid, Audacity labels): parsing, writing, round trips
through the segment service and the CLI, bulk segment edits, run names, and the store's
change notifications the views rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2f_desktop.audio.labels import (
    LabelInterval,
    label_format,
    parse_audacity,
    parse_textgrid,
    write_audacity,
    write_textgrid,
)
from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import SegmentStatus
from s2f_desktop.core.results import Timings

INTERVALS = [LabelInterval(0.5, 1.25, "hello", "A"), LabelInterval(1.0, 2.0, 'says "no"', "A"),  # overlap in A
             LabelInterval(2.5, 3.0, "", "B"), LabelInterval(3.1, 3.9, "untagged", "")]


def _key(ivs):  # type: ignore[no-untyped-def]
    return sorted((round(i.start_s, 6), round(i.end_s, 6), i.label, i.speaker) for i in ivs)


def test_textgrid_round_trip_with_overlaps_quotes_and_speakers() -> None:
    text = write_textgrid(INTERVALS, 4.0)
    assert 'name = "A"' in text and 'name = "A (2)"' in text and 'name = "B"' in text and 'name = "segments"' in text
    assert '"says ""no"""' in text and '"(speech)"' in text
    assert _key(parse_textgrid(text)) == _key(INTERVALS)


def test_textgrid_short_format_utf16_and_point_tiers(tmp_path: Path) -> None:
    from s2f_desktop.audio.labels import read_labels

    short = ('File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n3\n<exists>\n2\n'
             '"IntervalTier"\n"caller [1]"\n0\n3\n3\n0\n1\n""\n1\n2.5\n"héllo"\n2.5\n3\n""\n'
             '"TextTier"\n"events"\n0\n3\n1\n1.5\n"click"\n')
    p = tmp_path / "short.TextGrid"
    p.write_bytes(short.encode("utf-16"))
    assert read_labels(p) == [LabelInterval(1.0, 2.5, "héllo", "caller [1]")]
    with pytest.raises(InputError, match="not a Praat"):
        parse_textgrid("hello world")


def test_audacity_round_trip_and_errors() -> None:
    text = write_audacity(INTERVALS)
    assert text.splitlines()[0] == "0.500000\t1.250000\t[A] hello"
    assert _key(parse_audacity(text)) == _key(INTERVALS)
    # spectral-selection lines are skipped; decimal commas are read
    assert parse_audacity("1,5\t2,5\tx\n\\\t100\t2000\n") == [LabelInterval(1.5, 2.5, "x", "")]
    with pytest.raises(InputError, match="line 1"):
        parse_audacity("abc\tdef\tx\n")
    assert label_format("a.TextGrid") == "textgrid" and label_format("b.txt") == "audacity"
    with pytest.raises(InputError, match="TextGrid"):
        label_format("c.csv")


@pytest.fixture
def evidence(ctx, case, tone_wav):  # type: ignore[no-untyped-def]
    from s2f_desktop.services.evidence import import_file

    return import_file(ctx, case.number, tone_wav(seconds=4.0, sr=16000)).evidence


@pytest.mark.parametrize("suffix", [".TextGrid", ".txt"])
def test_service_round_trip_is_sample_exact(ctx, case, evidence, tmp_path, suffix) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services import segments as seg_svc
    from s2f_desktop.services.evidence import audit_trail

    a = seg_svc.add_segment(ctx, case.number, evidence.id, 8001, 20003, label="greeting", speaker_tag="A")
    b = seg_svc.add_segment(ctx, case.number, evidence.id, 16000, 24000, speaker_tag="A")  # overlaps a
    c = seg_svc.add_segment(ctx, case.number, evidence.id, 40000, 48000, label="reply", speaker_tag="B")
    rejected = seg_svc.add_segment(ctx, case.number, evidence.id, 50000, 52000)
    seg_svc.reject_suggestion(ctx, rejected.id)
    out = seg_svc.export_labels(ctx, case.number, evidence.id, tmp_path / f"labels{suffix}")
    with pytest.raises(InputError, match="already exists"):  # never overwrites
        seg_svc.export_labels(ctx, case.number, evidence.id, out)
    # importing into the same recording adds nothing (all present) ...
    assert seg_svc.import_labels(ctx, case.number, evidence.id, out) == []
    # ... and after deleting, brings the same ranges, labels and speakers back, sample-exact
    for g in (a, b, c):
        seg_svc.delete_segment(ctx, g.id)
    back = seg_svc.import_labels(ctx, case.number, evidence.id, out)
    assert sorted((g.start_sample, g.end_sample, g.label, g.speaker_tag) for g in back) == sorted(
        (g.start_sample, g.end_sample, g.label, g.speaker_tag) for g in (a, b, c))
    assert all(g.status is SegmentStatus.ACCEPTED and g.params["imported_from"] == out.name for g in back)
    events, chain = audit_trail(ctx, case.number)
    assert chain.ok and {"segment.export_labels", "segment.import_labels"} <= {e.action for e in events}


def test_import_refuses_a_file_reaching_past_the_recording(ctx, case, evidence, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services import segments as seg_svc

    p = tmp_path / "long.txt"
    p.write_text("0.5\t1.0\tok\n3.5\t9.0\ttoo long\n")
    with pytest.raises(InputError, match=r"interval 2 .*past the end"):
        seg_svc.import_labels(ctx, case.number, evidence.id, p)
    assert seg_svc.list_segments(ctx, evidence.id) == []  # nothing half-imported


def test_cli_export_and_import_labels(tmp_path, tone_wav, capsys) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.main import main

    d = ["--data-dir", str(tmp_path / "cli"), "--analyst", "J. Newcomer"]
    assert main([*d, "case", "new", "L-1", "--title", "Labels"]) == 0
    assert main([*d, "import", "L-1", str(tone_wav(seconds=3.0))]) == 0
    assert main([*d, "segments", "L-1", "1", "--add", "0.5", "1.5", "--label", "one", "--speaker", "A"]) == 0
    tg = tmp_path / "out.TextGrid"
    assert main([*d, "segments", "L-1", "1", "--export-labels", str(tg)]) == 0
    assert 'text = "one"' in tg.read_text()
    aud = tmp_path / "more.txt"
    aud.write_text("2.0\t2.5\t[B] two\n")
    capsys.readouterr()
    assert main([*d, "segments", "L-1", "1", "--import-labels", str(aud), "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["label"], r["speaker_tag"]) for r in rows) == [("one", "A"), ("two", "B")]
    assert main([*d, "audit", "L-1", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    events = events.get("events", events) if isinstance(events, dict) else events
    assert {e["actor"] for e in events} == {"J. Newcomer"}  # the global --analyst is on every event


def test_bulk_update_is_one_audited_transaction(ctx, case, evidence) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services import segments as seg_svc
    from s2f_desktop.services.evidence import audit_trail

    segs = [seg_svc.add_segment(ctx, case.number, evidence.id, i * 8000, i * 8000 + 4000) for i in range(4)]
    out = seg_svc.set_segments_fields(ctx, [g.id for g in segs], action="segment.bulk_speaker", speaker_tag="A")
    assert [g.speaker_tag for g in out] == ["A"] * 4
    events, _ = audit_trail(ctx, case.number)
    bulk = [e for e in events if e.action == "segment.bulk_speaker"]
    assert len(bulk) == 1 and set(bulk[0].object_ids) == {g.id for g in segs}
    # one bad change refuses the batch
    with pytest.raises(InputError):
        seg_svc.update_segments(ctx, {segs[0].id: {"label": "x"}, segs[1].id: {"end": 10 ** 9}})
    assert seg_svc.get_segment(ctx, segs[0].id).label == ""


def test_store_observers_see_committed_audited_changes_only(ctx, case, evidence) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services import segments as seg_svc

    seen: list = []
    unsubscribe = ctx.store.subscribe(seen.append)
    g = seg_svc.add_segment(ctx, case.number, evidence.id, 0, 4000)
    with pytest.raises(InputError):
        seg_svc.add_segment(ctx, case.number, evidence.id, 0, 10 ** 9)  # refused: nothing committed
    unsubscribe()
    seg_svc.delete_segment(ctx, g.id)
    assert len(seen) == 1 and [(c.action, c.object_ids, c.case_id) for c in seen[0]] == [
        ("segment.add", (g.id,), case.id)]


def test_runs_are_named_and_renamed_in_the_audit_chain(ctx, case) -> None:  # type: ignore[no-untyped-def]
    from helpers import stub_results  # a stored run's results (run names read nothing of them)

    from s2f_desktop.services import runs
    from s2f_desktop.store import repositories as repo

    with ctx.store.write() as s:
        run = repo.add_run(s, case.id, [], (), "test", "cpu", {}, 0, stub_results(), Timings(0.0, 0.0, 0.0), "tester")
    runs.annotate_run(ctx, case.number, run.id, "Speaker A", "first pass")
    runs.annotate_run(ctx, case.number, run.id, "Speaker A (interview)")
    note = runs.run_notes(ctx, case.number)[run.id]
    assert (note.name, note.notes, note.by) == ("Speaker A (interview)", "", "tester")
    with pytest.raises(InputError):
        runs.annotate_run(ctx, case.number, run.id, "x" * 500)
