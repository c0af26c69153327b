"""The one composition root: ``build_deps(settings)`` builds everything the edges use.

CLI commands, the web app, the worker and tests all get their database, clock, Stripe gateway,
job table and event listeners from here, and nowhere else. Tests swap a part by passing it in
(``build_deps(settings, clock=FakeClock(), gateway_factory=lambda s: FakeStripe())``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from disputedesk.config import Settings
from disputedesk.services.events import EventListeners
from disputedesk.services.jobs import (
    Clock,
    JobRegistry,
    SystemClock,
    register_builtin_jobs,
)
from disputedesk.services.mirror import ObjectFetcher
from disputedesk.store import migrate as run_migrations
from disputedesk.store.engine import Store, make_engine, private_dir
from disputedesk.web.metrics import Metrics

GatewayFactory = Callable[[Settings], ObjectFetcher]


def default_gateway_factory(settings: Settings) -> ObjectFetcher:
    from disputedesk.stripe_api.gateway import StripeGateway

    return StripeGateway(settings)


@dataclass
class Deps:
    settings: Settings
    store: Store
    clock: Clock
    jobs: JobRegistry
    event_listeners: EventListeners
    metrics: Metrics
    gateway_factory: GatewayFactory | None = default_gateway_factory
    _gateway: ObjectFetcher | None = field(default=None, repr=False)
    _gateway_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def gateway(self) -> ObjectFetcher:
        """The Stripe gateway, built on first use (commands that never call Stripe need no key)."""
        if self._gateway is None:
            with self._gateway_lock:
                if self._gateway is None:
                    if self.gateway_factory is None:
                        from disputedesk.errors import ConfigError

                        raise ConfigError("no Stripe gateway is configured",
                                          hint="set DISPUTEDESK_STRIPE_API_KEY")
                    self._gateway = self.gateway_factory(self.settings)
        return self._gateway

    def close(self) -> None:
        self.store.dispose()


def build_deps(settings: Settings, *, clock: Clock | None = None,
               gateway_factory: GatewayFactory | None = default_gateway_factory,
               migrate: bool = True) -> Deps:
    """Build the desk's parts; applies pending migrations unless ``migrate=False``."""
    if settings.database_url is None:
        private_dir(settings.data_dir.resolve())
    store = Store(make_engine(settings.effective_database_url))
    if migrate:
        run_migrations(store.engine)
    clock = clock or SystemClock()
    registry = JobRegistry()
    register_builtin_jobs(registry, settings)
    metrics = Metrics()
    metrics.watch_database(store, clock)
    deps = Deps(settings=settings, store=store, clock=clock, jobs=registry,
                event_listeners=EventListeners(), metrics=metrics,
                gateway_factory=gateway_factory)
    install_features(deps)
    return deps


# Features that subscribe to events and register jobs: each module has ``install(deps)``.
FEATURES: tuple[str, ...] = (
    "disputedesk.services.policy",  # first: seeds the stored policy the others read
    "disputedesk.services.accounts",
    "disputedesk.services.refunds",
    "disputedesk.services.disputes",
    "disputedesk.services.automation",
    "disputedesk.services.reports",  # last: its listener reads what the others wrote
)


def install_features(deps: Deps) -> None:
    import importlib

    for name in FEATURES:
        importlib.import_module(name).install(deps)
