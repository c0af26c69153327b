"""The webhook inbox: stored events and their processing state.

Status: ``received`` (waiting for the worker, possibly after a failed attempt), ``processed``
(applied to the mirror in the same transaction as this mark), ``ignored`` (a type the desk does not
handle; stored for the record), ``failed`` (parked after its last attempt; ``last_error`` says why),
``unparseable`` (a correctly signed body that is not a readable event, kept raw with the reason;
never claimed, never replayed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from disputedesk.store.tables import events

STATUSES = ("received", "processed", "ignored", "failed", "unparseable")


@dataclass(frozen=True)
class ClaimedEvent:
    seq: int
    id: str
    type: str
    created: int
    account: str | None
    payload: str
    attempts: int


_INSERT_COLUMNS = ("id", "type", "created", "account", "livemode", "api_version", "object_type",
                   "object_id", "payload", "status", "attempts", "last_error", "next_attempt_at",
                   "received_at", "processed_at")
_INSERT_SQL = ("INSERT INTO events (" + ", ".join(_INSERT_COLUMNS) + ") VALUES ({}) "
               "ON CONFLICT (id) DO NOTHING")
_INSERT_BY_PARAMSTYLE = {
    "qmark": _INSERT_SQL.format(", ".join("?" * len(_INSERT_COLUMNS))),
    "format": _INSERT_SQL.format(", ".join(["%s"] * len(_INSERT_COLUMNS))),
    "pyformat": _INSERT_SQL.format(", ".join(["%s"] * len(_INSERT_COLUMNS))),
}


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert events; an id already stored is skipped (redelivery is not an error).

    This is the webhook hot path, so it goes straight to the driver with one prepared
    statement (Core's per-row parameter processing costs more than the insert itself).
    """
    if not rows:
        return
    sql = _INSERT_BY_PARAMSTYLE.get(conn.dialect.paramstyle)
    if sql is None:  # an unusual driver: let SQLAlchemy render it
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(events).on_conflict_do_nothing(index_elements=["id"]),
                     list(rows))
        return
    conn.exec_driver_sql(sql, [tuple(row[c] for c in _INSERT_COLUMNS) for row in rows])


def claim_batch(conn: Connection, now: float, limit: int) -> list[ClaimedEvent]:
    """Events due for processing, locked for this transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent workers take disjoint batches and an
    event is only ever held by one of them. SQLite: the caller's ``BEGIN IMMEDIATE`` already
    excludes every other writer.
    """
    stmt = (
        sa.select(events.c.seq, events.c.id, events.c.type, events.c.created, events.c.account,
                  events.c.payload, events.c.attempts)
        .where(events.c.status == "received", events.c.next_attempt_at <= now)
        .order_by(events.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [ClaimedEvent(*row) for row in conn.execute(stmt)]


def peek_objects(conn: Connection, now: float, limit: int) -> list[tuple[str, str, str | None]]:
    """(object_type, object_id, account) of the events a claim would take next (no lock): what
    refetch mode fetches from Stripe before the batch's transaction opens."""
    stmt = (sa.select(events.c.object_type, events.c.object_id, events.c.account)
            .where(events.c.status == "received", events.c.next_attempt_at <= now,
                   events.c.object_id.is_not(None))
            .order_by(events.c.next_attempt_at).limit(limit))
    return [tuple(row) for row in conn.execute(stmt)]


def mark_processed(conn: Connection, seqs: Iterable[int], now: float,
                   status: str = "processed") -> None:
    seqs = list(seqs)
    if seqs:
        conn.execute(
            events.update().where(events.c.seq.in_(seqs))
            .values(status=status, processed_at=now, last_error=None)
        )


def record_failure(conn: Connection, seq: int, *, error: str, attempts: int,
                   next_attempt_at: float, park: bool, now: float) -> None:
    conn.execute(
        events.update().where(events.c.seq == seq).values(
            status="failed" if park else "received",
            attempts=attempts,
            last_error=error[:4000],
            next_attempt_at=next_attempt_at,
            processed_at=now if park else None,
        )
    )


def get_event(conn: Connection, event_id: str) -> dict | None:
    row = conn.execute(sa.select(events).where(events.c.id == event_id)).mappings().first()
    return dict(row) if row else None


def list_events(conn: Connection, *, status: str | None = None, type: str | None = None,
                object_id: str | None = None, limit: int = 50) -> list[dict]:
    stmt = sa.select(*[c for c in events.c if c.name != "payload"])
    if status:
        stmt = stmt.where(events.c.status == status)
    if type:
        stmt = stmt.where(events.c.type == type)
    if object_id:
        stmt = stmt.where(events.c.object_id == object_id)
    stmt = stmt.order_by(events.c.seq.desc()).limit(limit)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def requeue(conn: Connection, now: float, *, event_id: str | None = None,
            type: str | None = None, failed: bool = False) -> int:
    """Put events back in the queue (replay); returns how many."""
    stmt = events.update()
    if event_id:
        stmt = stmt.where(events.c.id == event_id)
    if type:
        stmt = stmt.where(events.c.type == type)
    if failed:
        stmt = stmt.where(events.c.status == "failed")
    stmt = stmt.where(events.c.status != "unparseable")  # nothing in it can be applied
    result = conn.execute(stmt.values(status="received", attempts=0, next_attempt_at=now,
                                      processed_at=None))
    return result.rowcount


def counts_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(events.c.status, sa.func.count()).group_by(events.c.status))
    out = dict.fromkeys(STATUSES, 0)
    out.update({status: n for status, n in rows})
    return out


def oldest_waiting(conn: Connection, now: float) -> float | None:
    """``received_at`` of the oldest event due for processing (for the lag gauge)."""
    return conn.execute(
        sa.select(sa.func.min(events.c.received_at))
        .where(events.c.status == "received", events.c.next_attempt_at <= now)
    ).scalar_one_or_none()
