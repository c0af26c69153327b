"""Following refunds after they were sent: refund.* events, charge.refunded, failure notices."""

from __future__ import annotations

import logging

from disputedesk.domain.money import format_money
from disputedesk.domain.refunds import REQUEST_METADATA_KEY
from disputedesk.notify import Notification, build_notifier
from disputedesk.services.refunds import records
from disputedesk.services.refunds.core import (
    HEAL_JOB,
    OBJECT_TYPE,
    STRIPE_ACTOR,
    apply_snapshot,
)
from disputedesk.store import audit
from disputedesk.store import jobs as job_queue

log = logging.getLogger("disputedesk.refunds")

REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed")
# Tests replace this to capture notifications.
notifier_factory = build_notifier


def on_events(conn, items, now: float) -> None:
    """The worker batch listener for ``refund.*`` and ``charge.refunded``.

    The requests of the whole batch are found with a few queries (most refunds in a busy account
    were not made by the desk and cost nothing more); then the events are taken in the batch's
    order, exactly as one event at a time would: a refund snapshot moves its request, and a
    ``charge.refunded`` asks the healer to look if a request on that charge is, at that point,
    still waiting for Stripe's answer."""
    refunds = [event["data"]["object"] for event, _ in items
               if event["type"] in REFUND_EVENTS and event["data"]["object"].get("object") == "refund"]
    charges = {event["data"]["object"]["id"] for event, _ in items
               if event["type"] == "charge.refunded"
               and event["data"]["object"].get("object") == "charge"}
    if not refunds and not charges:
        return
    by_refund = records.by_refund_ids(conn, {refund["id"] for refund in refunds})
    tagged_ids = {tag for refund in refunds if refund["id"] not in by_refund
                  and (tag := (refund.get("metadata") or {}).get(REQUEST_METADATA_KEY))}
    rows = {row["id"]: row for row in by_refund.values()}
    rows.update(records.get_many(conn, tagged_ids, for_update=True) if tagged_ids else {})
    # Requests sent and still without a refund id: no refund event ever puts one back there.
    waiting = records.waiting_on_charges(conn, charges) if charges else {}
    heal = False
    for event, _ in items:
        obj = event["data"]["object"]
        if event["type"] == "charge.refunded":
            if obj.get("object") == "charge" and not heal:
                heal = any(_is_waiting(rows.get(r["id"], r)) for r in waiting.get(obj["id"], ()))
            continue
        if event["type"] not in REFUND_EVENTS or obj.get("object") != "refund":
            continue
        request_id = (by_refund.get(obj["id"]) or {}).get("id")
        if request_id is None:
            tag = (obj.get("metadata") or {}).get(REQUEST_METADATA_KEY)
            if not tag:
                continue  # not a refund the desk made
            row = rows.get(tag)
            if row is None or (row["refund_id"] not in (None, obj["id"])):
                continue
            request_id = tag
        apply_snapshot(conn, rows[request_id], obj, now, actor=STRIPE_ACTOR, source=event.get("id"))
        # The row moved: the batch's later events must see it as it is now.
        row = records.get(conn, request_id)
        rows[request_id] = row
        if row is not None and row["refund_id"]:
            by_refund[row["refund_id"]] = row
    if heal:
        job_queue.enqueue(conn, HEAL_JOB, {"older_than": 30}, now=now, run_at=now + 30,
                          dedupe_key=f"{HEAL_JOB}:after-charge-refunded")


def _is_waiting(row: dict | None) -> bool:
    return row is not None and row["status"] == "submitted" and row["refund_id"] is None


def on_refund_event(conn, event: dict, decision, now: float) -> None:
    """Move the request a refund belongs to (per-event form of :func:`on_events`)."""
    on_events(conn, [(event, decision)], now)


def on_charge_refunded(conn, event: dict, decision, now: float) -> None:
    """A refund appeared on a charge while a request on it still waits for Stripe's answer:
    let the healer look (it replays the request's own key, so it cannot refund twice).
    (Per-event form of :func:`on_events`.)"""
    on_events(conn, [(event, decision)], now)


def notify_failed(ctx, payload: dict) -> None:
    """Job: tell people a refund failed (raised once per request)."""
    request_id = payload["request_id"]
    with ctx.store.read() as conn:
        row = records.get(conn, request_id)
    if row is None or row["status"] != "failed":
        return
    money = format_money(int(row["amount"]), row["currency"])
    note = Notification(
        subject=f"Refund failed: {money} on {row['charge']}",
        body=(f"The refund of {money} on charge {row['charge']} (request {request_id}, asked "
              f"for by {row['requested_by']}) failed: {row['error'] or row['error_code']}.\n"
              "The money was not returned to the customer. Contact them, or refund another way."),
        kind="refund.failed",
        fields={"request_id": request_id, "charge": row["charge"],
                "refund_id": row["refund_id"] or "", "error_code": row["error_code"] or ""})
    failures = notifier_factory(ctx.settings).send(note)
    now = ctx.clock.now()
    with ctx.store.write() as conn:
        audit.append(conn, at=now, actor="disputedesk", action="refund.failure_notified",
                     object_type=OBJECT_TYPE, object_id=request_id,
                     details={"failed_channels": failures})
