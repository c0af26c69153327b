"""The audit log: who did what to which object, and why. Append-only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.store.tables import audit_log


def append(conn: Connection, *, at: float, actor: str, action: str,
           object_type: str | None = None, object_id: str | None = None,
           note: str | None = None, details: dict[str, Any] | None = None) -> int:
    result = conn.execute(audit_log.insert().values(
        at=at, actor=actor, action=action, object_type=object_type, object_id=object_id,
        note=note, details=details))
    return result.inserted_primary_key[0]


def for_object(conn: Connection, object_type: str, object_id: str,
               limit: int = 100) -> list[dict]:
    rows = conn.execute(
        sa.select(audit_log)
        .where(audit_log.c.object_type == object_type, audit_log.c.object_id == object_id)
        .order_by(audit_log.c.at, audit_log.c.id).limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def recent(conn: Connection, limit: int = 100) -> list[dict]:
    rows = conn.execute(
        sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    ).mappings()
    return [dict(r) for r in rows]
