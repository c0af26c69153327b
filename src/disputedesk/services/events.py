"""Applying stored webhook events to the mirror, exactly once.

``process_batch`` is the worker's unit of work: in ONE write transaction it claims due events,
applies their snapshots to the mirror (services/mirror.py decides what is newer), runs the
registered listeners, and marks the events processed. Either all of that commits or none of it
does, so an event can never be "processed" without its effects (dj-stripe #832), and on
PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps two workers from ever holding the same event.

A failing event is isolated with savepoints: the batch is retried event by event, the bad one
gets ``attempts + 1``, its error and a backoff; after ``job_max_attempts`` it is parked as
``failed``. Replaying puts events back to ``received``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from disputedesk.errors import NotFound, PayloadError, ValidationError
from disputedesk.services import mirror as rules
from disputedesk.services.jobs import Clock, backoff
from disputedesk.store import audit, inbox
from disputedesk.store import jobs as job_queue
from disputedesk.store import mirror as repo
from disputedesk.store.engine import Store

log = logging.getLogger("disputedesk.events")

# listener(conn, event, decision, now): runs inside the event's transaction, after the mirror
# write. Keep it small (enqueue a job, write a row); raising fails the event and retries it.
Listener = Callable[[Connection, dict, "rules.Decision | None", float], None]


# batch_listener(conn, items, now): the same, once per batch with every matching event of the
# batch as ``items`` (a BatchItems: a list of (event, decision) pairs), so a feature can do
# set-based work (one query for 100 events).
BatchListener = Callable[[Connection, "BatchItems", float], None]


class BatchItems(list):
    """The ``(event, decision)`` pairs a batch listener gets, in the order the batch claimed them.

    ``snapshot(object_type, id)`` gives the object as the mirror holds it after this batch's writes
    (what a query of the mirror would return now) for every mirrored object the batch touched,
    without a query: listeners that act on "the newest state the desk holds" use it instead of
    re-reading (and re-parsing) the row.
    """

    def __init__(self, items=(), snapshots: dict[str, dict[str, repo.StoredVersion]] | None = None):
        super().__init__(items)
        self._snapshots = snapshots or {}

    def snapshot(self, object_type: str, object_id: str) -> dict | None:
        version = self._snapshots.get(object_type, {}).get(object_id)
        return version.data if version is not None else None


class EventListeners:
    """Other features subscribe to event types here (``"*"`` for every handled event).

    ``on`` calls the listener once per event; ``on_batch`` once per worker batch with all the
    batch's matching events (prefer it for anything that queries: per-event queries dominate the
    worker's cost). Both run inside the batch's transaction, after the mirror writes.
    """

    def __init__(self) -> None:
        self._by_type: dict[str, list[Listener]] = defaultdict(list)
        self._batch: list[tuple[frozenset[str] | None, BatchListener]] = []
        self._batch_types: set[str] = set()

    def on(self, event_type: str, listener: Listener) -> None:
        self._by_type[event_type].append(listener)

    def on_batch(self, event_types: list[str] | None, listener: BatchListener) -> None:
        """Subscribe ``listener`` to ``event_types`` (None: every event of the batch)."""
        self._batch.append((frozenset(event_types) if event_types else None, listener))
        self._batch_types.update(event_types or [])

    def for_type(self, event_type: str) -> list[Listener]:
        return self._by_type.get(event_type, []) + self._by_type.get("*", [])

    def batch_listeners(self) -> list[tuple[frozenset[str] | None, BatchListener]]:
        return list(self._batch)

    def has(self, event_type: str) -> bool:
        return bool(self._by_type.get(event_type)) or event_type in self._batch_types


def initial_status(event_type: str, object_type: str | None,
                   listeners: EventListeners | None = None) -> str:
    """``received`` for events the desk acts on, ``ignored`` for the rest (stored all the same)."""
    if object_type in rules.MIRRORED_OBJECTS:
        return "received"
    if listeners is not None and listeners.has(event_type):
        return "received"
    return "ignored"


UNPARSEABLE = "unparseable"


def load_payload(text: str | bytes) -> dict:
    """The JSON object of a stored or received body; raises :class:`PayloadError` saying why not.

    Python's parser refuses JSON nested past its recursion limit (about 1,000 levels) with a
    RecursionError, which is not a ValueError: it is caught here, with everything else a body
    can do wrong, so no caller ever sees it.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise PayloadError("the body's JSON nests too deeply to be read (Stripe's events nest "
                           "a few levels)") from None
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8 text") from None
    except ValueError as exc:
        raise PayloadError(f"the body is not JSON ({str(exc)[:100]})") from None
    if not isinstance(value, dict):
        raise PayloadError("the body is not a JSON object")
    return value


