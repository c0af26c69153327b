"""Refunds that happen exactly once: single, approved and bulk (docs/refunds.md).

Library functions (each owns its transactions) and ``install(deps)``, which subscribes to
``refund.created|updated|failed`` and ``charge.refunded`` and registers the jobs
``refunds.submit``, ``refunds.heal`` (periodic; also the restart healer) and
``refunds.notify_failed``.
"""

from __future__ import annotations

from disputedesk.services.refunds.bulk import RUN_JOB as BULK_RUN_JOB
from disputedesk.services.refunds.bulk import (
    BulkReport,
    job_status,
    load_job,
    run_bulk,
    run_job_slice,
)
from disputedesk.services.refunds.charges import (
    fetch_bundle,
    load_bundle,
    resolve_charge_id,
    search_charges,
    show_charge,
)
from disputedesk.services.refunds.core import (
    HEAL_JOB,
    NOTIFY_JOB,
    SUBMIT_JOB,
    RefundOutcome,
    approve_request,
    cancel_request,
    heal,
    list_requests,
    policy,
    preview_refund,
    refresh_request,
    reject_request,
    request_refund,
    show_request,
    submit_request,
)

HEAL_INTERVAL_SECONDS = 60.0

__all__ = [
    "BulkReport",
    "RefundOutcome",
    "approve_request",
    "cancel_request",
    "fetch_bundle",
    "heal",
    "install",
    "job_status",
    "list_requests",
    "load_bundle",
    "load_job",
    "preview_refund",
    "refresh_request",
    "reject_request",
    "request_refund",
    "resolve_charge_id",
    "run_bulk",
    "search_charges",
    "show_charge",
    "show_request",
    "submit_request",
]


def _submit_job(ctx, payload: dict) -> None:
    submit_request(ctx, payload["request_id"], replay=True)


def _heal_job(ctx, payload: dict) -> None:
    heal(ctx, older_than=float(payload.get("older_than", 30)))


def install(deps) -> None:
    from disputedesk.services.refunds import follow

    deps.event_listeners.on_batch([*follow.REFUND_EVENTS, "charge.refunded"], follow.on_events)
    deps.jobs.register(SUBMIT_JOB, _submit_job)
    deps.jobs.register(HEAL_JOB, _heal_job)
    deps.jobs.every(HEAL_JOB, HEAL_INTERVAL_SECONDS)
    deps.jobs.register(NOTIFY_JOB, follow.notify_failed, max_attempts=5)
    deps.jobs.register(BULK_RUN_JOB, run_job_slice)  # dashboard bulk jobs, once confirmed
