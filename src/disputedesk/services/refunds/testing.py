"""Helpers for refund tests and the bulk bench: a desk pointed at an emulator, paid charges,
and the emulator's events fed through the desk's inbox (as webhooks would deliver them)."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.services.events import initial_status
from disputedesk.store import inbox


def desk_settings(database_url: str, emulator_url: str, data_dir, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=database_url, data_dir=data_dir, stripe_api_key=SecretStr("sk_test_desk"),
        stripe_api_base=emulator_url, stripe_rate_limit=1000, stripe_max_retries=3,
        stripe_timeout=10)
    values.update(overrides)
    return Settings(**values)


def pay(client, amount: int = 5000, currency: str = "usd", pm: str = "pm_card_visa", *,
        metadata: dict[str, str] | None = None, email: str | None = None) -> str:
    """A succeeded card payment on the emulator; returns its charge id."""
    params: dict[str, Any] = {
        "amount": amount, "currency": currency, "payment_method": pm, "confirm": True,
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}
    if metadata:
        params["metadata"] = metadata
    if email:
        params["receipt_email"] = email
    intent = client.v1.payment_intents.create(params=params)
    latest = intent.latest_charge
    return latest if isinstance(latest, str) else latest.id


def pump_events(deps, *, rounds: int = 1) -> int:
    """Fetch every event from Stripe (the emulator), store new ones in the inbox exactly as the
    webhook receiver does, and run the worker until idle. Returns events stored."""
    from disputedesk.worker import Worker

    stored = 0
    for _ in range(rounds):
        now = deps.clock.now()
        rows = []
        for event in deps.gateway().list_objects("event", {}):
            obj = event["data"]["object"]
            status = initial_status(event["type"], obj.get("object"), deps.event_listeners)
            rows.append({
                "id": event["id"], "type": event["type"], "created": event["created"],
                "account": event.get("account"), "livemode": bool(event.get("livemode")),
                "api_version": event.get("api_version"), "object_type": obj.get("object"),
                "object_id": obj.get("id"), "payload": json.dumps(event), "status": status,
                "attempts": 0, "last_error": None, "next_attempt_at": now, "received_at": now,
                "processed_at": now if status == "ignored" else None})
        rows.sort(key=lambda r: r["created"])
        with deps.store.write() as conn:
            inbox.insert_events(conn, rows)
        stored += len(rows)
        Worker(deps).run_until_idle()
    return stored


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy (returned) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not become true in time")
        time.sleep(interval)
