"""`s2f` end to end through a subprocess: cases, import, verify, audit, tampering and bad input."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf


def _tone(sr: int, seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _mp4(path: Path, with_audio: bool = True) -> Path:
    """A 1 s MP4 with a tiny video track and (optionally) an AAC audio track, written with PyAV."""
    with av.open(str(path), "w") as c:
        vs = c.add_stream("mpeg4", rate=10)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=16000) if with_audio else None
        if a is not None:
            a.layout = "mono"
        for _ in range(10):
            for p in vs.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a is not None:
            y = _tone(16000, 1.0)
            for i in range(0, len(y), 1024):
                fr = av.AudioFrame.from_ndarray(y[None, i:i + 1024].copy(), format="fltp", layout="mono")
                fr.sample_rate, fr.pts = 16000, i
                for p in a.encode(fr):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return path


class S2F:
    """Runs ``python -m s2f_desktop.cli.main --data-dir DATA ...`` and keeps the result."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def __call__(self, *args: str, data_dir: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "s2f_desktop.cli.main"]
        if data_dir:
            cmd += ["--data-dir", str(self.data_dir)]
        env = dict(os.environ, S2F_DEBUG="")  # never re-raise: show what a user sees
        return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env, timeout=180)


def assert_one_line_error(r: subprocess.CompletedProcess[str], code: int | None = None, *needles: str) -> str:
    """Non-zero exit, exactly one line on stderr, no traceback, no usage dump."""
    assert r.returncode != 0, r.stdout
    if code is not None:
        assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and "usage:" not in r.stderr
    assert lines[0].startswith("s2f"), lines[0]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def s2f(tmp_path: Path) -> S2F:
    return S2F(tmp_path / "cli-data")


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "media"
    d.mkdir()
    wav = d / "interview.wav"
    sf.write(str(wav), _tone(16000, 1.5), 16000)
    return {"wav": wav, "mp4": _mp4(d / "clip.mp4")}


