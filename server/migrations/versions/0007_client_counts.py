"""Client counts (issue 19): failed authentications and portal sign-ins per client address, in the database.

They were counted in each server process's memory, so with several processes (--workers N, or
several servers against one PostgreSQL) a client got N times the limit. Nothing to carry over:
the counts are per window of a minute or a few.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'client_counts',
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('window_start_ms', sa.BigInteger(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.Column('previous_events', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('scope', 'client'),
    )
    op.create_index('ix_client_counts_window', 'client_counts', ['window_start_ms'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_client_counts_window', table_name='client_counts')
    op.drop_table('client_counts')
