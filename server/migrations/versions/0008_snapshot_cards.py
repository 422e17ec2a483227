"""Snapshot pages (issue 19): each card's snapshot entry, kept up to date by the housekeeping job.

- snapshot_cards: card_id, the card's changed_version and the local date from which the calendar makes it wrong (a budget's end, a month's
  cap), and
  the compact binary entry itself (sync/snapshot_pages.py). A snapshot page serves these as they are
  and computes only the cards changed since (server/snapshot_cache.py).
- snapshot_pages: runs of those entries, compressed, that a full snapshot's pages serve as they are,
  with the cards of each run changed since as an overlay.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'snapshot_cards',
        sa.Column('card_id', sa.String(length=32), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('valid_until', sa.String(length=10), nullable=False),
        sa.Column('entry', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('card_id', name=op.f('pk_snapshot_cards')),
    )
    op.create_table(
        'snapshot_pages',
        sa.Column('after', sa.String(length=32), nullable=False),
        sa.Column('upto', sa.String(length=32), nullable=True),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('valid_until', sa.String(length=10), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('after', name=op.f('pk_snapshot_pages')),
    )


def downgrade() -> None:
    op.drop_table('snapshot_pages')
    op.drop_table('snapshot_cards')
