"""Emitting Stripe events: a snapshot of the object, stored in the account's event log and
handed to the webhook deliverer for every endpoint that wants it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .render import optional, wire
from .state import Obj, clone

if TYPE_CHECKING:
    from .context import Ctx
    from .emulator import Emulator


# `account` only on Connect events, `context` (an Organizations feature) never: see render.py
optional("event", "account", "context")


class EventLog:
    def __init__(self, emulator: "Emulator") -> None:
        self._emulator = emulator

    def emit(self, ctx: "Ctx", event_type: str, obj: Obj,
             previous_attributes: dict[str, Any] | None = None) -> Obj:
        emulator = self._emulator
        account = ctx.account
        data: dict[str, Any] = {"object": wire(obj)}  # wire() copies
        if previous_attributes is not None:
            data["previous_attributes"] = clone(previous_attributes)
        endpoints = emulator.webhooks.matching_endpoints(account, event_type)
        event: Obj = {
            "id": emulator.ids.new("event"),
            "object": "event",
            "api_version": emulator.api_version,
            "created": emulator.clock.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(endpoints),
            "request": {"id": ctx.request_id, "idempotency_key": ctx.idempotency_key},
            "type": event_type,
        }
        if account.connected:  # only Connect events name the account; `context` is unused
            event = {"id": event["id"], "object": "event", "account": account.id,
                     **{k: v for k, v in event.items() if k not in ("id", "object")}}
        account.collection("event").add(event)
        if endpoints:
            emulator.webhooks.enqueue(account, event, endpoints)
        return event


def event_payload(event: Obj) -> bytes:
    """The exact bytes delivered (and signed): Stripe sends pretty-printed JSON."""
    return json.dumps(event, indent=2).encode()
