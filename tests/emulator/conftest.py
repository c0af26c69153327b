"""Fixtures for the emulator's own tests: one server per test session (per xdist worker),
reset before every test, a StripeClient pointed at it, and a local webhook receiver."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

from disputedesk.emulator import Emulator
from disputedesk.emulator.testing import EmulatorServer, running_emulator, stripe_client


@pytest.fixture(scope="session")
def _session_server() -> Iterator[EmulatorServer]:
    emulator = Emulator(seed=42, webhook_retry_delays=(0.05, 0.1, 0.2), webhook_timeout=2.0)
    with running_emulator(emulator) as server:
        yield server


@pytest.fixture
def emulator_server(_session_server: EmulatorServer) -> EmulatorServer:
    """The session's server, reset to a clean state (objects, clock, faults, settings)."""
    em = _session_server.emulator
    em.reset()
    em.faults.configure(rate_limit=0, error_rate=0, latency_ms=0, seed=42)
    em.settings.update(pending_refund_seconds=3.0, refund_failure_seconds=3.0)
    return _session_server


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> Emulator:
    return emulator_server.emulator


@pytest.fixture
def client(emulator_server: EmulatorServer) -> Any:
    return emulator_server.stripe_client()


@pytest.fixture
def base_url(emulator_server: EmulatorServer) -> str:
    return emulator_server.base_url


@pytest.fixture
def add_customers(emulator: Emulator) -> Callable[..., None]:
    """Make customers with chosen ids, for tests that name them in payments (the emulator
    refuses a ``customer`` it does not know, as Stripe does)."""
    def add(*ids: str) -> None:
        coll = emulator.platform.collection("customer")
        with emulator.lock:
            for cid in ids:
                if cid not in coll:
                    coll.add({"id": cid, "object": "customer", "created": emulator.clock.now(),
                              "email": None, "livemode": False, "metadata": {}, "name": None})
    return add


class WebhookSink:
    """A local HTTP server recording every POST; answers with ``statuses`` in turn, then 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink._lock:
                    status = sink.statuses.pop(0) if sink.statuses else 200
                    sink.requests.append({"headers": dict(self.headers), "body": body,
                                          "status": status, "path": self.path})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r["body"]) for r in self.requests]

    def wait_for(self, condition: Callable[["WebhookSink"], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"webhook condition not met; got {len(self.requests)} "
                                     "requests")
            time.sleep(0.02)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    yield sink
    sink.close()


# ----------------------------------------------------------------------------- scenario layer

class Target:
    """Where a scenario runs: the emulator (clock advanced) or Stripe's test mode (waits)."""

    def __init__(self, client: Any, advance: Callable[[float], None], live: bool) -> None:
        self.client = client
        self.advance = advance
        self.live = live

    def eventually(self, fetch: Callable[[], Any], check: Callable[[Any], bool],
                   seconds: float = 10.0) -> Any:
        """Advance (emulator) or poll (live) until ``check(fetch())`` holds."""
        value = fetch()
        if check(value):
            return value
        if not self.live:
            self.advance(seconds)
            return fetch()
        deadline = time.monotonic() + max(seconds * 6, 60)
        while not check(value) and time.monotonic() < deadline:
            time.sleep(2)
            value = fetch()
        return value


LIVE_KEY = os.environ.get("STRIPE_TEST_SECRET_KEY")


@pytest.fixture(params=["emulator", pytest.param("live", marks=pytest.mark.live_stripe)])
def stripe_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "live":
        if not LIVE_KEY or not LIVE_KEY.startswith("sk_test_"):
            pytest.skip("set STRIPE_TEST_SECRET_KEY=sk_test_... to run scenarios against "
                        "Stripe's test mode")
        import stripe
        yield Target(stripe.StripeClient(LIVE_KEY, max_network_retries=2), time.sleep, True)
        return
    server: EmulatorServer = request.getfixturevalue("emulator_server")
    yield Target(server.stripe_client(), server.emulator.advance, False)


__all__ = ["WebhookSink", "Target", "stripe_client"]
