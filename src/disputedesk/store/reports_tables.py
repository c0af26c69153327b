"""Tables of the reports feature (migration branch ``reports``; see store/migrations/versions).

Reports are read from *facts*: one row per mirrored dispute, refund, early fraud warning and
charge, holding what the reports group by (the calendar month in the merchant's zone, the card
network, the origin of a refund ...), so a report is a grouped query over an index instead of a
scan of the mirror's JSON. Sales (1,000,000 charges and more) are read from ``report_sales``,
monthly totals kept up to date by delta: ``report_charges`` remembers what each charge added, so
a changed charge moves its old contribution out and its new one in.

``account`` is ``""`` for the platform's own objects (a key column cannot be NULL), else the
connected account's id. ``month`` is ``YYYYMM`` in the zone ``report_state['zone']`` names.
The facts are derived data: ``disputedesk reports rebuild`` recomputes them from the mirror.
"""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.store.tables import StripeId, metadata
from disputedesk.store.tables import charges as mirror_charges
from disputedesk.store.tables import disputes as mirror_disputes
from disputedesk.store.tables import early_fraud_warnings as mirror_efws
from disputedesk.store.tables import refunds as mirror_refunds

# The catch-up job finds what changed in the mirror since its last run (backfills and refetches
# write the mirror without events) by ``mirrored_at``; these make that an index range scan.
# Migration reports_0001.
for _table in (mirror_charges, mirror_disputes, mirror_refunds, mirror_efws):
    sa.Index(f"ix_{_table.name}_mirrored_at", _table.c.mirrored_at)

report_disputes = sa.Table(
    "report_disputes", metadata,
    sa.Column("dispute_id", StripeId, primary_key=True),
    sa.Column("account", StripeId, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # open|won|lost|accepted|unanswered|...
    sa.Column("is_inquiry", sa.Boolean, nullable=False),   # an inquiry now
    sa.Column("was_inquiry", sa.Boolean, nullable=False),  # ever seen as an inquiry
    sa.Column("counts_for_programs", sa.Boolean, nullable=False),  # a chargeback, not prevented
    sa.Column("contested", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("network", sa.String(32), nullable=False),
    sa.Column("product_type", sa.String(32), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("amount_band", sa.Integer, nullable=False),
    sa.Column("completeness_band", sa.String(16), nullable=False),
    sa.Column("rule", sa.String(80)),
    sa.Column("withdrawn", sa.BigInteger, nullable=False),
    sa.Column("won_back", sa.BigInteger, nullable=False),
    sa.Column("lost_amount", sa.BigInteger, nullable=False),
    sa.Column("fees", sa.BigInteger, nullable=False),
    sa.Column("fees_returned", sa.BigInteger, nullable=False),
    sa.Column("net", sa.BigInteger, nullable=False),
    sa.Column("due_by", sa.BigInteger),
    sa.Column("submitted_at", sa.Float),
    sa.Column("closed_at", sa.BigInteger),
    sa.Column("charge", StripeId),
    sa.Index(None, "account", "month"),
    sa.Index(None, "month"),
    sa.Index(None, "charge"),
    sa.Index(None, "closed_at"),
    # the median time to submission reads only submitted disputes, from the index alone
    sa.Index("ix_report_disputes_submitted", "month", "account", "created", "submitted_at",
             sqlite_where=sa.text("submitted_at IS NOT NULL"),
             postgresql_where=sa.text("submitted_at IS NOT NULL")),
)

report_refunds = sa.Table(
    "report_refunds", metadata,
    sa.Column("refund_id", StripeId, primary_key=True),
    sa.Column("account", StripeId, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),  # person|rule|bulk|outside
    sa.Column("made_by", sa.String(255)),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("charge", StripeId),
    sa.Index(None, "account", "month"),
    sa.Index(None, "month"),
    sa.Index(None, "origin", "created"),
    sa.Index(None, "charge"),
)

report_efws = sa.Table(
    "report_efws", metadata,
    sa.Column("efw_id", StripeId, primary_key=True),
    sa.Column("account", StripeId, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("network", sa.String(32), nullable=False),
    sa.Column("charge", StripeId),
    sa.Column("refunded", sa.Boolean, nullable=False),
    sa.Column("disputed", sa.Boolean, nullable=False),
    sa.Index(None, "account", "month"),
    sa.Index(None, "month"),
    sa.Index(None, "charge"),
)

# What each charge adds to report_sales (so a change moves exactly that out again).
report_charges = sa.Table(
    "report_charges", metadata,
    sa.Column("charge_id", StripeId, primary_key=True),
    sa.Column("account", StripeId, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("network", sa.String(32), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),  # captured, 0 when not a sale
    sa.Column("sale", sa.Boolean, nullable=False),       # succeeded and captured: a settled sale
)

report_sales = sa.Table(
    "report_sales", metadata,
    sa.Column("account", StripeId, primary_key=True),
    sa.Column("month", sa.Integer, primary_key=True),
    sa.Column("network", sa.String(32), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("sales", sa.BigInteger, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
)

# Monthly totals of the dispute and refund facts by one dimension at a time (``dim``/``key``:
# ``all``/"", ``reason``/fraudulent, ``network``/visa ...), per currency, kept by delta like the
# sales: a report reads a few hundred cells instead of grouping every fact of the period.
DISPUTE_MEASURES = ("counted", "contested", "won", "lost", "accepted", "unanswered", "open",
                    "decided", "inquiries", "inquiries_open", "inquiries_closed",
                    "inquiries_escalated", "inquiries_lost", "prevented", "submitted",
                    "under_48h", "disputed", "withdrawn", "won_back", "lost_amount", "fees",
                    "fees_returned", "net")
REFUND_MEASURES = ("refunds", "amount", "succeeded", "succeeded_amount", "pending",
                   "pending_amount", "failed", "failed_amount", "canceled", "canceled_amount")


def _cells(name: str, measures: tuple[str, ...]) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("account", StripeId, primary_key=True),
        sa.Column("month", sa.Integer, primary_key=True),
        sa.Column("dim", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        *[sa.Column(m, sa.BigInteger, nullable=False) for m in measures],
        sa.Index(None, "month"),
    )


report_dispute_cells = _cells("report_dispute_cells", DISPUTE_MEASURES)
report_refund_cells = _cells("report_refund_cells", REFUND_MEASURES)

report_state = sa.Table(
    "report_state", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)
