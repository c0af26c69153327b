"""The Stripe gateway: the desk's only way to talk to Stripe (or the emulator).

It wraps the official SDK's ``StripeClient`` with what a money-moving service needs around it:
a pinned API version, a client-side rate limiter shared by every thread, retries with backoff
on 429 (the SDK itself retries network errors, 409 and 5xx), explicit idempotency keys on
every POST that moves money, ``Stripe-Account`` for Connect platforms, and translation of the
SDK's exceptions into the desk's own tree. Everything it returns is a plain ``dict`` exactly as
Stripe sent it, so the store can keep the snapshot verbatim.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import stripe

from disputedesk import errors
from disputedesk.config import STRIPE_API_VERSION, Settings


class RateLimiter:
    """Token bucket shared by all threads: at most ``rate`` requests per second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float | None = None, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise errors.ConfigError("the Stripe rate limit must be positive",
                                     param="stripe_rate_limit")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self._tokens = self.burst
        self._monotonic = monotonic
        self._sleep = sleep
        self._last = monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                # The epsilon absorbs float drift: without it a wait can shrink below the
                # clock's resolution and the loop spins forever.
                if self._tokens >= 1 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)


def translate(exc: stripe.StripeError) -> errors.StripeError:
    """Map an SDK exception to the desk's tree, keeping Stripe's code, param and request id."""
    status = getattr(exc, "http_status", None)
    request_id = getattr(exc, "request_id", None)
    err = getattr(exc, "error", None)
    stripe_code = getattr(exc, "code", None) or (getattr(err, "code", None) if err else None)
    param = getattr(exc, "param", None)
    message = getattr(exc, "user_message", None) or (
        getattr(err, "message", None) if err else None) or str(exc) or type(exc).__name__
    kw: dict[str, Any] = {"http_status": status, "request_id": request_id,
                          "stripe_code": stripe_code, "param": param}
    if isinstance(exc, stripe.RateLimitError) or status == 429:
        return errors.StripeRateLimited(f"Stripe rate limit: {message}", **kw)
    if isinstance(exc, stripe.AuthenticationError):
        return errors.StripeAuthFailed(
            "Stripe refused the API key", hint="check DISPUTEDESK_STRIPE_API_KEY", **kw)
    if status == 409:
        # idempotency_key_in_use (the SDK raises a plain APIError; checked before the idempotency
        # error, which is a 400 for a key reused with other parameters) or a lock conflict: the
        # request may still go through, so it is "retry with the same key", not a refusal.
        return errors.StripeConflict(f"Stripe is busy with a conflicting request: {message}",
                                     **kw)
    if isinstance(exc, stripe.IdempotencyError) or stripe_code == "idempotency_error":
        return errors.StripeIdempotencyError(message, **kw)
    if isinstance(exc, (stripe.APIConnectionError,)) or (status is not None and status >= 500):
        return errors.StripeUnavailable(f"Stripe is unavailable: {message}", **kw)
    if status == 404 or stripe_code == "resource_missing":
        return errors.StripeNotFound(message, **kw)
    if isinstance(exc, (stripe.InvalidRequestError, stripe.CardError)) or (
            status is not None and 400 <= status < 500):
        return errors.StripeInvalidRequest(message, **kw)
    return errors.StripeError(message, **kw)


def _plain(obj: Any) -> Any:
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict(recursive=True)
    return obj


