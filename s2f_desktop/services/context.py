"""The application context handed to every service call."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from s2f_desktop.store import Store, open_store
from s2f_desktop.system.settings import Settings, data_dir_in_force, load_settings


@dataclass
class AppContext:
    """What a service needs: the store, who is acting, and user settings."""

    store: Store
    actor: str
    settings: Settings = field(default_factory=Settings)

    @property
    def data_dir(self) -> Path:
        """Root of the data directory in use."""
        return self.store.layout.root

    def close(self) -> None:
        """Release the store."""
        self.store.close()


def open_context(data_dir: Path | None = None, actor: str | None = None,
                 settings: Settings | None = None) -> AppContext:
    """Open the data directory given, or the one settings name, or the platform default."""
    settings = settings or load_settings()
    root = data_dir_in_force(data_dir, settings)
    return AppContext(open_store(root), actor or settings.resolved_analyst(), settings)
