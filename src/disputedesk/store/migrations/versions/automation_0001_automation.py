"""automation: decisions, action keys, case labels, timers

Revision ID: automation_0001
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "automation_0001"
down_revision = "0001"
branch_labels = ("automation",)
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ID = sa.String(length=255)
KEY = sa.String(length=600)


def upgrade() -> None:
    op.create_table(
        "automation_decisions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", ID, nullable=False),
        sa.Column("dispute_id", ID, nullable=True),
        sa.Column("charge_id", ID, nullable=True),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("evaluated_at", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("condition", sa.Text(), nullable=True),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("outcome", JSON, nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("rules_source", sa.String(length=255), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_decisions")),
    )
    with op.batch_alter_table("automation_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_decisions_object_id_id"), ["object_id", "id"])
        batch_op.create_index(batch_op.f("ix_automation_decisions_dispute_id_id"), ["dispute_id", "id"])
        batch_op.create_index(batch_op.f("ix_automation_decisions_charge_id_id"), ["charge_id", "id"])
        batch_op.create_index(batch_op.f("ix_automation_decisions_rule_at"), ["rule", "at"])

    op.create_table(
        "automation_actions",
        sa.Column("key", KEY, nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", ID, nullable=False),
        sa.Column("subject", ID, nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", JSON, nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_automation_actions")),
    )
    with op.batch_alter_table("automation_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_actions_target"), ["target"])
        batch_op.create_index(batch_op.f("ix_automation_actions_subject"), ["subject"])
        batch_op.create_index(batch_op.f("ix_automation_actions_status_started_at"),
                              ["status", "started_at"])

    op.create_table(
        "automation_labels",
        sa.Column("object_id", ID, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("assigned_to", sa.String(length=255), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("object_id", name=op.f("pk_automation_labels")),
    )

    op.create_table(
        "automation_timers",
        sa.Column("key", KEY, nullable=False),
        sa.Column("object_id", ID, nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("run_at", sa.Float(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_automation_timers")),
    )
    with op.batch_alter_table("automation_timers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_automation_timers_object_id"), ["object_id"])


def downgrade() -> None:
    with op.batch_alter_table("automation_timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_timers_object_id"))
    op.drop_table("automation_timers")
    op.drop_table("automation_labels")
    with op.batch_alter_table("automation_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_actions_status_started_at"))
        batch_op.drop_index(batch_op.f("ix_automation_actions_subject"))
        batch_op.drop_index(batch_op.f("ix_automation_actions_target"))
    op.drop_table("automation_actions")
    with op.batch_alter_table("automation_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_automation_decisions_rule_at"))
        batch_op.drop_index(batch_op.f("ix_automation_decisions_charge_id_id"))
        batch_op.drop_index(batch_op.f("ix_automation_decisions_dispute_id_id"))
        batch_op.drop_index(batch_op.f("ix_automation_decisions_object_id_id"))
    op.drop_table("automation_decisions")
