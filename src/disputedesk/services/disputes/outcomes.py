"""Outcomes: won, lost, warning_closed and prevented, with the money each moved.

Recorded from the mirror's snapshot (its ``balance_transactions``, as Stripe sends them) in the
same transaction as the event that closed the dispute; a later snapshot (a reinstatement booked
after the close) updates the row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.domain import disputes as d
from disputedesk.errors import ValidationError
from disputedesk.services.disputes.common import upsert, upsert_many
from disputedesk.store.disputes_tables import outcomes


def record(conn: Connection, dispute: dict, now: float) -> dict | None:
    """Store the outcome of a closed dispute; ``None`` (nothing written) while it is open."""
    values = outcome_values(dispute, now)
    if values is not None:
        upsert(conn, outcomes, ["dispute_id"], values)
    return values


def record_many(conn: Connection, disputes: list[dict], now: float) -> None:
    """``record`` for many disputes with one statement (the worker's batch listener)."""
    rows = [v for v in (outcome_values(dispute, now) for dispute in disputes) if v is not None]
    if rows:
        upsert_many(conn, outcomes, ["dispute_id"], rows)


def outcome_values(dispute: dict, now: float) -> dict | None:
    """The outcome row of a closed dispute; ``None`` while it is open (or not fully expanded)."""
    try:
        outcome = d.classify_outcome(dispute)
    except ValidationError:
        return None  # balance transactions not expanded: wait for a full snapshot
    if outcome is None:
        return None
    m = outcome.money
    values = {
        "dispute_id": dispute["id"], "result": outcome.result, "reason": dispute.get("reason"),
        "amount": outcome.amount, "currency": outcome.currency, "withdrawn": m.withdrawn,
        "reinstated": m.reinstated, "dispute_fee": m.dispute_fee,
        "dispute_fee_returned": m.dispute_fee_returned, "countered_fee": m.countered_fee,
        "countered_fee_returned": m.countered_fee_returned, "net": m.net,
        "countered": outcome.countered, "full_win": outcome.full_win,
        "notes": list(outcome.notes), "balance_transactions": list(m.balance_transactions),
        "recorded_at": now,
    }
    return values


def get_outcome(deps, dispute_id: str) -> dict | None:
    with deps.store.read() as conn:
        row = conn.execute(sa.select(outcomes).where(outcomes.c.dispute_id == dispute_id)
                           ).mappings().first()
    return dict(row) if row else None


def list_outcomes(deps, *, result: str | None = None, since: float | None = None,
                  limit: int = 100) -> dict[str, Any]:
    """Outcomes newest first, with totals per currency (won/lost counts and net money)."""
    if result and result not in d.OUTCOMES:
        raise ValidationError(f"unknown outcome '{result}'", param="result",
                              hint="one of: " + ", ".join(d.OUTCOMES))
    stmt = sa.select(outcomes)
    totals = sa.select(outcomes.c.currency, outcomes.c.result, sa.func.count(),
                       sa.func.sum(outcomes.c.net), sa.func.sum(outcomes.c.dispute_fee))
    if result:
        stmt = stmt.where(outcomes.c.result == result)
        totals = totals.where(outcomes.c.result == result)
    if since is not None:
        stmt = stmt.where(outcomes.c.recorded_at >= since)
        totals = totals.where(outcomes.c.recorded_at >= since)
    stmt = stmt.order_by(outcomes.c.recorded_at.desc(), outcomes.c.dispute_id).limit(limit)
    with deps.store.read() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
        sums = conn.execute(totals.group_by(outcomes.c.currency, outcomes.c.result)).all()
    summary: dict[str, dict[str, Any]] = {}
    for currency, res, count, net, fee in sums:
        entry = summary.setdefault(str(currency), {"net": 0, "dispute_fees": 0})
        entry[res] = int(count)
        entry["net"] += int(net or 0)
        entry["dispute_fees"] += int(fee or 0)
    return {"data": rows, "totals": summary}
