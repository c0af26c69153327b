"""refunds: send lease, request fingerprint, bulk keys by row content

Revision ID: refunds_0002
Revises: refunds_0001
Create Date: 2026-11-26

- ``refund_requests.sending_until``: the lease a sender wins (conditional update) before it
  calls Stripe, so two senders of one request never run at once.
- ``refund_requests.params_hash``: what the caller asked for, to refuse a client key reused with
  other parameters.
- ``bulk_jobs.allow_repeat``: the job was started with ``--allow-repeat``.
- ``bulk_rows.row_key`` is no longer unique: a row key is now the row's content, so the same row
  in an edited file (another job) has the same key and the same request.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "refunds_0002"
down_revision = "refunds_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refund_requests") as batch:
        batch.add_column(sa.Column("sending_until", sa.Float(), nullable=True))
        batch.add_column(sa.Column("params_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("bulk_jobs") as batch:
        batch.add_column(sa.Column("allow_repeat", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("bulk_rows") as batch:
        batch.drop_constraint("uq_bulk_rows_row_key", type_="unique")
        batch.create_index(batch.f("ix_bulk_rows_row_key"), ["row_key"])


def downgrade() -> None:
    with op.batch_alter_table("bulk_rows") as batch:
        batch.drop_index(batch.f("ix_bulk_rows_row_key"))
        batch.create_unique_constraint("uq_bulk_rows_row_key", ["row_key"])
    with op.batch_alter_table("bulk_jobs") as batch:
        batch.drop_column("allow_repeat")
    with op.batch_alter_table("refund_requests") as batch:
        batch.drop_column("params_hash")
        batch.drop_column("sending_until")
