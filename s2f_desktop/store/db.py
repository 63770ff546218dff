"""Opening the store: engine, SQLite pragmas, migrations, and the single writer.

Threading rules (house rule 4): a :class:`Store` may be shared between threads, but a
SQLAlchemy ``Session`` never is. Each :meth:`Store.read` / :meth:`Store.write` block
opens its own short-lived session. Writes are serialised through one lock so there is
exactly one writer at a time, whatever thread it runs on; SQLite's WAL mode lets
readers proceed meanwhile.

Observers (the views, through the GUI's job runner) subscribe with
:meth:`Store.subscribe`: after each committed write they receive the
:class:`StoreChange` list of the audit events that write appended. Every evidential
change is audited in its own transaction (evidence rules), so the audit events are
the one complete description of what changed; nothing else needs to announce itself.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from s2f_desktop.core.errors import InputError, IntegrityError, S2FError
from s2f_desktop.system.env import DataLayout
from s2f_desktop.system.paths import JOURNAL_DIR, sweep_leftovers

log = logging.getLogger(__name__)


class StorageError(S2FError):
    """The store cannot be written: read-only media, a full disk, no permission (exit 4)."""

    exit_code = 4


def _storage_error(exc: BaseException, database: Path) -> StorageError | None:
    """A plain one-line error for the storage failures SQLite reports, or None for anything else."""
    msg = str(getattr(exc, "orig", None) or exc).lower()
    if "disk is full" in msg or "database or disk is full" in msg:
        return StorageError(f"the disk holding {database.parent} is full; nothing was written (free some space "
                            "and try again)")
    if "readonly" in msg or "read-only" in msg or "attempt to write a readonly database" in msg:
        return StorageError(f"the data directory {database.parent} is read-only; this command needs to write "
                            "(listing, showing, verifying and reporting to another folder work read-only)")
    return None

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: Newest migration revision shipped with this version. Opening a database already at this
#: revision needs no Alembic import (a third of the app's cold start); a test keeps this
#: constant equal to the head of ``migrations/versions``.
SCHEMA_HEAD = "0005"


def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def load_stored_json(text: str) -> Any:
    """Decode a stored JSON column; a value that is not JSON was written outside the application.

    Said in one line (exit status 4, as for other custody failures) instead of an internal error.
    """
    try:
        return json.loads(text)
    except ValueError as exc:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise IntegrityError(f"the case database holds a value that is not valid JSON ({shown!r}): it was changed "
                             "outside the application; restore the database from a backup") from exc


def _write_engine(url: URL) -> Engine:
    """An engine whose transactions start with ``BEGIN IMMEDIATE``.

    pysqlite only opens a transaction at the first INSERT/UPDATE, so a writer's reads
    (the chain's last event, "is this hash already evidence?") would otherwise run
    outside it: two processes could both read event #7 and both append #8. Taking the
    database's write lock when the block begins makes read-then-write atomic across
    processes (others wait up to ``busy_timeout``).
    """
    eng = create_engine(url, future=True, json_deserializer=load_stored_json)
    event.listen(eng, "connect", _on_connect)

    def manual_transactions(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None

    def begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(eng, "connect", manual_transactions)
    event.listen(eng, "begin", begin_immediate)
    return eng


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
            if "no such table" not in str(exc.orig):
                raise
            rows = []
    if not rows:
        with engine.connect() as conn:
            tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
        if tables & {"cases", "evidence", "audit_events"}:
            raise IntegrityError("the case database has s2f tables but no schema version stamp (alembic_version is "
                                 "missing or empty); refusing to migrate or change it")
    if len(rows) > 1:
        raise IntegrityError("the case database has several schema versions (branched migrations)")
    return rows[0][0] if rows else None


#: ``Session.info`` key under which :func:`~s2f_desktop.store.audit.append_event` lists the
#: transaction's changes for the observers.
CHANGES_KEY = "s2f_changes"


@dataclass(frozen=True)
class StoreChange:
    """One committed, audited change (what an audit event says, without its hash)."""

    case_id: int | None
    action: str
    object_type: str
    object_ids: tuple[str, ...]
    actor: str


StoreObserver = Callable[[list[StoreChange]], None]


class Store:
    """Handle on one data directory's database and files."""

    def __init__(self, layout: DataLayout, engine: Engine, read_only: bool = False) -> None:
        self.layout = layout
        self.engine = engine
        #: True when the data directory is on read-only media: reads work, :meth:`write` refuses.
        self.read_only = read_only
        #: What the start-up sweep did about temporary files left by interrupted processes.
        self.recovered: list[str] = []
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._writer: Engine | None = None if read_only else _write_engine(engine.url)
        self._write_sessions = None if self._writer is None else sessionmaker(self._writer, expire_on_commit=False)
        self._write_lock = threading.RLock()
        self._observers: list[StoreObserver] = []
        self._observers_lock = threading.Lock()

    def subscribe(self, observer: StoreObserver) -> Callable[[], None]:
        """Call ``observer(changes)`` after every committed write that appended audit events.

        It runs in the writing thread, after the commit and outside the write lock, so it
        must only hand the changes on (a Qt signal, a queue). Returns the unsubscribe function.
        """
        with self._observers_lock:
            self._observers.append(observer)

        def unsubscribe() -> None:
            with self._observers_lock:
                if observer in self._observers:
                    self._observers.remove(observer)

        return unsubscribe

    def _notify(self, changes: list[StoreChange]) -> None:
        with self._observers_lock:
            observers = list(self._observers)
        for obs in observers:
            try:
                obs(list(changes))
            except Exception:  # an observer's bug must not undo or fail a committed write
                logging.getLogger(__name__).exception("store observer failed")

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
        if self.read_only:
            raise StorageError(f"the data directory {self.layout.root} is read-only; this command needs to write "
                               "(listing, showing, verifying and reporting to another folder work read-only)")
        assert self._write_sessions is not None
        changes: list[StoreChange] = []
        with self._write_lock:
            session = self._write_sessions()
            try:
                with session.begin():
                    yield session
                changes = list(session.info.get(CHANGES_KEY, ()))
            except DBAPIError as exc:
                plain = _storage_error(exc, self.layout.database)
                if plain is not None:
                    raise plain from exc
                raise
            finally:
                session.close()
        if changes:
            self._notify(changes)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
        if self._writer is not None:
            self._writer.dispose()


def open_store(data_dir: Path, migrate: bool = True) -> Store:
    """Open (creating if needed) the store in ``data_dir`` and bring its schema up to date.

    A data directory on read-only media (an archived case) is opened read-only: its
    database as an immutable SQLite file, no migration, no temp-file sweep; writes are
    refused with :class:`StorageError`. Temporary files left by interrupted processes
    (``kill -9``, power loss) are removed here and listed in ``Store.recovered``.
    """
    layout = DataLayout(Path(data_dir).expanduser())
    if _is_read_only(layout):
        return _open_read_only(layout)
    _refuse_foreign_folder(layout)
    try:
        layout.ensure()
    except OSError as exc:
        raise InputError(f"cannot use {data_dir} as the data directory ({exc.strerror or exc})") from exc
    engine = create_engine(f"sqlite:///{layout.database}", future=True, json_deserializer=load_stored_json)
    event.listen(engine, "connect", _on_connect)
    try:
        store = _open_migrated(layout, engine, migrate)
    except BaseException:
        engine.dispose()
        raise
    try:
        store.recovered = sweep_leftovers(layout.root, layout.vault, layout.reports)
    except OSError as exc:  # never block opening a case on housekeeping
        log.warning("could not sweep temporary files: %s", exc)
    for line in store.recovered:
        log.warning("start-up check: %s", line)
    return store


#: What a data directory holds besides its database (DataLayout's folders, the repair quarantine, the temp-file
#: journal); anything else in a folder without a database means it is somebody else's folder.
_STORE_ENTRIES = {"vault", "composites", "reports", "cache", "logs", "quarantine", JOURNAL_DIR}


def _refuse_foreign_folder(layout: DataLayout) -> None:
    """Refuse to make a store in a folder that is not one: a folder of the user's own files (a typo'd or wrong
    ``--data-dir`` would otherwise fill it with a database, a vault and logs), or a folder inside another data
    directory (its vault would then list the new store's files as orphan evidence). Nothing is created."""
    root = layout.root
    for parent in root.resolve().parents:
        if (parent / "cases.sqlite3").is_file():
            raise InputError(f"{root} is inside the data directory {parent}; give a folder outside it")
    if layout.database.exists() or not root.is_dir():
        return
    try:
        foreign = sorted(p.name for p in root.iterdir()
                         if p.name not in _STORE_ENTRIES and not p.name.startswith("cases.sqlite3"))
    except OSError:
        return  # unreadable: ensure() below reports it
    if foreign:
        raise InputError(f"{root} is not an s2f-desktop data directory: it holds other files ({foreign[0]}"
                         f"{' and more' if len(foreign) > 1 else ''}) and no case database; give a new or empty "
                         "folder (nothing was created)")


def _is_read_only(layout: DataLayout) -> bool:
    db = layout.database
    return db.is_file() and (not os.access(layout.root, os.W_OK) or not os.access(db, os.W_OK))


def _open_read_only(layout: DataLayout) -> Store:
    uri = f"file:{layout.database}?immutable=1"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    engine = create_engine("sqlite://", creator=connect, future=True, json_deserializer=load_stored_json)
    try:
        rev = current_revision(engine)
    except DBAPIError as exc:
        engine.dispose()
        raise IntegrityError(f"{layout.database} is not a readable s2f-desktop case database ({exc.orig or exc})") \
            from exc
    except BaseException:
        engine.dispose()
        raise
    if rev != SCHEMA_HEAD:
        engine.dispose()
        raise IntegrityError(f"the case database {layout.database} is on read-only media at schema {rev}, and this "
                             f"version needs {SCHEMA_HEAD}; copy the data directory to writable storage to open it")
    return Store(layout, engine, read_only=True)


def _open_migrated(layout: DataLayout, engine: Engine, migrate: bool) -> Store:
    try:
        # Connecting runs the pragmas, which is where "file is not a database" shows up.
        rev = current_revision(engine)
    except DBAPIError as exc:
        plain = _storage_error(exc, layout.database)
        if plain is not None:
            raise plain from exc
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
