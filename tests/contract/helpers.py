"""Small helpers shared by the contract suites (storing events straight into the inbox)."""

from __future__ import annotations

import json

from disputedesk.services.events import initial_status
from disputedesk.store import inbox


def event_row(event: dict, now: float = 0.0) -> dict:
    obj = event["data"]["object"]
    status = initial_status(event["type"], obj.get("object"))
    return dict(id=event["id"], type=event["type"], created=event["created"],
                account=event.get("account"), livemode=bool(event.get("livemode")),
                api_version=event.get("api_version"), object_type=obj.get("object"),
                object_id=obj.get("id"), payload=json.dumps(event, indent=2), status=status,
                attempts=0, last_error=None, next_attempt_at=now, received_at=now,
                processed_at=now if status == "ignored" else None)


def store_events(deps, events: list[dict]) -> None:
    now = deps.clock.now()
    with deps.store.write() as conn:
        inbox.insert_events(conn, [event_row(e, now) for e in events])


def event_status(deps, event_id: str) -> dict:
    with deps.store.read() as conn:
        return inbox.get_event(conn, event_id)
