"""Opening the store: engine, SQLite pragmas, migrations, and the single writer.

Threading rules (house rule 4): a :class:`Store` may be shared between threads, but a
SQLAlchemy ``Session`` never is. Each :meth:`Store.read` / :meth:`Store.write` block
opens its own short-lived session. Writes are serialised through one lock so there is
exactly one writer at a time, whatever thread it runs on; SQLite's WAL mode lets
readers proceed meanwhile.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from s2f_desktop.core.errors import InputError, IntegrityError
from s2f_desktop.system.env import DataLayout

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: Newest migration revision shipped with this version. Opening a database already at this
#: revision needs no Alembic import (a third of the app's cold start); a test keeps this
#: constant equal to the head of ``migrations/versions``.
SCHEMA_HEAD = "0004"


def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def alembic_config(engine: Engine) -> "Config":
    """An Alembic config bound to ``engine`` (no alembic.ini needed at run time)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this version (read by Alembic)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """Revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
        except OperationalError as exc:
            if "no such table" in str(exc.orig):
                return None
            raise
    if len(rows) > 1:
        raise IntegrityError("the case database has several schema versions (branched migrations)")
    return rows[0][0] if rows else None


class Store:
    """Handle on one data directory's database and files."""

    def __init__(self, layout: DataLayout, engine: Engine) -> None:
        self.layout = layout
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_lock = threading.RLock()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session for the duration of the block."""
        session = self._sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back otherwise."""
        with self._write_lock:
            session = self._sessions()
            try:
                with session.begin():
                    yield session
            finally:
                session.close()

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


def open_store(data_dir: Path, migrate: bool = True) -> Store:
    """Open (creating if needed) the store in ``data_dir`` and bring its schema up to date."""
    try:
        layout = DataLayout(Path(data_dir).expanduser()).ensure()
    except OSError as exc:
        raise InputError(f"cannot use {data_dir} as the data directory ({exc.strerror or exc})") from exc
    engine = create_engine(f"sqlite:///{layout.database}", future=True)
    event.listen(engine, "connect", _on_connect)
    try:
        store = _open_migrated(layout, engine, migrate)
    except BaseException:
        engine.dispose()
        raise
    return store


def _open_migrated(layout: DataLayout, engine: Engine, migrate: bool) -> Store:
    try:
        # Connecting runs the pragmas, which is where "file is not a database" shows up.
        rev = current_revision(engine)
    except DBAPIError as exc:
        raise IntegrityError(
            f"{layout.database} is not a readable s2f-desktop case database ({exc.orig or exc})"
        ) from exc
    if migrate and rev != SCHEMA_HEAD:
        from alembic import command
        from alembic.script import ScriptDirectory

        head = head_revision()
        if rev != head:
            script = ScriptDirectory.from_config(alembic_config(engine))
            known = {r.revision for r in script.walk_revisions()}
            if rev is not None and rev not in known:
                raise IntegrityError(
                    f"the case database {layout.database} was written by a newer version (schema {rev}); "
                    "upgrade s2f-desktop to open it"
                )
            command.upgrade(alembic_config(engine), "head")
    return Store(layout, engine)
