"""The one module that knows where things are on this machine.

Every path the application uses is derived here: the per-user data directory (cases,
vault, caches), the settings file, the log directory, and the read-only ``resources/``
and ``models/`` folders, which live beside the package in a source checkout and inside
the bundle in a PyInstaller build.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from s2f_desktop import APP_NAME

#: Environment variable that overrides the data directory (tests, portable installs).
DATA_DIR_ENV = "S2F_DATA_DIR"
#: Environment variable that overrides the settings/config directory.
CONFIG_DIR_ENV = "S2F_CONFIG_DIR"


def is_frozen() -> bool:
    """True inside a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def install_root() -> Path:
    """Folder holding ``resources/`` and ``models/``.

    In a checkout or editable install this is the repository root; in a bundle it is
    PyInstaller's extraction folder (``sys._MEIPASS``).
    """
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parents[2]


def resources_dir() -> Path:
    """Read-only application resources (icons, fonts, fixtures for the demo case)."""
    return install_root() / "resources"


def models_dir() -> Path:
    """Read-only, declared model artifacts (weights, calibration, model cards)."""
    override = os.environ.get("S2F_MODELS_DIR")
    return Path(override) if override else install_root() / "models"


def config_dir() -> Path:
    """Per-user configuration directory (settings file)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


#: Environment variable overriding where anny's built 3D model data is cached.
ANNY_CACHE_ENV = "S2F_ANNY_CACHE_DIR"


def anny_cache_dir() -> Path:
    """Folder holding anny's built model data (per user, rebuildable; not in a case data directory)."""
    override = os.environ.get(ANNY_CACHE_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "anny"


def default_data_dir() -> Path:
    """Per-user data directory when neither the command line nor settings name one."""
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class DataLayout:
    """Paths inside one data directory."""

    root: Path

    @property
    def database(self) -> Path:
        """SQLite case store."""
        return self.root / "cases.sqlite3"

    @property
    def vault(self) -> Path:
        """Content-addressed, read-only evidence copies."""
        return self.root / "vault"

    @property
    def composites(self) -> Path:
        """Rendered composite images (content-addressed)."""
        return self.root / "composites"

    @property
    def reports(self) -> Path:
        """Default output folder for PDF reports."""
        return self.root / "reports"

    @property
    def cache(self) -> Path:
        """Rebuildable caches (waveform overviews, spectrogram tiles)."""
        return self.root / "cache"

    @property
    def logs(self) -> Path:
        """Application log files."""
        return self.root / "logs"

    def ensure(self) -> "DataLayout":
        """Create the folders; returns self."""
        for p in (self.root, self.vault, self.composites, self.reports, self.cache, self.logs):
            p.mkdir(parents=True, exist_ok=True)
        return self
