"""The money loop: merchant kinds and bank accounts, rates as data, settlement periods and payout batches,
categories as data, the funder's budget rules.

- merchants.kind ('winkel' | 'zelfstandige'), iban, account_holder, mandate_id, mandate_signed_on,
  keep_fl_cents (Floreyn a merchant keeps for re-spending at settlement)
- rates: exchange rate history; each row applies from from_ms on
- settlement_periods, settlement_lines: closed periods and what each merchant settled
- payout_batches, payout_lines: bank transfers and collections, paid only when the batch is confirmed
- categories, merchant_categories: the cooperative's categories; existing merchants keep theirs
- campaigns.pot, redeem_bonus_bp: joint campaigns with a pot
- budgets.member_cap_cents, confirm_above_cents, keep_share_bp; budget_approvals (a second member confirms)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
BUILT_IN = (("winkel", "Winkel"), ("klussen", "Klussen"), ("groen", "Groen"), ("zorg", "Zorg"),
            ("markt", "Markt"))  # the list that was fixed in code before (provisioning/parse.py)


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it for columns with a constant default): a batch copy-and-move would
    # DROP TABLE merchants, which terminals reference, and fail on a database with rows.
    op.add_column('merchants', sa.Column('kind', sa.String(length=16), server_default=sa.text("'winkel'"),
                                         nullable=False))
    op.add_column('merchants', sa.Column('iban', sa.String(length=34), nullable=True))
    op.add_column('merchants', sa.Column('account_holder', sa.String(length=70), nullable=True))
    op.add_column('merchants', sa.Column('mandate_id', sa.String(length=35), nullable=True))
    op.add_column('merchants', sa.Column('mandate_signed_on', sa.String(length=10), nullable=True))
    op.add_column('merchants', sa.Column('keep_fl_cents', sa.BigInteger(), server_default=sa.text('0'),
                                         nullable=False))
    op.add_column('campaigns', sa.Column('pot', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('campaigns', sa.Column('redeem_bonus_bp', sa.Integer(), server_default=sa.text('0'),
                                         nullable=False))
    op.add_column('budgets', sa.Column('member_cap_cents', sa.BigInteger(), nullable=True))
    op.add_column('budgets', sa.Column('confirm_above_cents', sa.BigInteger(), nullable=True))
    op.add_column('budgets', sa.Column('keep_share_bp', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.create_table('rates',
                    sa.Column('from_ms', sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column('ask_bp', sa.Integer(), nullable=False),
                    sa.Column('bid_bp', sa.Integer(), nullable=False),
                    sa.Column('set_ms', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('from_ms', name=op.f('pk_rates')))
    op.create_table('settlement_periods',
                    sa.Column('period', sa.String(length=7), nullable=False),
                    sa.Column('cut_ms', sa.BigInteger(), nullable=False),
                    sa.Column('run_ms', sa.BigInteger(), nullable=False),
                    sa.Column('batch_id', sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint('period', name=op.f('pk_settlement_periods')))
    op.create_table('settlement_lines',
                    sa.Column('period', sa.String(length=7), nullable=False),
                    sa.Column('merchant_id', sa.String(length=64), nullable=False),
                    sa.Column('tx_id', sa.String(length=64), nullable=True),
                    sa.Column('net_eur_cents', sa.BigInteger(), nullable=False),
                    sa.Column('detail', sa.Text(), nullable=False),
                    sa.PrimaryKeyConstraint('period', 'merchant_id', name=op.f('pk_settlement_lines')))
    op.create_table('payout_batches',
                    sa.Column('batch_id', sa.String(length=64), nullable=False),
                    sa.Column('period', sa.String(length=7), nullable=True),
                    sa.Column('status', sa.String(length=16), nullable=False),
                    sa.Column('created_ms', sa.BigInteger(), nullable=False),
                    sa.Column('execution_date', sa.String(length=10), nullable=False),
                    sa.Column('confirmed_ms', sa.BigInteger(), nullable=True),
                    sa.Column('confirm_tx_id', sa.String(length=64), nullable=True),
                    sa.PrimaryKeyConstraint('batch_id', name=op.f('pk_payout_batches')))
    op.create_table('payout_lines',
                    sa.Column('id', AutoId, autoincrement=True, nullable=False),
                    sa.Column('batch_id', sa.String(length=64), nullable=True),
                    sa.Column('merchant_id', sa.String(length=64), nullable=False),
                    sa.Column('method', sa.String(length=16), nullable=False),
                    sa.Column('eur_cents', sa.BigInteger(), nullable=False),
                    sa.Column('iban', sa.String(length=34), nullable=True),
                    sa.Column('account_holder', sa.String(length=70), nullable=True),
                    sa.Column('reference', sa.String(length=140), nullable=False),
                    sa.Column('source_tx_id', sa.String(length=64), nullable=False),
                    sa.Column('created_ms', sa.BigInteger(), nullable=False),
                    sa.Column('paid_tx_id', sa.String(length=64), nullable=True),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_lines')))
    with op.batch_alter_table('payout_lines', schema=None) as b:
        b.create_index('ix_payout_lines_batch', ['batch_id'], unique=False)
    op.create_table('budget_approvals',
                    sa.Column('approval_id', sa.String(length=36), nullable=False),
                    sa.Column('budget_id', sa.String(length=64), nullable=False),
                    sa.Column('member_id', sa.String(length=64), nullable=False),
                    sa.Column('approver_member_id', sa.String(length=64), nullable=False),
                    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
                    sa.Column('created_ms', sa.BigInteger(), nullable=False),
                    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
                    sa.Column('used_ms', sa.BigInteger(), nullable=True),
                    sa.PrimaryKeyConstraint('approval_id', name=op.f('pk_budget_approvals')))
    op.create_index('ix_budget_approvals_budget_member', 'budget_approvals', ['budget_id', 'member_id'],
                    unique=False)
    categories = op.create_table('categories',
                                 sa.Column('category', sa.String(length=64), nullable=False),
                                 sa.Column('name', sa.String(length=120), nullable=False),
                                 sa.Column('created_ms', sa.BigInteger(), nullable=False),
                                 sa.PrimaryKeyConstraint('category', name=op.f('pk_categories')))
    op.create_table('merchant_categories',
                    sa.Column('merchant_id', sa.String(length=64), nullable=False),
                    sa.Column('category', sa.String(length=64), nullable=False),
                    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.merchant_id'],
                                            name=op.f('fk_merchant_categories_merchant_id_merchants')),
                    sa.PrimaryKeyConstraint('merchant_id', 'category', name=op.f('pk_merchant_categories')))
    # Old data: the built-in categories become rows, and every category a merchant already has too.
    op.bulk_insert(categories, [{"category": c, "name": n, "created_ms": 0} for c, n in BUILT_IN])
    op.execute("INSERT INTO categories (category, name, created_ms) SELECT DISTINCT category, category, 0 "
               "FROM merchants WHERE category NOT IN ('winkel', 'klussen', 'groen', 'zorg', 'markt')")
    op.execute("INSERT INTO merchant_categories (merchant_id, category) SELECT merchant_id, category FROM merchants")


def downgrade() -> None:
    op.drop_table('merchant_categories')
    op.drop_index('ix_budget_approvals_budget_member', table_name='budget_approvals')
    op.drop_table('budget_approvals')
    op.drop_table('categories')
    with op.batch_alter_table('payout_lines', schema=None) as b:
        b.drop_index('ix_payout_lines_batch')
    op.drop_table('payout_lines')
    op.drop_table('payout_batches')
    op.drop_table('settlement_lines')
    op.drop_table('settlement_periods')
    op.drop_table('rates')
    for col in ('keep_share_bp', 'confirm_above_cents', 'member_cap_cents'):
        op.drop_column('budgets', col)
    for col in ('redeem_bonus_bp', 'pot'):
        op.drop_column('campaigns', col)
    for col in ('keep_fl_cents', 'mandate_signed_on', 'mandate_id', 'account_holder', 'iban', 'kind'):
        op.drop_column('merchants', col)
