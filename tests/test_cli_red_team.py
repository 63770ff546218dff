"""Findings of a red-team sweep of the command line (hostile input), each kept as a regression test.

Every case: one line on stderr with a non-zero status, nothing the user owns changed, nothing half done.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2f_desktop.cli.main import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        rc = main([str(a) for a in args])
    except SystemExit as exc:  # argparse usage errors
        rc = int(exc.code or 0)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _one_line(rc: int, err: str, code: int = 2) -> None:
    assert rc == code, err
    assert err.count("\n") == 1 and "Traceback" not in err, err


@pytest.fixture
def store(ctx, case, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A data directory with case T-1 holding one 4 s tone recording, and the path of that recording."""
    from s2f_desktop.services.evidence import import_file

    wav = tmp_path / "in" / "tone.wav"
    wav.parent.mkdir()
    sr = 16000
    sf.write(str(wav), (0.1 * np.sin(np.arange(4 * sr) * 0.07)).astype(np.float32), sr)
    ev = import_file(ctx, "T-1", wav).evidence
    return ctx.data_dir, wav, ev


def test_a_rendered_composite_never_lands_on_case_data_or_an_input(store, capsys) -> None:  # type: ignore[no-untyped-def]
    data, wav, _ev = store
    db = data / "cases.sqlite3"
    before = {p: _sha(p) for p in (db, wav)}
    for target in (db, wav, data / "vault" / "x.png"):
        rc, out, err = _run(capsys, "--data-dir", data, "analyze", wav, "--composite", target, "--force")
        _one_line(rc, err)
        assert out == "" and ("inside the data directory" in err or "it is inside" in err
                              or "a recording being analysed" in err), err
    assert {p: _sha(p) for p in before} == before and not (data / "vault" / "x.png").exists()


def test_the_acting_analyst_and_the_case_analyst_are_not_confused(store, capsys) -> None:  # type: ignore[no-untyped-def]
    data = store[0]
    rc, _, err = _run(capsys, "--data-dir", data, "--analyst", "Bob", "case", "edit", "T-1", "--notes", "x")
    assert rc == 0, err
    rc, _, err = _run(capsys, "--data-dir", data, "--analyst", "Bob", "case", "edit", "T-1", "--case-analyst",
                      "Mallory")
    assert rc == 0, err
    rc, out, _ = _run(capsys, "--data-dir", data, "audit", "T-1", "--json")
    edits = [e for e in json.loads(out)["events"] if e["action"] == "case.update"]
    assert [e["actor"] for e in edits] == ["Bob", "Bob"]
    rc, out, _ = _run(capsys, "--data-dir", data, "case", "show", "T-1", "--json")
    assert json.loads(out)["case"]["analyst"] == "Mallory"