def test_full_workflow_and_tamper_detection(s2f: S2F, media: dict[str, Path]) -> None:
    wav_before = (media["wav"].read_bytes(), media["wav"].stat().st_mtime_ns)

    r = s2f("--analyst", "A. Analyst", "case", "new", "2026-0042", "--title", "Threat call", "--agency", "Unit 7")
    assert r.returncode == 0 and "created case 2026-0042" in r.stdout, r.stderr
    r = s2f("case", "list")
    assert r.returncode == 0 and "2026-0042" in r.stdout and "open" in r.stdout
    r = s2f("case", "list", "--json")
    listed = json.loads(r.stdout)
    assert [c["number"] for c in listed] == ["2026-0042"] and listed[0]["analyst"] == "A. Analyst"

    r = s2f("--analyst", "A. Analyst", "import", "2026-0042", media["wav"], media["mp4"])
    assert r.returncode == 0, r.stderr
    assert "imported #1: interview.wav" in r.stdout and "imported #2: clip.mp4" in r.stdout
    assert "16000 Hz" in r.stdout and "aac" in r.stdout
    assert (media["wav"].read_bytes(), media["wav"].stat().st_mtime_ns) == wav_before

    r = s2f("import", "2026-0042", media["wav"])
    assert r.returncode == 0 and "already present: interview.wav is evidence #1" in r.stdout

    r = s2f("case", "show", "2026-0042", "--json")
    shown = json.loads(r.stdout)
    assert shown["case"]["agency"] == "Unit 7"
    assert [e["original_name"] for e in shown["evidence"]] == ["interview.wav", "clip.mp4"]
    assert shown["evidence"][1]["media"]["codec"] == "aac"
    r = s2f("case", "show", "2026-0042")
    assert r.returncode == 0 and "Evidence (2)" in r.stdout and "clip.mp4" in r.stdout

    r = s2f("verify", "2026-0042")
    assert r.returncode == 0 and "verification: PASSED" in r.stdout and r.stderr == ""
    assert len(re.findall(r"^\d+\s+OK\s", r.stdout, flags=re.M)) == 2

    r = s2f("audit", "2026-0042", "--json")
    audit = json.loads(r.stdout)
    assert r.returncode == 0 and audit["chain"]["ok"]
    assert [e["action"] for e in audit["events"]] == ["case.create", "evidence.import", "evidence.import",
                                                      "evidence.reimport", "case.verify"]
    assert audit["events"][1]["actor"] == "A. Analyst"

    # Flip one byte of the MP4's vault copy.
    vault_file = s2f.data_dir / "vault" / shown["evidence"][1]["vault_relpath"]
    os.chmod(vault_file, 0o644)
    data = bytearray(vault_file.read_bytes())
    data[len(data) // 3] ^= 0xFF
    vault_file.write_bytes(bytes(data))
    r = s2f("verify", "2026-0042")
    assert r.returncode == 4
    assert "ALTERED" in r.stdout and "verification: FAILED" in r.stdout
    assert_one_line_error(r, 4, "ALTERED", "#2 clip.mp4")
    r = s2f("verify", "2026-0042", "--json")
    statuses = {c["original_name"]: c["status"] for c in json.loads(r.stdout)["evidence"]}
    assert statuses == {"interview.wav": "OK", "clip.mp4": "ALTERED"} and r.returncode == 4

    # Delete the WAV's vault copy.
    wav_file = s2f.data_dir / "vault" / shown["evidence"][0]["vault_relpath"]
    os.chmod(wav_file, 0o644)
    wav_file.unlink()
    r = s2f("verify", "2026-0042")
    assert_one_line_error(r, 4, "#1 interview.wav MISSING", "#2 clip.mp4 ALTERED")

    # Close: readable, not importable.
    r = s2f("case", "close", "2026-0042")
    assert r.returncode == 0 and "closed case 2026-0042" in r.stdout
    r = s2f("import", "2026-0042", media["mp4"])
    assert_one_line_error(r, 2, "closed")
    r = s2f("case", "list", "--status", "closed")
    assert "2026-0042" in r.stdout


def test_audit_tampering_is_named_by_event(s2f: S2F, media: dict[str, Path]) -> None:
    assert s2f("case", "new", "C-7", "--title", "t").returncode == 0
    assert s2f("import", "C-7", media["wav"]).returncode == 0
    con = sqlite3.connect(s2f.data_dir / "cases.sqlite3")
    (event_id,) = con.execute("select id from audit_events where action = 'evidence.import'").fetchone()
    con.execute("update audit_events set details = json_set(details, '$.original_name', 'other.wav') where id = ?",
                (event_id,))
    con.commit()
    con.close()
    r = s2f("audit", "C-7")
    assert r.returncode == 4 and f"BROKEN at event {event_id}" in r.stdout
    assert_one_line_error(r, 4, f"broken at event {event_id}")
    r = s2f("verify", "C-7")
    assert r.returncode == 4 and f"audit chain: BROKEN at event {event_id}" in r.stdout
    assert_one_line_error(r, 4, f"audit chain broken at event {event_id}")


def test_bad_media_is_refused_one_line_each_and_nothing_stored(s2f: S2F, tmp_path: Path) -> None:
    assert s2f("case", "new", "B-1", "--title", "bad files").returncode == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.wav").touch()
    full = bad / "full.wav"
    sf.write(str(full), _tone(16000, 1.0), 16000)
    (bad / "truncated.wav").write_bytes(full.read_bytes()[:10000])
    full.unlink()
    (bad / "letter.wav").write_text("Dear sir,\n" * 100)
    (bad / "table.xyz").write_text("1,2,3\n")
    _mp4(bad / "silent.mp4", with_audio=False)
    names = ["empty.wav", "truncated.wav", "letter.wav", "table.xyz", "silent.mp4", "missing.wav"]
    r = s2f("import", "B-1", *[bad / n for n in names])
    assert r.returncode == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == len(names) and "Traceback" not in r.stderr
    for n, line in zip(names, lines):
        assert n in line and line.startswith("s2f: error: ")
    for n, word in [("empty.wav", "empty"), ("truncated.wav", "truncated"), ("letter.wav", "not a readable WAV"),
                    ("table.xyz", "unsupported format"), ("silent.mp4", "no audio track"),
                    ("missing.wav", "no such file")]:
        assert word in next(line for line in lines if n in line)
    assert json.loads(s2f("case", "show", "B-1", "--json").stdout)["evidence"] == []
    assert [p for p in (s2f.data_dir / "vault").rglob("*") if p.is_file()] == []
    audit = json.loads(s2f("audit", "B-1", "--json").stdout)
    assert [e["action"] for e in audit["events"]] == ["case.create"]
    # A single bad file: exactly one line.
    assert_one_line_error(s2f("import", "B-1", bad / "letter.wav"), 3, "letter.wav")


@pytest.mark.parametrize("args,code,needle", [
    (["case", "new", "bad number!", "--title", "x"], 2, "invalid case number"),
    (["case", "new", "N-1"], 2, "--title"),
    (["case", "new", "N-1", "--title", "   "], 2, "needs a title"),
    (["case", "edit", "N-1", "--case-analyst", "  "], 2, "needs an analyst"),  # the report's signatory
    (["case", "show", "NOPE"], 2, "no case numbered 'NOPE'"),
    (["case", "close", "NOPE"], 2, "NOPE"),
    (["case", "list", "--status", "archived"], 2, "invalid choice"),
    (["import", "NOPE", "x.wav"], 2, "no case numbered"),
    (["import", "NOPE"], 2, "FILE"),
    (["verify", "NOPE"], 2, "no case numbered"),
    (["audit", "NOPE"], 2, "no case numbered"),
    (["frobnicate"], 2, "invalid choice"),
    ([], 2, "COMMAND"),
])
def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int,
                               needle: str) -> None:
    """In-process (same code path as the console script, without paying a process start per case)."""
    assert_one_line_error(_inproc(tmp_path, capsys, *args), code, needle)


