"""Attack suite, part 1: tampering with the store, hostile text, output paths, read-only media.

Each test plays one attack from issue 11 (a defence expert, a careless user or a hostile
examiner editing the SQLite file or the vault by hand) and asserts that it ends in
detection (``verify`` names the object, the field and the event that recorded the
expected value) or in a clean refusal that loses nothing. The README section "Custody
guarantees" lists the same attacks; keep the two in step.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.text import check_text, neutralise
from s2f_desktop.services import cases, evidence, segments
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import _payload, event_hash, list_events, verify_chain

# ----------------------------------------------------------------------------- helpers


def sql(ctx, statement: str, **params) -> None:  # type: ignore[no-untyped-def]
    """An out-of-band edit, as someone with sqlite3 and the database file would make it."""
    with ctx.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def sql_value(ctx, statement: str, **params):  # type: ignore[no-untyped-def]
    """One value read straight from the database file (as the tamperer sees it)."""
    with ctx.store.engine.begin() as conn:
        return conn.execute(text(statement), params).scalar_one()


def rehash_chain(ctx, case_id: int, transform=None) -> None:  # type: ignore[no-untyped-def]
    """Rewrite a case's chain with valid hashes (optionally transforming each event's details first)."""
    with ctx.store.read() as s:
        events = list_events(s, case_id)
    prev = "0" * 64
    for ev in events:
        details = transform(ev) if transform else ev.details
        h = event_hash(prev, _payload(ev.case_id, ev.seq, ev.at, ev.actor, ev.action, ev.object_type,
                                      ev.object_ids, details))
        sql(ctx, "update audit_events set details = :d, prev_hash = :p, hash = :h where id = :i",
            d=json.dumps(details), p=prev, h=h, i=ev.id)
        prev = h


def failing(report):  # type: ignore[no-untyped-def]
    return [f for f in report.custody if f.failing]


@pytest.fixture
def bound_case(ctx, case, tone_wav):  # type: ignore[no-untyped-def]
    """A case with two recordings, a segment edited once and the case details changed."""
    a = evidence.import_file(ctx, case.number, tone_wav(seconds=2.0, name="a.wav")).evidence
    b = evidence.import_file(ctx, case.number, tone_wav(freq=220, seconds=2.0, name="b.wav")).evidence
    seg = segments.add_segment(ctx, case.number, a.id, 1000, 9000, label="caller")
    segments.update_segment(ctx, seg.id, end=12000)
    cases.update_case(ctx, case.number, notes="phone seized 3 March")
    return case, a, b, seg


# ------------------------------------------------------------------------- tampering


def test_untouched_case_verifies_with_every_row_bound(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    case, *_ = bound_case
    report = evidence.verify_case(ctx, case.number)
    assert report.ok and report.custody == () and report.orphans == ()
    assert report.head[0] == len(list(evidence.audit_trail(ctx, case.number)[0])) - 1  # before its own event


def test_substituted_recording_is_named_with_the_import_event(ctx, bound_case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    case, a, _, _ = bound_case
    other = tone_wav(freq=880, seconds=2.0, name="substitute.wav")
    sha, size = evidence.sha256_file(other)
    rel = f"{sha[:2]}/{sha}.wav"
    (ctx.store.layout.vault / sha[:2]).mkdir(exist_ok=True)
    (ctx.store.layout.vault / rel).write_bytes(other.read_bytes())
    sql(ctx, "update evidence set sha256 = :s, vault_relpath = :r, size_bytes = :n where id = :i",
        s=sha, r=rel, n=size, i=a.id)
    # The re-hash of the vault file now "passes": only the chain can catch this.
    report = evidence.verify_case(ctx, case.number)
    assert all(c.status.value == "OK" for c in report.evidence)
    assert not report.ok
    by_field = {f.field: f for f in failing(report)}
    assert {"sha256", "vault_relpath"} <= set(by_field)
    assert report.orphans == (a.vault_relpath,)  # the real recording is now named by no row
    f = by_field["sha256"]
    assert f.object_type == "evidence" and f.object_id == str(a.id) and a.sha256 in f.expected and sha in f.found
    import_event = next(e for e in evidence.audit_trail(ctx, case.number)[0] if e.action == "evidence.import")
    assert f.event_id == import_event.id and f"event #{import_event.seq}" in f.describe()


def test_deleted_evidence_row_and_file_is_named(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    case, _, b, _ = bound_case
    os.chmod(ctx.store.layout.vault / b.vault_relpath, stat.S_IWUSR | stat.S_IRUSR)
    (ctx.store.layout.vault / b.vault_relpath).unlink()
    sql(ctx, "delete from evidence where id = :i", i=b.id)
    report = evidence.verify_case(ctx, case.number)
    assert not report.ok
    assert [(f.object_type, f.object_id, f.problem) for f in failing(report)] == [("evidence", str(b.id), "DELETED")]


def test_renamed_original_and_moved_segment_are_named(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    case, a, _, seg = bound_case
    sql(ctx, "update evidence set original_name = 'innocent.wav' where id = :i", i=a.id)
    sql(ctx, "update segments set start_sample = 2000, label = 'someone else' where id = :i", i=seg.id)
    report = evidence.verify_case(ctx, case.number)
    found = {(f.object_type, f.field): f for f in failing(report)}
    assert ("evidence", "original_name") in found and "innocent.wav" in found[("evidence", "original_name")].found
    assert found[("segment", "start_sample")].expected == "1000"
    # The expected end was recorded by the later segment.update event, and named as such.
    events = evidence.audit_trail(ctx, case.number)[0]
    update = next(e for e in events if e.action == "segment.update")
    assert found[("segment", "label")].event_id == update.id
    assert f"evidence #{a.id}: original_name is \"innocent.wav\", expected \"a.wav\"" in "; ".join(report.problems)


def test_row_inserted_outside_the_services_is_unrecorded(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    case, a, _, _ = bound_case
    sql(ctx, "insert into segments (id, evidence_id, start_sample, end_sample, sample_rate, label, speaker_tag, "
             "source, status, params, created_at) values ('forged', :e, 0, 100, 16000, '', '', 'manual', "
             "'accepted', '{}', '2026-01-01 00:00:00')", e=a.id)
    report = evidence.verify_case(ctx, case.number)
    assert [(f.object_id, f.problem) for f in failing(report)] == [("forged", "UNRECORDED")]


def test_deleted_segment_is_named_and_a_restored_one_binds_again(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    case, _, _, seg = bound_case
    gone = segments.delete_segment(ctx, seg.id)
    assert evidence.verify_case(ctx, case.number).ok
    segments.restore_segment(ctx, gone)
    assert evidence.verify_case(ctx, case.number).ok
    sql(ctx, "delete from segments where id = :i", i=seg.id)
    report = evidence.verify_case(ctx, case.number)
    assert [(f.object_id, f.problem) for f in failing(report)] == [(seg.id, "DELETED")]


def test_case_reopened_by_sql_and_closed_again_is_named(ctx, bound_case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    case, *_ = bound_case
    cases.close_case(ctx, case.number)
    assert evidence.verify_case(ctx, case.number).ok
    sql(ctx, "update cases set status = 'open' where id = :i", i=case.id)
    report = evidence.verify_case(ctx, case.number, record=False)
    assert [(f.field, f.problem) for f in failing(report)] == [("status", "CHANGED")]
    # The services refuse to work on a case row the chain does not vouch for: no import, no second close (an
    # audited close would record the reopened row as trusted), nothing in the vault; verify still names it.
    from s2f_desktop.core.errors import IntegrityError

    vault = sorted(p.name for p in ctx.store.layout.vault.rglob("*") if p.is_file())
    with pytest.raises(IntegrityError, match="status is \"open\", expected \"closed\""):
        evidence.import_file(ctx, case.number, tone_wav(freq=330, name="late.wav"))
    with pytest.raises(IntegrityError, match="changed outside the application"):
        cases.close_case(ctx, case.number)
    assert sorted(p.name for p in ctx.store.layout.vault.rglob("*") if p.is_file()) == vault
    report = evidence.verify_case(ctx, case.number, record=False)
    assert [(f.field, f.problem) for f in failing(report)] == [("status", "CHANGED")]


def test_edited_analysis_results_are_named(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    """A run row is bound by the hash of its results (the run is stored here without the models)."""
    from s2f_desktop.store import custody
    from s2f_desktop.store.audit import append_event

    case, _, _, seg = bound_case
    with ctx.store.write() as s:
        from s2f_desktop.core.results import SCHEMA_VERSION, ModelRecord, RunResults, Timings

        a = _stub_analysis([seg.id])
        run = repo.add_run(s, case.id, [seg.id], (ModelRecord("traits-v1", "heads.npz", "0" * 64),),
                           "test", "cpu", {"p": 1}, 7, RunResults(SCHEMA_VERSION, (), a.parts, a.pooled, None),
                           Timings(0.0, 0.0, 1.0), ctx.actor)
        append_event(s, case_id=case.id, actor=ctx.actor, action="analysis.run", object_type="analysis_run",
                     object_ids=[run.id], details={"custody": [custody.state("analysis_run", run)]})
    assert evidence.verify_case(ctx, case.number).ok
    stored = json.loads(sql_value(ctx, "select results from analysis_runs where id = :i", i=run.id))
    stored["pooled"]["traits"]["sex"]["label"] = "male"
    sql(ctx, "update analysis_runs set results = :r where id = :i", r=json.dumps(stored), i=run.id)
    report = evidence.verify_case(ctx, case.number)
    assert [(f.object_type, f.field) for f in failing(report)] == [("analysis_run", "results_sha256")]


def test_forged_event_with_recomputed_hashes_is_named_itself(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    """Rewriting an import event's bound hash (and its event hash) to match a substituted row."""
    case, a, _, _ = bound_case
    events = evidence.audit_trail(ctx, case.number)[0]
    target = next(e for e in events if e.action == "evidence.import")
    details = dict(target.details, original_name="innocent.wav")
    h = event_hash(target.prev_hash, _payload(target.case_id, target.seq, target.at, target.actor, target.action,
                                              target.object_type, target.object_ids, details))
    sql(ctx, "update audit_events set details = :d, hash = :h where id = :i", d=json.dumps(details), h=h,
        i=target.id)
    chain = evidence.audit_trail(ctx, case.number)[1]
    assert not chain.ok and chain.first_broken == target.id and "edited" in chain.reason


