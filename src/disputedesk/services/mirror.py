"""The mirror's rules: which columns an object fills, and which of two snapshots is newer.

Ordering rule (explicit, tested in tests/contract/test_mirror_ordering.py)
--------------------------------------------------------------------------
Every snapshot carries a version ``(stripe_updated, stripe_rank)``:

* ``stripe_updated`` is the ``created`` second of the event that carried the snapshot;
* ``stripe_rank`` encodes fields that only move forward in an object's life, used to order two
  snapshots from the *same* second:

  - dispute: status progression (warning_needs_response < warning_under_review < needs_response
    < under_review < terminal), then ``evidence_details.submission_count``, then
    ``evidence_details.has_evidence``, then the number of ``balance_transactions``;
  - refund: requires_action < pending < succeeded < failed = canceled;
  - charge: pending < succeeded = failed, then ``captured``, ``amount_refunded``, ``disputed``;
  - payment_intent: its status progression, then ``amount_received``;
  - early fraud warning: actionable < not actionable;
  - file: no progression (rank 0).

A snapshot replaces the stored one only when its version is greater. Equal versions with equal
data change nothing (a duplicate). Equal versions with *different* data cannot be ordered from the
data: the stored snapshot stays and a ``mirror.refetch`` job fetches the object from Stripe.
Which event *type* carried the snapshot never matters: state comes from ``data.object``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Protocol

from disputedesk.domain import disputes as d
from disputedesk.store.mirror import StoredVersion


class ObjectFetcher(Protocol):
    """What the mirror needs from Stripe: one object by its ``object`` name and id.

    The real implementation is ``stripe_api.gateway.StripeGateway``; tests use a fake.
    Returns the object as a plain dict exactly as Stripe renders it.
    """

    def fetch_object(self, object_type: str, object_id: str, *,
                     account: str | None = None) -> dict: ...


def _id(value: Any) -> str | None:
    """An expandable field: an id string, an expanded object, or null."""
    if isinstance(value, dict):
        return value.get("id")
    return value


_DISPUTE_STATUS = {
    "warning_needs_response": 0, "warning_under_review": 1, "needs_response": 2,
    "under_review": 3, "warning_closed": 4, "won": 4, "lost": 4, "prevented": 4,
}
_REFUND_STATUS = {"requires_action": 0, "pending": 1, "succeeded": 2, "failed": 3, "canceled": 3}
_CHARGE_STATUS = {"pending": 0, "succeeded": 1, "failed": 1}
_PI_STATUS = {
    "requires_payment_method": 0, "requires_confirmation": 1, "requires_action": 2,
    "processing": 3, "requires_capture": 4, "succeeded": 5, "canceled": 5,
}


def _clamp(value: Any, top: int) -> int:
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(number, top))


def _dispute_rank(d: dict) -> int:
    details = d.get("evidence_details") or {}
    return (_DISPUTE_STATUS.get(d.get("status"), 0) * 10**9
            + _clamp(details.get("submission_count"), 99_999) * 10**3
            + (1 if details.get("has_evidence") else 0) * 10**2
            + _clamp(len(d.get("balance_transactions") or []), 99))


def _refund_rank(r: dict) -> int:
    return _REFUND_STATUS.get(r.get("status"), 0)


def _charge_rank(c: dict) -> int:
    return (_CHARGE_STATUS.get(c.get("status"), 0) * 10**15
            + (1 if c.get("captured") else 0) * 10**14
            + _clamp(c.get("amount_refunded"), 10**13 - 1) * 10
            + (1 if c.get("disputed") else 0))


def _pi_rank(p: dict) -> int:
    return _PI_STATUS.get(p.get("status"), 0) * 10**14 + _clamp(p.get("amount_received"), 10**14 - 1)


def _efw_rank(w: dict) -> int:
    return 0 if w.get("actionable", True) else 1


def _common(o: dict) -> dict:
    return {"id": o["id"], "livemode": bool(o.get("livemode", False)), "created": o.get("created")}


def _charge_columns(c: dict) -> dict:
    return {**_common(c), "status": c.get("status"), "amount": c.get("amount"),
            "amount_captured": c.get("amount_captured"), "amount_refunded": c.get("amount_refunded"),
            "currency": c.get("currency"), "customer": _id(c.get("customer")),
            "payment_intent": _id(c.get("payment_intent")), "disputed": c.get("disputed"),
            "refunded": c.get("refunded")}


def _pi_columns(p: dict) -> dict:
    return {**_common(p), "status": p.get("status"), "amount": p.get("amount"),
            "amount_received": p.get("amount_received"), "currency": p.get("currency"),
            "customer": _id(p.get("customer")), "latest_charge": _id(p.get("latest_charge"))}


def _refund_columns(r: dict) -> dict:
    return {**_common(r), "status": r.get("status"), "amount": r.get("amount"),
            "currency": r.get("currency"), "charge": _id(r.get("charge")),
            "payment_intent": _id(r.get("payment_intent")), "reason": r.get("reason")}


def _dispute_columns(d: dict) -> dict:
    return {**_common(d), "status": d.get("status"), "reason": d.get("reason"),
            "amount": d.get("amount"), "currency": d.get("currency"),
            "charge": _id(d.get("charge")), "payment_intent": _id(d.get("payment_intent")),
            "due_by": (d.get("evidence_details") or {}).get("due_by")}


def _efw_columns(w: dict) -> dict:
    return {**_common(w), "actionable": w.get("actionable"), "fraud_type": w.get("fraud_type"),
            "charge": _id(w.get("charge")), "payment_intent": _id(w.get("payment_intent"))}


def _file_columns(f: dict) -> dict:
    return {**_common(f), "purpose": f.get("purpose"), "size": f.get("size"),
            "type": f.get("type"), "filename": f.get("filename")}


# Stripe ``object`` name -> (columns, rank). The table per type is in store/tables.py.
SPECS: dict[str, tuple[Callable[[dict], dict], Callable[[dict], int]]] = {
    "charge": (_charge_columns, _charge_rank),
    "payment_intent": (_pi_columns, _pi_rank),
    "refund": (_refund_columns, _refund_rank),
    "dispute": (_dispute_columns, _dispute_rank),
    "radar.early_fraud_warning": (_efw_columns, lambda w: _efw_rank(w)),
    "file": (_file_columns, lambda f: 0),
}
MIRRORED_OBJECTS = frozenset(SPECS)

# Statuses after which an object can still change on Stripe's side (reconciliation targets).
OPEN_DISPUTE_STATUSES = d.OPEN_STATUSES  # appeals included
NON_FINAL_REFUND_STATUSES = ("pending", "requires_action")


def rank(object_type: str, obj: dict) -> int:
    return SPECS[object_type][1](obj)


def row_for(object_type: str, obj: dict, *, stripe_updated: int, account: str | None,
            now: float) -> dict:
    """The mirror row for a snapshot: query columns, ordering key and the whole object."""
    columns, ranker = SPECS[object_type]
    return {**columns(obj), "account": account, "stripe_updated": int(stripe_updated),
            "stripe_rank": ranker(obj), "mirrored_at": now, "data": obj}


class Decision(enum.Enum):
    APPLY = "apply"        # incoming is newer (or the object is new): write it
    STALE = "stale"        # incoming is older: keep what we have
    SAME = "same"          # same version, same data: a duplicate
    AMBIGUOUS = "ambiguous"  # same version, different data: refetch from Stripe


def decide(stored: StoredVersion | None, incoming_updated: int, incoming_rank: int,
           incoming_data: dict) -> Decision:
    """The ordering rule (module docstring) as one pure function."""
    if stored is None:
        return Decision.APPLY
    theirs = (stored.stripe_updated, stored.stripe_rank)
    ours = (incoming_updated, incoming_rank)
    if ours > theirs:
        return Decision.APPLY
    if ours < theirs:
        return Decision.STALE
    return Decision.SAME if stored.data == incoming_data else Decision.AMBIGUOUS


def refetch_dedupe_key(object_type: str, object_id: str) -> str:
    return f"mirror.refetch:{object_type}:{object_id}"


def enqueue_refetch(conn, object_type: str, object_id: str, *, account: str | None,
                    trigger_updated: int, now: float) -> bool:
    """Queue one ``mirror.refetch`` for the object (at most one queued per object)."""
    from disputedesk.store import jobs as job_queue

    return job_queue.enqueue(
        conn, "mirror.refetch",
        {"object_type": object_type, "object_id": object_id, "account": account,
         "trigger_updated": int(trigger_updated)},
        now=now, dedupe_key=refetch_dedupe_key(object_type, object_id))


def apply_fetched(conn, object_type: str, obj: dict, *, account: str | None,
                  trigger_updated: int, now: float) -> bool:
    """Store an object fetched from Stripe, unless an event newer than the trigger arrived.

    The fetch happened after the ambiguity (or reconciliation) that queued it, so it is at least
    as new as every snapshot of ``trigger_updated``; it is stored with that second as its
    ``stripe_updated`` so any later event still replaces it. Returns True when written.
    """
    from disputedesk.store import mirror as repo

    object_id = obj.get("id")
    if not object_id or obj.get("object") != object_type:
        raise ValueError(f"fetched object is not a {object_type}: {str(obj)[:200]}")
    repo.lock_objects(conn, [(object_type, object_id)])
    stored = repo.load_versions(conn, object_type, [object_id]).get(object_id)
    if stored is not None and stored.stripe_updated > trigger_updated:
        return False  # a newer event landed while we were fetching: it wins
    row = row_for(object_type, obj, stripe_updated=trigger_updated, account=account, now=now)
    if stored is None:
        repo.insert_rows(conn, object_type, [row])
    else:
        repo.update_rows(conn, object_type, [row])
    return True
