"""Snapshot pages in format 3 (issue 19): a kept page's body is now its cards in columns
(sync/snapshot_columns.py), no longer entries one after another. Kept bodies of the old format are
dropped; the housekeeping job cuts them anew in its next minute (until then pages are read from the
kept entries, which did not change).

Revision ID: 0009
Revises: 0008
"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM snapshot_pages")


def downgrade() -> None:
    op.execute("DELETE FROM snapshot_pages")  # the older code's job makes its own again
