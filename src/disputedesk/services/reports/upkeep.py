"""When the facts are refreshed: the worker's batch listener, the catch-up job, a rebuild.

The listener takes the mirror objects a batch touched, read back after the batch's writes. The catch-up job (``reports.catch_up``, periodic) covers what reaches the mirror without
an event (``disputedesk sync`` backfills, refetches) and the desk records that change a fact
without a Stripe event (an evidence build changes the completeness band, a rule's decision, a
refund request written back): it reads what changed since its last run by ``mirrored_at`` and the
desk's own update times, with a margin, in chunks of its own transactions. When the report zone
changes, it rebuilds everything (months move).
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.services.reports import facts
from disputedesk.store.automation_tables import actions as rule_actions
from disputedesk.store.disputes_tables import dispute_work, evidence_drafts
from disputedesk.store.refunds_tables import refund_requests
from disputedesk.store.reports_tables import (
    report_charges,
    report_dispute_cells,
    report_disputes,
    report_efws,
    report_refund_cells,
    report_refunds,
    report_sales,
    report_state,
)
from disputedesk.store.tables import charges as mirror_charges
from disputedesk.store.tables import disputes as mirror_disputes
from disputedesk.store.tables import early_fraud_warnings as mirror_efws
from disputedesk.store.tables import refunds as mirror_refunds

log = logging.getLogger("disputedesk.reports")

CATCH_UP_JOB = "reports.catch_up"
CATCH_UP_INTERVAL = 30.0
# Rows committed by a slower transaction may carry a ``mirrored_at`` a little before the last
# run's start; going back this far re-reads them (refreshing is idempotent).
MARGIN_SECONDS = 600.0
SCAN_CHUNK = 5000
MIRRORED = (("charge", mirror_charges), ("dispute", mirror_disputes), ("refund", mirror_refunds),
            ("radar.early_fraud_warning", mirror_efws))
MIRRORED_TYPES = frozenset(t for t, _ in MIRRORED)
EVENT_TYPES = [
    "charge.succeeded", "charge.captured", "charge.updated", "charge.refunded", "charge.failed",
    "charge.pending", "charge.expired", "charge.refund.updated",
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
    "refund.created", "refund.updated", "refund.failed",
    "radar.early_fraud_warning.created", "radar.early_fraud_warning.updated",
]
FACT_TABLES = (report_disputes, report_refunds, report_efws, report_charges, report_sales,
               report_dispute_cells, report_refund_cells)


def read_state(conn: Connection) -> dict[str, str]:
    return {k: v for k, v in conn.execute(sa.select(report_state.c.key, report_state.c.value))}


def write_state(conn: Connection, **values: str) -> None:
    facts.upsert_many(conn, report_state, ["key"],
                      [{"key": k, "value": str(v)} for k, v in values.items()])


def built_zone(conn: Connection) -> str | None:
    return read_state(conn).get("zone")


def make_listener(settings):
    """The batch listener: the facts of every mirrored object the batch touched, read back from
    the mirror after the batch's writes (one query per object type per batch)."""

    def on_batch(conn: Connection, items, now: float) -> None:
        zone_name = settings.report_zone
        if built_zone(conn) != zone_name:
            return  # the catch-up job (re)builds first; it reads these objects too
        ids: dict[str, set[str]] = {}
        for event, _decision in items:
            obj = (event.get("data") or {}).get("object") or {}
            if obj.get("object") in MIRRORED_TYPES and isinstance(obj.get("id"), str):
                ids.setdefault(obj["object"], set()).add(obj["id"])
        facts.refresh_ids(conn, ids, ZoneInfo(zone_name))

    return on_batch


def rebuild(deps, progress=None) -> dict[str, int]:
    """Drop every fact and build them again from the mirror (in the current report zone)."""
    with deps.store.write() as conn:
        for table in FACT_TABLES:
            conn.execute(table.delete())
        write_state(conn, zone=deps.settings.report_zone, watermark="0")
    return catch_up(deps, progress=progress)


def catch_up(deps, progress=None) -> dict[str, int]:
    """Refresh the facts of everything changed since the last run; returns counts per type.
    ``progress(object_type, count so far)`` is called after each chunk."""
    zone_name = deps.settings.report_zone
    with deps.store.read() as conn:
        state = read_state(conn)
    if state.get("zone") != zone_name:
        if state.get("zone"):
            log.info("report zone changed from %s to %s: rebuilding the report facts",
                     state.get("zone"), zone_name)
        return rebuild(deps, progress=progress)
    zone = ZoneInfo(zone_name)
    started = deps.clock.now()
    since = float(state.get("watermark") or 0) - MARGIN_SECONDS
    done: dict[str, int] = {}
    for object_type, table in MIRRORED:
        done[object_type] = _scan(deps, object_type, table, since, zone, progress)
    # desk records that change a fact with no Stripe event
    with deps.store.read() as conn:
        dispute_ids = set(conn.execute(sa.select(dispute_work.c.dispute_id)
                                       .where(dispute_work.c.updated_at >= since)).scalars())
        dispute_ids.update(conn.execute(sa.select(evidence_drafts.c.dispute_id)
                                        .where(evidence_drafts.c.built_at >= since)).scalars())
        dispute_ids.update(conn.execute(sa.select(rule_actions.c.target)
                                        .where(rule_actions.c.started_at >= since)).scalars())
        refund_ids = set(conn.execute(sa.select(refund_requests.c.refund_id)
                                      .where(refund_requests.c.updated >= since,
                                             refund_requests.c.refund_id.is_not(None))).scalars())
    # one object type per transaction: each takes its locks in one sorted statement, as the
    # worker's batches do, so the two can never wait on each other in a cycle
    for object_type, ids in (("dispute", dispute_ids), ("refund", refund_ids)):
        for chunk in facts.chunks(ids):
            with deps.store.write() as conn:
                facts.refresh_ids(conn, {object_type: set(chunk)}, zone)
    with deps.store.write() as conn:
        write_state(conn, watermark=repr(started))
    return done


def _scan(deps, object_type: str, table: sa.Table, since: float, zone: ZoneInfo,
          progress=None) -> int:
    after: tuple[float, str] | None = None
    total = 0
    while True:
        query = sa.select(table.c.id, table.c.account, table.c.stripe_updated, table.c.data,
                          table.c.mirrored_at)
        if after is None:
            query = query.where(table.c.mirrored_at >= since)
        else:
            query = query.where(sa.or_(table.c.mirrored_at > after[0],
                                       sa.and_(table.c.mirrored_at == after[0],
                                               table.c.id > after[1])))
        query = query.order_by(table.c.mirrored_at, table.c.id).limit(SCAN_CHUNK)
        with deps.store.write() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
            facts.refresh_rows(conn, object_type, rows, zone, cascade=since > 0)
        total += len(rows)
        if progress is not None:
            progress(object_type, total)
        if len(rows) < SCAN_CHUNK:
            return total
        after = (rows[-1]["mirrored_at"], rows[-1]["id"])


def catch_up_job(ctx, payload: dict) -> None:
    catch_up(ctx)
