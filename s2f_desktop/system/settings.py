"""User settings stored as JSON in the per-user config directory."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from s2f_desktop.core.errors import InputError
from s2f_desktop.system import env

DEVICES = ("auto", "cpu", "cuda")


def _default_analyst() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return os.environ.get("USER", "analyst")


@dataclass(frozen=True)
class Settings:
    """Analyst-facing preferences. ``data_dir`` empty means the platform default."""

    analyst: str = ""
    data_dir: str = ""
    device: str = "auto"
    recent_cases: tuple[str, ...] = ()
    #: Sound output device name for playback; empty means the system default.
    output_device: str = ""

    def resolved_analyst(self) -> str:
        """The analyst name to record in the audit trail."""
        return self.analyst or _default_analyst()

    def resolved_data_dir(self) -> Path:
        """The data directory in force."""
        return Path(self.data_dir).expanduser() if self.data_dir else env.default_data_dir()

    def with_recent(self, case_number: str, keep: int = 8) -> "Settings":
        """A copy with ``case_number`` first in the recent list."""
        rest = [c for c in self.recent_cases if c != case_number]
        return replace(self, recent_cases=tuple([case_number, *rest][:keep]))


def data_dir_in_force(cli_data_dir: Path | str | None, settings: Settings) -> Path:
    """The data directory to open.

    Precedence: the command line's ``--data-dir``, then the settings file's ``data_dir``,
    then ``$S2F_DATA_DIR``, then the per-user platform folder (platformdirs).
    """
    if cli_data_dir:
        return Path(cli_data_dir).expanduser()
    return settings.resolved_data_dir()


def settings_path() -> Path:
    """Location of the settings file."""
    return env.config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """Read settings; a missing file gives defaults, a corrupt one is an InputError."""
    path = path or settings_path()
    if not path.exists():
        return Settings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        # ValueError covers JSONDecodeError and UnicodeDecodeError; keep the message on one line.
        reason = " ".join(str(exc).split())
        raise InputError(f"settings file {path} is unreadable ({reason}); fix or delete it") from exc
    if not isinstance(raw, dict):
        raise InputError(f"settings file {path} is unreadable (expected a JSON object); fix or delete it")
    device = raw.get("device", "auto")
    if device not in DEVICES:
        device = "auto"
    recent = raw.get("recent_cases", [])
    if not isinstance(recent, list):
        recent = []
    return Settings(
        analyst=str(raw.get("analyst") or ""),
        data_dir=str(raw.get("data_dir") or ""),
        device=device,
        recent_cases=tuple(str(c) for c in recent),
        output_device=str(raw.get("output_device") or ""),
    )


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write settings atomically."""
    if settings.device not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}")
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(settings)
    data["recent_cases"] = list(settings.recent_cases)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)