def _event_row(body: bytes, now: float, listeners: EventListeners | None) -> dict:
    event = load_payload(body)
    if event.get("object") != "event":
        raise PayloadError("the body is not a Stripe event (its object is not \"event\")")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    if not (isinstance(event_id, str) and event_id and isinstance(event_type, str)
            and event_type and isinstance(created, int) and not isinstance(created, bool)
            and isinstance(data, dict) and isinstance(data.get("object"), dict)):
        raise PayloadError("the body is not a Stripe event (id, type, created or data.object "
                           "is missing or of the wrong type)")
    obj = data["object"]
    object_type = obj.get("object") if isinstance(obj.get("object"), str) else None
    object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    status = initial_status(event_type, object_type, listeners)
    account, api_version = event.get("account"), event.get("api_version")
    return {
        "id": event_id, "type": event_type, "created": created,
        "account": account if isinstance(account, str) else None,
        "livemode": bool(event.get("livemode")),
        "api_version": api_version if isinstance(api_version, str) else None,
        "object_type": object_type, "object_id": object_id,
        "payload": body.decode("utf-8"), "status": status, "attempts": 0,
        "last_error": None, "next_attempt_at": now, "received_at": now,
        "processed_at": now if status == "ignored" else None,
    }


def event_row(body: bytes, now: float, listeners: EventListeners | None = None) -> dict | None:
    """The inbox row for a raw event body, or None when the body is not a Stripe event.

    Used by sync's catch-up (and, through :func:`received_row`, the webhook receiver). The body
    is kept byte for byte; only the fields the inbox indexes are read from it.
    """
    try:
        return _event_row(body, now, listeners)
    except PayloadError:
        return None


def unparseable_row(body: bytes, now: float, reason: str) -> dict:
    """A signed body that is not a usable event, kept as it came so nothing is lost.

    Its id is derived from the body, so Stripe's redeliveries of it are stored once. It is never
    claimed by the worker (status ``unparseable``) and shows in the events list with why.
    """
    text = body.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    return {
        "id": f"{UNPARSEABLE}_{hashlib.sha256(body).hexdigest()[:40]}", "type": UNPARSEABLE,
        "created": int(now), "account": None, "livemode": False, "api_version": None,
        "object_type": None, "object_id": None, "payload": text, "status": UNPARSEABLE,
        "attempts": 0, "last_error": reason, "next_attempt_at": now, "received_at": now,
        "processed_at": now,
    }


def received_row(body: bytes, now: float,
                 listeners: EventListeners | None = None) -> tuple[dict, PayloadError | None]:
    """What the webhook receiver stores for a signed body: the event's row, or an unparseable
    row and the reason to answer 400 with."""
    try:
        return _event_row(body, now, listeners), None
    except PayloadError as exc:
        return unparseable_row(body, now, exc.message), exc


@dataclass
class BatchResult:
    claimed: int = 0
    processed: int = 0
    ignored: int = 0
    retried: int = 0
    failed: int = 0
    refetches: int = 0


class EventFormatError(ValueError):
    """A stored event whose payload is not a usable Stripe event."""


def _parse(claimed: inbox.ClaimedEvent) -> dict:
    try:
        event = load_payload(claimed.payload)
        obj = event["data"]["object"]
    except (PayloadError, KeyError, TypeError) as exc:
        raise EventFormatError(f"event {claimed.id} has no data.object: {exc}") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise EventFormatError(f"event {claimed.id}: data.object has no id")
    return event


# fetch(object_type, object_id, account) -> the object as Stripe's API returns it now.
Fetch = Callable[[str, str, "str | None"], dict]


