"""accounts: signin_counters (atomic sign-in limits per user name and per address)

Revision ID: accounts_0002
Revises: accounts_0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "accounts_0002"
down_revision = "accounts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_counters",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("window_start", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_signin_counters"),
    )
    op.create_index("ix_signin_counters_window_start", "signin_counters", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_signin_counters_window_start", table_name="signin_counters")
    op.drop_table("signin_counters")
