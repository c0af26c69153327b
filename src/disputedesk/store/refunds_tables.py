"""Tables of the refunds feature (migration branch ``refunds``; see store/migrations/versions).

``refund_requests`` is the desk's own record of every refund it was asked to make. It is written
and committed *before* any call to Stripe; its ``id`` (a UUID, or a bulk row key) is what the
idempotency key is derived from. ``refund_approvals`` keeps every approval decision;
``bulk_jobs``/``bulk_rows`` make bulk runs resumable (the row key is the request id).
refunds_0002 adds the send lease, the request fingerprint and ``allow_repeat``.
Desk times are UTC epoch seconds as floats.
"""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.store.tables import BigId, Json, StripeId, metadata

RequestId = sa.String(100)  # domain.refunds.idempotency_key accepts [A-Za-z0-9_-]{1,100}

refund_requests = sa.Table(
    "refund_requests", metadata,
    sa.Column("id", RequestId, primary_key=True),
    # The caller's key for "the same request" (API Idempotency-Key, form token, bulk row key):
    # unique, so two presses of one button record one request.
    sa.Column("source_key", sa.String(255), unique=True),
    sa.Column("target_type", sa.String(32), nullable=False),  # charge|payment_intent|order_id
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("charge", StripeId, nullable=False),
    sa.Column("payment_intent", StripeId),
    sa.Column("account", StripeId),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("full", sa.Boolean, nullable=False, default=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("metadata", Json, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("warnings", Json),
    sa.Column("requested_by", sa.String(255), nullable=False),
    # The person answerable for the request: requested_by for people (whatever token or door
    # they used), the rules' owner for a rule (identity_0001). Maker-checker compares this.
    sa.Column("requester_person", sa.String(150)),
    sa.Column("approval_reason", sa.Text),
    sa.Column("approved_by", sa.String(255)),
    sa.Column("decided_at", sa.Float),
    sa.Column("status", sa.String(32), nullable=False),  # domain.refunds.RequestState
    sa.Column("attempt", sa.Integer, nullable=False, default=1),
    sa.Column("refund_id", StripeId, unique=True),
    sa.Column("refund_status", sa.String(32)),  # Stripe's refund.status as last seen
    sa.Column("error_code", sa.String(100)),
    sa.Column("error", sa.Text),
    sa.Column("bulk_job_id", sa.String(64)),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("submitted_at", sa.Float),
    # The send lease (refunds_0002): a sender wins it with a conditional update before calling
    # Stripe, so two senders (healer, retry job, bulk resume) never send one request at once.
    sa.Column("sending_until", sa.Float),
    # SHA-256 of what the caller asked for: a client key reused with other parameters is refused.
    sa.Column("params_hash", sa.String(64)),
    sa.Index(None, "charge", "status"),
    sa.Index(None, "requested_by", "created"),
    sa.Index(None, "status", "updated"),
    sa.Index(None, "bulk_job_id"),
)

refund_approvals = sa.Table(
    "refund_approvals", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("request_id", RequestId, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # required|approved|rejected
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("note", sa.Text),
    sa.Index(None, "request_id", "at"),
)

bulk_jobs = sa.Table(
    "bulk_jobs", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("file_hash", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(255)),
    sa.Column("content", sa.Text, nullable=False),  # the file as uploaded, so --resume needs no file
    sa.Column("status", sa.String(16), nullable=False),  # running|interrupted|done
    sa.Column("total_rows", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    # --allow-repeat: rows repeating an earlier bulk request are refunded again (refunds_0002).
    sa.Column("allow_repeat", sa.Boolean, nullable=False, default=False,
              server_default=sa.false()),
    sa.Index(None, "file_hash"),
)

bulk_rows = sa.Table(
    "bulk_rows", metadata,
    sa.Column("job_id", sa.String(64), primary_key=True),
    sa.Column("row", sa.Integer, primary_key=True),
    # domain.bulk.row_key: the row's content, so an edited file's unchanged rows share it.
    sa.Column("row_key", RequestId, nullable=False),
    sa.Column("target_type", sa.String(32), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("request_id", RequestId),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("refund_id", StripeId),
    sa.Column("error", sa.Text),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Index(None, "row_key"),
)
