"""The automation rules' own tables: every decision, every action key, the case labels the rules
set (tags, assignee) and the timers they scheduled.

Created by the migration branch ``automation`` (store/migrations/versions/automation_0001*).
Desk times are UTC epoch seconds as floats, Stripe times integer seconds, as in store/tables.py.
"""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.store.tables import BigId, Json, StripeId, metadata

ActionKey = sa.String(600)  # rule (<=80) | object id (<=255) | kind [#n] [| due_by=...]

# One row per rule per evaluation: what it saw, whether it matched, what it planned and what the
# worker then did (``outcome``: action key -> {status, detail}).
decisions = sa.Table(
    "automation_decisions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(80), nullable=False),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("object_type", sa.String(40), nullable=False),  # dispute|radar.early_fraud_warning|refund
    sa.Column("object_id", StripeId, nullable=False),
    sa.Column("dispute_id", StripeId),
    sa.Column("charge_id", StripeId),
    sa.Column("source", sa.String(255), nullable=False),  # "event evt_...", "deadline", "scheduled"
    sa.Column("evaluated_at", sa.BigInteger, nullable=False),
    sa.Column("matched", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("condition", sa.Text),
    sa.Column("inputs", Json, nullable=False),
    sa.Column("actions", Json, nullable=False),
    sa.Column("outcome", Json),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("rules_source", sa.String(255)),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index(None, "object_id", "id"),
    sa.Index(None, "dispute_id", "id"),
    sa.Index(None, "charge_id", "id"),
    sa.Index(None, "rule", "at"),
)

# One row per action key, claimed ('started') and committed before the side effect, then 'done'
# or 'failed'. The primary key makes "at most once" a database fact.
actions = sa.Table(
    "automation_actions", metadata,
    sa.Column("key", ActionKey, primary_key=True),
    sa.Column("rule", sa.String(80), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", StripeId, nullable=False),      # the dispute / charge / object acted on
    sa.Column("subject", StripeId, nullable=False),     # the decision's object
    sa.Column("decision_id", sa.BigInteger),
    sa.Column("status", sa.String(16), nullable=False),  # started|done|failed
    sa.Column("params", Json),
    sa.Column("result", Json),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Index(None, "target"),
    sa.Index(None, "subject"),
    sa.Index(None, "status", "started_at"),
)

# Tags and assignee the rules (or people) put on a case: a dispute, a warning, a refund.
labels = sa.Table(
    "automation_labels", metadata,
    sa.Column("object_id", StripeId, primary_key=True),
    sa.Column("tags", Json, nullable=False),
    sa.Column("assigned_to", sa.String(255)),
    sa.Column("updated_by", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Deadline and scheduled-submission evaluations queued as jobs; the key makes each queued once.
timers = sa.Table(
    "automation_timers", metadata,
    sa.Column("key", ActionKey, primary_key=True),
    sa.Column("object_id", StripeId, nullable=False),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("rule", sa.String(80), nullable=False),
    sa.Column("run_at", sa.Float, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index(None, "object_id"),
)

TABLES = (decisions, actions, labels, timers)

# Backtests people ran of the active rules: the rules page shows the last one after a restart.
backtests = sa.Table(
    "automation_backtests", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("ran_at", sa.Float, nullable=False),
    sa.Column("ran_by", sa.String(255), nullable=False),
    sa.Column("window", sa.String(32), nullable=False),
    sa.Column("rules_source", sa.String(255)),
    sa.Column("took", sa.Float),
    sa.Column("report", Json, nullable=False),
    sa.Index(None, "ran_at"),
)
