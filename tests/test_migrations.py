"""Alembic migrations: applied on open, matching the ORM, refusing unknown newer schemas."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from s2f_desktop.core.errors import InputError, IntegrityError
from s2f_desktop.store import open_store
from s2f_desktop.store.db import alembic_config, current_revision, head_revision
from s2f_desktop.store.orm import Base

TABLES = {"cases", "evidence", "segments", "analysis_runs", "composites", "audit_events"}


def test_empty_directory_is_migrated_to_head(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    assert not root.exists()
    store = open_store(root)
    try:
        assert store.layout.database.is_file()
        assert current_revision(store.engine) == head_revision()
        names = set(inspect(store.engine).get_table_names())
        assert TABLES <= names
        assert "alembic_version" in names
        for sub in ("vault", "composites", "reports", "cache", "logs"):
            assert (root / sub).is_dir()
    finally:
        store.close()


def test_migrated_schema_matches_orm_metadata(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d")
    try:
        with store.engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            diffs = compare_metadata(mc, Base.metadata)
        assert diffs == [], f"ORM and migrations differ; add an Alembic revision: {diffs}"
    finally:
        store.close()


def test_reopening_keeps_data_and_revision(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d")
    with store.write() as s:
        s.execute(text("insert into cases (number, title, analyst, agency, status, notes, created_at, updated_at) "
                       "values ('A-1', 't', 'a', '', 'open', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    store.close()
    again = open_store(tmp_path / "d")
    try:
        with again.read() as s:
            assert s.execute(text("select number from cases")).scalar_one() == "A-1"
        assert current_revision(again.engine) == head_revision()
    finally:
        again.close()


def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d")
    try:
        cfg = alembic_config(store.engine)
        command.downgrade(cfg, "base")
        assert not TABLES & set(inspect(store.engine).get_table_names())
        assert current_revision(store.engine) is None
        command.upgrade(cfg, "head")
        assert TABLES <= set(inspect(store.engine).get_table_names())
    finally:
        store.close()


def test_unknown_newer_revision_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d")
    store.close()
    con = sqlite3.connect(tmp_path / "d" / "cases.sqlite3")
    con.execute("update alembic_version set version_num = '9999_from_the_future'")
    con.commit()
    con.close()
    with pytest.raises(IntegrityError, match="newer version.*9999_from_the_future.*upgrade s2f-desktop"):
        open_store(tmp_path / "d")


def test_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (root / "cases.sqlite3").write_bytes(b"this is a text file, not SQLite\n" * 100)
    with pytest.raises(IntegrityError, match="not a readable s2f-desktop case database"):
        open_store(root)


def test_data_dir_that_is_a_file_is_an_input_error(tmp_path: Path) -> None:
    f = tmp_path / "plain-file"
    f.write_text("x")
    with pytest.raises(InputError, match="cannot use .* as the data directory"):
        open_store(f)


def test_sqlite_pragmas_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d")
    try:
        with store.read() as s:
            assert s.execute(text("pragma journal_mode")).scalar_one().lower() == "wal"
            assert s.execute(text("pragma foreign_keys")).scalar_one() == 1
    finally:
        store.close()


def test_schema_head_constant_matches_the_migrations() -> None:
    """Opening an up-to-date database skips Alembic; that relies on this constant being the real head."""
    from s2f_desktop.store.db import SCHEMA_HEAD, head_revision

    assert SCHEMA_HEAD == head_revision()


def test_opening_an_up_to_date_store_does_not_import_alembic(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from s2f_desktop.store import open_store

    open_store(tmp_path / "d").close()  # create and migrate
    code = ("import sys; from pathlib import Path; from s2f_desktop.store import open_store; "
            f"open_store(Path({str(tmp_path / 'd')!r})).close(); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
