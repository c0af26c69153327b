"""Jobs: the dispatch table (job name -> handler), running due jobs, and the built-in jobs.

Other features register their own jobs into the same ``JobRegistry`` (reminders, rules, refund
follow-ups)::

    deps.jobs.register("reminders.send", send_reminder, max_attempts=5)
    deps.jobs.every("reminders.scan", seconds=300)   # periodic

A handler is ``handler(ctx, payload) -> None``; it runs outside any transaction (it may call
Stripe) and opens its own with ``ctx.store.write()``. Raising retries the job with exponential
backoff; after ``max_attempts`` the job is parked as ``failed`` with its error kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from disputedesk.config import Settings
from disputedesk.errors import ValidationError
from disputedesk.services import mirror as mirror_rules
from disputedesk.store import jobs as job_queue
from disputedesk.store import mirror as mirror_repo
from disputedesk.store.engine import Store

log = logging.getLogger("disputedesk.jobs")

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 3600.0
JOB_LEASE_SECONDS = 300.0

REFETCH_JOB = "mirror.refetch"
RECONCILE_JOB = "mirror.reconcile"


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """UTC epoch seconds from the system clock."""

    def now(self) -> float:
        return time.time()


class JobContext(Protocol):
    """What a job handler gets (``wiring.Deps`` provides it)."""

    store: Store
    clock: Clock
    settings: Settings

    def gateway(self) -> mirror_rules.ObjectFetcher: ...


Handler = Callable[[JobContext, dict], None]


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: 1, 2, 4, ... capped at one hour."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))


@dataclass
class JobSpec:
    name: str
    handler: Handler
    max_attempts: int | None = None
    every_seconds: float | None = None


class JobRegistry:
    """The dispatch table. Registering the same name twice is a mistake and raises."""

    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}

    def register(self, name: str, handler: Handler, *, max_attempts: int | None = None) -> None:
        if name in self._specs:
            raise ValidationError(f"a job named '{name}' is already registered", param="name")
        self._specs[name] = JobSpec(name, handler, max_attempts)

    def every(self, name: str, seconds: float) -> None:
        """Make a registered job periodic: the worker keeps one run queued ``seconds`` apart."""
        spec = self.get(name)
        if spec is None:
            raise ValidationError(f"register the job '{name}' before making it periodic")
        if seconds <= 0:
            raise ValidationError("a periodic job needs a positive interval", param="seconds")
        spec.every_seconds = seconds

    def get(self, name: str) -> JobSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def periodic(self) -> list[JobSpec]:
        return [s for s in self._specs.values() if s.every_seconds]


def periodic_key(name: str) -> str:
    return f"periodic:{name}"


def enqueue(ctx: JobContext, name: str, payload: dict[str, Any] | None = None, *,
            delay: float = 0.0, dedupe_key: str | None = None) -> bool:
    now = ctx.clock.now()
    with ctx.store.write() as conn:
        return job_queue.enqueue(conn, name, payload, now=now, run_at=now + delay,
                                 dedupe_key=dedupe_key)


def ensure_periodic(ctx: JobContext, registry: JobRegistry) -> None:
    """Queue one run of every periodic job unless one is already queued."""
    now = ctx.clock.now()
    with ctx.store.write() as conn:
        for spec in registry.periodic():
            job_queue.enqueue(conn, spec.name, {}, now=now, dedupe_key=periodic_key(spec.name))


def run_due_jobs(ctx: JobContext, registry: JobRegistry, *, limit: int = 10) -> int:
    """Claim and run due jobs; returns how many ran (successfully or not)."""
    now = ctx.clock.now()
    with ctx.store.write() as conn:
        claimed = job_queue.claim_due(conn, now=now, limit=limit, lease_seconds=JOB_LEASE_SECONDS)
    for job in claimed:
        _run_one(ctx, registry, job)
    return len(claimed)


def _run_one(ctx: JobContext, registry: JobRegistry, job: job_queue.ClaimedJob) -> None:
    spec = registry.get(job.name)
    error: str | None = None
    if spec is None:
        error = f"no handler is registered for job '{job.name}'"
    else:
        try:
            spec.handler(ctx, job.payload)
        except Exception as exc:  # any failure is retried; the error text is kept on the row
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job %s #%s failed (attempt %s): %s", job.name, job.id, job.attempts, error)
    now = ctx.clock.now()
    max_attempts = (spec.max_attempts if spec and spec.max_attempts else
                    ctx.settings.job_max_attempts)
    with ctx.store.write() as conn:
        if error is None:
            job_queue.finish(conn, job.id, now=now)
        else:
            park = spec is None or job.attempts >= max_attempts
            job_queue.retry_or_park(conn, job.id, error=error, run_at=now + backoff(job.attempts),
                                    park=park, now=now)
            if not park:
                return
        if spec is not None and spec.every_seconds:
            job_queue.enqueue(conn, spec.name, {}, now=now, run_at=now + spec.every_seconds,
                              dedupe_key=periodic_key(spec.name))


# --- built-in jobs ----------------------------------------------------------------------------

def refetch_object(ctx: JobContext, payload: dict) -> None:
    """Fetch one object from Stripe and store it unless a newer event arrived meanwhile."""
    object_type = payload["object_type"]
    object_id = payload["object_id"]
    obj = ctx.gateway().fetch_object(object_type, object_id, account=payload.get("account"))
    with ctx.store.write() as conn:
        mirror_rules.apply_fetched(conn, object_type, obj, account=payload.get("account"),
                                   trigger_updated=int(payload.get("trigger_updated") or 0),
                                   now=ctx.clock.now())


def reconcile_open_objects(ctx: JobContext, payload: dict) -> None:
    """Queue a refetch of every open dispute and every refund that is not final yet."""
    now = ctx.clock.now()
    with ctx.store.write() as conn:
        targets = [("dispute", row) for row in mirror_repo.ids_with_status(
            conn, "dispute", mirror_rules.OPEN_DISPUTE_STATUSES)]
        targets += [("refund", row) for row in mirror_repo.ids_with_status(
            conn, "refund", mirror_rules.NON_FINAL_REFUND_STATUSES)]
        for object_type, (object_id, account, updated) in targets:
            mirror_rules.enqueue_refetch(conn, object_type, object_id, account=account,
                                         trigger_updated=updated, now=now)
    log.info("reconciliation queued %d refetches", len(targets))


def register_builtin_jobs(registry: JobRegistry, settings: Settings) -> None:
    registry.register(REFETCH_JOB, refetch_object)
    registry.register(RECONCILE_JOB, reconcile_open_objects)
    registry.every(RECONCILE_JOB, settings.reconcile_interval)
