"""Snapshot pages in format 4 (issue 19): a kept page's body names each card by its id's first 8 bytes
unless another card shares them (sync/snapshot_entry.py `short_keys`). Kept bodies of format 3 name
every card in full, which a format-4 till reads as well, but would stay 0.76 MiB per 100k cards larger
until the job made each again; they are dropped and the job cuts them anew in its next minute (until
then pages are read from the kept entries, which did not change).

Revision ID: 0010
Revises: 0009
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM snapshot_pages")


def downgrade() -> None:
    op.execute("DELETE FROM snapshot_pages")  # the older code's job makes its own again
