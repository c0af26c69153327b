"""refunds: refund requests, approvals, bulk jobs and rows

Revision ID: refunds_0001
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "refunds_0001"
down_revision = "0001"
branch_labels = ("refunds",)
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "refund_requests",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("source_key", sa.String(255), nullable=True),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("charge", sa.String(255), nullable=False),
        sa.Column("payment_intent", sa.String(255), nullable=True),
        sa.Column("account", sa.String(255), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("metadata", _json, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("warnings", _json, nullable=True),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("approval_reason", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.String(255), nullable=True),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.String(255), nullable=True),
        sa.Column("refund_status", sa.String(32), nullable=True),
        sa.Column("error_code", sa.String(100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("bulk_job_id", sa.String(64), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("submitted_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_requests")),
        sa.UniqueConstraint("source_key", name=op.f("uq_refund_requests_source_key")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_refund_requests_refund_id")),
    )
    with op.batch_alter_table("refund_requests") as batch:
        batch.create_index(batch.f("ix_refund_requests_charge_status"), ["charge", "status"])
        batch.create_index(batch.f("ix_refund_requests_requested_by_created"),
                           ["requested_by", "created"])
        batch.create_index(batch.f("ix_refund_requests_status_updated"), ["status", "updated"])
        batch.create_index(batch.f("ix_refund_requests_bulk_job_id"), ["bulk_job_id"])

    op.create_table(
        "refund_approvals",
        sa.Column("id", _big_id, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_approvals")),
    )
    with op.batch_alter_table("refund_approvals") as batch:
        batch.create_index(batch.f("ix_refund_approvals_request_id_at"), ["request_id", "at"])

    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("file_hash", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
    )
    with op.batch_alter_table("bulk_jobs") as batch:
        batch.create_index(batch.f("ix_bulk_jobs_file_hash"), ["file_hash"])

    op.create_table(
        "bulk_rows",
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("row_key", sa.String(100), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(100), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("refund_id", sa.String(255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "row", name=op.f("pk_bulk_rows")),
        sa.UniqueConstraint("row_key", name=op.f("uq_bulk_rows_row_key")),
    )


def downgrade() -> None:
    op.drop_table("bulk_rows")
    op.drop_table("bulk_jobs")
    with op.batch_alter_table("refund_approvals") as batch:
        batch.drop_index(batch.f("ix_refund_approvals_request_id_at"))
    op.drop_table("refund_approvals")
    with op.batch_alter_table("refund_requests") as batch:
        for name in ("ix_refund_requests_bulk_job_id", "ix_refund_requests_status_updated",
                     "ix_refund_requests_requested_by_created", "ix_refund_requests_charge_status"):
            batch.drop_index(batch.f(name))
    op.drop_table("refund_requests")
