"""SQLAlchemy 2 typed ORM mapping of the case store.

Any change here needs a new Alembic revision in ``migrations/versions``; a test
compares the migrated schema with this metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import text

#: Server default of the text columns added after the first release (rows written before read as empty).
EMPTY = text("''")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable migrations)."""

    metadata = MetaData(naming_convention=NAMING)


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    analyst: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    # The expert-report fields (revision 0004): the question asked, the propositions, the case
    # information received, the examiner's role and qualifications, the listening statement.
    question: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    propositions: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    case_info: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    examiner_role: Mapped[str] = mapped_column(String(200), default="", server_default=EMPTY)
    examiner_qualifications: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)
    listening_statement: Mapped[str] = mapped_column(Text, default="", server_default=EMPTY)

    __table_args__ = (
        CheckConstraint("status in ('open', 'closed')", name="status"),
        CheckConstraint("length(number) > 0", name="number_nonempty"),
    )


class EvidenceRow(Base):
    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    original_name: Mapped[str] = mapped_column(String(500))
    original_path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    media: Mapped[dict[str, Any]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    imported_by: Mapped[str] = mapped_column(String(200))
    vault_relpath: Mapped[str] = mapped_column(Text)
    # Provenance of the exhibit (revision 0004): who delivered it, when, on what medium, seal or reference.
    received_from: Mapped[str] = mapped_column(String(300), default="", server_default=EMPTY)
    received_on: Mapped[str] = mapped_column(String(64), default="", server_default=EMPTY)
    medium: Mapped[str] = mapped_column(String(300), default="", server_default=EMPTY)
    seal: Mapped[str] = mapped_column(String(300), default="", server_default=EMPTY)

    __table_args__ = (
        UniqueConstraint("case_id", "sha256", name="uq_evidence_case_sha256"),
        CheckConstraint("length(sha256) = 64", name="sha256_len"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
    )


class SegmentRow(Base):
    __tablename__ = "segments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"), index=True)
    start_sample: Mapped[int] = mapped_column(Integer)
    end_sample: Mapped[int] = mapped_column(Integer)
    sample_rate: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200), default="")
    speaker_tag: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        CheckConstraint("start_sample >= 0", name="start_nonneg"),
        CheckConstraint("end_sample > start_sample", name="end_after_start"),
        CheckConstraint("source in ('manual', 'vad')", name="source"),
        CheckConstraint("status in ('suggested', 'accepted', 'rejected')", name="status"),
    )


class AnalysisRunRow(Base):
    __tablename__ = "analysis_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    segment_ids: Mapped[list[str]] = mapped_column(JSON)
    models: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    app_version: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    timings: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class CompositeRow(Base):
    __tablename__ = "composites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_runs.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer, default=1)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("composites.id", ondelete="RESTRICT"), nullable=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    images: Mapped[dict[str, str]] = mapped_column(JSON)
    image_sha256: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (CheckConstraint("version >= 1", name="version_positive"),)


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), nullable=True, index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_ids: Mapped[list[str]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_audit_case_seq"),)


class ComparisonRunRow(Base):
    """A speaker comparison (questioned vs known segments) of a case; see store/comparisons.py."""

    __tablename__ = "comparison_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    questioned_ids: Mapped[list[str]] = mapped_column(JSON)
    known_ids: Mapped[list[str]] = mapped_column(JSON)
    models: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    app_version: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    timings: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))
