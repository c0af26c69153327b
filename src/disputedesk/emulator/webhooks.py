"""Webhook delivery: signed POSTs from background threads, retries with backoff, a delivery log.

API calls never wait for delivery: ``enqueue`` only records the delivery and wakes the worker.
The signature is Stripe's: header ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" keyed by the endpoint secret>``; every attempt is signed afresh.

``t`` is real wall-clock time, not the emulator clock: receivers check it against their own
clock (stripe-python rejects signatures older than 300 s), and moving the emulator clock must not
make deliveries unverifiable.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from .events import event_payload
from .versions import at_version
from .state import AccountState, Obj

if TYPE_CHECKING:
    from .emulator import Emulator

log = logging.getLogger(__name__)

# Stripe's test mode retries 3 times over a few hours; the emulator compresses that.
DEFAULT_RETRY_DELAYS = (1.0, 2.0, 4.0)


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for one payload."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    id: str
    account: str
    event: str
    event_type: str
    endpoint: str
    url: str
    payload: bytes
    status: str = "pending"  # pending | succeeded | failed
    attempts: list[dict[str, Any]] = field(default_factory=list)
    next_attempt_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "account": self.account, "event": self.event,
                "event_type": self.event_type, "webhook_endpoint": self.endpoint,
                "url": self.url, "status": self.status, "attempts": list(self.attempts),
                "next_attempt_at": self.next_attempt_at}


# One-shot faults for the next deliveries, so a receiver can be tested against what a hostile or
# broken network sends: (name, what the attempt does). Set with POST /_emulator/webhook_faults.
DELIVERY_FAULTS: dict[str, str] = {
    "tampered_body": "the body is changed after signing",
    "wrong_secret": "signed with a secret the endpoint does not have",
    "stale_timestamp": "signed with a timestamp one hour old",
    "future_timestamp": "signed with a timestamp one hour ahead",
    "malformed_body": "a signed body that is not JSON",
    "oversized_body": "a signed body of 2 MB",
    "duplicate": "the same delivery sent twice at once",
}
OVERSIZED_BYTES = 2_000_000


class Deliverer:
    def __init__(self, emulator: "Emulator", *, retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
                 timeout: float = 5.0, workers: int = 4) -> None:
        self._emulator = emulator
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._workers = workers
        self.log: list[Delivery] = []
        self._by_id: dict[str, Delivery] = {}
        self._queue: list[tuple[float, int, str]] = []  # (monotonic due, seq, delivery id)
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client: httpx.Client | None = None
        self._stopping = False
        self._generation = 0  # bumped by reset so stale attempts are dropped
        self.pending_faults: list[str] = []  # one-shot DELIVERY_FAULTS, applied in order

    def add_faults(self, fault: str, count: int = 1) -> list[str]:
        if fault not in DELIVERY_FAULTS:
            raise ValueError(fault)
        with self._cond:
            self.pending_faults.extend([fault] * count)
            return list(self.pending_faults)

    # ------------------------------------------------------------------ endpoints
    def matching_endpoints(self, account: AccountState, event_type: str) -> list[Obj]:
        """Enabled endpoints of the account (and the platform's Connect endpoints) for a type."""
        # a Connect endpoint (connect=true) hears only connected accounts, never its own account
        own = account.collection("webhook_endpoint")
        found = [ep for ep in own.objects.values()
                 if _wants(ep, event_type) and not own.meta.get(ep["id"], {}).get("connect")]
        if account.connected:
            platform = self._emulator.platform
            meta = platform.collection("webhook_endpoint").meta
            found += [ep for ep in platform.collection("webhook_endpoint").objects.values()
                      if meta.get(ep["id"], {}).get("connect") and _wants(ep, event_type)]
        return found

    # ------------------------------------------------------------------ queue
    def enqueue(self, account: AccountState, event: Obj, endpoints: list[Obj]) -> list[Delivery]:
        payloads: dict[str | None, bytes] = {}
        made = []
        for ep in endpoints:
            version = ep.get("api_version")  # null: the account default the event has
            payload = payloads.get(version)
            if payload is None:
                payload = payloads[version] = event_payload(
                    at_version(event, account, version, self._emulator.api_version))
            d = Delivery(id=f"whd_{next(self._ids):08d}", account=account.id, event=event["id"],
                         event_type=event["type"], endpoint=ep["id"], url=ep["url"],
                         payload=payload)
            self.log.append(d)
            self._by_id[d.id] = d
            made.append(d)
            self._push(d, 0.0)
        return made

    def _push(self, d: Delivery, delay: float) -> None:
        due = time.monotonic() + delay
        d.next_attempt_at = time.time() + delay
        with self._cond:
            heapq.heappush(self._queue, (due, next(self._seq), d.id))
            self._cond.notify()
        self._ensure_started()

    def list(self, *, event: str | None = None, endpoint: str | None = None,
             status: str | None = None) -> list[dict[str, Any]]:
        with self._emulator.lock:
            return [d.as_dict() for d in self.log
                    if (event is None or d.event == event)
                    and (endpoint is None or d.endpoint == endpoint)
                    and (status is None or d.status == status)]

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self._generation += 1
            self.pending_faults.clear()
        self.log.clear()
        self._by_id.clear()

    # ------------------------------------------------------------------ worker
    def _ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._pool = ThreadPoolExecutor(max_workers=self._workers,
                                            thread_name_prefix="emulator-webhook")
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
            self._thread = threading.Thread(target=self._loop, name="emulator-deliverer",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        self._thread = self._pool = self._client = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    wait = (self._queue[0][0] - time.monotonic()) if self._queue else None
                    self._cond.wait(timeout=wait)
                if self._stopping:
                    return
                _, _, delivery_id = heapq.heappop(self._queue)
                generation = self._generation
            assert_pool = self._pool
            if assert_pool is not None:
                assert_pool.submit(self._attempt, delivery_id, generation)

    def _attempt(self, delivery_id: str, generation: int) -> None:
        emulator = self._emulator
        with emulator.lock:
            d = self._by_id.get(delivery_id)
            if d is None or generation != self._generation:
                return
            endpoint = emulator.account(d.account).collection("webhook_endpoint").get(d.endpoint)
            if endpoint is None:
                endpoint = emulator.platform.collection("webhook_endpoint").get(d.endpoint)
            if endpoint is None or endpoint.get("status") != "enabled":
                d.status = "failed"
                d.next_attempt_at = None
                d.attempts.append({"at": int(time.time()), "status_code": None,
                                   "error": "endpoint deleted or disabled"})
                return
            secret = emulator.webhooks_secret(endpoint)
            url = endpoint["url"]
        with self._cond:
            fault = self.pending_faults.pop(0) if self.pending_faults else None
        timestamp = int(time.time())
        body, signed_body, signed_at = d.payload, d.payload, timestamp
        if fault == "tampered_body":
            body = d.payload.replace(b'"livemode"', b'"livemode" ', 1)
        elif fault == "wrong_secret":
            secret = "whsec_not_this_endpoints_secret"
        elif fault == "stale_timestamp":
            signed_at = timestamp - 3600
        elif fault == "future_timestamp":
            signed_at = timestamp + 3600
        elif fault == "malformed_body":
            body = signed_body = b'{"id": "evt_malformed", "object": "event", '
        elif fault == "oversized_body":
            body = signed_body = d.payload[:-1] + b" " * OVERSIZED_BYTES + b"}"
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                   "Stripe-Signature": sign(signed_body, secret, signed_at)}
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        client = self._client
        try:
            if client is None:
                return
            if fault == "duplicate":  # a second copy in flight at the same moment
                pool = self._pool
                if pool is not None:
                    pool.submit(client.post, url, content=body, headers=headers)
            response = client.post(url, content=body, headers=headers)
            status_code = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # never let a delivery kill the worker
            error = f"{type(exc).__name__}: {exc}"
        ok = status_code is not None and 200 <= status_code < 300
        with emulator.lock:
            if generation != self._generation:
                return
            d.attempts.append({"at": timestamp, "status_code": status_code, "error": error,
                               "fault": fault,
                               "duration_ms": int((time.monotonic() - started) * 1000)})
            if ok:
                d.status = "succeeded"
                d.next_attempt_at = None
                event = emulator.account(d.account).collection("event").get(d.event)
                if event is not None and event["pending_webhooks"] > 0:
                    event["pending_webhooks"] -= 1
                return
            retry = len(d.attempts) - 1
            if retry < len(self.retry_delays):
                self._push(d, self.retry_delays[retry])
            else:
                d.status = "failed"
                d.next_attempt_at = None

    def redeliver(self, account: AccountState, event: Obj, endpoints: list[Obj]) -> list[Delivery]:
        """Send an existing event again (control plane ``trigger`` with an event id)."""
        return self.enqueue(account, event, endpoints)


def _wants(endpoint: Obj, event_type: str) -> bool:
    if endpoint.get("status") != "enabled":
        return False
    enabled = endpoint.get("enabled_events") or []
    return "*" in enabled or event_type in enabled
