"""Mirror repository: rows of Stripe objects keyed by id, with their ordering key.

The decision *whether* a snapshot replaces the stored one lives in services/mirror.py; this
module only reads and writes rows.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.errors import ValidationError
from disputedesk.store.tables import MIRROR_TABLES


@dataclass(frozen=True)
class StoredVersion:
    """What the mirror holds for one object: its ordering key and the snapshot."""

    stripe_updated: int
    stripe_rank: int
    data: dict


def table_for(object_type: str) -> sa.Table:
    table = MIRROR_TABLES.get(object_type)
    if table is None:
        raise ValidationError(f"the desk does not mirror '{object_type}' objects",
                              param="object_type",
                              hint="one of: " + ", ".join(sorted(MIRROR_TABLES)))
    return table


def load_versions(conn: Connection, object_type: str,
                  ids: Iterable[str]) -> dict[str, StoredVersion]:
    table = table_for(object_type)
    ids = list(ids)
    out: dict[str, StoredVersion] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = conn.execute(
            sa.select(table.c.id, table.c.stripe_updated, table.c.stripe_rank, table.c.data)
            .where(table.c.id.in_(chunk))
        )
        for row in rows:
            out[row.id] = StoredVersion(row.stripe_updated, row.stripe_rank, row.data)
    return out


def insert_rows(conn: Connection, object_type: str, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(table_for(object_type).insert(), list(rows))


def update_rows(conn: Connection, object_type: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    table = table_for(object_type)
    stmt = table.update().where(table.c.id == sa.bindparam("_row_id"))
    conn.execute(stmt, [{**row, "_row_id": row["id"]} for row in rows])


def lock_objects(conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
    """PostgreSQL: transaction-scoped advisory locks on (object_type, id), taken in sorted order.

    Locks work for rows that do not exist yet (two workers inserting the same new object), and a
    single global order means two workers can never wait on each other in a cycle (no deadlock).
    """
    if conn.dialect.name != "postgresql":
        return  # SQLite: the transaction already holds the database's only write lock
    lock_ids = sorted({_lock_id(t, i) for t, i in keys})
    if lock_ids:
        # One round trip for the whole batch (one per key cost ~15 ms per 100 objects). The
        # locks are taken in the array's order, which is sorted: unnest returns the elements in
        # array order, and the aggregate calls the lock function row by row as they come.
        conn.execute(_LOCK_MANY, {"keys": lock_ids})


_LOCK_MANY = sa.text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest(CAST(:keys AS bigint[]))"
    " WITH ORDINALITY AS u(k, n) ORDER BY n) AS ordered")


def _lock_id(object_type: str, object_id: str) -> int:
    # 64-bit key from two CRC32s; collisions only make two objects share a lock.
    raw = f"{object_type}:{object_id}".encode()
    value = (zlib.crc32(raw) << 32) | zlib.crc32(raw[::-1])
    return value - (1 << 64) if value >= (1 << 63) else value


def get_object(conn: Connection, object_type: str, object_id: str) -> dict | None:
    table = table_for(object_type)
    return conn.execute(sa.select(table.c.data).where(table.c.id == object_id)).scalar_one_or_none()


def get_row(conn: Connection, object_type: str, object_id: str) -> dict | None:
    table = table_for(object_type)
    row = conn.execute(sa.select(table).where(table.c.id == object_id)).mappings().first()
    return dict(row) if row else None


def count(conn: Connection, object_type: str) -> int:
    table = table_for(object_type)
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def ids_with_status(conn: Connection, object_type: str, statuses: Iterable[str],
                    limit: int = 10_000) -> list[tuple[str, str | None, int]]:
    """(id, account, stripe_updated) of objects whose status is one of ``statuses``."""
    table = table_for(object_type)
    rows = conn.execute(
        sa.select(table.c.id, table.c.account, table.c.stripe_updated)
        .where(table.c.status.in_(list(statuses))).order_by(table.c.id).limit(limit)
    )
    return [(r.id, r.account, r.stripe_updated) for r in rows]
