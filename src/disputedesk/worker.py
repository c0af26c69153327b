"""The worker: claim -> apply -> mark, for stored events and due jobs, in a loop.

``Worker.run_once`` does one round (one batch of events, then due jobs). ``WorkerPool`` runs N
workers on threads until told to stop; ``disputedesk serve`` runs one beside the web app and
``disputedesk worker`` runs them alone.

Beside the receiver (``serve``) the worker yields to it: while webhooks arrive faster than a
trickle (``web.webhooks.IngestLoad``: 200 a second) it takes small rounds (a few milliseconds of work: one short write-lock hold on SQLite, one short GIL
hold) and sleeps after each for three times as long as the round took, so it uses at most a
quarter of the process while the receiver is busy and everything again once the burst is over.
It never stops: a backlog keeps shrinking during a long burst, just more slowly. Any number of pools on any number of machines can share a
PostgreSQL database: events are claimed with ``FOR UPDATE SKIP LOCKED`` and marked processed in the
transaction that applied them, so each is applied exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from disputedesk.services.events import BatchResult, objects_due, process_batch
from disputedesk.services.jobs import ensure_periodic, run_due_jobs

log = logging.getLogger("disputedesk.worker")

JOBS_PER_ROUND = 10
# SQLite has one writer: a batch holds the write lock the webhook receiver also needs, so on
# SQLite batches are sized to finish within this budget (heavy listeners -> smaller batches).
SQLITE_BATCH_BUDGET_SECONDS = 0.025
# While the receiver in the same process is busy: rounds of about this much work, each followed
# by a pause so the worker's share of the time is at most INGEST_BUSY_SHARE.
BUSY_BATCH_BUDGET_SECONDS = 0.004
BUSY_JOBS_PER_ROUND = 1
# A full batch of events means a backlog: the mirror catches up first, jobs (which read it) get a
# couple per round meanwhile.
BACKLOG_JOBS_PER_ROUND = 2
INGEST_BUSY_SHARE = 0.25
MAX_YIELD_SECONDS = 0.5


class IngestLoad(Protocol):
    """What the worker asks of the receiver beside it (``web.webhooks.IngestLoad``)."""

    def busy(self) -> bool: ...


class Worker:
    def __init__(self, deps, *, name: str = "worker", ingest: IngestLoad | None = None) -> None:
        self.deps = deps
        self.name = name
        self.ingest = ingest
        self._seconds_per_event = 0.0  # measured; sizes SQLite batches
        self._yielding = False  # this round is a small one because the receiver is busy
        self._backlog = False  # the last batch of events was full

    def _batch_limit(self) -> int:
        limit = self.deps.settings.worker_batch_size
        if self._seconds_per_event > 0:
            if self._yielding:
                limit = min(limit, int(BUSY_BATCH_BUDGET_SECONDS / self._seconds_per_event))
            elif self.deps.store.is_sqlite:
                limit = min(limit, int(SQLITE_BATCH_BUDGET_SECONDS / self._seconds_per_event))
        return max(1, limit)

    def process_events(self) -> BatchResult:
        settings = self.deps.settings
        started = time.perf_counter()  # a duration for sizing batches, not the desk's clock
        limit = self._batch_limit()
        result = process_batch(self.deps.store, self.deps.clock,
                               limit=limit,
                               max_attempts=settings.job_max_attempts,
                               listeners=self.deps.event_listeners,
                               fetch=self._prefetch(limit) if settings.webhook_refetch else None)
        self._backlog = result.claimed >= limit
        if result.claimed:
            cost = (time.perf_counter() - started) / result.claimed
            self._seconds_per_event = (cost if not self._seconds_per_event
                                       else 0.7 * self._seconds_per_event + 0.3 * cost)
        metrics = self.deps.metrics
        if result.processed:
            metrics.events_processed.inc(result.processed)
        if result.ignored:
            metrics.events_ignored.inc(result.ignored)
        if result.retried:
            metrics.events_retried.inc(result.retried)
        if result.failed:
            metrics.events_failed.inc(result.failed)
        return result

    def _prefetch(self, limit: int):
        """Refetch mode: fetch the objects of the next batch from Stripe BEFORE its transaction
        (on SQLite the batch holds the one write lock the webhook receiver needs too). An event
        the claim takes that was not fetched here (another worker's race) is fetched inline; a
        fetch that fails here is tried again inline, and fails that event if it fails again."""
        deps = self.deps
        wanted = objects_due(deps.store, deps.clock.now(), limit)
        fetched: dict[tuple[str, str, str | None], dict] = {}
        for object_type, object_id, account in sorted(wanted, key=str):
            try:
                fetched[(object_type, object_id, account)] = deps.gateway().fetch_object(
                    object_type, object_id, account=account)
            except Exception as exc:  # noqa: BLE001 - retried inline, where it fails the event
                log.warning("refetching %s %s failed: %s", object_type, object_id, exc)

        def fetch(object_type: str, object_id: str, account: str | None) -> dict:
            found = fetched.get((object_type, object_id, account))
            if found is None:
                found = deps.gateway().fetch_object(object_type, object_id, account=account)
            return found

        return fetch

    def run_jobs(self) -> int:
        limit = (BUSY_JOBS_PER_ROUND if self._yielding else
                 BACKLOG_JOBS_PER_ROUND if self._backlog else JOBS_PER_ROUND)
        ran = run_due_jobs(self.deps, self.deps.jobs, limit=limit)
        if ran:
            self.deps.metrics.jobs_run.inc(ran)
        return ran

    def run_once(self) -> int:
        """One round; returns how many events and jobs were taken (0 = nothing due)."""
        return self.process_events().claimed + self.run_jobs()

    def run_until_idle(self, max_rounds: int = 10_000) -> int:
        """Rounds until nothing is due (tests, ``events replay --now``). Returns work done."""
        total = 0
        for _ in range(max_rounds):
            done = self.run_once()
            if not done:
                return total
            total += done
        return total

    def run_forever(self, stop: threading.Event) -> None:
        poll = self.deps.settings.worker_poll_interval
        while not stop.is_set():
            self._yielding = self.ingest is not None and self.ingest.busy()
            started = time.perf_counter()
            try:
                busy = self.run_once()
            except Exception:  # database away, etc.: log, wait, try again
                log.exception("%s: round failed; retrying in %.1f s", self.name, poll)
                busy = 0
            if not busy:
                stop.wait(poll)
            elif self._yielding:
                took = time.perf_counter() - started
                stop.wait(min(MAX_YIELD_SECONDS, took * (1 / INGEST_BUSY_SHARE - 1)))


class WorkerPool:
    """N workers on threads (PostgreSQL: they really run in parallel; SQLite: one writes at a time)."""

    def __init__(self, deps, concurrency: int = 1, *, ingest: IngestLoad | None = None) -> None:
        if concurrency < 1:
            from disputedesk.errors import ValidationError

            raise ValidationError("concurrency must be at least 1", param="concurrency")
        self.deps = deps
        self.concurrency = concurrency
        self.ingest = ingest  # the receiver in this process, if any: yield to it while busy
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        try:
            ensure_periodic(self.deps, self.deps.jobs)
        except Exception:
            log.exception("could not queue the periodic jobs; continuing")
        for n in range(self.concurrency):
            worker = Worker(self.deps, name=f"worker-{n}", ingest=self.ingest)
            thread = threading.Thread(target=worker.run_forever, args=(self._stop,),
                                      name=worker.name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        """Ask the workers to stop after their current round (safe from a signal handler)."""
        self._stop.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop and wait for the workers (a round in progress commits or rolls back first)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    def wait(self) -> None:
        """Block until stopped (Ctrl-C / SIGTERM stop the pool from the CLI)."""
        while any(t.is_alive() for t in self._threads):
            for thread in self._threads:
                thread.join(0.5)
