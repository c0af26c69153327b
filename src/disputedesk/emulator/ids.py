"""Deterministic Stripe-style ids: ``ch_`` + 24 base62 characters drawn from a seeded RNG.

Stripe's prefixes per object type live in :data:`PREFIXES`; :func:`object_type_for` maps an id
back to its type so ``expand[]`` and the control plane can find any object from its id alone.
"""

from __future__ import annotations

import random
import threading
from typing import Callable

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# object type (Stripe's ``object`` value) -> id prefix
PREFIXES: dict[str, str] = {
    "payment_intent": "pi",
    "charge": "ch",
    "refund": "re",
    "balance_transaction": "txn",
    "event": "evt",
    "webhook_endpoint": "we",
    "dispute": "du",
    "file": "file",
    "file_link": "link",
    "radar.early_fraud_warning": "issfr",
    "payment_method": "pm",
    "card": "card",
    "customer": "cus",
    "request": "req",
    "account": "acct",
}
_TYPE_BY_PREFIX = {v: k for k, v in PREFIXES.items()}


def object_type_for(object_id: str) -> str | None:
    """The object type an id belongs to, from its prefix (``None`` if unknown)."""
    prefix, sep, _ = object_id.partition("_")
    if not sep:
        return None
    return _TYPE_BY_PREFIX.get(prefix)


class IdGenerator:
    """Same seed, same sequence of calls -> same ids (thread-safe).

    ``taken(id)`` says whether an id is already in use anywhere (the emulator passes its own
    lookup): a drawn id that is taken is skipped, so two generators on the same stream (seed
    data and API calls made with the same ``--seed``) never hand out the same id.
    """

    def __init__(self, seed: int | str | None = 0,
                 taken: Callable[[str], bool] | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._taken = taken

    def token(self, length: int = 24) -> str:
        with self._lock:
            return "".join(self._rng.choices(ALPHABET, k=length))

    def new(self, object_type: str, length: int = 24) -> str:
        """A fresh id for an object type (``"charge"`` -> ``ch_...``) or a raw prefix."""
        prefix = PREFIXES.get(object_type, object_type)
        while True:
            object_id = f"{prefix}_{self.token(length)}"
            if self._taken is None or not self._taken(object_id):
                return object_id
