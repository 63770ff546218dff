"""case report fields: question, propositions, case information, examiner, listening statement; exhibit provenance

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Every new column is text with an empty default, so cases and exhibits stored before this
revision read as "not stated".
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

CASE_COLUMNS = (("question", sa.Text()), ("propositions", sa.Text()), ("case_info", sa.Text()),
                ("examiner_role", sa.String(length=200)), ("examiner_qualifications", sa.Text()),
                ("listening_statement", sa.Text()))
EVIDENCE_COLUMNS = (("received_from", sa.String(length=300)), ("received_on", sa.String(length=64)),
                    ("medium", sa.String(length=300)), ("seal", sa.String(length=300)))


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy: the tables are referenced by foreign keys and hold data).
    for table, columns in (("cases", CASE_COLUMNS), ("evidence", EVIDENCE_COLUMNS)):
        for name, type_ in columns:
            op.add_column(table, sa.Column(name, type_, nullable=False, server_default=sa.text("''")))


def downgrade() -> None:
    # SQLite >= 3.35 drops a column in place.
    for table, columns in (("evidence", EVIDENCE_COLUMNS), ("cases", CASE_COLUMNS)):
        for name, _ in reversed(columns):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
