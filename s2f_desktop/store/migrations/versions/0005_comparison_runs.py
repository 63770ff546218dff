"""comparison runs (speaker comparison with calibrated likelihood ratios, issue 14)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('comparison_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('questioned_ids', sa.JSON(), nullable=False),
    sa.Column('known_ids', sa.JSON(), nullable=False),
    sa.Column('models', sa.JSON(), nullable=False),
    sa.Column('app_version', sa.String(length=32), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_comparison_runs_case_id_cases'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comparison_runs'))
    )
    with op.batch_alter_table('comparison_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comparison_runs_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('comparison_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comparison_runs_case_id'))
    op.drop_table('comparison_runs')
