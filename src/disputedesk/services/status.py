"""``desk_status``: what `disputedesk status` shows — where the desk's data is, which Stripe it
talks to, whether the worker keeps up and webhooks arrive, and the work waiting for people."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from disputedesk.domain.disputes import NEEDS_RESPONSE_STATUSES
from disputedesk.services.channels import last_deliveries
from disputedesk.store import inbox
from disputedesk.store import jobs as job_queue
from disputedesk.store.disputes_tables import reminders
from disputedesk.store.refunds_tables import bulk_jobs, refund_requests
from disputedesk.store.tables import disputes, events, jobs

# An event or job due longer than this with nothing taking it means no worker is running.
WORKER_LAG_SECONDS = 120.0


def masked_database_url(url: str) -> str:
    """The database URL with its password replaced by ***."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unreadable DISPUTEDESK_DATABASE_URL)"


def stripe_target(settings, demo: dict | None) -> dict[str, Any]:
    """Emulator or Stripe (live or test mode), and the account."""
    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else ""
    if demo is not None:
        return {"target": "emulator", "detail": f"the running demo's emulator at "
                                                f"{demo['stripe_api_base']}",
                "account": settings.stripe_account}
    if not key:
        return {"target": "none", "detail": "no Stripe key configured (DISPUTEDESK_STRIPE_API_KEY);"
                                            " read-only commands work", "account": None}
    if settings.stripe_api_base and "api.stripe.com" not in settings.stripe_api_base:
        return {"target": "emulator", "detail": f"Stripe-compatible API at "
                                                f"{settings.stripe_api_base}",
                "account": settings.stripe_account}
    mode = "live" if key.startswith(("sk_live_", "rk_live_")) else "test mode"
    return {"target": "live" if mode == "live" else "test", "detail": f"Stripe ({mode})",
            "account": settings.stripe_account}


def desk_status(deps, *, demo: dict | None = None) -> dict[str, Any]:
    settings = deps.settings
    now = deps.clock.now()
    with deps.store.read() as conn:
        event_counts = inbox.counts_by_status(conn)
        oldest = inbox.oldest_waiting(conn, now)
        last_received = conn.execute(sa.select(sa.func.max(events.c.received_at))).scalar()
        job_counts = job_queue.counts_by_status(conn)
        oldest_job = conn.execute(
            sa.select(sa.func.min(jobs.c.run_at))
            .where(jobs.c.status == "queued", jobs.c.run_at <= now)).scalar()
        requests = dict(conn.execute(
            sa.select(refund_requests.c.status, sa.func.count())
            .where(refund_requests.c.status.in_(("awaiting_approval", "approved", "submitted",
                                                  "pending", "requires_action")))
            .group_by(refund_requests.c.status)).all())
        bulk = dict(conn.execute(
            sa.select(bulk_jobs.c.status, sa.func.count())
            .where(bulk_jobs.c.status.in_(("running", "interrupted")))
            .group_by(bulk_jobs.c.status)).all())
        open_disputes = conn.execute(
            sa.select(sa.func.count(), sa.func.min(disputes.c.due_by))
            .where(disputes.c.status.in_(sorted(NEEDS_RESPONSE_STATUSES)))).one()
        last_reminder = conn.execute(
            sa.select(sa.func.max(reminders.c.sent_at)).where(reminders.c.status == "sent")
        ).scalar()
        channels = notification_channels(settings)
        deliveries = last_deliveries(conn, channels)
        failed_reminders = conn.execute(
            sa.select(sa.func.count()).select_from(reminders)
            .where(reminders.c.status.in_(("failed", "retry")))).scalar_one()
    lag = max(now - oldest, 0.0) if oldest is not None else 0.0
    job_lag = max(now - oldest_job, 0.0) if oldest_job is not None else 0.0
    worker_ok = lag <= WORKER_LAG_SECONDS and job_lag <= WORKER_LAG_SECONDS
    return {
        "data_dir": str(settings.data_dir),
        "database": masked_database_url(settings.effective_database_url),
        "stripe": stripe_target(settings, demo),
        "demo": demo,
        "worker": {"ok": worker_ok, "event_lag_seconds": round(lag, 1),
                   "job_lag_seconds": round(job_lag, 1)},
        "webhooks": {"secrets_configured": len(settings.webhook_secrets),
                     "last_received_at": last_received, "events": event_counts},
        "jobs": job_counts,
        "pending": {"refunds": requests, "bulk_jobs": bulk,
                    "disputes_needing_response": open_disputes[0],
                    "soonest_due_by": open_disputes[1]},
        "notifications": {"channels": channels, "last_test_send": deliveries,
                          "last_reminder_sent_at": last_reminder,
                          "reminders_failing": failed_reminders},
    }


def notification_channels(settings) -> list[str]:
    from disputedesk.notify.channels import build_notifier

    return [c.name for c in build_notifier(settings).channels]
