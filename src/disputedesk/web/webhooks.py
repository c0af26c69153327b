"""``POST /webhooks/stripe``: verify, store durably, answer. Nothing else on the request path.

The route is a bare ASGI callable (no FastAPI dependency machinery, no Request object): it reads
the body with a cap (413 beyond it), verifies ``Stripe-Signature`` against every configured secret
(400), parses the JSON and checks it is an event, then hands the row to the ``InboxWriter``
and answers 200 only after the row's transaction committed. A signed body that is not a readable
event (not JSON, nested too deeply, not an event) is stored raw as ``unparseable`` and answered
400 naming why: nothing Stripe signed is lost, and nothing unreadable reaches the worker. A redelivered event id is skipped by
the insert and still answered 200. Applying the event is the worker's job.

Group commit: concurrent requests queue their rows; one writer task inserts everything queued in a
single transaction while the next batch gathers, so commit cost (an fsync on SQLite) is shared.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from disputedesk.errors import SignatureError, StoreError
from disputedesk.services.events import received_row
from disputedesk.store import inbox
from disputedesk.store.engine import Store
from disputedesk.stripe_api.webhook_signature import verify

log = logging.getLogger("disputedesk.webhooks")

WEBHOOK_PATH = "/webhooks/stripe"
MAX_GROUP = 1000


class IngestLoad:
    """How busy the receiver is, so a worker in the same process can yield to it.

    Requests are counted per window of ``window`` seconds; the receiver is busy while this or the
    previous window saw at least ``busy_rate`` requests per second. A trickle (the emulator's
    own deliveries, Stripe's usual pace) never makes the worker yield. ``touch`` is a few
    attribute stores per request, without a lock: a lost count only delays yielding a little.
    """

    __slots__ = ("_clock", "_window", "_threshold", "_start", "_count", "_previous")

    def __init__(self, *, window: float = 0.1, busy_rate: float = 200.0,
                 clock=time.monotonic) -> None:
        self._clock = clock
        self._window = window
        self._threshold = max(1, int(busy_rate * window))
        self._start = float("-inf")
        self._count = 0
        self._previous = 0

    def touch(self) -> None:
        now = self._clock()
        if now - self._start >= self._window:
            self._previous = self._count if now - self._start < 2 * self._window else 0
            self._count = 0
            self._start = now
        self._count += 1

    def busy(self) -> bool:
        age = self._clock() - self._start
        if age < self._window:  # the current window, or the full one before it
            return max(self._count, self._previous) >= self._threshold
        if age < 2 * self._window:  # the last window is complete and nothing came since
            return self._count >= self._threshold
        return False


class InboxWriter:
    """One writer task per event loop: batches queued rows into one insert transaction."""

    def __init__(self, store: Store, *, max_group: int = MAX_GROUP) -> None:
        self._store = store
        self._max_group = max_group
        self._pending: list[tuple[dict, asyncio.Future]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def put(self, row: dict) -> None:
        """Store one event row; returns once it is committed (raises if the commit failed)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            self._start(loop)
        future = loop.create_future()
        self._pending.append((row, future))
        self._wake.set()
        await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._executor is None:
            # one thread: inserts are serialised anyway, and one thread keeps them in order
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="inbox-writer")
        self._loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="inbox-writer")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[:self._max_group]
                del self._pending[:self._max_group]
                rows = [row for row, _ in batch]
                try:
                    await loop.run_in_executor(self._executor, self._write, rows)
                except Exception as exc:  # every waiter learns; Stripe retries on our 5xx
                    log.error("storing %d webhook events failed: %s", len(rows), exc)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(StoreError("the event could not be stored"))
                else:
                    for _, future in batch:
                        if not future.done():
                            future.set_result(None)

    def _write(self, rows: list[dict]) -> None:
        with self._store.write() as conn:
            inbox.insert_events(conn, rows)

    async def aclose(self) -> None:
        while self._pending:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def _json_headers(extra: list[tuple[bytes, bytes]] | None = None) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json")] + (extra or [])


_OK_BODY = b'{"received":true}'
_OK_HEADERS = _json_headers([(b"content-length", str(len(_OK_BODY)).encode())])


class WebhookReceiver:
    """The raw ASGI endpoint. ``deps`` supplies settings, clock, metrics and the listeners."""

    def __init__(self, deps, writer: InboxWriter) -> None:
        settings = deps.settings
        self._secrets = [s.get_secret_value() for s in settings.webhook_secrets]
        self._tolerance = settings.webhook_tolerance
        self._max_body = settings.webhook_max_body_bytes
        self._clock = deps.clock
        self._metrics = deps.metrics
        self._listeners = deps.event_listeners
        self._writer = writer
        self.load = IngestLoad()

    async def __call__(self, scope, receive, send) -> None:
        if scope["method"] != "POST":
            await _send(send, 405, {"error": {"code": "method_not_allowed",
                                              "message": "POST a Stripe event here"}},
                        [(b"allow", b"POST")])
            return
        self.load.touch()
        signature = None
        length = None
        for name, value in scope["headers"]:
            if name == b"stripe-signature":
                signature = value.decode("latin-1")
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
        if length is not None and length > self._max_body:
            await self._refuse(send, 413, "payload_too_large",
                               f"the body is larger than {self._max_body} bytes")
            return
        body = await self._read_body(receive)
        if body is None:
            await self._refuse(send, 413, "payload_too_large",
                               f"the body is larger than {self._max_body} bytes")
            return
        now = self._clock.now()
        try:
            verify(body, signature, self._secrets, now=now, tolerance=self._tolerance)
        except SignatureError as exc:
            await self._refuse(send, 400, exc.code, exc.message)
            return
        row, problem = received_row(body, now, self._listeners)
        try:
            await self._writer.put(row)
        except StoreError:
            self._metrics.webhooks_rejected.labels("store_unavailable").inc()
            await _send(send, 503, {"error": {"code": "store_error",
                                              "message": "the event could not be stored; retry"}})
            return
        if problem is not None:  # signed, so kept (as "unparseable"), but nothing to apply
            await self._refuse(send, 400, problem.code,
                               f"{problem.message}; it was stored as {row['id']} with status "
                               "unparseable")
            return
        self._metrics.webhooks_received.inc()
        await send({"type": "http.response.start", "status": 200, "headers": _OK_HEADERS})
        await send({"type": "http.response.body", "body": _OK_BODY})

    async def _read_body(self, receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _refuse(self, send, status: int, code: str, message: str) -> None:
        self._metrics.webhooks_rejected.labels(code).inc()
        await _send(send, status, {"error": {"code": code, "message": message}})


async def _send(send, status: int, payload: dict,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = _json_headers([(b"content-length", str(len(body)).encode())] + (extra or []))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
