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


def on_refund_event(conn, event: dict, decision, now: float) -> None:
    """Move the request a refund belongs to (found by refund id, or by the request id the desk
    put in the refund's metadata, which also covers a crash before the id was recorded)."""
    refund = event["data"]["object"]
    if refund.get("object") != "refund":
        return
    row = records.by_refund_id(conn, refund["id"])
    if row is None:
        tagged = (refund.get("metadata") or {}).get(REQUEST_METADATA_KEY)
        if not tagged:
            return  # not a refund the desk made
        row = records.get(conn, tagged, for_update=True)
        if row is None or (row["refund_id"] not in (None, refund["id"])):
            return
    apply_snapshot(conn, row, refund, now, actor=STRIPE_ACTOR, source=event.get("id"))


def on_charge_refunded(conn, event: dict, decision, now: float) -> None:
    """A refund appeared on a charge while a request on it still waits for Stripe's answer:
    let the healer look (it replays the request's own key, so it cannot refund twice)."""
    charge = event["data"]["object"]
    if charge.get("object") != "charge":
        return
    waiting = [r for r in records.open_on_charge(conn, charge["id"])
               if r.state.value == "submitted" and r.refund_id is None]
    if waiting:
        job_queue.enqueue(conn, HEAL_JOB, {"older_than": 30}, now=now, run_at=now + 30,
                          dedupe_key=f"{HEAL_JOB}:after-charge-refunded")


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
