"""``/api/v1/events``: list, show and replay stored webhook events, by role."""

from __future__ import annotations

import json

import httpx
import pytest

from disputedesk.services import accounts
from disputedesk.store import inbox
from disputedesk.testing import make_charge, make_event, run_server
from disputedesk.web.app import create_app
from disputedesk.worker import Worker


@pytest.fixture
def api(deps):
    tokens = {role: accounts.token_for_role(deps, role, name=role)
              for role in ("viewer", "agent")}
    with run_server(create_app(deps)) as url:
        clients = {role: httpx.Client(base_url=f"{url}/api/v1",
                                      headers={"Authorization": f"Bearer {token}"})
                   for role, token in tokens.items()}
        clients["anonymous"] = httpx.Client(base_url=f"{url}/api/v1")
        yield clients
        for c in clients.values():
            c.close()


def _store_failed_event(deps) -> str:
    event = make_event("charge.succeeded", make_charge())
    now = deps.clock.now()
    with deps.store.write() as conn:
        inbox.insert_events(conn, [{
            "id": event["id"], "type": event["type"], "created": event["created"],
            "account": None, "livemode": False, "api_version": event.get("api_version"),
            "object_type": "charge", "object_id": event["data"]["object"]["id"],
            "payload": json.dumps(event), "status": "failed", "attempts": 8,
            "last_error": "RuntimeError: boom", "next_attempt_at": now, "received_at": now,
            "processed_at": None}])
    return event["id"]


def test_events_are_listed_and_shown_to_viewers_but_not_to_anonymous(deps, api):
    event_id = _store_failed_event(deps)
    assert api["anonymous"].get("/events").status_code == 401
    listed = api["viewer"].get("/events", params={"status": "failed"})
    assert listed.status_code == 200
    (row,) = listed.json()["data"]
    assert row["id"] == event_id and row["last_error"] == "RuntimeError: boom"
    shown = api["viewer"].get(f"/events/{event_id}").json()
    assert shown["payload"]["id"] == event_id
    assert api["viewer"].get("/events/evt_missing").status_code == 404


def test_replaying_failed_events_needs_the_replay_permission_and_the_worker_applies_them(deps,
                                                                                       api):
    event_id = _store_failed_event(deps)
    assert api["viewer"].post("/events/replay", json={"failed": True}).status_code == 403
    assert api["agent"].post("/events/replay", json={}).status_code == 400
    replayed = api["agent"].post("/events/replay", json={"failed": True})
    assert replayed.status_code == 200 and replayed.json() == {"replayed": 1}
    Worker(deps).run_until_idle()
    assert api["viewer"].get(f"/events/{event_id}").json()["status"] == "processed"
