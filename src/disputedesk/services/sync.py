"""Sync: backfill the mirror from Stripe's list endpoints, then catch up from the Events API.

Backfill walks each list endpoint page by page (flat memory: one page and one write batch in
hand) and stores every object as a snapshot *at least as new as the high-water mark*: the
``created`` second of Stripe's newest event, read before the walk starts. Any event newer than
that still replaces the snapshot, and an event of the same second that disagrees triggers a
refetch, so sync and webhooks can run at the same time without either undoing the other.

Catch-up reads ``/v1/events`` from the newest event the inbox holds (Stripe keeps 30 days) and
stores every event into the same inbox the webhook receiver writes to; the worker applies them.
Events already stored are skipped, so a catch-up after downtime and late webhooks never double up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from disputedesk.errors import ValidationError
from disputedesk.services import mirror as rules
from disputedesk.services.events import event_row
from disputedesk.store import inbox
from disputedesk.store import mirror as repo
from disputedesk.store.tables import events as events_table

# What `disputedesk sync --objects` accepts, in the order sync walks them (parents first).
SYNC_OBJECTS: dict[str, str] = {
    "payment_intents": "payment_intent",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "early_fraud_warnings": "radar.early_fraud_warning",
}
BATCH = 200
# Stripe keeps events for 30 days; catching up from further back is impossible.
EVENTS_RETENTION_SECONDS = 30 * 24 * 3600

Progress = Callable[[str, int], None]  # (what, how many more) -> None


@dataclass
class SyncReport:
    objects: dict[str, int] = field(default_factory=dict)
    events_seen: int = 0
    events_stored: int = 0
    high_water: int | None = None
    catch_up_from: int | None = None


def parse_objects(names: Iterable[str] | None) -> list[str]:
    if not names:
        return list(SYNC_OBJECTS)
    wanted = [n.strip() for n in names if n.strip()]
    unknown = [n for n in wanted if n not in SYNC_OBJECTS]
    if unknown:
        raise ValidationError(f"cannot sync {', '.join(unknown)}", param="objects",
                              hint=f"choose from {', '.join(SYNC_OBJECTS)}")
    return wanted


def _newest_event_created(gateway) -> int | None:
    for event in gateway.list_objects("event", {"limit": 1}):
        return int(event["created"])
    return None


def backfill(deps, *, objects: list[str], since: int | None = None,
             progress: Progress | None = None, report: SyncReport | None = None) -> SyncReport:
    report = report or SyncReport()
    gateway = deps.gateway()
    account = deps.settings.stripe_account
    high_water = _newest_event_created(gateway)
    if high_water is None:
        high_water = int(deps.clock.now())
    report.high_water = high_water
    params = {"created": {"gte": since}} if since else {}
    for name in objects:
        object_type = SYNC_OBJECTS[name]
        count = 0
        batch: list[dict] = []
        for obj in gateway.list_objects(object_type, params, account=account):
            batch.append(obj)
            if len(batch) >= BATCH:
                _store_snapshots(deps, object_type, batch, high_water, account)
                count += len(batch)
                if progress:
                    progress(name, len(batch))
                batch = []
        if batch:
            _store_snapshots(deps, object_type, batch, high_water, account)
            count += len(batch)
            if progress:
                progress(name, len(batch))
        report.objects[name] = count
    return report


def _store_snapshots(deps, object_type: str, objs: list[dict], high_water: int,
                     account: str | None) -> None:
    now = deps.clock.now()
    with deps.store.write() as conn:
        ids = [o["id"] for o in objs]
        repo.lock_objects(conn, [(object_type, i) for i in ids])
        stored = repo.load_versions(conn, object_type, ids)
        inserts, updates = [], []
        for obj in objs:
            version = stored.get(obj["id"])
            if version is not None and version.stripe_updated > high_water:
                continue  # an event newer than the walk already landed: it wins
            row = rules.row_for(object_type, obj, stripe_updated=high_water, account=account,
                                now=now)
            (updates if version is not None else inserts).append(row)
        repo.insert_rows(conn, object_type, inserts)
        repo.update_rows(conn, object_type, updates)


def _stored_event_ids(conn, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    query = sa.select(events_table.c.id).where(events_table.c.id.in_(ids))
    return set(conn.execute(query).scalars())


def last_event_created(deps) -> int | None:
    with deps.store.read() as conn:
        return conn.execute(sa.select(sa.func.max(events_table.c.created))).scalar()


def catch_up(deps, *, since: int | None = None, progress: Progress | None = None,
             report: SyncReport | None = None) -> SyncReport:
    """Store every event since ``since`` (default: the newest the inbox holds) into the inbox."""
    report = report or SyncReport()
    gateway = deps.gateway()
    if since is None:
        since = last_event_created(deps)
    if since is None:  # nothing stored yet: as far back as Stripe keeps
        since = int(deps.clock.now()) - EVENTS_RETENTION_SECONDS
    report.catch_up_from = since
    batch: list[dict] = []

    def flush() -> None:
        if not batch:
            return
        now = deps.clock.now()
        rows = [event_row(json.dumps(e, separators=(",", ":")).encode(), now,
                          deps.event_listeners) for e in batch]
        rows = [r for r in rows if r is not None]
        with deps.store.write() as conn:
            known = _stored_event_ids(conn, [r["id"] for r in rows])
            fresh = [r for r in rows if r["id"] not in known]
            inbox.insert_events(conn, fresh)
        report.events_stored += len(fresh)
        if progress:
            progress("events", len(batch))
        batch.clear()

    # `gte` on the second: events of that second may not all have been seen yet. Oldest first,
    # so the worker and the features listening to events see them in the order they happened.
    for event in gateway.iterate_oldest_first(gateway.client.v1.events.list,
                                              {"created": {"gte": since}},
                                              account=deps.settings.stripe_account):
        report.events_seen += 1
        batch.append(event)
        if len(batch) >= BATCH:
            flush()
    flush()
    return report


def sync(deps, *, objects: list[str] | None = None, since: int | None = None,
         events: bool = True, backfill_objects: bool = True,
         progress: Progress | None = None) -> SyncReport:
    """Backfill (optional) then catch up from events (optional); one report for both."""
    report = SyncReport()
    if backfill_objects:
        backfill(deps, objects=parse_objects(objects), since=since, progress=progress,
                 report=report)
    if events:
        catch_up(deps, since=since, progress=progress, report=report)
    return report
