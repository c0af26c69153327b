"""automation: keep the backtests people run

Revision ID: automation_0002
Revises: automation_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "automation_0002"
down_revision = "automation_0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "automation_backtests",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ran_at", sa.Float(), nullable=False),
        sa.Column("ran_by", sa.String(length=255), nullable=False),
        sa.Column("window", sa.String(length=32), nullable=False),
        sa.Column("rules_source", sa.String(length=255), nullable=True),
        sa.Column("took", sa.Float(), nullable=True),
        sa.Column("report", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_backtests")),
    )
    op.create_index(op.f("ix_automation_backtests_ran_at"), "automation_backtests", ["ran_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_automation_backtests_ran_at"), table_name="automation_backtests")
    op.drop_table("automation_backtests")
