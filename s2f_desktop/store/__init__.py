"""SQLite case store: ORM, migrations, repositories, evidence vault and audit chain.

ORM rows never leave this package; repositories return frozen dataclasses from
:mod:`s2f_desktop.core.models`.
"""

from s2f_desktop.store.db import Store, open_store

__all__ = ["Store", "open_store"]
