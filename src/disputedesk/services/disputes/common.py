"""Shared pieces of the disputes services: loading a dispute from the mirror, the work row, upserts,
idempotency keys and the reminder schedule."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from disputedesk.domain import disputes as d
from disputedesk.errors import Conflict, NotFound, ValidationError
from disputedesk.rules.values import MAX_DURATION
from disputedesk.store import mirror as repo
from disputedesk.store.disputes_tables import dispute_work

REVIEW_STATUSES = frozenset({"under_review", "warning_under_review", "appeal_under_review"})
OPEN_STATUSES = tuple(s for s in d.STATUSES if s not in d.CLOSED_STATUSES)
KEY_PREFIX = "disputedesk"


class DisputeNotOpen(Conflict):
    """The dispute is closed or already answered: the action no longer applies."""

    code = "dispute_not_open"


class PastDue(Conflict):
    code = "dispute_past_due"


class HandEdited(Conflict):
    """Automation refused: a person edited this dispute's evidence."""

    code = "dispute_hand_edited"


def upsert(conn: Connection, table: sa.Table, keys: list[str], values: dict[str, Any],
           update: dict[str, Any] | None = None) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, on SQLite and PostgreSQL alike."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    changes = update if update is not None else {k: v for k, v in values.items() if k not in keys}
    if changes:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changes)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt)


def upsert_many(conn: Connection, table: sa.Table, keys: list[str], rows: list[dict[str, Any]],
                update: list[str] | None = None) -> None:
    """``upsert`` for many rows with one statement: on a key conflict the ``update`` columns
    (default: every non-key column) take the new row's values; ``update=[]``: DO NOTHING.

    Rows must share their columns; a key given twice keeps the last row (one statement cannot
    touch a row twice on PostgreSQL)."""
    if not rows:
        return
    unique = list({tuple(row[k] for k in keys): row for row in rows}.values())
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    columns = [c for c in unique[0] if c not in keys] if update is None else update
    if columns:
        stmt = stmt.on_conflict_do_update(index_elements=keys,
                                          set_={c: stmt.excluded[c] for c in columns})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, unique)


def load_dispute(conn: Connection, dispute_id: str) -> dict:
    dispute = repo.get_object(conn, "dispute", dispute_id)
    if dispute is None:
        raise NotFound(f"the desk has no dispute '{dispute_id}'", object_id=dispute_id,
                       hint="run `disputedesk sync` or wait for the webhook; "
                            "`disputedesk disputes list` shows the open ones")
    return dispute


def load_charge(conn: Connection, charge_id: str | None) -> dict | None:
    if not charge_id:
        return None
    return repo.get_object(conn, "charge", charge_id)


def charge_id_of(dispute: dict) -> str | None:
    charge = dispute.get("charge")
    return charge.get("id") if isinstance(charge, dict) else charge


def get_work(conn: Connection, dispute_id: str) -> dict | None:
    row = conn.execute(sa.select(dispute_work).where(dispute_work.c.dispute_id == dispute_id)
                       ).mappings().first()
    return dict(row) if row else None


def work_state(dispute: dict, previous: str | None) -> str:
    status = d.status_of(dispute)
    if status in d.CLOSED_STATUSES:
        return "accepted" if previous == "accepted" else "closed"
    if status in REVIEW_STATUSES:
        return "submitted"
    if (dispute.get("evidence_details") or {}).get("has_evidence"):
        return "staged"
    return "open"


def work_values(dispute: dict, previous_state: str | None, now: float) -> dict[str, Any]:
    """The work row's columns that follow Stripe's snapshot (the rest are the desk's own)."""
    return {
        "state": work_state(dispute, previous_state),
        "stripe_status": dispute.get("status"),
        "reason": dispute.get("reason"),
        "due_by": d.due_by(dispute),
        "is_inquiry": d.is_inquiry(dispute),
        "card_brand": d.card_brand(dispute),
        "network_reason_code": d.network_reason_code(dispute),
        "updated_at": now,
    }


def sync_work(conn: Connection, dispute: dict, now: float, **extra: Any) -> dict:
    """Bring the dispute's work row in step with the mirror's snapshot; returns the row.

    (The worker's listener does the same for a whole batch: tracking.sync_work_many.)"""
    current = get_work(conn, dispute["id"])
    values = {**work_values(dispute, current["state"] if current else None, now), **extra}
    if current is None:
        # A first row cannot add to a column: counters (``evidence_version + 1``) start at 1.
        first = {k: (1 if isinstance(v, sa.ColumnElement) else v) for k, v in values.items()}
        upsert(conn, dispute_work, ["dispute_id"],
               {"dispute_id": dispute["id"], "hand_edited": False, "evidence_version": 0,
                "created_at": now, **first}, update=values)
    else:
        conn.execute(dispute_work.update().where(dispute_work.c.dispute_id == dispute["id"])
                     .values(**values))
    return {**(current or {}), **values, "dispute_id": dispute["id"]}


def idempotency_key(dispute_id: str, *parts: Any) -> str:
    """A key derived from the desk's own record (never random): retries reuse it."""
    return ":".join([KEY_PREFIX, "dispute", dispute_id, *(str(p) for p in parts)])


def digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()
                          ).hexdigest()


_OFFSET = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")


def parse_schedule(text: str) -> list[int]:
    """``"7d,72h,24h,6h"`` -> offsets in seconds before ``due_by``, largest first."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = _OFFSET.match(part)
        if not match:
            raise ValidationError(f"cannot read the reminder offset '{part.strip()}'",
                                  param="reminder_schedule",
                                  hint="write offsets like 7d, 72h or 30m, comma-separated")
        value = int(match[1]) * {"d": 86400, "h": 3600, "m": 60}[match[2]]
        if value <= 0:
            raise ValidationError(f"the reminder offset '{part.strip()}' must be positive",
                                  param="reminder_schedule")
        out.add(value)
    return sorted(out, reverse=True)


def format_offset(seconds: int) -> str:
    if seconds % 86400 == 0 and seconds >= 86400 and seconds % 3600 == 0 and seconds // 3600 > 72:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def parse_duration(text: str | None, param: str = "due_within") -> int | None:
    """``3d`` / ``48h`` / ``90m`` (or plain seconds) -> seconds; ``None`` for nothing."""
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    if text.isdigit():
        seconds = int(text[:20])
    else:
        match = _OFFSET.match(text)
        if not match:
            raise ValidationError(f"cannot read the duration '{text[:40]}'", param=param,
                                  hint="write it like 3d, 48h or 90m")
        seconds = int(match[1][:20]) * {"d": 86400, "h": 3600, "m": 60}[match[2]]
    if len(text) > 20 or seconds > MAX_DURATION:
        raise ValidationError(f"the duration '{text[:40]}' is longer than "
                              f"{MAX_DURATION // 86400} days", param=param,
                              hint="write it like 3d, 48h or 90m")
    return seconds