class StripeGateway:
    """All Stripe calls the desk makes. Thread-safe; one instance per process (built in wiring)."""

    # Stripe ``object`` names -> how to retrieve one, used by the worker's refetch job.
    _RETRIEVERS: dict[str, Callable[[stripe.StripeClient], Callable[..., Any]]] = {
        "charge": lambda c: c.v1.charges.retrieve,
        "payment_intent": lambda c: c.v1.payment_intents.retrieve,
        "refund": lambda c: c.v1.refunds.retrieve,
        "dispute": lambda c: c.v1.disputes.retrieve,
        "radar.early_fraud_warning": lambda c: c.v1.radar.early_fraud_warnings.retrieve,
        "file": lambda c: c.v1.files.retrieve,
    }

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        if settings.stripe_api_key is None:
            raise errors.ConfigError(
                "no Stripe API key is set",
                param="stripe_api_key",
                hint="set DISPUTEDESK_STRIPE_API_KEY, or run with the built-in emulator",
            )
        base = settings.stripe_api_base
        addresses = {"api": base, "files": base, "connect": base} if base else None
        self.client = stripe.StripeClient(
            settings.stripe_api_key.get_secret_value(),
            stripe_account=settings.stripe_account,
            stripe_version=STRIPE_API_VERSION,
            base_addresses=addresses,  # type: ignore[arg-type]
            max_network_retries=settings.stripe_max_retries,
            http_client=stripe.HTTPXClient(timeout=settings.stripe_timeout,
                                           allow_sync_methods=True),
        )
        self.max_retries = settings.stripe_max_retries
        self.limiter = RateLimiter(settings.stripe_rate_limit)
        self._sleep = sleep
        self._rng = rng or random.Random()

    # -- the one path every call takes -------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call through the limiter, retrying 429s with backoff and jitter."""
        attempt = 0
        while True:
            self.limiter.acquire()
            try:
                return fn(*args, **kwargs)
            except stripe.RateLimitError as exc:
                if attempt >= self.max_retries:
                    raise translate(exc) from exc
            except stripe.StripeError as exc:
                raise translate(exc) from exc
            # Full jitter keeps many workers from retrying in lock-step.
            self._sleep(self._rng.uniform(0, min(8.0, 0.25 * 2 ** attempt)))
            attempt += 1

    @staticmethod
    def _options(idempotency_key: str | None = None, account: str | None = None) -> dict:
        options: dict[str, Any] = {}
        if idempotency_key:
            options["idempotency_key"] = idempotency_key
        if account:
            options["stripe_account"] = account
        return options

    def iterate(self, list_fn: Callable[..., Any], params: dict | None = None,
                account: str | None = None) -> Iterator[dict]:
        """Walk every page of a list endpoint lazily (flat memory), each page rate-limited."""
        params = dict(params or {})
        params.setdefault("limit", 100)
        page = self.call(list_fn, params=params, options=self._options(account=account))
        while True:
            for item in page.data:
                yield _plain(item)
            if not page.has_more or not page.data:
                return
            params["starting_after"] = page.data[-1].id
            page = self.call(list_fn, params=params, options=self._options(account=account))

    def iterate_oldest_first(self, list_fn: Callable[..., Any], params: dict | None = None,
                             account: str | None = None) -> Iterator[dict]:
        """Walk a list endpoint from its oldest object to its newest, with flat memory.

        Stripe lists newest first. The first pass walks to the oldest match keeping only it; the
        second pages towards newer objects with ``ending_before``, reversing each page.
        """
        oldest = None
        for item in self.iterate(list_fn, params, account):
            oldest = item
        if oldest is None:
            return
        yield oldest
        forward = {k: v for k, v in (params or {}).items() if k not in ("starting_after",)}
        forward["limit"] = 100
        cursor = oldest["id"]
        while True:
            forward["ending_before"] = cursor
            page = self.call(list_fn, params=forward, options=self._options(account=account))
            items = [_plain(i) for i in page.data]
            yield from reversed(items)
            if not page.has_more or not items:
                return
            cursor = items[0]["id"]

    # -- reads --------------------------------------------------------------------------------
    def fetch_object(self, object_type: str, object_id: str, *, account: str | None = None,
                     expand: list[str] | None = None) -> dict:
        """Retrieve any mirrored object by its Stripe ``object`` name and id."""
        getter = self._RETRIEVERS.get(object_type)
        if getter is None:
            raise errors.ValidationError(f"the desk does not mirror '{object_type}' objects",
                                         param="object_type")
        params = {"expand": expand} if expand else None
        return _plain(self.call(getter(self.client), object_id, params=params,
                                options=self._options(account=account)))

    def list_objects(self, object_type: str, params: dict | None = None,
                     account: str | None = None) -> Iterator[dict]:
        lists = {
            "charge": self.client.v1.charges.list,
            "payment_intent": self.client.v1.payment_intents.list,
            "refund": self.client.v1.refunds.list,
            "dispute": self.client.v1.disputes.list,
            "radar.early_fraud_warning": self.client.v1.radar.early_fraud_warnings.list,
            "file": self.client.v1.files.list,
            "event": self.client.v1.events.list,
        }
        if object_type not in lists:
            raise errors.ValidationError(f"cannot list '{object_type}' objects",
                                         param="object_type")
        return self.iterate(lists[object_type], params, account)

    # -- writes (each takes the idempotency key the caller derived from its own record) --------
    def create_refund(self, params: dict, *, idempotency_key: str,
                      account: str | None = None) -> dict:
        return _plain(self.call(self.client.v1.refunds.create, params=params,
                                options=self._options(idempotency_key, account)))

    def cancel_refund(self, refund_id: str, *, idempotency_key: str,
                      account: str | None = None) -> dict:
        return _plain(self.call(self.client.v1.refunds.cancel, refund_id,
                                options=self._options(idempotency_key, account)))

    def update_dispute(self, dispute_id: str, params: dict, *, idempotency_key: str,
                       account: str | None = None) -> dict:
        return _plain(self.call(self.client.v1.disputes.update, dispute_id, params=params,
                                options=self._options(idempotency_key, account)))

    def close_dispute(self, dispute_id: str, *, idempotency_key: str,
                      account: str | None = None) -> dict:
        return _plain(self.call(self.client.v1.disputes.close, dispute_id,
                                options=self._options(idempotency_key, account)))

    def upload_file(self, content: bytes, filename: str, *, purpose: str = "dispute_evidence",
                    idempotency_key: str, account: str | None = None) -> dict:
        import io

        handle = io.BytesIO(content)
        handle.name = filename
        return _plain(self.call(self.client.v1.files.create,
                                params={"file": handle, "purpose": purpose},
                                options=self._options(idempotency_key, account)))

    def create_webhook_endpoint(self, url: str, events: list[str]) -> dict:
        return _plain(self.call(self.client.v1.webhook_endpoints.create,
                                params={"url": url, "enabled_events": events}))