def _trusted(event: dict, fetch: Fetch) -> dict:
    """The event with ``data.object`` replaced by the object fetched from Stripe (refetch mode).

    The fetch happened after the event was created, so the snapshot is at least as new as the
    event; it keeps the event's ``created`` as its ordering key, like every fetched snapshot.
    """
    obj = event["data"]["object"]
    fetched = fetch(obj["object"], obj["id"], event.get("account"))
    if fetched.get("object") != obj["object"] or fetched.get("id") != obj["id"]:
        raise EventFormatError(f"Stripe returned {fetched.get('object')} {fetched.get('id')} "
                               f"for {obj['object']} {obj['id']}")
    return {**event, "data": {**event["data"], "object": fetched}}


def _apply(conn: Connection, batch: list[inbox.ClaimedEvent], now: float,
           listeners: EventListeners | None, result: BatchResult,
           fetch: Fetch | None = None) -> None:
    """Apply a batch of events to the mirror and mark them; raises on the first error."""
    parsed = [(c, _parse(c)) for c in batch]
    if fetch is not None:
        parsed = [(c, _trusted(e, fetch) if e["data"]["object"].get("object")
                   in rules.MIRRORED_OBJECTS else e) for c, e in parsed]
    mirrored = [(c, e) for c, e in parsed if e["data"]["object"].get("object") in rules.MIRRORED_OBJECTS]
    keys = {(e["data"]["object"]["object"], e["data"]["object"]["id"]) for _, e in mirrored}
    repo.lock_objects(conn, keys)
    by_type: dict[str, set[str]] = defaultdict(set)
    for object_type, object_id in keys:
        by_type[object_type].add(object_id)
    stored = {t: repo.load_versions(conn, t, ids) for t, ids in by_type.items()}
    current = {t: dict(v) for t, v in stored.items()}
    rows: dict[tuple[str, str], dict] = {}
    refetch: dict[tuple[str, str], tuple[str | None, int]] = {}
    decisions: dict[int, rules.Decision | None] = {}
    for claimed, event in mirrored:
        obj = event["data"]["object"]
        object_type, object_id = obj["object"], obj["id"]
        updated, rank = int(event["created"]), rules.rank(object_type, obj)
        decision = rules.decide(current[object_type].get(object_id), updated, rank, obj)
        decisions[claimed.seq] = decision
        if decision is rules.Decision.APPLY:
            current[object_type][object_id] = repo.StoredVersion(updated, rank, obj)
            rows[(object_type, object_id)] = rules.row_for(
                object_type, obj, stripe_updated=updated, account=event.get("account"), now=now)
        elif decision is rules.Decision.AMBIGUOUS:
            refetch[(object_type, object_id)] = (event.get("account"), updated)
    inserts: dict[str, list[dict]] = defaultdict(list)
    updates: dict[str, list[dict]] = defaultdict(list)
    for (object_type, object_id), row in sorted(rows.items()):
        target = updates if object_id in stored[object_type] else inserts
        target[object_type].append(row)
    for object_type, type_rows in inserts.items():
        repo.insert_rows(conn, object_type, type_rows)
    for object_type, type_rows in updates.items():
        repo.update_rows(conn, object_type, type_rows)
    # Refetches of the ties (``rules.enqueue_refetch``, at most one queued per object): one
    # statement for the batch.
    job_queue.enqueue_many(conn, [
        job_queue.NewJob("mirror.refetch", {"object_type": object_type, "object_id": object_id,
                                            "account": account, "trigger_updated": int(updated)},
                         dedupe_key=rules.refetch_dedupe_key(object_type, object_id))
        for (object_type, object_id), (account, updated) in sorted(refetch.items())], now=now)
    acted = set(decisions)  # events that touched the mirror, plus those a listener took
    for claimed, event in parsed:
        hooks = listeners.for_type(event["type"]) if listeners is not None else []
        for hook in hooks:
            hook(conn, event, decisions.get(claimed.seq), now)
        if hooks:
            acted.add(claimed.seq)
    for types, batch_hook in (listeners.batch_listeners() if listeners is not None else []):
        matching = [(claimed.seq, event) for claimed, event in parsed
                    if types is None or event["type"] in types]
        if matching:
            # ``current`` is the mirror after this batch's writes (stored rows, then every
            # snapshot applied), handed over so listeners need not read the rows back.
            batch_hook(conn, BatchItems([(event, decisions.get(seq)) for seq, event in matching],
                                        current), now)
            acted.update(seq for seq, _ in matching)
    processed = [c.seq for c, _ in parsed if c.seq in acted]
    ignored = [c.seq for c, _ in parsed if c.seq not in acted]
    inbox.mark_processed(conn, processed, now)
    inbox.mark_processed(conn, ignored, now, status="ignored")
    result.processed += len(processed)
    result.ignored += len(ignored)
    result.refetches += len(refetch)


