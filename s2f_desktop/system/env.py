"""The one module that knows where things are on this machine.

Every path the application uses is derived here: the per-user data directory (cases,
vault, caches), the settings file, the log directory, and the read-only ``resources/``
and ``models/`` folders. Those two sit at the top of the repository; the wheel maps them
to package data (``s2f_desktop/models``, ``s2f_desktop/resources``: see
``[tool.setuptools.package-dir]`` in pyproject.toml), and the PyInstaller bundle puts them
in ``sys._MEIPASS``. :func:`data_root` finds them in that order: bundle, installed
package data (through ``importlib.resources``), source checkout.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import resources as _resources
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
    """Folder holding the application's own files: the bundle folder, or the source checkout.

    In a bundle this is PyInstaller's extraction folder (``sys._MEIPASS``); otherwise the
    folder above the package (the repository root of a checkout or editable install, the
    site-packages folder of a wheel install).
    """
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parents[2]


def _data_folder(name: str) -> Path:
    """``models`` or ``resources``: bundle, then installed package data, then the checkout."""
    if is_frozen():
        return install_root() / name
    packaged = _resources.files("s2f_desktop") / name
    if packaged.is_dir():
        # Installed from the wheel: a real folder (pip installs unpacked), so a Path.
        return Path(str(packaged))
    return install_root() / name


def resources_dir() -> Path:
    """Read-only application resources (icons, fonts, licence texts, desktop files)."""
    return _data_folder("resources")


def models_dir() -> Path:
    """Read-only, declared model artifacts (weights, calibration, model cards)."""
    override = os.environ.get("S2F_MODELS_DIR")
    return Path(override) if override else _data_folder("models")


def licence_file(name: str) -> Path | None:
    """A licence document shipped with the application, or None when this installation lacks it.

    ``LICENSE`` and ``LICENSING.md`` sit at the top of a checkout and a bundle and in the
    wheel's ``.dist-info/licenses``; ``THIRD_PARTY_NOTICES.txt`` and the texts it cites are
    under ``resources/licenses``.
    """
    candidates = [resources_dir() / "licenses" / name, install_root() / name]
    if not is_frozen():
        try:
            from importlib import metadata

            dist = metadata.distribution("s2f-desktop")
            candidates += [Path(str(dist.locate_file(f))) for f in dist.files or [] if f.name == name]
        except metadata.PackageNotFoundError:
            pass
    for c in candidates:
        if c.is_file():
            return c
    return None


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
