"""Offline bounds (issue 14): reinstating overspent cards; the offline spend the server has received.

- cards.nonneg_since_ms: set when the wallet of a card blocked for overspend is
  seen at or above zero, cleared when it drops below again; the server
  reinstates the card once it has stayed there `reinstate_after_s` (a setting).
- cards.offline_spent_cents: every offline spend of the card the server has
  received (spend records made under no online authorization), summed; the
  card's own offline trail counts the same from the till side, so a till
  knows what is spent but not yet uploaded (floreyn/cardtrail.py).

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nonneg_since_ms', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('offline_spent_cents', sa.BigInteger(), server_default=sa.text('0'),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('offline_spent_cents')
        batch_op.drop_column('nonneg_since_ms')
