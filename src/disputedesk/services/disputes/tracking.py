"""Keeping the desk's dispute work in step with Stripe: the ``charge.dispute.*`` listener and a
refresh over the mirror (for disputes that arrived by backfill rather than by event).

The listener runs inside the worker's event transaction, after the mirror writes, once per batch:
for each dispute of the batch it takes the mirror's snapshot (the newest the desk holds, whatever
order events came in; the worker hands it over, so nothing is read back), updates the work row,
(re)plans reminders and records an outcome once the dispute is closed - with a few set-based
statements for the whole batch, not a round of queries per event.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.services.disputes import outcomes, reminders
from disputedesk.services.disputes.common import upsert_many, work_values
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
    track_many(conn, [dispute], now, schedule)


def track_many(conn: Connection, disputes: list[dict], now: float, schedule: list[int]) -> None:
    """Work rows, reminders and outcomes of ``disputes`` (distinct ids) in step with the given
    snapshots: a handful of statements for the whole list, whatever its length."""
    disputes = sorted(disputes, key=lambda x: x["id"])  # one row-lock order for every worker
    works = sync_work_many(conn, disputes, now)
    reminders.plan_many(conn, disputes, now, schedule, works)
    outcomes.record_many(conn, disputes, now)


def sync_work_many(conn: Connection, disputes: list[dict], now: float) -> dict[str, dict]:
    """``common.sync_work`` for many disputes: one read, one UPDATE (executemany) for the rows
    that exist, one upsert for the new ones. Returns {dispute id: the row as it now is}."""
    ids = [x["id"] for x in disputes]
    current: dict[str, dict] = {}
    for start in range(0, len(ids), 500):
        current.update((r["dispute_id"], dict(r)) for r in conn.execute(
            sa.select(dispute_work).where(dispute_work.c.dispute_id.in_(ids[start:start + 500]))
        ).mappings())
    out: dict[str, dict] = {}
    updates: list[dict] = []
    inserts: list[dict] = []
    for dispute in disputes:
        row = current.get(dispute["id"])
        values = work_values(dispute, row["state"] if row else None, now)
        out[dispute["id"]] = {**(row or {}), **values, "dispute_id": dispute["id"]}
        if row is None:
            inserts.append({"dispute_id": dispute["id"], "hand_edited": False,
                            "evidence_version": 0, "created_at": now, **values})
        else:
            updates.append({"b_dispute": dispute["id"], **values})
    if updates:
        conn.execute(_UPDATE_WORK, updates)
    # A row another transaction inserted meanwhile takes the snapshot's values (as sync_work).
    upsert_many(conn, dispute_work, ["dispute_id"], inserts, update=list(_WORK_COLUMNS))
    return out


# The columns ``work_values`` sets (the snapshot's); the desk's own columns are left alone.
_WORK_COLUMNS = ("state", "stripe_status", "reason", "due_by", "is_inquiry", "card_brand",
                 "network_reason_code", "updated_at")
_UPDATE_WORK = dispute_work.update().where(
    dispute_work.c.dispute_id == sa.bindparam("b_dispute"))


def make_listener(settings):
    """The worker batch listener for ``charge.dispute.*``: tracks each dispute of the batch once,
    from the mirror's snapshot after the batch (handed over by the worker, not read back)."""
    def on_dispute_events(conn: Connection, items, now: float) -> None:
        latest: dict[str, dict] = {}
        for event, _decision in items:
            obj = event["data"]["object"]
            if obj.get("object") == "dispute":
                latest[obj["id"]] = obj
        if not latest:
            return
        snapshot = getattr(items, "snapshot", None)
        found = {i: snapshot("dispute", i) for i in latest} if snapshot else {}
        missing = [i for i in latest if found.get(i) is None]
        if missing:  # not handed over (a plain list): read the mirror, as the newest state
            found.update((i, v.data) for i, v in repo.load_versions(conn, "dispute", missing).items())
        track_many(conn, [found.get(i) or obj for i, obj in latest.items()], now,
                   reminders.offsets(conn, settings))

    return on_dispute_events


def refresh(deps, *, batch: int = 500) -> int:
    """Track every dispute in the mirror that has no work row or a stale one; returns how many."""
    with deps.store.read() as conn:
        schedule = reminders.offsets(conn, deps.settings)
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
            track_many(conn, [data for _, data in rows], now, schedule)
        if not rows:
            return done
        done += len(rows)
        last = rows[-1][0]


def refresh_job(ctx, payload: dict) -> None:
    refresh(ctx)


def _store_fetched(conn: Connection, object_type: str, obj: dict, now: float,
                   account: str | None = None) -> None:
    from disputedesk.services import mirror as mirror_rules

    stored = repo.load_versions(conn, object_type, [obj["id"]]).get(obj["id"])
    trigger = stored.stripe_updated if stored else int(obj.get("created") or 0)
    mirror_rules.apply_fetched(conn, object_type, obj, account=account, trigger_updated=trigger,
                               now=now)


def fetch_dispute(deps, dispute_id: str, *, with_history: bool = True) -> dict:
    """Fetch one dispute, its charge and (for CE 3.0 and the summary) the customer's other charges
    from Stripe into the mirror, then track it. For disputes older than the desk's webhooks."""
    gateway = deps.gateway()
    # A dispute already mirrored from a connected account's event lives on that account: fetch
    # from it and keep it, or later actions would go to the platform.
    with deps.store.read() as conn:
        row = repo.get_row(conn, "dispute", dispute_id)
    account = (row or {}).get("account") or deps.settings.stripe_account
    dispute = gateway.fetch_object("dispute", dispute_id, account=account)
    charge_id = dispute.get("charge") if isinstance(dispute.get("charge"), str) else (
        dispute.get("charge") or {}).get("id")
    charge = gateway.fetch_object("charge", charge_id, account=account) if charge_id else None
    history: list[dict] = []
    customer = (charge or {}).get("customer")
    if with_history and customer:
        history = list(gateway.list_objects("charge", {"customer": customer}, account=account))
    now = deps.clock.now()
    with deps.store.write() as conn:
        for obj in [*history, *([charge] if charge else [])]:
            _store_fetched(conn, "charge", obj, now, account)
        _store_fetched(conn, "dispute", dispute, now, account)
        track(conn, repo.get_object(conn, "dispute", dispute_id) or dispute, now,
              reminders.offsets(conn, deps.settings))
    return dispute
