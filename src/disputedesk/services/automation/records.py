"""The automation tables' queries: decisions, action keys (claim / finish), labels and timers.

Each function takes an open connection; the callers own the transactions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from disputedesk.rules import Decision
from disputedesk.store.automation_tables import actions, decisions, labels, timers

STARTED, DONE, FAILED = "started", "done", "failed"
# A claimed key whose worker died is taken over once this has passed since the claim (just under
# the job lease, so the job's retry after a crash finds it free).
CLAIM_LEASE_SECONDS = 299.0


def _insert(conn: Connection, table: sa.Table):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


# --- decisions ---------------------------------------------------------------------------------

def record_decision(conn: Connection, decision: Decision, *, object_type: str,
                    dispute_id: str | None, charge_id: str | None, source: str,
                    rules_source: str, now: float) -> int:
    data = decision.to_dict()
    result = conn.execute(decisions.insert().values(
        rule=decision.rule, trigger=decision.trigger, object_type=object_type,
        object_id=decision.object_id, dispute_id=dispute_id, charge_id=charge_id,
        source=source[:255], evaluated_at=decision.evaluated_at, matched=decision.matched,
        error=decision.error, condition=decision.condition, inputs=data["inputs"],
        actions=data["actions"], outcome=None, explanation=decision.explanation,
        rules_source=rules_source[:255], at=now))
    return int(result.inserted_primary_key[0])


def set_outcome(conn: Connection, decision_id: int, key: str, status: str,
                detail: str | None = None) -> None:
    current = conn.execute(sa.select(decisions.c.outcome).where(decisions.c.id == decision_id)
                           ).scalar() or {}
    current = dict(current)
    current[key] = {"status": status, "detail": detail}
    conn.execute(decisions.update().where(decisions.c.id == decision_id).values(outcome=current))


def get_decision(conn: Connection, decision_id: int) -> dict | None:
    row = conn.execute(sa.select(decisions).where(decisions.c.id == decision_id)).mappings().first()
    return dict(row) if row else None


def list_decisions(conn: Connection, *, object_id: str | None = None, rule: str | None = None,
                   matched: bool | None = None, ids: list[int] | None = None,
                   limit: int = 100) -> list[dict]:
    stmt = sa.select(decisions)
    if ids is not None:
        stmt = stmt.where(decisions.c.id.in_(ids))
    if object_id:
        stmt = stmt.where(sa.or_(decisions.c.object_id == object_id,
                                 decisions.c.dispute_id == object_id,
                                 decisions.c.charge_id == object_id))
    if rule:
        stmt = stmt.where(decisions.c.rule == rule)
    if matched is not None:
        stmt = stmt.where(decisions.c.matched.is_(matched))
    rows = conn.execute(stmt.order_by(decisions.c.id.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows][::-1]


# --- action keys -------------------------------------------------------------------------------

def claim(conn: Connection, *, key: str, rule: str, kind: str, target: str, subject: str,
          decision_id: int | None, params: dict[str, Any], now: float) -> tuple[str, dict | None]:
    """Claim ``key`` before acting. Returns (verdict, row):

    ``new``      first claim: act;
    ``resume``   claimed before by a worker that did not finish (crashed): act again, the side
                 effect is idempotent so this completes it rather than repeating it;
    ``busy``     another worker holds a fresh claim: do nothing now;
    ``done`` / ``failed``  finished earlier: do nothing.
    """
    inserted = conn.execute(_insert(conn, actions).values(
        key=key, rule=rule, kind=kind, target=target, subject=subject, decision_id=decision_id,
        status=STARTED, params=params, attempts=1, started_at=now
    ).on_conflict_do_nothing(index_elements=["key"]).returning(actions.c.key)).first()
    if inserted is not None:
        return "new", None
    stmt = sa.select(actions).where(actions.c.key == key)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = dict(conn.execute(stmt).mappings().one())
    if row["status"] == DONE:
        return "done", row
    if row["status"] == FAILED:
        return "failed", row
    if row["started_at"] + CLAIM_LEASE_SECONDS > now:
        return "busy", row
    conn.execute(actions.update().where(actions.c.key == key).values(
        attempts=actions.c.attempts + 1, started_at=now, decision_id=decision_id))
    return "resume", row


def finish(conn: Connection, key: str, *, status: str, now: float, result: Any = None,
           error: str | None = None) -> None:
    conn.execute(actions.update().where(actions.c.key == key).values(
        status=status, result=result, error=(error or None) and error[:4000], finished_at=now))


def release(conn: Connection, key: str) -> None:
    """A retryable failure: keep the claim but let the next attempt take it at once."""
    conn.execute(actions.update().where(actions.c.key == key).values(
        started_at=actions.c.started_at - CLAIM_LEASE_SECONDS - 1))


def done_keys(conn: Connection, object_ids: Iterable[str | None]) -> frozenset[str]:
    ids = sorted({i for i in object_ids if i})
    if not ids:
        return frozenset()
    rows = conn.execute(sa.select(actions.c.key).where(
        actions.c.status == DONE, sa.or_(actions.c.target.in_(ids), actions.c.subject.in_(ids))))
    return frozenset(rows.scalars())


def get_action(conn: Connection, key: str) -> dict | None:
    row = conn.execute(sa.select(actions).where(actions.c.key == key)).mappings().first()
    return dict(row) if row else None


def list_actions(conn: Connection, *, object_id: str | None = None, status: str | None = None,
                 limit: int = 200) -> list[dict]:
    stmt = sa.select(actions)
    if object_id:
        stmt = stmt.where(sa.or_(actions.c.target == object_id, actions.c.subject == object_id))
    if status:
        stmt = stmt.where(actions.c.status == status)
    return [dict(r) for r in conn.execute(stmt.order_by(actions.c.started_at).limit(limit)).mappings()]


# --- labels: tags and assignee -----------------------------------------------------------------

def get_labels(conn: Connection, object_id: str | None) -> dict:
    if not object_id:
        return {"tags": [], "assigned_to": None}
    row = conn.execute(sa.select(labels).where(labels.c.object_id == object_id)).mappings().first()
    return dict(row) if row else {"object_id": object_id, "tags": [], "assigned_to": None}


def add_tags(conn: Connection, object_id: str, tags: Iterable[str], *, actor: str,
             now: float) -> list[str]:
    current = get_labels(conn, object_id)
    merged = list(current.get("tags") or [])
    merged += [t for t in tags if t not in merged]
    _upsert_labels(conn, object_id, tags=merged, assigned_to=current.get("assigned_to"),
                   actor=actor, now=now)
    return merged


def assign(conn: Connection, object_id: str, user: str | None, *, actor: str, now: float) -> None:
    current = get_labels(conn, object_id)
    _upsert_labels(conn, object_id, tags=list(current.get("tags") or []), assigned_to=user,
                   actor=actor, now=now)


def _upsert_labels(conn: Connection, object_id: str, *, tags: list[str], assigned_to: str | None,
                   actor: str, now: float) -> None:
    values = {"object_id": object_id, "tags": tags, "assigned_to": assigned_to,
              "updated_by": actor, "updated_at": now}
    stmt = _insert(conn, labels).values(**values)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["object_id"],
        set_={k: v for k, v in values.items() if k != "object_id"}))


# --- timers ------------------------------------------------------------------------------------

def add_timer(conn: Connection, *, key: str, object_id: str, trigger: str, rule: str,
              run_at: float, now: float) -> bool:
    """Remember a timer; True only the first time (then the caller queues its job)."""
    inserted = conn.execute(_insert(conn, timers).values(
        key=key, object_id=object_id, trigger=trigger, rule=rule, run_at=run_at, created_at=now
    ).on_conflict_do_nothing(index_elements=["key"]).returning(timers.c.key)).first()
    return inserted is not None


def list_timers(conn: Connection, object_id: str) -> list[dict]:
    rows = conn.execute(sa.select(timers).where(timers.c.object_id == object_id)
                        .order_by(timers.c.run_at)).mappings()
    return [dict(r) for r in rows]
