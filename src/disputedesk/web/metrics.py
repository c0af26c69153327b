"""Prometheus metrics: counters kept in process, gauges read from the database at scrape time.

Counters (``*_total``) count what *this* process did; the gauges (events by status, worker lag)
come from the shared database, so they are true across every process sharing it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily

from disputedesk.store import inbox


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.webhooks_received = Counter(
            "disputedesk_webhooks_received", "Webhook deliveries accepted (stored or duplicate).",
            registry=self.registry)
        self.webhooks_rejected = Counter(
            "disputedesk_webhooks_rejected", "Webhook deliveries refused, by reason.",
            ["reason"], registry=self.registry)
        self.events_processed = Counter(
            "disputedesk_events_processed", "Events applied to the mirror by this process.",
            registry=self.registry)
        self.events_ignored = Counter(
            "disputedesk_events_ignored", "Events of types the desk does not handle.",
            registry=self.registry)
        self.events_retried = Counter(
            "disputedesk_events_retried", "Event processing attempts that failed and will retry.",
            registry=self.registry)
        self.events_failed = Counter(
            "disputedesk_events_failed", "Events parked as failed after their last attempt.",
            registry=self.registry)
        self.jobs_run = Counter("disputedesk_jobs_run", "Jobs run by this process.",
                                registry=self.registry)
        self._store = None
        self._clock = None

    def watch_database(self, store, clock) -> None:
        """Add the database-backed gauges (called once by wiring)."""
        if self._store is None:
            self._store, self._clock = store, clock
            self.registry.register(_InboxCollector(self))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _InboxCollector:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self):
        return []

    def collect(self):
        store, clock = self._metrics._store, self._metrics._clock
        now = clock.now()
        try:
            with store.read() as conn:
                counts = inbox.counts_by_status(conn)
                oldest = inbox.oldest_waiting(conn, now)
        except Exception:
            return
        by_status = GaugeMetricFamily("disputedesk_events", "Stored events by status.",
                                      labels=["status"])
        for status, n in sorted(counts.items()):
            by_status.add_metric([status], n)
        yield by_status
        yield GaugeMetricFamily(
            "disputedesk_worker_lag_seconds",
            "Age of the oldest event waiting for the worker (0 when none waits).",
            value=max(0.0, now - oldest) if oldest is not None else 0.0)