def test_label_files_with_non_numbers_and_composite_folders_that_are_files(store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    data, _wav, ev = store
    for bad in ("nan\t2\tx", "1e400\t2\tx"):
        f = tmp_path / "labels.txt"
        f.write_text(bad + "\n")
        rc, _, err = _run(capsys, "--data-dir", data, "segments", "T-1", ev.id, "--import-labels", f)
        _one_line(rc, err)
        assert "finite numbers of seconds" in err
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("mine")
    rc, _, err = _run(capsys, "--data-dir", data, "composite", "list", "T-1", "1", "--out", a_file)
    assert rc == 2 and a_file.read_text() == "mine"


def test_segment_requests_are_checked_whole_before_anything_changes(store, capsys) -> None:  # type: ignore[no-untyped-def]
    data, _wav, ev = store
    rc, _, err = _run(capsys, "--data-dir", data, "segments", "T-1", ev.id, "--add", "1", "2", "--accept", "zzzzzzzz")
    _one_line(rc, err)
    rc, out, _ = _run(capsys, "--data-dir", data, "segments", "T-1", ev.id, "--json")
    assert json.loads(out) == []  # the segment was not added before the bad id was found
    assert _run(capsys, "--data-dir", data, "segments", "T-1", ev.id, "--add", "1", "2")[0] == 0
    rc, _, err = _run(capsys, "--data-dir", data, "segments", "T-1", ev.id, "--add", "1", "2")
    _one_line(rc, err)
    assert "already has the segment 0:01.000-0:02.000" in err
    rc, _, err = _run(capsys, "--data-dir", data, "segments", "T-1", ev.id, "--speaker", "bob")
    _one_line(rc, err)
    rc, _, err = _run(capsys, "--data-dir", data, "compare", "T-1", "--questioned", "speaker:", "--known",
                      "speaker:B")
    _one_line(rc, err)
    assert "needs a speaker label" in err


def test_options_that_do_not_apply_are_refused_not_ignored(store, capsys) -> None:  # type: ignore[no-untyped-def]
    data, wav, ev = store
    rc, _, err = _run(capsys, "--data-dir", data, "analyze", "T-1", "--segments", "abcdef12", "--start", "1")
    _one_line(rc, err)
    assert "--start apply to audio files" in err
    rc, _, err = _run(capsys, "--data-dir", data, "compare", "T-1", "--questioned", "a", "--known", "b",
                      "--q-start", "100")
    _one_line(rc, err)
    rc, _, err = _run(capsys, "analyze", wav, "--end", "0")
    _one_line(rc, err, 3)  # a file the batch cannot analyse
    assert "empty range" in err
    for bad in ("abc", "-1", "10MB"):
        rc, _, err = _run(capsys, "archive", "index", wav.parent, "--out", data.parent / "idx", "--memory-limit", bad)
        assert rc == 2 and "memory" in err and "Traceback" not in err
    assert not (data.parent / "idx").exists()


def test_a_data_directory_is_never_made_inside_a_foreign_folder(store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    data = store[0]
    mine = tmp_path / "my-recordings"
    mine.mkdir()
    (mine / "holiday.wav").write_bytes(b"RIFF")
    rc, _, err = _run(capsys, "--data-dir", mine, "case", "list")
    _one_line(rc, err)
    assert "not an s2f-desktop data directory" in err and sorted(p.name for p in mine.iterdir()) == ["holiday.wav"]
    rc, _, err = _run(capsys, "--data-dir", data / "vault", "case", "list")
    _one_line(rc, err)
    assert "inside the data directory" in err and not (data / "vault" / "cases.sqlite3").exists()
    assert _run(capsys, "--data-dir", tmp_path / "new-store", "case", "list")[0] == 0  # a new folder is fine


def test_a_receipt_of_another_case_is_named_as_such_only(store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    data = store[0]
    assert _run(capsys, "--data-dir", data, "case", "new", "T-2", "--title", "other")[0] == 0
    receipt = tmp_path / "r2.json"
    assert _run(capsys, "--data-dir", data, "case", "receipt", "T-2", "--out", receipt)[0] == 0
    rc, out, err = _run(capsys, "--data-dir", data, "verify", "T-1", "--receipt", receipt)
    assert rc != 0 and "is for case 'T-2', not T-1" in out + err
    assert "rewritten" not in out + err


def test_a_float_recording_of_non_numbers_is_not_imported(store, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    data = store[0]
    bad = tmp_path / "nan.wav"
    sf.write(str(bad), np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    rc, _, err = _run(capsys, "--data-dir", data, "import", "T-1", bad)
    assert rc == 3 and "not numbers" in err and "Traceback" not in err
    rc, out, _ = _run(capsys, "--data-dir", data, "case", "show", "T-1", "--json")
    assert [e["original_name"] for e in json.loads(out)["evidence"]] == ["tone.wav"]


def test_repair_adopt_moves_a_stray_vault_file_out_of_the_vault(store, capsys) -> None:  # type: ignore[no-untyped-def]
    data, wav, _ev = store
    stray = data / "vault" / "bb" / "orphan.wav"
    stray.parent.mkdir(exist_ok=True)
    sf.write(str(stray), np.zeros(16000, np.float32), 16000)
    rc, out, _ = _run(capsys, "--data-dir", data, "verify", "T-1", "--json")
    assert rc == 4 and json.loads(out)["orphans"]
    rc, out, err = _run(capsys, "--data-dir", data, "repair", "adopt", "T-1")
    assert rc == 0 and "the stray copy was moved to" in out, err
    assert not stray.exists() and len(list((data / "quarantine").iterdir())) == 1
    rc, out, _ = _run(capsys, "--data-dir", data, "verify", "T-1", "--json")
    assert rc == 0 and json.loads(out)["orphans"] == []


def test_an_end_past_the_recording_is_said_not_silently_cut(store, capsys) -> None:  # type: ignore[no-untyped-def]
    wav = store[1]
    rc, out, err = _run(capsys, "analyze", wav, "--start", "1", "--end", "100", "--device", "cpu", "--json")
    assert rc == 0 and json.loads(out)["input"]["duration_s"] == 4.0
    assert "tone.wav: --end 100.0 s is past the end; analysed to the end (4.000 s)" in err


def test_accepting_an_accepted_segment_records_nothing(store) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.services import segments as seg_svc
    from s2f_desktop.services.context import AppContext
    from s2f_desktop.services.evidence import audit_trail
    from s2f_desktop.store import open_store

    data, _wav, ev = store
    ctx = AppContext(open_store(data), "tester")
    try:
        seg = seg_svc.add_segment(ctx, "T-1", ev.id, 0, 16000)
        n = len(audit_trail(ctx, "T-1")[0])
        assert seg_svc.accept_suggestion(ctx, seg.id) == seg
        assert len(audit_trail(ctx, "T-1")[0]) == n
        assert seg_svc.reject_suggestion(ctx, seg.id).status.value == "rejected"
        assert [e.action for e in audit_trail(ctx, "T-1")[0]][-1] == "segment.reject"
    finally:
        ctx.close()


def test_composite_arguments_that_would_be_dropped_are_refused(store, capsys) -> None:  # type: ignore[no-untyped-def]
    data = store[0]
    rc, _, err = _run(capsys, "--data-dir", data, "composite", "adjust", "4", "nose_width=0.3", "nose_width=0.5")
    _one_line(rc, err)
    assert "nose_width is given more than once" in err
    rc, _, err = _run(capsys, "--data-dir", data, "composite", "sliders", "1")
    _one_line(rc, err)


def test_case_numbers_that_a_command_would_read_as_a_word_are_refused(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    for number in ("list", "Adjust", "sliders"):
        rc, _, err = _run(capsys, "--data-dir", tmp_path / "d", "case", "new", number, "--title", "x")
        _one_line(rc, err)
        assert "is a command" in err
    rc, _, err = _run(capsys, "--data-dir", tmp_path / "d", "case", "new", "Ä-1", "--title", "x")
    _one_line(rc, err)
    assert "ASCII letters" in err
