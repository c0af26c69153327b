"""The disputes desk's own tables: work state, evidence drafts and files, reminders, submissions,
outcomes and the merchant's imported orders.

The mirror (store/tables.py ``disputes``) holds what Stripe says; these hold what the desk did and
plans to do. Created by the migration branch ``disputes`` (store/migrations/versions/disputes_0001*).
Desk times are UTC epoch seconds as floats, Stripe times integer seconds, as in store/tables.py.
"""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.store.tables import BigId, Json, StripeId, metadata
from disputedesk.store.tables import disputes as mirror_disputes

# The inbox's indexes on the mirror's ``disputes``: partial, over open disputes only, so the page
# (ORDER BY due_by, id LIMIT n) is an index scan that stops after n rows and the totals per
# currency read the index alone. Queries must repeat OPEN_STATUS_SQL verbatim for the planner to
# use them (SQLite matches partial-index predicates textually). Migration disputes_0001.
OPEN_STATUS_LIST = ("warning_needs_response", "warning_under_review", "needs_response",
                    "under_review", "appeal_needs_response", "appeal_under_review")
OPEN_STATUS_SQL = "status IN (" + ", ".join(f"'{s}'" for s in OPEN_STATUS_LIST) + ")"
sa.Index("ix_disputes_open_due_by", mirror_disputes.c.due_by, mirror_disputes.c.id,
         sqlite_where=sa.text(OPEN_STATUS_SQL), postgresql_where=sa.text(OPEN_STATUS_SQL))
sa.Index("ix_disputes_open_currency_amount", mirror_disputes.c.currency, mirror_disputes.c.amount,
         sqlite_where=sa.text(OPEN_STATUS_SQL), postgresql_where=sa.text(OPEN_STATUS_SQL))

