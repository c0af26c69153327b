"""Reading and writing refund request rows (no Stripe calls here; callers own transactions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.domain.approval import utc_day_bounds
from disputedesk.domain.refunds import FINAL_STATES, RefundRequest, RequestState
from disputedesk.errors import NotFound
from disputedesk.store import mirror as mirror_repo
from disputedesk.store.refunds_tables import refund_approvals, refund_requests

FINAL = frozenset(s.value for s in FINAL_STATES)


def to_domain(row: dict[str, Any]) -> RefundRequest:
    return RefundRequest(
        id=row["id"], charge=row["charge"], amount=int(row["amount"]), currency=row["currency"],
        requested_by=row["requested_by"], created=int(row["created"]),
        state=RequestState(row["status"]), reason=row["reason"],
        metadata=dict(row["metadata"] or {}), note=row["note"], attempt=int(row["attempt"]),
        refund_id=row["refund_id"], approved_by=row["approved_by"],
        source_key=row["source_key"])


def get(conn: Connection, request_id: str, *, for_update: bool = False) -> dict | None:
    stmt = sa.select(refund_requests).where(refund_requests.c.id == request_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def require(conn: Connection, request_id: str, *, for_update: bool = False) -> dict:
    row = get(conn, request_id, for_update=for_update)
    if row is None:
        raise NotFound(f"no refund request has the id '{request_id}'", object_id=request_id,
                       hint="`disputedesk refunds list` shows the refund requests")
    return row


def by_source_key(conn: Connection, source_key: str) -> dict | None:
    row = conn.execute(sa.select(refund_requests).where(
        refund_requests.c.source_key == source_key)).mappings().first()
    return dict(row) if row else None


def by_refund_id(conn: Connection, refund_id: str) -> dict | None:
    row = conn.execute(sa.select(refund_requests).where(
        refund_requests.c.refund_id == refund_id)).mappings().first()
    return dict(row) if row else None


def by_refund_ids(conn: Connection, refund_ids: Iterable[str]) -> dict[str, dict]:
    """Requests by the refund ids they made ({refund id: row}); one query per 500 ids."""
    ids, out = sorted(refund_ids), {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(sa.select(refund_requests).where(
            refund_requests.c.refund_id.in_(ids[start:start + 500]))).mappings()
        out.update({r["refund_id"]: dict(r) for r in rows})
    return out


def get_many(conn: Connection, request_ids: Iterable[str], *, for_update: bool = False
             ) -> dict[str, dict]:
    """Requests by id ({id: row}); ``for_update`` locks them on PostgreSQL (in id order)."""
    ids, out = sorted(request_ids), {}
    for start in range(0, len(ids), 500):
        stmt = (sa.select(refund_requests).where(refund_requests.c.id.in_(ids[start:start + 500]))
                .order_by(refund_requests.c.id))
        if for_update and conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        out.update({r["id"]: dict(r) for r in conn.execute(stmt).mappings()})
    return out


def waiting_on_charges(conn: Connection, charge_ids: Iterable[str]) -> dict[str, list[dict]]:
    """Requests sent and still without a refund id (Stripe's answer may have been lost) on the
    charges: ``submitted`` without ``refund_id``; {charge id: rows}."""
    ids, out = sorted(charge_ids), {}
    for start in range(0, len(ids), 500):
        for r in conn.execute(sa.select(refund_requests).where(
                refund_requests.c.charge.in_(ids[start:start + 500]),
                refund_requests.c.status == RequestState.submitted.value,
                refund_requests.c.refund_id.is_(None))).mappings():
            out.setdefault(r["charge"], []).append(dict(r))
    return out


def open_on_charge(conn: Connection, charge_id: str) -> list[RefundRequest]:
    """The desk's requests on the charge that can still hold money (the domain's in-flight)."""
    rows = conn.execute(sa.select(refund_requests).where(
        refund_requests.c.charge == charge_id,
        refund_requests.c.status.notin_(sorted(FINAL)))).mappings()
    return [to_domain(dict(r)) for r in rows]


def all_on_charge(conn: Connection, charge_id: str) -> list[dict]:
    rows = conn.execute(sa.select(refund_requests).where(refund_requests.c.charge == charge_id)
                        .order_by(refund_requests.c.created)).mappings()
    return [dict(r) for r in rows]


def requested_today(conn: Connection, operator: str, now: float) -> list[RefundRequest]:
    """The operator's requests created in the UTC day of ``now`` that moved or may move money
    (the domain's ``operator_totals`` applies the exact rules to them)."""
    start, end = utc_day_bounds(int(now))
    rows = conn.execute(sa.select(refund_requests).where(
        refund_requests.c.created >= start, refund_requests.c.created < end,
        sa.func.lower(sa.func.trim(refund_requests.c.requested_by)) == operator.strip().lower(),
        refund_requests.c.status.notin_(["rejected", "canceled", "failed"]))).mappings()
    return [to_domain(dict(r)) for r in rows]


def insert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(refund_requests.insert().values(**values))


def update(conn: Connection, request_id: str, *, expect_status: str | Iterable[str] | None = None,
           **values: Any) -> bool:
    """Update one request; with ``expect_status``, only if it is (still) in that state."""
    stmt = refund_requests.update().where(refund_requests.c.id == request_id)
    if expect_status is not None:
        wanted = [expect_status] if isinstance(expect_status, str) else list(expect_status)
        stmt = stmt.where(refund_requests.c.status.in_(wanted))
    return conn.execute(stmt.values(**values)).rowcount == 1


def add_approval(conn: Connection, request_id: str, action: str, actor: str, at: float,
                 note: str | None) -> None:
    conn.execute(refund_approvals.insert().values(request_id=request_id, action=action,
                                                  actor=actor, at=at, note=note))


def approvals(conn: Connection, request_id: str) -> list[dict]:
    rows = conn.execute(sa.select(refund_approvals).where(
        refund_approvals.c.request_id == request_id).order_by(refund_approvals.c.at,
                                                              refund_approvals.c.id)).mappings()
    return [dict(r) for r in rows]


def list_requests(conn: Connection, *, status: str | None = None, charge: str | None = None,
                  requested_by: str | None = None, bulk_job_id: str | None = None,
                  limit: int = 100) -> list[dict]:
    stmt = sa.select(refund_requests)
    if status:
        stmt = stmt.where(refund_requests.c.status == status)
    if charge:
        stmt = stmt.where(refund_requests.c.charge == charge)
    if requested_by:
        stmt = stmt.where(refund_requests.c.requested_by == requested_by)
    if bulk_job_id:
        stmt = stmt.where(refund_requests.c.bulk_job_id == bulk_job_id)
    stmt = stmt.order_by(refund_requests.c.created.desc(), refund_requests.c.id).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def ids_in_status(conn: Connection, statuses: Iterable[str], *, updated_before: float,
                  limit: int = 1000, without_refund: bool = False) -> list[str]:
    stmt = sa.select(refund_requests.c.id).where(
        refund_requests.c.status.in_(list(statuses)),
        refund_requests.c.updated <= updated_before)
    if without_refund:
        stmt = stmt.where(refund_requests.c.refund_id.is_(None))
    return list(conn.execute(stmt.order_by(refund_requests.c.updated).limit(limit)).scalars())


def lock_charge(conn: Connection, charge_id: str) -> None:
    """Serialize everything that plans money on one charge.

    PostgreSQL: a transaction-scoped advisory lock on the charge (works before its mirror row
    exists). SQLite: the store's write transaction (BEGIN IMMEDIATE) already is the only writer.
    """
    mirror_repo.lock_objects(conn, [("charge", charge_id)])


def bulk_requests_on_charge(conn: Connection, charge_id: str, statuses: Iterable[str]
                            ) -> list[dict]:
    """Bulk-file requests on the charge in the given states (the bulk repeat check)."""
    return [dict(r) for r in conn.execute(sa.select(refund_requests).where(
        refund_requests.c.charge == charge_id, refund_requests.c.bulk_job_id.is_not(None),
        refund_requests.c.status.in_(list(statuses))).order_by(
        refund_requests.c.created)).mappings()]
