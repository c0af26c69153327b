"""Emitting Stripe events: a snapshot of the object, stored in the account's event log and
handed to the webhook deliverer for every endpoint that wants it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .state import Obj, clone

if TYPE_CHECKING:
    from .context import Ctx
    from .emulator import Emulator


class EventLog:
    def __init__(self, emulator: "Emulator") -> None:
        self._emulator = emulator

    def emit(self, ctx: "Ctx", event_type: str, obj: Obj,
             previous_attributes: dict[str, Any] | None = None) -> Obj:
        emulator = self._emulator
        account = ctx.account
        data: dict[str, Any] = {"object": clone(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = clone(previous_attributes)
        endpoints = emulator.webhooks.matching_endpoints(account, event_type)
        event: Obj = {
            "id": emulator.ids.new("event"),
            "object": "event",
            "account": account.id if account.connected else None,
            "api_version": emulator.api_version,
            "context": None,
            "created": emulator.clock.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(endpoints),
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            "type": event_type,
        }
        account.collection("event").add(event)
        if endpoints:
            emulator.webhooks.enqueue(account, event, endpoints)
        return event


def event_payload(event: Obj) -> bytes:
    """The exact bytes delivered (and signed): Stripe sends pretty-printed JSON."""
    return json.dumps(event, indent=2).encode()
