"""Settings file: round trip, corrupt files, and which data directory is in force."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from s2f_desktop.core.errors import InputError
from s2f_desktop.services.context import open_context
from s2f_desktop.system import env
from s2f_desktop.system.settings import Settings, data_dir_in_force, load_settings, save_settings, settings_path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert not settings_path().exists()
    s = load_settings()
    assert s == Settings()
    assert s.resolved_analyst()  # login name or $USER, never empty


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    s = Settings(analyst="A. Analyst", data_dir=str(tmp_path / "elsewhere"), device="cpu", recent_cases=("B", "A"))
    save_settings(s)
    assert settings_path() == tmp_path / "config" / "settings.json"
    assert load_settings() == s
    assert json.loads(settings_path().read_text())["recent_cases"] == ["B", "A"]
    assert not list(settings_path().parent.glob("*.tmp")), "atomic write leaves no temporary file"


def test_with_recent_moves_case_first_and_caps_length() -> None:
    s = Settings(recent_cases=("A", "B", "C"))
    assert s.with_recent("B").recent_cases == ("B", "A", "C")
    assert len(Settings().with_recent("X", keep=2).with_recent("Y", keep=2).with_recent("Z", keep=2).recent_cases) == 2


def test_invalid_device_is_refused_on_save_and_defaulted_on_load() -> None:
    with pytest.raises(InputError, match="device must be one of"):
        save_settings(Settings(device="tpu"))
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(json.dumps({"device": "tpu", "analyst": "x"}))
    assert load_settings().device == "auto"


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", "\xff\xfe garbage"])
def test_corrupt_file_is_one_clear_line(content: str) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(InputError) as info:
        load_settings()
    msg = str(info.value)
    assert "\n" not in msg
    assert str(path) in msg and "fix or delete it" in msg


def test_null_and_odd_values_do_not_leak_into_paths() -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(json.dumps({"data_dir": None, "analyst": None, "recent_cases": "oops"}))
    s = load_settings()
    assert s.data_dir == "" and s.analyst == "" and s.recent_cases == ()


def test_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli, configured, from_env = tmp_path / "cli", tmp_path / "configured", tmp_path / "env"
    monkeypatch.setenv(env.DATA_DIR_ENV, str(from_env))
    with_setting = Settings(data_dir=str(configured))
    assert data_dir_in_force(cli, with_setting) == cli
    assert data_dir_in_force(None, with_setting) == configured
    assert data_dir_in_force(None, Settings()) == from_env
    monkeypatch.delenv(env.DATA_DIR_ENV)
    expected = Path(platformdirs.user_data_dir("s2f-desktop", appauthor=False))
    assert data_dir_in_force(None, Settings()) == expected


def test_settings_data_dir_expands_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir_in_force(None, Settings(data_dir="~/cases")) == tmp_path / "cases"


def test_open_context_uses_settings_file(tmp_path: Path) -> None:
    save_settings(Settings(analyst="Settings Analyst", data_dir=str(tmp_path / "from-settings")))
    ctx = open_context()
    try:
        assert ctx.data_dir == tmp_path / "from-settings"
        assert ctx.actor == "Settings Analyst"
    finally:
        ctx.close()
    ctx = open_context(tmp_path / "explicit", actor="Someone")
    try:
        assert ctx.data_dir == tmp_path / "explicit" and ctx.actor == "Someone"
    finally:
        ctx.close()


def _s2f(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "s2f_desktop.cli.main", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_cli_data_dir_beats_settings_which_beat_env(tmp_path: Path) -> None:
    save_settings(Settings(data_dir=str(tmp_path / "from-settings")))
    r = _s2f("--data-dir", str(tmp_path / "from-cli"), "case", "new", "P-1", "--title", "precedence")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "from-cli" / "cases.sqlite3").is_file()
    assert not (tmp_path / "from-settings").exists()
    r = _s2f("case", "new", "P-2", "--title", "precedence")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "from-settings" / "cases.sqlite3").is_file()
    assert not (tmp_path / "data").exists(), "$S2F_DATA_DIR must lose against the settings file"


def test_cli_reports_corrupt_settings_in_one_line(tmp_path: Path) -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text("{broken")
    r = _s2f("case", "list")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "settings file" in r.stderr
    assert "Traceback" not in r.stderr
