"""POST /webhooks/stripe through a real uvicorn server, with events signed as Stripe signs them."""

from __future__ import annotations

import concurrent.futures
import json

import httpx
import pytest

from disputedesk.config import Settings
from disputedesk.store import inbox
from disputedesk.testing import (
    TEST_WEBHOOK_SECRET,
    event_body,
    make_dispute,
    make_event,
    run_server,
    sign_payload,
    signed_delivery,
)
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps

URL = "/webhooks/stripe"
OLD_SECRET = "whsec_old_rotating_out_000000000000"
NEW_SECRET = "whsec_new_rotating_in_1111111111111"


@pytest.fixture
def server(deps):
    with run_server(create_app(deps)) as base_url:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            yield client


def stored(deps, event_id):
    with deps.store.read() as conn:
        return inbox.get_event(conn, event_id)


def deliver(client, event, secret=TEST_WEBHOOK_SECRET, *, timestamp):
    body, headers = signed_delivery(event, secret, timestamp=timestamp)
    return client.post(URL, content=body, headers=headers)


def test_a_signed_event_is_stored_raw_before_the_200(server, deps, clock):
    event = make_event("charge.dispute.created", make_dispute())
    body, headers = signed_delivery(event, timestamp=int(clock.now()))
    response = server.post(URL, content=body, headers=headers)
    assert response.status_code == 200
    row = stored(deps, event["id"])
    assert row["payload"] == body.decode()
    assert (row["status"], row["type"], row["object_id"]) == (
        "received", "charge.dispute.created", event["data"]["object"]["id"])


def test_a_duplicate_delivery_answers_200_and_is_stored_once(server, deps, clock):
    event = make_event("charge.dispute.created", make_dispute())
    now = int(clock.now())
    assert deliver(server, event, timestamp=now).status_code == 200
    assert deliver(server, event, timestamp=now + 60).status_code == 200  # a retry: new signature
    with deps.store.read() as conn:
        assert len(inbox.list_events(conn)) == 1


def test_a_tampered_body_is_refused(server, deps, clock):
    event = make_event("charge.dispute.created", make_dispute(amount=100))
    body, headers = signed_delivery(event, timestamp=int(clock.now()))
    tampered = body.replace(b'"amount": 100', b'"amount": 999')
    response = server.post(URL, content=tampered, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "signature_invalid"
    assert stored(deps, event["id"]) is None


def test_a_signature_from_an_unknown_secret_is_refused(server, clock):
    event = make_event("charge.dispute.created", make_dispute())
    assert deliver(server, event, "whsec_someone_else", timestamp=int(clock.now())).status_code == 400


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_timestamps_outside_the_tolerance_are_refused_past_and_future(server, deps, clock, offset):
    event = make_event("charge.dispute.created", make_dispute())
    response = deliver(server, event, timestamp=int(clock.now()) + offset)
    assert response.status_code == 400
    assert stored(deps, event["id"]) is None


@pytest.mark.parametrize("prefix", ["x=1, ", ""])
def test_an_old_delivery_cannot_be_replayed_behind_a_second_fresh_timestamp(server, deps, clock,
                                                                           prefix):
    event = make_event("charge.dispute.created", make_dispute())
    body = event_body(event)
    old = int(clock.now()) - 30 * 86400
    signed_old = sign_payload(body, TEST_WEBHOOK_SECRET, timestamp=old)
    # The SDK's HMAC reads the exact "t" item; a second, fresh one must not pass the time check.
    header = f"{prefix}t={int(clock.now())},{signed_old}"
    response = server.post(URL, content=body, headers={"Stripe-Signature": header,
                                                        "Content-Type": "application/json"})
    assert response.status_code == 400
    assert stored(deps, event["id"]) is None


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_inside_the_tolerance_are_accepted(server, clock, offset):
    event = make_event("charge.dispute.created", make_dispute())
    assert deliver(server, event, timestamp=int(clock.now()) + offset).status_code == 200


@pytest.mark.parametrize("header", [None, "", "garbage", "t=abc,v1=00", "t=1760000000",
                                    "v1=deadbeef"])
def test_missing_or_malformed_signature_headers_are_refused(server, clock, header):
    body = event_body(make_event("charge.dispute.created", make_dispute()))
    headers = {} if header is None else {"Stripe-Signature": header}
    assert server.post(URL, content=body, headers=headers).status_code == 400


def test_only_v1_signatures_count(server, clock):
    body = event_body(make_event("charge.dispute.created", make_dispute()))
    ts = int(clock.now())
    v1 = sign_payload(body, TEST_WEBHOOK_SECRET, timestamp=ts, test_v0=False).split(",")[1]
    downgraded = f"t={ts},v0={v1.split('=')[1]}"
    assert server.post(URL, content=body, headers={"Stripe-Signature": downgraded}).status_code == 400


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"event"', b'{"object": "event"}',
                                  b'{"id": "evt_1", "object": "charge", "type": "x", "created": 1,'
                                  b' "data": {"object": {}}}',
                                  b'{"id": "evt_1", "object": "event", "type": "x", "created": "1",'
                                  b' "data": {"object": {}}}'])
