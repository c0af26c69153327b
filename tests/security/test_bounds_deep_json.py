"""A correctly signed webhook whose JSON nests 10,000 levels deep, against the real server: a
clear 400, the raw body kept as an ``unparseable`` event (shown in the events list, the API and
the dashboard), the worker unharmed (the next event is applied), and no replay of it."""

from __future__ import annotations

import json
import time

import httpx

from disputedesk.services import accounts
from disputedesk.testing import (
    TEST_WEBHOOK_SECRET,
    make_dispute,
    make_event,
    sign_payload,
    signed_delivery,
)

from conftest import PASSWORD, poll, sign_in

DEPTH = 10_000


def _deep_event_body() -> bytes:
    head = json.dumps({"id": "evt_deep_nesting", "object": "event",
                       "type": "charge.dispute.created", "created": int(time.time()),
                       "data": {"object": "@"}})
    before, after = head.split('"@"')
    return (before + '{"a": ' * DEPTH + "1" + "}" * DEPTH + after).encode()


def _post_signed(desk, body: bytes) -> httpx.Response:
    headers = {"Stripe-Signature": sign_payload(body, TEST_WEBHOOK_SECRET, timestamp=int(time.time())),
               "Content-Type": "application/json"}
    return httpx.post(desk.url + "/webhooks/stripe", content=body, headers=headers, timeout=30)


def test_ten_thousand_levels_of_json_in_a_signed_webhook_are_refused_and_kept(desk, admin_api):
    body = _deep_event_body()
    response = _post_signed(desk, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "payload_invalid" and "nests too deeply" in error["message"]
    stored_id = error["message"].split("stored as ")[1].split()[0]

    listed = admin_api.get("/api/v1/events", params={"status": "unparseable"}).json()["data"]
    assert [e["id"] for e in listed] == [stored_id]
    assert "nests too deeply" in listed[0]["last_error"]
    shown = admin_api.get(f"/api/v1/events/{stored_id}").json()
    assert shown["payload"].encode() == body  # the raw body, byte for byte

    again = _post_signed(desk, body)  # Stripe's redelivery: stored once
    assert again.status_code == 400
    assert len(admin_api.get("/api/v1/events", params={"status": "unparseable"}).json()["data"]) == 1

    replay = admin_api.post("/api/v1/events/replay", json={"event_id": stored_id})
    assert replay.status_code == 400 and "could not be read" in replay.text


def test_the_worker_goes_on_applying_events_after_a_deep_one(desk, admin_api):
    _post_signed(desk, _deep_event_body())
    event = make_event("charge.dispute.created", make_dispute(charge="ch_after_deep"),
                       created=int(time.time()))
    body, headers = signed_delivery(event)
    assert httpx.post(desk.url + "/webhooks/stripe", content=body, headers=headers).status_code == 200

    def applied():
        row = admin_api.get(f"/api/v1/events/{event['id']}").json()
        return row if row["status"] == "processed" else None

    assert poll(applied), admin_api.get(f"/api/v1/events/{event['id']}").json()
    assert desk.proc.poll() is None
    assert httpx.get(desk.url + "/readyz").status_code == 200


def test_the_dashboard_shows_an_unparseable_event_without_an_error(desk, admin_api):
    _post_signed(desk, _deep_event_body())
    stored_id = admin_api.get("/api/v1/events", params={"status": "unparseable"}).json()["data"][0]["id"]
    accounts.create_user(desk.deps(), username="deepviewer", role="viewer",
                         password=PASSWORD)
    with httpx.Client(base_url=desk.url, follow_redirects=False) as browser:
        sign_in(browser, "deepviewer")
        listing = browser.get("/events?status=unparseable")
        assert listing.status_code == 200 and stored_id in listing.text
        detail = browser.get(f"/events/{stored_id}")
        assert detail.status_code == 200 and "nests too deeply" in detail.text


def test_a_signed_body_that_is_not_json_is_kept_as_unparseable_too(desk, admin_api):
    body = b'{"id": "evt_broken", "object": "event", "type": "charge.dispute.created",'
    response = _post_signed(desk, body)
    assert response.status_code == 400 and "not JSON" in response.json()["error"]["message"]
    stored = admin_api.get("/api/v1/events", params={"status": "unparseable"}).json()["data"]
    assert any(admin_api.get(f"/api/v1/events/{e['id']}").json()["payload"].encode() == body
               for e in stored)