def test_full_chain_rewrite_is_caught_by_a_receipt_kept_elsewhere(ctx, bound_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    case, a, _, _ = bound_case
    path, receipt = evidence.export_receipt(ctx, case.number, tmp_path / "receipt.json")
    assert receipt["chain"]["intact_when_exported"] and evidence.check_receipt(ctx, case.number, path) == []
    # The forger renames the original AND rewrites every event (new custody hash, new chain):
    sql(ctx, "update evidence set original_name = 'innocent.wav' where id = :i", i=a.id)

    def forge(ev):  # type: ignore[no-untyped-def]
        d = json.loads(json.dumps(ev.details))
        for entry in d.get("custody", []):
            if entry.get("object") == "evidence" and entry["id"] == str(a.id):
                from s2f_desktop.store.custody import content_hash

                entry["values"]["original_name"] = "innocent.wav"
                entry["hash"] = content_hash(entry["values"])
        return d

    rehash_chain(ctx, case.id, forge)
    report = evidence.verify_case(ctx, case.number, record=False)
    assert report.ok  # the store alone cannot tell: this is what an anchor is for
    problems = evidence.check_receipt(ctx, case.number, path)
    assert problems and "rewritten" in problems[0]


def test_edited_receipt_is_detected(ctx, bound_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    case, *_ = bound_case
    path, _ = evidence.export_receipt(ctx, case.number, tmp_path / "r.json")
    data = json.loads(path.read_text())
    data["chain"]["head_seq"] = 1
    path.write_text(json.dumps(data))
    assert any("receipt itself was edited" in p for p in evidence.check_receipt(ctx, case.number, path))


@pytest.mark.parametrize("column, value, says", [
    ("media", "{}", "evidence #{id}: a stored value cannot be read (the field 'duration_s' is missing)"),
    ("media", "garbage", "holds a value that is not valid JSON ('garbage')"),
])
def test_unreadable_rows_are_one_line_naming_the_row(ctx, bound_case, capsys, column, value, says) -> None:  # type: ignore[no-untyped-def]
    """A red-team pass edited stored JSON into shapes the app cannot read: verify and report crashed with
    'internal error' (exit 70) instead of naming what was changed."""
    from s2f_desktop.cli.main import main

    case, a, _, _ = bound_case
    sql(ctx, f"update evidence set {column} = :v where id = :i", v=value, i=a.id)
    ctx.store.engine.dispose()
    for argv in (["verify", case.number, "--no-record"], ["report", case.number]):
        assert main(["--data-dir", str(ctx.data_dir), *argv]) == 4
        err = capsys.readouterr().err.strip()
        assert says.format(id=a.id) in err and "outside the application" in err and "\n" not in err


def test_forged_provenance_is_named_and_a_recorded_change_binds(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    """The report prints who delivered an exhibit and under which seal: a red-team pass changed them by SQL
    and verify passed."""
    case, a, b, _ = bound_case
    cases.set_provenance(ctx, case.number, a.id, received_from="DC Smith", seal="S-1")
    assert evidence.verify_case(ctx, case.number, record=False).ok
    sql(ctx, "update evidence set received_from = 'DS Evil', seal = 'S-7' where id = :i", i=a.id)
    sql(ctx, "update evidence set medium = 'USB stick' where id = :i", i=b.id)  # never recorded: bound empty at import
    report = evidence.verify_case(ctx, case.number, record=False)
    found = {(f.object_type, f.object_id, f.field): f for f in failing(report)}
    assert set(found) == {("evidence", str(a.id), "received_from"), ("evidence", str(a.id), "seal"),
                          ("evidence", str(b.id), "medium")}
    provenance = next(e for e in evidence.audit_trail(ctx, case.number)[0] if e.action == "evidence.provenance")
    assert found[("evidence", str(a.id), "seal")].event_id == provenance.id
    assert found[("evidence", str(a.id), "seal")].expected == '"S-1"'


def test_legacy_provenance_events_bind_what_they_changed(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    """Before provenance was bound, the event recorded only old and new values; those stay enforced and the
    provenance fields no event bound are named as not bound."""
    case, a, _, _ = bound_case
    cases.set_provenance(ctx, case.number, a.id, seal="S-1")

    def strip(ev):  # type: ignore[no-untyped-def]
        details = dict(ev.details)
        if ev.action == "evidence.provenance":
            details.pop("custody", None)
        if ev.action == "evidence.import":  # an import's state as the earlier release wrote it
            details["custody"] = [dict(c, values={k: v for k, v in c["values"].items()
                                                  if k not in ("received_from", "received_on", "medium", "seal")})
                                  for c in details["custody"]]
            for c in details["custody"]:
                from s2f_desktop.store.custody import content_hash

                c["hash"] = content_hash(c["values"])
        return details

    rehash_chain(ctx, case.id, strip)
    report = evidence.verify_case(ctx, case.number, record=False)
    assert report.ok
    unbound = {f.object_id: f.field for f in report.custody if f.problem == "UNBOUND"}
    assert unbound[str(a.id)] == "medium, received_from, received_on"  # the seal was bound by the legacy event
    sql(ctx, "update evidence set seal = 'S-9' where id = :i", i=a.id)
    report = evidence.verify_case(ctx, case.number, record=False)
    assert [(f.field, f.expected, f.found) for f in failing(report)] == [("seal", '"S-1"', '"S-9"')]


def test_legacy_events_still_verify_and_still_bind_what_they_recorded(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    """A database written before the binding: events carry no 'custody' key."""
    case, a, _, seg = bound_case

    def strip(ev):  # type: ignore[no-untyped-def]
        return {k: v for k, v in ev.details.items() if k not in ("custody", "selection_sha256")}

    rehash_chain(ctx, case.id, strip)
    report = evidence.verify_case(ctx, case.number, record=False)
    assert report.ok and report.chain.ok
    unbound = [f for f in report.custody if f.problem == "UNBOUND"]
    assert unbound and any(f.object_type == "evidence" and "vault_relpath" in f.field for f in unbound)
    assert "not bound (legacy event)" in unbound[0].describe()
    # What the old import event did record (hash, name, size...) is still enforced.
    sql(ctx, "update evidence set original_name = 'x.wav' where id = :i", i=a.id)
    sql(ctx, "update segments set end_sample = 15000 where id = :i", i=seg.id)
    report = evidence.verify_case(ctx, case.number, record=False)
    assert {(f.object_type, f.field) for f in failing(report)} == {("evidence", "original_name"),
                                                                    ("segment", "end_sample")}


# ------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("bad", ["two\nlines", "erase\x1b[2Kline", "bell\x07", "rtl\u202eevil", "nul\x00",
                                 "x" * 301])
def test_control_characters_and_overlong_titles_are_refused(ctx, bad: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError):
        cases.create_case(ctx, "H-1", bad)
    assert cases.list_cases(ctx) == []


def test_labels_and_names_are_checked(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    case, a, _, seg = bound_case
    with pytest.raises(InputError, match="control or formatting"):
        segments.add_segment(ctx, case.number, a.id, 0, 100, label="a\rb")
    with pytest.raises(InputError):
        segments.update_segment(ctx, seg.id, label="\x1b]0;title\x07")
    with pytest.raises(InputError):
        cases.update_case(ctx, case.number, agency="x\u2028y")
    assert check_text("notes", "line one\r\nline two", allow_newlines=True) == "line one\nline two"
    assert neutralise("a\x1b[2Kb\nc\u202e") == "a\\x1b[2Kb\\x0ac\\u202e"


def test_raw_hostile_text_in_the_store_is_neutralised_in_every_cli_listing(ctx, bound_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Rows written by hand (or by an older version) with newlines and escape codes."""
    case, a, _, _ = bound_case
    sql(ctx, "update cases set title = :t, agency = :g where id = :i", t="Fake\n2  FAKE-ROW  open", g="\x1b[2J",
        i=case.id)
    sql(ctx, "update evidence set original_name = :n where id = :i", n="a\nb\x1b[31m.wav", i=a.id)
    sql(ctx, "update audit_events set actor = :a where seq = 1 and case_id = :c", a="x\n99  forged", c=case.id)
    env = dict(os.environ, S2F_DEBUG="")
    for args in (["case", "list"], ["case", "show", case.number], ["audit", case.number], ["verify", case.number,
                                                                                           "--no-record"]):
        r = subprocess.run([sys.executable, "-m", "s2f_desktop.cli.main", "--data-dir", str(ctx.data_dir), *args],
                           capture_output=True, text=True, env=env, timeout=120)
        assert "\x1b" not in r.stdout + r.stderr, args
        assert "Traceback" not in r.stderr
        assert not any(line.startswith(("2  FAKE", "99  forged", "b\\x1b")) for line in r.stdout.splitlines()), args
        if args[0] == "case" and args[1] == "show":
            assert "a\\x0ab\\x1b[31m.wav" in r.stdout


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1" * 300, "\u0663", "\u0661\u0662.5", "1e3", "-1",
                                   "0x10", "1:75", ""])
def test_every_bad_time_value_is_an_input_error(value: str) -> None:
    with pytest.raises(InputError):
        segments.parse_time(value)


@pytest.mark.parametrize("value", ["nan", "inf", "9" * 300, "\u0663"])
def test_analyze_refuses_bad_times_with_exit_2(value: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = subprocess.run([sys.executable, "-m", "s2f_desktop.cli.main", "--data-dir", str(tmp_path / "d"), "analyze",
                        str(tmp_path / "none.wav"), "--start", value], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_symlinked_import_records_both_paths(ctx, case, tone_wav, tmp_path) -> None:  # type: ignore[no-untyped-def]
    real = tone_wav(seconds=1.0, name="real.wav")
    link = tmp_path / "link.wav"
    link.symlink_to(real)
    ev = evidence.import_file(ctx, case.number, link).evidence
    assert ev.original_path == str(real.resolve())
    last = evidence.audit_trail(ctx, case.number)[0][-1]
    assert last.details["given_path"] == str(link) and last.details["original_path"] == str(real.resolve())


# ---------------------------------------------------------------------- output paths


def test_output_paths_never_overwrite_case_data_or_originals(ctx, bound_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    case, a, _, _ = bound_case
    original = Path(a.original_path)
    db = ctx.store.layout.database
    vault_file = ctx.store.layout.vault / a.vault_relpath
    link = tmp_path / "innocent-looking.pdf"
    link.symlink_to(db)
    hard = tmp_path / "hardlink.wav"
    os.link(original, hard)
    before = {p: p.read_bytes() for p in (original, db, vault_file)}
    for target in (db, vault_file, ctx.store.layout.root / "new.pdf", link, original, hard):
        with pytest.raises(InputError, match="never|inside"):
            evidence.safe_output(ctx, target, force=True)
    existing = tmp_path / "existing.pdf"
    existing.write_bytes(b"user's own file")
    with pytest.raises(InputError, match="already exists"):
        evidence.safe_output(ctx, existing)
    assert evidence.safe_output(ctx, existing, force=True) == existing.resolve()
    with pytest.raises(InputError, match="not a regular file"):
        evidence.safe_output(ctx, Path("/dev/null"), force=True)
    with pytest.raises(InputError, match="folder"):
        evidence.safe_output(ctx, tmp_path, force=True)
    # The data directory's own reports folder is the default destination and stays allowed.
    assert evidence.safe_output(ctx, ctx.store.layout.reports / "r.pdf").parent == ctx.store.layout.reports.resolve()
    assert {p: p.read_bytes() for p in before} == before and existing.read_bytes() == b"user's own file"


def test_label_and_composite_exports_never_land_in_the_data_directory(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    """A red-team pass exported labels and composites into the vault's folders; verify then failed on orphans."""
    from s2f_desktop.services import composites

    case, a, _, _ = bound_case
    folder = (ctx.store.layout.vault / a.vault_relpath).parent
    for target in (folder / "labels.txt", ctx.store.layout.root / "labels.TextGrid"):
        with pytest.raises(InputError, match="inside"):
            segments.export_labels(ctx, case.number, a.id, target)
    for target in (folder / "c.png", Path(a.original_path)):
        with pytest.raises(InputError, match="inside|original"):
            composites.check_export_path(ctx, target, force=True)
    assert evidence.verify_case(ctx, case.number, record=False).ok


def test_report_cli_refuses_existing_and_protected_outputs(ctx, bound_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    case, *_ = bound_case
    env = dict(os.environ, S2F_DEBUG="")
    db = ctx.store.layout.database
    db_bytes = db.read_bytes()
    own = tmp_path / "mine.pdf"
    own.write_bytes(b"keep me")
    base = [sys.executable, "-m", "s2f_desktop.cli.main", "--data-dir", str(ctx.data_dir), "report", case.number]
    for extra in (["--out", str(own)], ["--out", str(db), "--force"]):
        r = subprocess.run(base + extra, capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert own.read_bytes() == b"keep me" and db.read_bytes()[:16] == db_bytes[:16] == b"SQLite format 3\x00"
    assert [c.number for c in cases.list_cases(ctx)] == [case.number]
    assert not list(tmp_path.glob(".report-*"))


def test_receipt_export_refuses_to_overwrite(ctx, bound_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    case, *_ = bound_case
    out = tmp_path / "receipt.json"
    evidence.export_receipt(ctx, case.number, out)
    first = out.read_bytes()
    with pytest.raises(InputError, match="already exists"):
        evidence.export_receipt(ctx, case.number, out)
    assert out.read_bytes() == first
    assert evidence.audit_trail(ctx, case.number)[0][-1].action == "case.receipt"
    # The mode any new file of the user gets (a reviewer sharing the folder can read it), not mkstemp's 0600.
    from s2f_desktop.system.paths import _UMASK

    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_UMASK
    replaced = tmp_path / "shared.json"
    replaced.write_bytes(b"{}")
    os.chmod(replaced, 0o644)
    evidence.export_receipt(ctx, case.number, replaced, force=True)
    assert stat.S_IMODE(replaced.stat().st_mode) == 0o666 & ~_UMASK


# ---------------------------------------------------------------- read-only, schema


def test_read_only_data_directory_can_be_listed_verified_and_reported(ctx, bound_case, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Read-only media (simulated: tests run as root, for whom chmod does not make a folder read-only)."""
    from s2f_desktop.services.context import AppContext
    from s2f_desktop.store import db as dbmod
    from s2f_desktop.store.db import StorageError

    case, *_ = bound_case
    n_events = len(evidence.audit_trail(ctx, case.number)[0])
    ctx.store.close()
    monkeypatch.setattr(dbmod, "_is_read_only", lambda layout: True)
    ro = AppContext(dbmod.open_store(ctx.data_dir), "reviewer")
    try:
        assert ro.store.read_only
        assert [c.number for c in cases.list_cases(ro)] == [case.number]
        report = evidence.verify_case(ro, case.number)
        assert report.ok and not report.recorded
        with pytest.raises(StorageError, match="read-only"):
            cases.create_case(ro, "RO-2", "not allowed")
        from s2f_desktop.services.reports import build_report

        res = build_report(ro, case.number, out=tmp_path / "review" / "report.pdf")
        assert res.path.read_bytes()[:5] == b"%PDF-"
    finally:
        ro.close()
    check = AppContext(dbmod.open_store(ctx.data_dir), "x")
    try:
        assert len(evidence.audit_trail(check, case.number)[0]) == n_events
    finally:
        check.close()


def test_unstamped_schema_is_one_line_not_a_traceback(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    sql(ctx, "drop table alembic_version")
    ctx.store.close()
    r = subprocess.run([sys.executable, "-m", "s2f_desktop.cli.main", "--data-dir", str(ctx.data_dir), "case",
                        "list"], capture_output=True, text=True, env=dict(os.environ, S2F_DEBUG=""), timeout=120)
    assert r.returncode == 4 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "no schema version stamp" in r.stderr


def test_full_disk_on_write_is_one_plain_line(ctx, case, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from s2f_desktop.store.db import StorageError

    def full(*_a, **_k):  # type: ignore[no-untyped-def]
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(repo, "add_segment", full)
    with pytest.raises(StorageError, match="disk .* is full"):
        with ctx.store.write() as s:
            repo.add_segment(s, 1, 0, 1, 1)
    assert verify_chain(evidence.audit_trail(ctx, case.number)[0]).ok


# ------------------------------------------------------------------- analysis runs


def _stub_analysis(ids):  # type: ignore[no-untyped-def]
    from helpers import stub_quality, stub_traits

    from s2f_desktop.core.results import Acoustics, Analysis, PartResult, Pooled

    parts = tuple(PartResult(i, 1.0, 1.0, ((0.0, 1.0),), stub_quality(), stub_traits(), None) for i in ids)
    return Analysis(parts, Pooled(stub_quality(), stub_traits(), Acoustics({}, None), 1.0, 1.0), None)


class _StubAnalyzer:
    """Stands in for the neural models: the binding of a run does not depend on what they compute."""

    device = "cpu"

    def models(self):  # type: ignore[no-untyped-def]
        from s2f_desktop.core.results import ModelRecord

        return (ModelRecord("traits-v1", "heads.npz", "e" * 64),)

    def parameters(self):  # type: ignore[no-untyped-def]
        return {"stub": True}

    def analyze(self, parts, task):  # type: ignore[no-untyped-def]
        return _stub_analysis([p.name for p in parts]), {}


@pytest.fixture
def stub_analysis(monkeypatch):  # type: ignore[no-untyped-def]
    import types

    from s2f_desktop.services import analysis

    mod = types.SimpleNamespace(SEED=0, Part=lambda name, x, sr: types.SimpleNamespace(name=name, x=x, sr=sr))
    monkeypatch.setattr(analysis, "_analyzer_module", lambda: mod)
    monkeypatch.setattr(analysis, "_analyzer", lambda device: _StubAnalyzer())
    return analysis


def test_analysis_run_is_bound_and_its_selection_hashed(ctx, bound_case, stub_analysis) -> None:  # type: ignore[no-untyped-def]
    case, a, _, seg = bound_case
    run = stub_analysis.analyze_selection(ctx, case.number, [seg.id])
    event = evidence.audit_trail(ctx, case.number)[0][-1]
    assert event.action == "analysis.run" and len(event.details["selection_sha256"]) == 64
    assert event.details["custody"][0]["object"] == "analysis_run"
    assert run.models[0].shipped is False  # the stub's weights are not the shipped ones
    assert evidence.verify_case(ctx, case.number).ok
    sql(ctx, "update analysis_runs set segment_ids = :s, device = 'cuda:0' where id = :i",
        s=json.dumps(["forged"]), i=run.id)
    report = evidence.verify_case(ctx, case.number)
    assert {f.field for f in failing(report)} == {"segment_ids", "device"}


def test_failure_while_recording_a_run_stores_nothing(ctx, bound_case, stub_analysis, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    case, _, _, seg = bound_case
    n = len(evidence.audit_trail(ctx, case.number)[0])
    monkeypatch.setenv("S2F_FAULT_AT", "analysis.recording")
    with pytest.raises(OSError):
        stub_analysis.analyze_selection(ctx, case.number, [seg.id])
    with ctx.store.read() as s:
        assert repo.list_runs(s, case.id) == []
    assert len(evidence.audit_trail(ctx, case.number)[0]) == n


def test_full_disk_while_writing_a_report_is_one_line_and_leaves_nothing(  # type: ignore[no-untyped-def]
        ctx, bound_case, tmp_path, monkeypatch) -> None:
    import errno

    from s2f_desktop.services import reports
    from s2f_desktop.system.paths import OutputError

    case, *_ = bound_case
    n = len(evidence.audit_trail(ctx, case.number)[0])

    def full(data, path, generated_at):  # type: ignore[no-untyped-def]
        Path(path).write_bytes(b"%PDF-partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(reports, "render_pdf", full)
    out = tmp_path / "out" / "r.pdf"
    with pytest.raises(OutputError, match="disk holding .* is full; r.pdf was not written") as exc:
        reports.build_report(ctx, case.number, out=out)
    assert exc.value.exit_code == 4
    assert list(out.parent.iterdir()) == [] and len(evidence.audit_trail(ctx, case.number)[0]) == n
    assert not list((ctx.data_dir / ".pending").glob("*"))


def test_truncated_chain_leaves_its_rows_unrecorded(ctx, case, tone_wav) -> None:  # type: ignore[no-untyped-def]
    """Deleting the newest events keeps the chain's prefix valid, but the rows they created stand out."""
    ev = evidence.import_file(ctx, case.number, tone_wav(seconds=1.0)).evidence
    sql(ctx, "delete from audit_events where case_id = :c and action = 'evidence.import'", c=case.id)
    report = evidence.verify_case(ctx, case.number)
    assert report.chain.ok
    assert [(f.object_type, f.object_id, f.problem) for f in failing(report)] == [("evidence", str(ev.id),
                                                                                   "UNRECORDED")]


def test_composites_are_bound_and_a_swapped_image_or_deleted_row_is_named(ctx, bound_case, stub_analysis) -> None:  # type: ignore[no-untyped-def]
    """A composite row carries the state its create/adjust event recorded: a forged image hash, a changed
    label or a deleted composite is named with that event."""
    from s2f_desktop.services import composites as comp_svc

    case, _, _, seg = bound_case
    run = stub_analysis.analyze_selection(ctx, case.number, [seg.id])
    made = comp_svc.create_composite_set(ctx, run.id, views=("front",), size=64)
    edit = comp_svc.adjust_composite(ctx, made[0].id, {"nose_width": 0.4})
    report = evidence.verify_case(ctx, case.number)
    assert report.ok and not failing(report), [f.describe() for f in failing(report)]
    sql(ctx, "update composites set image_sha256 = :h, label = 'edited' where id = :i",
        h=json.dumps({"front": "0" * 64}), i=made[0].id)
    sql(ctx, "delete from composites where id = :i", i=edit.id)
    found = {(f.object_type, f.object_id, f.field, f.problem) for f in failing(evidence.verify_case(ctx, case.number))}
    assert ("composite", str(made[0].id), "image_sha256", "CHANGED") in found
    assert ("composite", str(made[0].id), "label", "CHANGED") in found
    assert ("composite", str(edit.id), "(row)", "DELETED") in found


def test_nothing_is_measured_on_an_altered_or_missing_vault_copy(ctx, bound_case, capsys) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.main import main
    from s2f_desktop.core.errors import IntegrityError
    from s2f_desktop.services import audio, comparison

    case, a, b, seg = bound_case
    other = segments.add_segment(ctx, case.number, b.id, 1000, 9000, label="known")
    path = evidence.vault_path(ctx, a)
    original = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # one bit of the last sample
    with pytest.raises(IntegrityError, match="a.wav: the vault copy is ALTERED"):
        audio.segment_quality(ctx, [seg.id])
    with pytest.raises(IntegrityError, match="ALTERED"):
        comparison.compare_segments(ctx, case.number, [seg.id], [other.id])
    with pytest.raises(IntegrityError, match="ALTERED"):
        segments.run_vad(ctx, case.number, a.id)
    from s2f_desktop.services import inspection

    with pytest.raises(IntegrityError, match="ALTERED"):
        inspection.selection_measures(ctx, a, 1000, 9000)
    runs_before = sql_value(ctx, "select count(*) from analysis_runs")
    rc = main(["--data-dir", str(ctx.data_dir), "analyze", case.number, "--segments", seg.id])
    err = capsys.readouterr().err
    assert rc == 4 and "ALTERED" in err and "nothing was measured" in err and err.count("\n") == 1
    assert sql_value(ctx, "select count(*) from analysis_runs") == runs_before
    path.unlink()
    with pytest.raises(IntegrityError, match="MISSING"):
        audio.segment_quality(ctx, [seg.id])


def test_an_audited_change_never_launders_an_out_of_band_edit(ctx, bound_case) -> None:  # type: ignore[no-untyped-def]
    """A seal changed in SQL, then an ordinary provenance edit: the edit would have recorded the altered row as
    trusted and verify would have passed. The services refuse it, and every other change to an altered row."""
    from s2f_desktop.core.errors import IntegrityError

    case, a, _, seg = bound_case
    cases.set_provenance(ctx, case.number, a.id, seal="S-123")
    sql(ctx, "update evidence set seal = 'S-999' where id = :i", i=a.id)
    n_events = len(evidence.audit_trail(ctx, case.number)[0])
    with pytest.raises(IntegrityError, match='evidence #[0-9]+: seal is "S-999", expected "S-123"'):
        cases.set_provenance(ctx, case.number, a.id, medium="CD-R")
    assert sql_value(ctx, "select medium from evidence where id = :i", i=a.id) in (None, "")
    sql(ctx, "update segments set label = 'someone else' where id = :i", i=seg.id)
    for change in (lambda: segments.update_segment(ctx, seg.id, label="caller 2"),
                   lambda: segments.delete_segment(ctx, seg.id), lambda: segments.reject_suggestion(ctx, seg.id),
                   lambda: segments.set_segments_fields(ctx, [seg.id], speaker_tag="A")):  # the bulk path too
        with pytest.raises(IntegrityError, match="changed outside the application"):
            change()
    assert len(evidence.audit_trail(ctx, case.number)[0]) == n_events  # nothing recorded
    cases.update_case(ctx, case.number, notes="more")  # a change to a row the chain vouches for goes ahead
    report = evidence.verify_case(ctx, case.number, record=False)
    assert {(f.object_type, f.field) for f in failing(report)} == {("evidence", "seal"), ("segment", "label")}


def test_bulk_changes_and_label_imports_are_bound(ctx, bound_case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A bulk accept and a label import are ordinary changes: verify passes after them and later edits of the
    same segments go ahead (their events carried no row states, so verify named the rows as changed outside the
    application and the custody pre-check refused to edit them). Bulk events of earlier releases are read for the
    new values they recorded."""
    from helpers import add_suggestions

    from s2f_desktop.store.audit import append_event

    case, a, _, _ = bound_case
    sugg = add_suggestions(ctx, a, [(12000, 20000, 0.9), (22000, 30000, 0.8)])
    segments.set_segments_fields(ctx, [g.id for g in sugg], action="segment.bulk_accept", status="accepted")
    labels = tmp_path / "labels.txt"
    labels.write_text("0.10\t0.20\tgreeting\n", encoding="utf-8")
    (imported,) = segments.import_labels(ctx, case.number, a.id, labels)
    assert evidence.verify_case(ctx, case.number, record=False).ok
    segments.update_segment(ctx, sugg[0].id, label="caller")
    segments.update_segment(ctx, imported.id, label="hello")
    assert evidence.verify_case(ctx, case.number, record=False).ok
    # An earlier release's bulk event (no row states): its recorded new values are what verify expects.
    with ctx.store.write() as s:
        repo.update_segment(s, sugg[1].id, speaker_tag="B")
        append_event(s, case_id=case.id, actor=ctx.actor, action="segment.bulk_update", object_type="segment",
                     object_ids=[sugg[1].id], details={"changes": {sugg[1].id: {"speaker_tag": {"old": "",
                                                                                             "new": "B"}}}})
    assert evidence.verify_case(ctx, case.number, record=False).ok
