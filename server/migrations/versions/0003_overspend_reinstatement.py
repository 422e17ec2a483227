"""Offline bounds (issue 14): when a card blocked for overspend came back to a balance >= 0.

- cards.nonneg_since_ms: set when the wallet of a card blocked for overspend is
  seen at or above zero, cleared when it drops below again; the server
  reinstates the card once it has stayed there `reinstate_after_s` (a setting).

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nonneg_since_ms', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('nonneg_since_ms')
