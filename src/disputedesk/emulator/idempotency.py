"""Idempotency keys kept as Stripe keeps them: per account and key, for 24 hours of emulator time.

The first response (success or error, including 500s) is saved with a fingerprint of the request;
the same key with the same request replays it (``Idempotent-Replayed: true``), with different
parameters it is a 400 ``idempotency_error``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import errors

TTL_SECONDS = 24 * 60 * 60
MAX_KEY_LENGTH = 255


@dataclass
class Saved:
    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str]
    request_id: str
    created: float


def fingerprint(method: str, path: str, params: dict[str, Any]) -> str:
    return f"{method} {path} " + json.dumps(params, sort_keys=True, default=repr)


def check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise errors.invalid(
            f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters long; the one "
            f"provided has {len(key)}.", param="Idempotency-Key")


def lookup(store: dict[str, Saved], key: str, fp: str, now: float) -> Saved | None:
    saved = store.get(key)
    if saved is None:
        return None
    if now - saved.created >= TTL_SECONDS:
        del store[key]
        return None
    if saved.fingerprint != fp:
        raise errors.idempotency(
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            "different request.")
    return saved