def process_batch(store: Store, clock: Clock, *, limit: int = 100, max_attempts: int = 8,
                  listeners: EventListeners | None = None,
                  fetch: Fetch | None = None) -> BatchResult:
    """Claim up to ``limit`` due events and apply them (see module docstring).

    With ``fetch`` (``DISPUTEDESK_WEBHOOK_REFETCH``) the snapshot in a mirrored event is not
    trusted: the object is fetched from Stripe and that is what is applied and what listeners
    see; a failed fetch fails the event, which is retried like any other failure.
    """
    result = BatchResult()
    now = clock.now()
    with store.write() as conn:
        claimed = inbox.claim_batch(conn, now, limit)
        result.claimed = len(claimed)
        if not claimed:
            return result
        try:
            with conn.begin_nested():
                _apply(conn, claimed, now, listeners, result, fetch)
        except Exception:
            # Find the culprit(s): the same work again, one event per savepoint.
            for one in claimed:
                try:
                    with conn.begin_nested():
                        _apply(conn, [one], now, listeners, result, fetch)
                except Exception as exc:
                    attempts = one.attempts + 1
                    park = attempts >= max_attempts
                    error = f"{type(exc).__name__}: {exc}"
                    inbox.record_failure(conn, one.seq, error=error, attempts=attempts,
                                         next_attempt_at=now + backoff(attempts), park=park,
                                         now=now)
                    if park:
                        result.failed += 1
                        log.error("event %s parked as failed after %d attempts: %s",
                                  one.id, attempts, error)
                    else:
                        result.retried += 1
                        log.warning("event %s failed (attempt %d), retrying: %s",
                                    one.id, attempts, error)
    return result


def objects_due(store: Store, now: float, limit: int) -> set[tuple[str, str, str | None]]:
    """The mirrored objects (type, id, account) of the next ``limit`` due events, unlocked: what
    refetch mode fetches from Stripe before a batch's transaction opens."""
    with store.read() as conn:
        return {(t, i, a) for t, i, a in inbox.peek_objects(conn, now, limit)
                if t in rules.MIRRORED_OBJECTS}


# --- operator actions (events list|show|replay) -----------------------------------------------

def list_events(store: Store, *, status: str | None = None, type: str | None = None,
                object_id: str | None = None, limit: int = 50) -> list[dict]:
    with store.read() as conn:
        return inbox.list_events(conn, status=status, type=type, object_id=object_id, limit=limit)


def show_event(store: Store, event_id: str) -> dict:
    with store.read() as conn:
        row = inbox.get_event(conn, event_id)
    if row is None:
        raise NotFound(f"no stored event has the id '{event_id}'", object_id=event_id,
                       hint="`disputedesk events list` shows the stored events")
    return row


def replay(store: Store, clock: Clock, *, actor: str, event_id: str | None = None,
           type: str | None = None, failed: bool = False) -> int:
    """Queue events again for the worker; writes one audit entry. Returns how many."""
    if not (event_id or type or failed):
        raise ValidationError("say which events to replay: an event id, --type, or --failed")
    now = clock.now()
    with store.write() as conn:
        row = inbox.get_event(conn, event_id) if event_id else None
        if event_id and row is None:
            raise NotFound(f"no stored event has the id '{event_id}'", object_id=event_id)
        if row is not None and row["status"] == UNPARSEABLE:
            raise ValidationError(f"event {event_id} could not be read when it arrived, so "
                                  "there is nothing to apply", param="event_id",
                                  object_id=event_id, hint=row["last_error"])
        count = inbox.requeue(conn, now, event_id=event_id, type=type, failed=failed)
        audit.append(conn, at=now, actor=actor, action="events.replay", object_type="event",
                     object_id=event_id,
                     details={"type": type, "failed": failed, "count": count})
    return count

