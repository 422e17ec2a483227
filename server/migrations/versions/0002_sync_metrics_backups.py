"""Operations: what each terminal says it holds, refused uploads, and the backups made.

- terminals.reported_head_seq: the highest sequence number the terminal says it
  has (sent with every upload); minus head_seq it is the records still waiting
  on the till, for the metrics.
- terminals.rejected_uploads: uploads refused after the terminal authenticated
  (bad record, fork, too large...), a counter for the metrics.
- backups: one row per `floreyn-server backup`, so the metrics can show how old
  the newest backup is.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_head_seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('rejected_uploads', sa.BigInteger(), server_default=sa.text('0'),
                                      nullable=False))
    op.create_table('backups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backups'))
    )


def downgrade() -> None:
    op.drop_table('backups')
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.drop_column('rejected_uploads')
        batch_op.drop_column('reported_head_seq')
