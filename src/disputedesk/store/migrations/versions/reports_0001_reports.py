"""reports: facts per dispute, refund, early fraud warning and charge; monthly sales

Revision ID: reports_0001
Revises: 0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reports_0001"
down_revision = "0001"
branch_labels = ("reports",)
depends_on = None

_ID = sa.String(255)
# Frozen copies of the measure names at this revision (a later revision adds its own columns).
DISPUTE_MEASURES = ("counted", "contested", "won", "lost", "accepted", "unanswered", "open",
                    "decided", "inquiries", "inquiries_open", "inquiries_closed",
                    "inquiries_escalated", "inquiries_lost", "prevented", "submitted",
                    "under_48h", "disputed", "withdrawn", "won_back", "lost_amount", "fees",
                    "fees_returned", "net")
REFUND_MEASURES = ("refunds", "amount", "succeeded", "succeeded_amount", "pending",
                   "pending_amount", "failed", "failed_amount", "canceled", "canceled_amount")
_MIRRORED = ("charges", "disputes", "refunds", "early_fraud_warnings")


def upgrade() -> None:
    for table in _MIRRORED:
        op.create_index(f"ix_{table}_mirrored_at", table, ["mirrored_at"])
    op.create_table(
        "report_disputes",
        sa.Column("dispute_id", _ID, nullable=False),
        sa.Column("account", _ID, nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("is_inquiry", sa.Boolean(), nullable=False),
        sa.Column("was_inquiry", sa.Boolean(), nullable=False),
        sa.Column("counts_for_programs", sa.Boolean(), nullable=False),
        sa.Column("contested", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("product_type", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("amount_band", sa.Integer(), nullable=False),
        sa.Column("completeness_band", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(80), nullable=True),
        sa.Column("withdrawn", sa.BigInteger(), nullable=False),
        sa.Column("won_back", sa.BigInteger(), nullable=False),
        sa.Column("lost_amount", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("fees_returned", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("due_by", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.Float(), nullable=True),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("charge", _ID, nullable=True),
        sa.PrimaryKeyConstraint("dispute_id", name=op.f("pk_report_disputes")),
    )
    op.create_index(op.f("ix_report_disputes_account_month"), "report_disputes", ["account", "month"])
    op.create_index(op.f("ix_report_disputes_month"), "report_disputes", ["month"])
    op.create_index(op.f("ix_report_disputes_charge"), "report_disputes", ["charge"])
    op.create_index(op.f("ix_report_disputes_closed_at"), "report_disputes", ["closed_at"])
    op.create_index("ix_report_disputes_submitted", "report_disputes",
                    ["month", "account", "created", "submitted_at"],
                    sqlite_where=sa.text("submitted_at IS NOT NULL"),
                    postgresql_where=sa.text("submitted_at IS NOT NULL"))
    op.create_table(
        "report_refunds",
        sa.Column("refund_id", _ID, nullable=False),
        sa.Column("account", _ID, nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("made_by", sa.String(255), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("charge", _ID, nullable=True),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_report_refunds")),
    )
    op.create_index(op.f("ix_report_refunds_account_month"), "report_refunds", ["account", "month"])
    op.create_index(op.f("ix_report_refunds_month"), "report_refunds", ["month"])
    op.create_index(op.f("ix_report_refunds_origin_created"), "report_refunds", ["origin", "created"])
    op.create_index(op.f("ix_report_refunds_charge"), "report_refunds", ["charge"])
    op.create_table(
        "report_efws",
        sa.Column("efw_id", _ID, nullable=False),
        sa.Column("account", _ID, nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("charge", _ID, nullable=True),
        sa.Column("refunded", sa.Boolean(), nullable=False),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("efw_id", name=op.f("pk_report_efws")),
    )
    op.create_index(op.f("ix_report_efws_account_month"), "report_efws", ["account", "month"])
    op.create_index(op.f("ix_report_efws_month"), "report_efws", ["month"])
    op.create_index(op.f("ix_report_efws_charge"), "report_efws", ["charge"])
    op.create_table(
        "report_charges",
        sa.Column("charge_id", _ID, nullable=False),
        sa.Column("account", _ID, nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("sale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("charge_id", name=op.f("pk_report_charges")),
    )
    op.create_table(
        "report_sales",
        sa.Column("account", _ID, nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("sales", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "month", "network", "currency",
                                name=op.f("pk_report_sales")),
    )
    for name, measures in (("report_dispute_cells", DISPUTE_MEASURES),
                           ("report_refund_cells", REFUND_MEASURES)):
        op.create_table(
            name,
            sa.Column("account", _ID, nullable=False),
            sa.Column("month", sa.Integer(), nullable=False),
            sa.Column("dim", sa.String(32), nullable=False),
            sa.Column("key", sa.String(255), nullable=False),
            sa.Column("currency", sa.String(3), nullable=False),
            *[sa.Column(m, sa.BigInteger(), nullable=False) for m in measures],
            sa.PrimaryKeyConstraint("account", "month", "dim", "key", "currency",
                                    name=op.f(f"pk_{name}")),
        )
        op.create_index(op.f(f"ix_{name}_month"), name, ["month"])
    op.create_table(
        "report_state",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_report_state")),
    )


def downgrade() -> None:
    for table in ("report_state", "report_refund_cells", "report_dispute_cells", "report_sales", "report_charges", "report_efws",
                  "report_refunds", "report_disputes"):
        op.drop_table(table)
    for table in _MIRRORED:
        op.drop_index(f"ix_{table}_mirrored_at", table_name=table)
