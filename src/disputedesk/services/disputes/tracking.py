"""Keeping the desk's dispute work in step with Stripe: the ``charge.dispute.*`` listener and a
refresh over the mirror (for disputes that arrived by backfill rather than by event).

The listener runs inside the worker's event transaction, after the mirror write, and reads the
mirror's snapshot (the newest the desk holds, whatever order events came in): it updates the work
row, (re)plans reminders and records an outcome once the dispute is closed.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.services.disputes import outcomes, reminders
from disputedesk.services.disputes.common import sync_work
from disputedesk.store import mirror as repo
from disputedesk.store.disputes_tables import dispute_work
from disputedesk.store.tables import disputes as mirror_disputes

DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
REFRESH_JOB = "disputes.refresh"


def track(conn: Connection, dispute: dict, now: float, schedule: list[int]) -> None:
    work = sync_work(conn, dispute, now)
    reminders.plan(conn, dispute, now, schedule, work)
    outcomes.record(conn, dispute, now)


def make_listener(settings):
    schedule = reminders.offsets(settings)

    def on_dispute_event(conn: Connection, event: dict, decision, now: float) -> None:
        obj = event["data"]["object"]
        if obj.get("object") != "dispute":
            return
        dispute = repo.get_object(conn, "dispute", obj["id"]) or obj
        track(conn, dispute, now, schedule)

    return on_dispute_event


def refresh(deps, *, batch: int = 500) -> int:
    """Track every dispute in the mirror that has no work row or a stale one; returns how many."""
    schedule = reminders.offsets(deps.settings)
    m, w = mirror_disputes.c, dispute_work.c
    done = 0
    last = ""
    while True:
        now = deps.clock.now()
        with deps.store.write() as conn:
            rows = conn.execute(
                sa.select(m.id, m.data).select_from(
                    mirror_disputes.outerjoin(dispute_work, w.dispute_id == m.id))
                .where(m.id > last, sa.or_(w.dispute_id.is_(None), w.stripe_status != m.status,
                                           sa.func.coalesce(w.due_by, -1)
                                           != sa.func.coalesce(m.due_by, -1)))
                .order_by(m.id).limit(batch)).all()
            for dispute_id, data in rows:
                track(conn, data, now, schedule)
        if not rows:
            return done
        done += len(rows)
        last = rows[-1][0]


def refresh_job(ctx, payload: dict) -> None:
    refresh(ctx)


def _store_fetched(conn: Connection, object_type: str, obj: dict, now: float) -> None:
    from disputedesk.services import mirror as mirror_rules

    stored = repo.load_versions(conn, object_type, [obj["id"]]).get(obj["id"])
    trigger = stored.stripe_updated if stored else int(obj.get("created") or 0)
    mirror_rules.apply_fetched(conn, object_type, obj, account=None, trigger_updated=trigger, now=now)


def fetch_dispute(deps, dispute_id: str, *, with_history: bool = True) -> dict:
    """Fetch one dispute, its charge and (for CE 3.0 and the summary) the customer's other charges
    from Stripe into the mirror, then track it. For disputes older than the desk's webhooks."""
    gateway = deps.gateway()
    dispute = gateway.fetch_object("dispute", dispute_id)
    charge_id = dispute.get("charge") if isinstance(dispute.get("charge"), str) else (
        dispute.get("charge") or {}).get("id")
    charge = gateway.fetch_object("charge", charge_id) if charge_id else None
    history: list[dict] = []
    customer = (charge or {}).get("customer")
    if with_history and customer:
        history = list(gateway.list_objects("charge", {"customer": customer}))
    now = deps.clock.now()
    with deps.store.write() as conn:
        for obj in [*history, *([charge] if charge else [])]:
            _store_fetched(conn, "charge", obj, now)
        _store_fetched(conn, "dispute", dispute, now)
        track(conn, repo.get_object(conn, "dispute", dispute_id) or dispute, now,
              reminders.offsets(deps.settings))
    return dispute
