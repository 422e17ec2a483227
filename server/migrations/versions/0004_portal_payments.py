"""Payments between accounts, payment requests, and the portal's users and sessions.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None



def upgrade() -> None:
    op.create_table('payments',
    sa.Column('payment_id', sa.String(length=36), nullable=False),
    sa.Column('payer', sa.String(length=128), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('params_hash', sa.String(length=64), nullable=False),
    sa.Column('from_account', sa.String(length=128), nullable=False),
    sa.Column('to_account', sa.String(length=128), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('memo', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_payments')),
    sa.UniqueConstraint('payer', 'request_id', name='uq_payments_payer_request')
    )
    op.create_index('ix_payments_payer_time', 'payments', ['payer', 'created_ms'], unique=False)
    op.create_table('payment_requests',
    sa.Column('request_code', sa.String(length=32), nullable=False),
    sa.Column('payee', sa.String(length=128), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.Column('payment_id', sa.String(length=36), nullable=True),
    sa.Column('paid_by', sa.String(length=128), nullable=True),
    sa.Column('paid_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('request_code', name=op.f('pk_payment_requests'))
    )
    op.create_index('ix_payment_requests_payee', 'payment_requests', ['payee', 'created_ms'], unique=False)
    op.create_table('portal_users',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=True),
    sa.Column('login', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('activation_hash', sa.String(length=64), nullable=True),
    sa.Column('activation_expires_ms', sa.BigInteger(), nullable=True),
    sa.Column('failed_signins', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('locked_until_ms', sa.BigInteger(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_portal_users')),
    sa.UniqueConstraint('login', name=op.f('uq_portal_users_login'))
    )
    op.create_index('ix_portal_users_email', 'portal_users', ['email'], unique=False)
    op.create_index('ix_portal_users_subject', 'portal_users', ['role', 'subject_id'], unique=False)
    op.create_table('portal_sessions',
    sa.Column('session_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('last_seen_ms', sa.BigInteger(), nullable=False),
    sa.Column('reconfirmed_ms', sa.BigInteger(), nullable=False),
    sa.Column('ended_ms', sa.BigInteger(), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['portal_users.user_id'], name=op.f('fk_portal_sessions_user_id_portal_users')),
    sa.PrimaryKeyConstraint('session_hash', name=op.f('pk_portal_sessions'))
    )
    op.create_index('ix_portal_sessions_user', 'portal_sessions', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_portal_sessions_user', table_name='portal_sessions')
    op.drop_table('portal_sessions')
    op.drop_index('ix_portal_users_subject', table_name='portal_users')
    op.drop_index('ix_portal_users_email', table_name='portal_users')
    op.drop_table('portal_users')
    op.drop_index('ix_payment_requests_payee', table_name='payment_requests')
    op.drop_table('payment_requests')
    op.drop_index('ix_payments_payer_time', table_name='payments')
    op.drop_table('payments')