def _inproc(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    from s2f_desktop.cli.main import main

    try:
        rc = main(["--data-dir", str(tmp_path / "inproc"), *args])
    except SystemExit as exc:  # argparse usage errors exit directly
        rc = int(exc.code or 0)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), rc, out.out, out.err)


@pytest.mark.parametrize("args,code,needle", [
    (["frobnicate"], 2, "invalid choice"),
    (["case", "show", "NOPE"], 2, "no case numbered 'NOPE'"),
])
def test_bad_input_is_one_line_through_a_process(s2f: S2F, args: list[str], code: int, needle: str) -> None:
    assert_one_line_error(s2f(*args), code, needle)


def test_duplicate_case_and_double_close(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _inproc(tmp_path, capsys, "case", "new", "D-1", "--title", "x").returncode == 0
    assert_one_line_error(_inproc(tmp_path, capsys, "case", "new", "D-1", "--title", "y"), 2, "already exists")
    assert _inproc(tmp_path, capsys, "case", "close", "D-1").returncode == 0
    assert_one_line_error(_inproc(tmp_path, capsys, "case", "close", "D-1"), 2, "already closed")


def test_unusable_or_foreign_data_dirs(s2f: S2F, tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    assert_one_line_error(s2f("--data-dir", a_file, "case", "list", data_dir=False), 2, "data directory")
    assert s2f("case", "list").returncode == 0
    con = sqlite3.connect(s2f.data_dir / "cases.sqlite3")
    con.execute("update alembic_version set version_num = 'zz_future'")
    con.commit()
    con.close()
    assert_one_line_error(s2f("case", "list"), 4, "newer version")


def test_help_and_version(s2f: S2F) -> None:
    r = s2f("--help", data_dir=False)
    assert r.returncode == 0
    for cmd in ("case", "import", "verify", "audit"):
        assert cmd in r.stdout
    r = s2f("--version", data_dir=False)
    assert r.returncode == 0 and r.stdout.startswith("s2f-desktop ")
