"""The audit log: who did what to which object, and why. Append-only.

Every row also says who is answerable (``person``) and what the action came through (``door``:
dashboard, rest, cli, rule, worker; ``credential``: ``tok_<n>``, ``password``, ``rule:<name>``).
The edges say it once, where they authenticate: the web per request (:func:`acting_through`, a
context variable, so concurrent requests never mix), the CLI and the worker for the whole process
(:func:`set_process_door`), the rules around each action. ``append`` reads it, so no service
signature has to carry it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.store.tables import audit_log


@dataclass(frozen=True)
class Door:
    door: str
    credential: str | None = None
    person: str | None = None


_current: ContextVar[Door | None] = ContextVar("disputedesk_audit_door", default=None)
_process_default: list[Door | None] = [None]


def set_process_door(door: Door | None) -> None:
    """The door of every action in this process that no request or rule narrows (CLI, worker)."""
    _process_default[0] = door


def current_door() -> Door | None:
    return _current.get() or _process_default[0]


@contextlib.contextmanager
def acting_through(door: Door) -> Iterator[Door]:
    token = _current.set(door)
    try:
        yield door
    finally:
        _current.reset(token)


def enter_door(door: Door) -> None:
    """Set the door for the rest of the current context (a web request's task)."""
    _current.set(door)


def append(conn: Connection, *, at: float, actor: str, action: str,
           object_type: str | None = None, object_id: str | None = None,
           note: str | None = None, details: dict[str, Any] | None = None) -> int:
    door = current_door()
    result = conn.execute(audit_log.insert().values(
        at=at, actor=actor, action=action, object_type=object_type, object_id=object_id,
        note=note, details=details,
        person=door.person if door else None, door=door.door if door else None,
        credential=door.credential if door else None))
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
