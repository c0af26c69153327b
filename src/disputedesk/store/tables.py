"""The desk's tables (SQLAlchemy Core), one ``MetaData`` for everything in the database.

Mirror tables keep the whole Stripe object in ``data`` plus the columns the desk queries by.
``stripe_updated`` and ``stripe_rank`` are the ordering key of the snapshot held (see
services/mirror.py): an older snapshot never replaces a newer one.

Desk-internal times (``received_at``, ``run_at``, ``at`` ...) are UTC epoch seconds as floats;
Stripe's own times (``created``, ``due_by``) stay integer seconds exactly as Stripe sends them.
The migrations in ``store/migrations/versions`` create these tables; change both together.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSON documents: JSONB on PostgreSQL (indexable, compact), TEXT-backed JSON on SQLite.
Json = sa.JSON().with_variant(JSONB(), "postgresql")
# Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
StripeId = sa.String(255)  # Stripe ids can be up to 255 characters; never validate prefixes


def _mirror_columns() -> list[sa.Column]:
    """Columns every mirror table has."""
    return [
        sa.Column("id", StripeId, primary_key=True),
        sa.Column("account", StripeId, nullable=True),
        sa.Column("livemode", sa.Boolean, nullable=False, default=False),
        sa.Column("created", sa.BigInteger, nullable=True),
        sa.Column("stripe_updated", sa.BigInteger, nullable=False),
        sa.Column("stripe_rank", sa.BigInteger, nullable=False),
        sa.Column("mirrored_at", sa.Float, nullable=False),
        sa.Column("data", Json, nullable=False),
    ]


charges = sa.Table(
    "charges", metadata,
    *_mirror_columns(),
    sa.Column("status", sa.String(32)),
    sa.Column("amount", sa.BigInteger),
    sa.Column("amount_captured", sa.BigInteger),
    sa.Column("amount_refunded", sa.BigInteger),
    sa.Column("currency", sa.String(3)),
    sa.Column("customer", StripeId),
    sa.Column("payment_intent", StripeId),
    sa.Column("disputed", sa.Boolean),
    sa.Column("refunded", sa.Boolean),
    sa.Index(None, "customer", "created"),
    sa.Index(None, "created"),
    sa.Index(None, "payment_intent"),
)

payment_intents = sa.Table(
    "payment_intents", metadata,
    *_mirror_columns(),
    sa.Column("status", sa.String(32)),
    sa.Column("amount", sa.BigInteger),
    sa.Column("amount_received", sa.BigInteger),
    sa.Column("currency", sa.String(3)),
    sa.Column("customer", StripeId),
    sa.Column("latest_charge", StripeId),
    sa.Index(None, "customer", "created"),
    sa.Index(None, "created"),
)

refunds = sa.Table(
    "refunds", metadata,
    *_mirror_columns(),
    sa.Column("status", sa.String(32)),
    sa.Column("amount", sa.BigInteger),
    sa.Column("currency", sa.String(3)),
    sa.Column("charge", StripeId),
    sa.Column("payment_intent", StripeId),
    sa.Column("reason", sa.String(64)),
    sa.Index(None, "charge"),
    sa.Index(None, "payment_intent"),
    sa.Index(None, "status", "created"),
)

disputes = sa.Table(
    "disputes", metadata,
    *_mirror_columns(),
    sa.Column("status", sa.String(32)),
    sa.Column("reason", sa.String(64)),
    sa.Column("amount", sa.BigInteger),
    sa.Column("currency", sa.String(3)),
    sa.Column("charge", StripeId),
    sa.Column("payment_intent", StripeId),
    sa.Column("due_by", sa.BigInteger),
    sa.Index(None, "status", "due_by"),
    sa.Index(None, "charge"),
    sa.Index(None, "created"),
)

early_fraud_warnings = sa.Table(
    "early_fraud_warnings", metadata,
    *_mirror_columns(),
    sa.Column("actionable", sa.Boolean),
    sa.Column("fraud_type", sa.String(64)),
    sa.Column("charge", StripeId),
    sa.Column("payment_intent", StripeId),
    sa.Index(None, "charge"),
    sa.Index(None, "actionable", "created"),
)

files = sa.Table(
    "files", metadata,
    *_mirror_columns(),
    sa.Column("purpose", sa.String(64)),
    sa.Column("size", sa.BigInteger),
    sa.Column("type", sa.String(32)),
    sa.Column("filename", sa.String(255)),
    sa.Index(None, "purpose", "created"),
)

# The webhook inbox: every accepted delivery, stored raw before the 200.
events = sa.Table(
    "events", metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("id", StripeId, nullable=False, unique=True),
    sa.Column("type", sa.String(128), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("account", StripeId),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("api_version", sa.String(64)),
    sa.Column("object_type", sa.String(64)),
    sa.Column("object_id", StripeId),
    sa.Column("payload", sa.Text, nullable=False),  # the raw body, byte for byte (UTF-8)
    sa.Column("status", sa.String(16), nullable=False),  # store/inbox.py STATUSES
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("processed_at", sa.Float),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "type", "created"),
    sa.Index(None, "object_type", "object_id"),
    sa.Index(None, "received_at"),
)

# Generic job queue: refetches, reconciliation, and whatever other features register.
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("run_at", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("status", sa.String(16), nullable=False),  # queued|running|done|failed
    sa.Column("last_error", sa.Text),
    # Unique among *queued* jobs: cleared when a job is claimed so the same work can be queued
    # again while it runs (a refetch queued during a refetch must not be lost).
    sa.Column("dedupe_key", sa.String(255), unique=True),
    sa.Column("locked_until", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index(None, "status", "run_at"),
    sa.Index(None, "name", "status"),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("object_type", sa.String(64)),
    sa.Column("object_id", StripeId),
    sa.Column("note", sa.Text),
    sa.Column("details", Json),
    # The person answerable (a desk user's name; a rule's owner) and the door and credential the
    # action came through ("rest" + "tok_3", "cli" + "password", "rule" + "rule:<name>").
    # Migration identity_0001.
    sa.Column("person", sa.String(150)),
    sa.Column("door", sa.String(16)),
    sa.Column("credential", sa.String(100)),
    sa.Index(None, "object_type", "object_id", "at"),
    sa.Index(None, "at"),
)

MIRROR_TABLES: dict[str, sa.Table] = {
    "charge": charges,
    "payment_intent": payment_intents,
    "refund": refunds,
    "dispute": disputes,
    "radar.early_fraud_warning": early_fraud_warnings,
    "file": files,
}
