"""settings: the desk's policy stored once (desk_settings)

Revision ID: settings_0001
Revises: 0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "settings_0001"
down_revision = "0001"
branch_labels = ("settings",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_desk_settings"),
    )


def downgrade() -> None:
    op.drop_table("desk_settings")
