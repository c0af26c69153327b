"""The job queue: rows in ``jobs``, claimed with a lease so a crashed worker's job runs again.

Jobs may call Stripe, so they are *not* run inside the claiming transaction (on SQLite that would
hold the only write lock during network I/O): claim -> run -> finish/retry, each its own short
transaction. A job is therefore at-least-once; handlers are written to be idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from disputedesk.store.tables import jobs


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    name: str
    payload: dict
    attempts: int  # including the one about to run


def enqueue(conn: Connection, name: str, payload: dict[str, Any] | None = None, *,
            now: float, run_at: float | None = None, dedupe_key: str | None = None) -> bool:
    """Queue a job; with ``dedupe_key``, nothing happens if that key is already queued.

    Returns True when a new job row was written.
    """
    values = dict(name=name, payload=payload or {}, run_at=now if run_at is None else run_at,
                  attempts=0, status="queued", dedupe_key=dedupe_key, created_at=now,
                  updated_at=now)
    if dedupe_key is None:
        conn.execute(jobs.insert().values(**values))
        return True
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(jobs).values(**values)
            .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(jobs.c.id))
    return conn.execute(stmt).first() is not None


@dataclass(frozen=True)
class NewJob:
    """One job for :func:`enqueue_many` (``run_at`` None: due at ``now``)."""

    name: str
    payload: dict[str, Any]
    dedupe_key: str | None = None
    run_at: float | None = None


def enqueue_many(conn: Connection, new_jobs: list[NewJob], *, now: float) -> None:
    """Queue many jobs with one statement per kind (keyed / not keyed), as ``enqueue`` would one
    by one: a job whose ``dedupe_key`` is already queued is skipped. For worker batch listeners."""
    rows = [{"name": j.name, "payload": j.payload,
             "run_at": now if j.run_at is None else j.run_at, "attempts": 0, "status": "queued",
             "dedupe_key": j.dedupe_key, "created_at": now, "updated_at": now} for j in new_jobs]
    keyed, plain = {}, []
    for row in rows:
        if row["dedupe_key"] is None:
            plain.append(row)
        else:
            keyed.setdefault(row["dedupe_key"], row)  # the first of a key wins, as one by one
    if plain:
        conn.execute(jobs.insert(), plain)
    if keyed:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(jobs).on_conflict_do_nothing(index_elements=["dedupe_key"]),
                     list(keyed.values()))


def claim_due(conn: Connection, *, now: float, limit: int, lease_seconds: float) -> list[ClaimedJob]:
    """Take due jobs (and running ones whose lease ran out) and mark them running."""
    due = sa.or_(
        sa.and_(jobs.c.status == "queued", jobs.c.run_at <= now),
        sa.and_(jobs.c.status == "running", jobs.c.locked_until < now),
    )
    stmt = (sa.select(jobs.c.id, jobs.c.name, jobs.c.payload, jobs.c.attempts)
            .where(due).order_by(jobs.c.run_at).limit(limit))
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = conn.execute(stmt).all()
    if not rows:
        return []
    conn.execute(
        jobs.update().where(jobs.c.id.in_([r.id for r in rows])).values(
            status="running", attempts=jobs.c.attempts + 1, locked_until=now + lease_seconds,
            dedupe_key=None, updated_at=now)
    )
    return [ClaimedJob(r.id, r.name, r.payload or {}, r.attempts + 1) for r in rows]


def finish(conn: Connection, job_id: int, *, now: float) -> None:
    conn.execute(jobs.update().where(jobs.c.id == job_id).values(
        status="done", locked_until=None, last_error=None, updated_at=now))


def retry_or_park(conn: Connection, job_id: int, *, error: str, run_at: float, park: bool,
                  now: float) -> None:
    conn.execute(jobs.update().where(jobs.c.id == job_id).values(
        status="failed" if park else "queued", run_at=run_at, locked_until=None,
        last_error=error[:4000], updated_at=now))


def get_job(conn: Connection, job_id: int) -> dict | None:
    row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
    return dict(row) if row else None


def list_jobs(conn: Connection, *, name: str | None = None, status: str | None = None,
              limit: int = 100) -> list[dict]:
    stmt = sa.select(jobs)
    if name:
        stmt = stmt.where(jobs.c.name == name)
    if status:
        stmt = stmt.where(jobs.c.status == status)
    return [dict(r) for r in conn.execute(stmt.order_by(jobs.c.id).limit(limit)).mappings()]


def counts_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status))
    return {status: n for status, n in rows}