def test_signed_bodies_that_are_not_events_are_refused(server, clock, body):
    headers = {"Stripe-Signature": sign_payload(body, TEST_WEBHOOK_SECRET,
                                                timestamp=int(clock.now()))}
    response = server.post(URL, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "payload_invalid"


def test_a_body_that_is_not_utf8_is_refused(server, clock):
    body = b'{"id": "evt_\xff"}'
    headers = {"Stripe-Signature": sign_payload(body, TEST_WEBHOOK_SECRET,
                                                timestamp=int(clock.now()))}
    assert server.post(URL, content=body, headers=headers).status_code == 400


def test_an_oversized_body_is_refused_with_413(server, deps, clock):
    dispute = make_dispute(metadata={"filler": "x" * deps.settings.webhook_max_body_bytes})
    event = make_event("charge.dispute.created", dispute)
    response = deliver(server, event, timestamp=int(clock.now()))
    assert response.status_code == 413
    assert stored(deps, event["id"]) is None


def test_an_oversized_chunked_body_without_length_is_refused_with_413(server, deps, clock):
    chunk = b"x" * 65536
    chunks = (deps.settings.webhook_max_body_bytes // len(chunk)) + 2

    def stream():
        for _ in range(chunks):
            yield chunk

    response = server.post(URL, content=stream(), headers={"Stripe-Signature": "t=1,v1=00"})
    assert response.status_code == 413


def test_unknown_event_types_are_stored_and_marked_ignored(server, deps, clock):
    event = make_event("customer.subscription.created",
                       {"id": "sub_1", "object": "subscription", "status": "active"})
    assert deliver(server, event, timestamp=int(clock.now())).status_code == 200
    assert stored(deps, event["id"])["status"] == "ignored"


def test_get_on_the_webhook_route_is_405(server):
    response = server.get(URL)
    assert response.status_code == 405


def test_concurrent_deliveries_are_all_stored(server, deps, clock):
    events = [make_event("charge.dispute.created", make_dispute()) for _ in range(200)]
    now = int(clock.now())
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda e: deliver(server, e, timestamp=now).status_code, events))
    assert codes == [200] * len(events)
    with deps.store.read() as conn:
        assert inbox.counts_by_status(conn)["received"] == len(events)


@pytest.mark.parametrize("signed_with", [[OLD_SECRET], [NEW_SECRET], [OLD_SECRET, NEW_SECRET]])
def test_during_secret_rotation_either_secret_is_accepted(sqlite_url, tmp_path, clock, signed_with):
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        webhook_secrets=f"{OLD_SECRET},{NEW_SECRET}")
    deps = build_deps(settings, clock=clock, migrate=False)
    try:
        with run_server(create_app(deps)) as base_url:
            event = make_event("charge.dispute.created", make_dispute())
            body = event_body(event)
            header = sign_payload(body, signed_with, timestamp=int(clock.now()))
            response = httpx.post(base_url + URL, content=body,
                                  headers={"Stripe-Signature": header})
            assert response.status_code == 200
            assert json.loads(stored(deps, event["id"])["payload"])["id"] == event["id"]
    finally:
        deps.close()


def test_after_rotation_the_retired_secret_is_refused(sqlite_url, tmp_path, clock):
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path, webhook_secrets=NEW_SECRET)
    deps = build_deps(settings, clock=clock, migrate=False)
    try:
        with run_server(create_app(deps)) as base_url:
            body = event_body(make_event("charge.dispute.created", make_dispute()))
            header = sign_payload(body, OLD_SECRET, timestamp=int(clock.now()))
            assert httpx.post(base_url + URL, content=body,
                              headers={"Stripe-Signature": header}).status_code == 400
    finally:
        deps.close()
