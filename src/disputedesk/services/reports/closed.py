"""Closed disputes: a searchable, filterable list with the outcome and the money of each."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from disputedesk.domain.money import parse_money
from disputedesk.errors import ValidationError
from disputedesk.services.reports.cells import where_period
from disputedesk.services.reports.periods import Period
from disputedesk.store.reports_tables import report_disputes

OUTCOMES = ("won", "lost", "accepted", "unanswered", "warning_closed", "prevented")
MAX_LIMIT = 200
MAX_OFFSET = 100_000


@dataclass
class ClosedFilter:
    q: str | None = None
    outcome: str | None = None
    reason: str | None = None
    network: str | None = None
    min_amount: str | None = None  # "10 USD": disputes in USD of at least 10.00
    max_amount: str | None = None
    limit: int = 50
    offset: int = 0


def _amount(text: str | None, param: str) -> tuple[int, str] | None:
    if not text or not text.strip():
        return None
    try:
        money = parse_money(text)
    except ValidationError as exc:
        raise ValidationError(f"{param}: {exc}", param=param,
                              hint='write it like "10 USD" or "1500 JPY"') from None
    return money.amount, money.currency


def closed_disputes(conn, period: Period, account: str | None, flt: ClosedFilter) -> dict:
    if flt.outcome and flt.outcome not in OUTCOMES:
        raise ValidationError(f"outcome '{flt.outcome}' is not one of {', '.join(OUTCOMES)}",
                              param="outcome")
    if not 1 <= flt.limit <= MAX_LIMIT or not 0 <= flt.offset <= MAX_OFFSET:
        raise ValidationError(f"limit must be 1-{MAX_LIMIT} and offset 0-{MAX_OFFSET}",
                              param="limit")
    t = report_disputes.c
    conds = [*where_period(report_disputes, period, account), t.outcome != "open"]
    if flt.outcome:
        conds.append(t.outcome == flt.outcome)
    if flt.reason:
        conds.append(t.reason == flt.reason.strip()[:64])
    if flt.network:
        conds.append(t.network == flt.network.strip().lower()[:32])
    if flt.q and flt.q.strip():
        q = flt.q.strip()[:255]
        conds.append(sa.or_(t.dispute_id == q, t.charge == q))
    low, high = _amount(flt.min_amount, "min_amount"), _amount(flt.max_amount, "max_amount")
    if low and high and low[1] != high[1]:
        raise ValidationError("min_amount and max_amount name different currencies",
                              param="max_amount", hint="give both in one currency")
    for bound, op in ((low, "ge"), (high, "le")):
        if bound:
            conds.append(t.currency == bound[1])
            conds.append(t.amount >= bound[0] if op == "ge" else t.amount <= bound[0])
    total = conn.execute(sa.select(sa.func.count()).select_from(report_disputes)
                         .where(*conds)).scalar_one()
    rows = conn.execute(
        sa.select(t.dispute_id, t.account, t.created, t.closed_at, t.outcome, t.reason,
                  t.network, t.currency, t.amount, t.won_back, t.lost_amount, t.fees,
                  t.fees_returned, t.net, t.rule, t.charge, t.contested)
        .where(*conds).order_by(t.closed_at.desc(), t.dispute_id)
        .limit(flt.limit).offset(flt.offset)).mappings()
    return {"total": int(total), "rows": [dict(r) for r in rows]}
