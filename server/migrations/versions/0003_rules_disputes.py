"""Rule checks of uploaded records: the terms each terminal was given, offline usage, disputes.

- terminal_terms: one row each time the terms a terminal is sent (rates,
  offline limits, the merchant's save rate) change; the rule check accepts
  what the till may still be working with (server/rules.py, terms_for).
- terminals.snapshot_served_ms / snapshot_base_seq: when the terminal last
  fetched its snapshot and the head the server held then: offline usage per
  card counts from there, as the till counts from its snapshot.
- offline_usage: per terminal and card, offline spends since that base.
- refunds: each posted till refund and the payment it refers to, so a
  refund never exceeds what that payment paid minus what was refunded.
- disputes: the excess of a record over the rules, parked on the terminal's
  suspense account until an admin decides (release, return, write off).

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('snapshot_served_ms', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('snapshot_base_seq', sa.BigInteger(), nullable=True))
    op.create_table('terminal_terms',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('terminal_id', sa.String(length=64), nullable=False),
    sa.Column('served_ms', sa.BigInteger(), nullable=False),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terminal_terms'))
    )
    op.create_index('ix_terminal_terms_terminal', 'terminal_terms', ['terminal_id', 'served_ms'])
    op.create_table('offline_usage',
    sa.Column('terminal_id', sa.String(length=64), nullable=False),
    sa.Column('card_id', sa.String(length=32), nullable=False),
    sa.Column('base_seq', sa.BigInteger(), nullable=False),
    sa.Column('spent_cents', sa.BigInteger(), nullable=False),
    sa.Column('taps', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('terminal_id', 'card_id', name=op.f('pk_offline_usage'))
    )
    op.create_table('refunds',
    sa.Column('refund_tx', sa.String(length=64), nullable=False),
    sa.Column('ref_tx', sa.String(length=64), nullable=False),
    sa.Column('fl_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('refund_tx', name=op.f('pk_refunds'))
    )
    op.create_index('ix_refunds_ref', 'refunds', ['ref_tx'])
    op.create_table('disputes',
    sa.Column('dispute_id', sa.String(length=64), nullable=False),
    sa.Column('terminal_id', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('rules', sa.String(length=200), nullable=False),
    sa.Column('payer_account', sa.String(length=128), nullable=False),
    sa.Column('payee_account', sa.String(length=128), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('resolved_ms', sa.BigInteger(), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('resolution_tx', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('dispute_id', name=op.f('pk_disputes')),
    sa.UniqueConstraint('record_id', name=op.f('uq_disputes_record_id'))
    )
    op.create_index('ix_disputes_status', 'disputes', ['status'])


def downgrade() -> None:
    op.drop_index('ix_disputes_status', table_name='disputes')
    op.drop_table('disputes')
    op.drop_index('ix_refunds_ref', table_name='refunds')
    op.drop_table('refunds')
    op.drop_table('offline_usage')
    op.drop_index('ix_terminal_terms_terminal', table_name='terminal_terms')
    op.drop_table('terminal_terms')
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.drop_column('snapshot_base_seq')
        batch_op.drop_column('snapshot_served_ms')