# One row per dispute the desk knows: its work state and the facts the inbox filters on that the
# mirror keeps only inside the JSON document (card brand, network reason code, inquiry or not).
dispute_work = sa.Table(
    "dispute_work", metadata,
    sa.Column("dispute_id", StripeId, primary_key=True),
    sa.Column("state", sa.String(32), nullable=False),  # open|staged|submitted|accepted|closed
    sa.Column("stripe_status", sa.String(32)),
    sa.Column("reason", sa.String(64)),
    sa.Column("due_by", sa.BigInteger),
    sa.Column("is_inquiry", sa.Boolean, nullable=False, default=False),
    sa.Column("card_brand", sa.String(32)),
    sa.Column("network_reason_code", sa.String(32)),
    sa.Column("hand_edited", sa.Boolean, nullable=False, default=False),
    sa.Column("hand_edited_by", sa.String(255)),
    sa.Column("product_type", sa.String(32)),
    sa.Column("score", sa.Integer),
    sa.Column("evidence_changed_at", sa.Float),      # last manual edit/attachment
    sa.Column("evidence_version", sa.Integer, nullable=False, default=0),  # +1 per change
    sa.Column("submitted_at", sa.Float),
    sa.Column("submitted_by", sa.String(255)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index(None, "state", "due_by"),
)

# The composed draft (the last build): fields and where each came from, the score, CE 3.0.
evidence_drafts = sa.Table(
    "evidence_drafts", metadata,
    sa.Column("dispute_id", StripeId, primary_key=True),
    sa.Column("product_type", sa.String(32), nullable=False),
    sa.Column("fields", Json, nullable=False),        # text field -> value (manual edits applied)
    sa.Column("sources", Json, nullable=False),       # field -> charge|order|history|template|manual
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("missing", Json, nullable=False),       # [{field, importance, why}]
    sa.Column("ce3", Json),                           # {qualified, payload, explain, ...}
    sa.Column("packet", Json),                        # file field -> {file_id(row), sha256, size, pages, level}
    sa.Column("notes", Json),
    sa.Column("order_id", sa.String(255)),
    sa.Column("built_version", sa.Integer, nullable=False, default=0),  # work's evidence_version
    sa.Column("built_by", sa.String(255), nullable=False),
    sa.Column("built_at", sa.Float, nullable=False),
)

# Manual edits, one row per edit (history kept); the newest per (dispute, field) is in force.
evidence_fields = sa.Table(
    "evidence_fields", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dispute_id", StripeId, nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("value", sa.Text),                      # NULL clears the field
    sa.Column("edited_by", sa.String(255), nullable=False),
    sa.Column("edited_at", sa.Float, nullable=False),
    sa.Column("note", sa.Text),
    sa.Index(None, "dispute_id", "field", "id"),
)

# Documents: the merchant's uploads, the generated summary, and the built (fitted) file per field.
evidence_files = sa.Table(
    "evidence_files", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dispute_id", StripeId, nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # upload|summary|packet
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),   # pdf|png|jpeg (read from the content)
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("pages", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("stripe_file_id", StripeId),            # packet files, once uploaded
    sa.Column("added_by", sa.String(255), nullable=False),
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Index(None, "dispute_id", "kind", "active"),
)

# Reminders before due_by: one row per (dispute, deadline, offset), so each is decided once.
reminders = sa.Table(
    "dispute_reminders", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dispute_id", StripeId, nullable=False),
    sa.Column("due_by", sa.BigInteger, nullable=False),
    sa.Column("offset_seconds", sa.BigInteger, nullable=False),
    sa.Column("remind_at", sa.Float, nullable=False),
    # pending|sending|sent|retry|failed|skipped|canceled|unknown
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("pending_channels", Json),              # NULL: every channel; else the ones left
    sa.Column("failures", Json),
    sa.Column("note", sa.Text),
    sa.Column("claimed_at", sa.Float),
    sa.Column("sent_at", sa.Float),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("dispute_id", "due_by", "offset_seconds"),
    sa.Index(None, "status", "remind_at"),
)

# Every stage/submit/accept request sent to Stripe; the row id is in the idempotency key.
# ``once_key`` is unique: a dispute can have at most one live final action (submit or accept).
submissions = sa.Table(
    "dispute_submissions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dispute_id", StripeId, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # stage|submit|accept
    sa.Column("status", sa.String(16), nullable=False),  # pending|done|failed
    sa.Column("once_key", sa.String(255), unique=True),
    sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
    sa.Column("params", Json),
    sa.Column("digest", sa.String(64)),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Index(None, "dispute_id", "id"),
)

outcomes = sa.Table(
    "dispute_outcomes", metadata,
    sa.Column("dispute_id", StripeId, primary_key=True),
    sa.Column("result", sa.String(32), nullable=False),  # won|lost|warning_closed|prevented
    sa.Column("reason", sa.String(64)),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3)),
    sa.Column("withdrawn", sa.BigInteger, nullable=False),
    sa.Column("reinstated", sa.BigInteger, nullable=False),
    sa.Column("dispute_fee", sa.BigInteger, nullable=False),
    sa.Column("dispute_fee_returned", sa.BigInteger, nullable=False),
    sa.Column("countered_fee", sa.BigInteger, nullable=False),
    sa.Column("countered_fee_returned", sa.BigInteger, nullable=False),
    sa.Column("net", sa.BigInteger, nullable=False),
    sa.Column("countered", sa.Boolean, nullable=False),
    sa.Column("full_win", sa.Boolean),
    sa.Column("notes", Json),
    sa.Column("balance_transactions", Json),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.Index(None, "result", "recorded_at"),
)

# The merchant's orders imported into the desk (CSV/JSON); ``data`` is the normalised order.
orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("charge", StripeId),
    sa.Column("payment_intent", StripeId),
    sa.Column("customer_email", sa.String(320)),
    sa.Column("amount", sa.BigInteger),
    sa.Column("currency", sa.String(3)),
    sa.Column("created", sa.BigInteger),
    sa.Column("data", Json, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("imported_by", sa.String(255), nullable=False),
    sa.Column("imported_at", sa.Float, nullable=False),
    sa.Index(None, "charge"),
    sa.Index(None, "payment_intent"),
    sa.Index(None, "customer_email"),
)

# The merchant's edits of the text templates (refund/cancellation disclosures, rebuttal letter).
text_templates = sa.Table(
    "evidence_text_templates", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

TABLES = (dispute_work, evidence_drafts, evidence_fields, evidence_files, reminders, submissions,
          outcomes, orders, text_templates)
