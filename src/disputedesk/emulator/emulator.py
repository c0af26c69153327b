"""The ``Emulator``: all state of one emulated Stripe, and the machinery around it.

One instance = one isolated Stripe: accounts (the platform plus connected accounts reached with
``Stripe-Account``), a clock, seeded ids, timers, events, webhook delivery, fault injection and
the route table collected from the resource modules. There is no module-global mutable state;
two emulators in one process never see each other.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from . import resources
from .clock import Clock
from .events import EventLog
from .faults import FaultConfig, Faults
from .hooks import Hooks
from .ids import IdGenerator
from .routing import Route
from .state import AccountState
from .timers import Timers
from .webhooks import DEFAULT_RETRY_DELAYS, Deliverer

DEFAULT_API_VERSION = "2026-10-28.endive"
PLATFORM_ACCOUNT = "acct_1EmulatorPlatform0"


class Emulator:
    def __init__(self, *, seed: int = 0, clock: Clock | None = None,
                 api_version: str = DEFAULT_API_VERSION, faults: FaultConfig | None = None,
                 webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
                 webhook_timeout: float = 5.0, timer_interval: float = 0.2,
                 pending_refund_seconds: float = 3.0, refund_failure_seconds: float = 3.0
                 ) -> None:
        self.seed = seed
        self.api_version = api_version
        self.clock = clock or Clock()
        self.accounts: dict[str, AccountState] = {}
        self.ids = IdGenerator(seed, taken=self.id_taken)
        # request ids have their own sequence so retries never shift object ids
        self.request_ids = IdGenerator(seed + 1_000_003)
        self.lock = threading.RLock()
        self.hooks = Hooks()
        self.faults = Faults(faults or FaultConfig(seed=seed))
        self.timers = Timers(self, interval=timer_interval)
        self.events = EventLog(self)
        self.webhooks = Deliverer(self, retry_delays=webhook_retry_delays,
                                  timeout=webhook_timeout)
        # behaviour knobs read by resource modules (seconds of emulator time)
        self.settings: dict[str, Any] = {
            "pending_refund_seconds": pending_refund_seconds,
            "refund_failure_seconds": refund_failure_seconds,
        }
        self.startup_webhooks: list[dict[str, Any]] = []  # re-created by reset()
        self.routes: list[Route] = []
        self.index_spec: dict[str, tuple[str, ...]] = {}
        self.modules = resources.load()
        for module in self.modules:
            self.routes.extend(getattr(module, "ROUTES", ()))
            for object_type, fields in getattr(module, "INDEXES", {}).items():
                self.index_spec[object_type] = tuple(fields)
        for module in self.modules:
            install = getattr(module, "install", None)
            if install is not None:
                install(self)
        self.platform = self.account(PLATFORM_ACCOUNT)

    # ------------------------------------------------------------------ accounts
    def account(self, account_id: str | None = None) -> AccountState:
        """The account's state (platform when ``None``); connected accounts appear on first use."""
        key = account_id or PLATFORM_ACCOUNT
        state = self.accounts.get(key)
        if state is None:
            state = AccountState(key, connected=key != PLATFORM_ACCOUNT,
                                 index_spec=self.index_spec)
            self.accounts[key] = state
        return state

    def id_taken(self, object_id: str) -> bool:
        """Whether any account already holds an object with this id (ids are global)."""
        return any(state.find(object_id) is not None for state in self.accounts.values())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start background work (timers); webhook workers start on first delivery."""
        self.timers.start()

    def stop(self) -> None:
        self.timers.stop()
        self.webhooks.stop()

    def reset(self) -> None:
        """Forget every object, event, delivery and timer; ids restart from the seed."""
        with self.lock:
            self.timers.clear()
            self.webhooks.reset()
            self.accounts.clear()
            self.ids = IdGenerator(self.seed, taken=self.id_taken)
            self.request_ids = IdGenerator(self.seed + 1_000_003)
            if not self.clock.frozen:
                self.clock.set(time.time())
            self.platform = self.account(PLATFORM_ACCOUNT)
            for spec in self.startup_webhooks:
                self._restore_webhook(spec)

    def advance(self, seconds: float) -> float:
        """Move the clock forward and run every timer that fell due."""
        self.clock.advance(seconds)
        self.timers.run_due()
        return self.clock.time()

    # ------------------------------------------------------------------ webhooks
    def webhooks_secret(self, endpoint: dict[str, Any]) -> str:
        for account in self.accounts.values():
            meta = account.collection("webhook_endpoint").meta.get(endpoint["id"])
            if meta is not None:
                return str(meta["secret"])
        raise KeyError(endpoint["id"])

    def add_webhook_endpoint(self, url: str, enabled_events: list[str] | None = None,
                             *, account_id: str | None = None, secret: str | None = None,
                             connect: bool = False) -> dict[str, Any]:
        """Register an endpoint outside the API (CLI ``--webhook``); kept across ``reset()``."""
        spec = {"url": url, "enabled_events": enabled_events or ["*"], "account": account_id,
                "secret": secret, "connect": connect}
        with self.lock:
            endpoint = self._restore_webhook(spec)
            spec["secret"] = self.webhooks_secret(endpoint)
            spec["id"] = endpoint["id"]
            self.startup_webhooks.append(spec)
        return endpoint

    def _restore_webhook(self, spec: dict[str, Any]) -> dict[str, Any]:
        from .resources.webhook_endpoints import create_endpoint

        return create_endpoint(self, self.account(spec["account"]), url=spec["url"],
                               enabled_events=spec["enabled_events"], secret=spec["secret"],
                               connect=spec["connect"], endpoint_id=spec.get("id"))
