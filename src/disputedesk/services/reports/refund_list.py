"""Every refund the mirror holds, newest first, with who made it (the refunds page).

Read straight from the mirror joined with the desk's refund requests, so a refund shows up the
moment it is mirrored (the report facts may lag by a catch-up run).
"""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.errors import ValidationError
from disputedesk.store.refunds_tables import refund_requests
from disputedesk.store.tables import refunds as mirror_refunds

ORIGINS = ("person", "rule", "bulk", "outside")
MAX_LIMIT = 500


def list_mirror_refunds(deps, *, origin: str | None = None, limit: int = 200) -> list[dict]:
    if origin is not None and origin not in ORIGINS:
        raise ValidationError(f"origin '{origin}' is not one of {', '.join(ORIGINS)}",
                              param="origin")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be 1-{MAX_LIMIT}", param="limit")
    m, q = mirror_refunds.c, refund_requests.c
    origin_sql = sa.case((q.id.is_(None), "outside"), (q.bulk_job_id.is_not(None), "bulk"),
                         (q.requested_by.like("rule:%"), "rule"), else_="person")
    query = (sa.select(m.id, m.created, m.status, m.amount, m.currency, m.charge, m.reason,
                       m.account, q.id.label("request_id"), q.requested_by,
                       origin_sql.label("origin"))
             .select_from(mirror_refunds.outerjoin(refund_requests, q.refund_id == m.id)))
    if origin is not None:
        query = query.where(origin_sql == origin)
    query = query.order_by(m.created.desc(), m.id).limit(limit)
    with deps.store.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]

