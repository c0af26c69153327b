"""Events API, webhook endpoints and signed delivery with retries."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import stripe


def pay(client: Any) -> Any:
    return client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})


def test_payment_emits_stripes_events_in_order(client: Any) -> None:
    pi = pay(client)
    types = [e.type for e in client.v1.events.list().data]
    assert types == ["payment_intent.succeeded", "charge.succeeded", "payment_intent.created"]
    event = client.v1.events.list(params={"type": "charge.succeeded"}).data[0]
    assert event.data.object.payment_intent == pi.id
    assert event.livemode is False and event.api_version == "2026-10-28.endive"
    assert client.v1.events.retrieve(event.id).id == event.id


def test_events_filter_by_types_and_wildcard(client: Any) -> None:
    pay(client)
    both = client.v1.events.list(params={"types": ["charge.succeeded", "payment_intent.created"]})
    wildcard = client.v1.events.list(params={"type": "payment_intent.*"})
    assert sorted(e.type for e in both.data) == ["charge.succeeded", "payment_intent.created"]
    assert {e.type for e in wildcard.data} == {"payment_intent.created", "payment_intent.succeeded"}


def test_events_filter_by_created_and_page_newest_first(client: Any, emulator: Any) -> None:
    pay(client)
    emulator.advance(100)
    later = pay(client)
    newest = client.v1.events.list(params={"created": {"gt": later.created - 1}}).data
    assert {e.data.object.id for e in newest if e.type.startswith("payment_intent.")} == {later.id}
    assert all(e.created >= later.created for e in newest)
    older = client.v1.events.list(params={"created": {"lt": later.created}}).data
    assert len(older) == 3 and all(e.created < later.created for e in older)
    walked = list(client.v1.events.list(params={"limit": 2}).auto_paging_iter())
    assert len(walked) == 6
    assert [e.created for e in walked] == sorted((e.created for e in walked), reverse=True)


def test_event_snapshot_does_not_change_with_the_object(client: Any) -> None:
    pi = pay(client)
    client.v1.refunds.create(params={"payment_intent": pi.id})
    snapshot = client.v1.events.list(params={"type": "charge.succeeded"}).data[0]
    assert snapshot.data.object.amount_refunded == 0


def test_webhook_endpoint_crud(client: Any) -> None:
    created = client.v1.webhook_endpoints.create(params={
        "url": "https://example.com/a", "enabled_events": ["charge.refunded"],
        "description": "desk"})
    assert created.secret.startswith("whsec_") and created.status == "enabled"
    updated = client.v1.webhook_endpoints.update(created.id, params={
        "enabled_events": ["*"], "disabled": True})
    assert (updated.enabled_events, updated.status) == (["*"], "disabled")
    assert [w.id for w in client.v1.webhook_endpoints.list().data] == [created.id]
    assert "secret" not in client.v1.webhook_endpoints.retrieve(created.id)
    deleted = client.v1.webhook_endpoints.delete(created.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.retrieve(created.id)


def test_webhook_endpoint_needs_url_and_events(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.webhook_endpoints.create(params={"url": "https://example.com/a"})
    assert info.value.code == "parameter_missing"


def test_deliveries_are_signed_like_stripe_and_verify_with_the_sdk(client: Any, webhook_sink: Any) -> None:
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": webhook_sink.url, "enabled_events": ["charge.succeeded", "refund.created"]})
    pi = pay(client)
    client.v1.refunds.create(params={"payment_intent": pi.id})
    webhook_sink.wait_for(lambda s: len(s.requests) >= 2)
    for request in webhook_sink.requests:
        header = request["headers"]["Stripe-Signature"]
        assert stripe.WebhookSignature.verify_header(request["body"].decode(), header,
                                                     endpoint.secret, tolerance=300)
    assert sorted(e["type"] for e in webhook_sink.events()) == ["charge.succeeded", "refund.created"]


def test_failed_deliveries_are_retried_and_logged(client: Any, webhook_sink: Any,
                                                   base_url: str) -> None:
    webhook_sink.statuses = [500, 503]
    client.v1.webhook_endpoints.create(params={"url": webhook_sink.url,
                                               "enabled_events": ["payment_intent.created"]})
    client.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})
    webhook_sink.wait_for(lambda s: len(s.requests) >= 3)
    event_id = webhook_sink.events()[0]["id"]

    def log() -> list[dict[str, Any]]:
        return httpx.get(f"{base_url}/_emulator/deliveries", params={"event": event_id}).json()["data"]
    webhook_sink.wait_for(lambda s: log()[0]["status"] == "succeeded")
    delivery = log()[0]
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert client.v1.events.retrieve(event_id).pending_webhooks == 0


def test_delivery_gives_up_after_the_retry_schedule(client: Any, webhook_sink: Any,
                                                    base_url: str) -> None:
    webhook_sink.statuses = [500] * 10
    client.v1.webhook_endpoints.create(params={"url": webhook_sink.url,
                                               "enabled_events": ["*"]})
    client.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})

    def log() -> list[dict[str, Any]]:
        return httpx.get(f"{base_url}/_emulator/deliveries").json()["data"]
    webhook_sink.wait_for(lambda s: bool(log()) and log()[0]["status"] == "failed")
    assert len(log()[0]["attempts"]) == 4  # first try + 3 retries, like test mode
    event = client.v1.events.list(params={"delivery_success": False}).data[0]
    assert event.pending_webhooks == 1


def test_trigger_resends_an_event(client: Any, webhook_sink: Any, base_url: str) -> None:
    client.v1.webhook_endpoints.create(params={"url": webhook_sink.url,
                                               "enabled_events": ["payment_intent.created"]})
    client.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})
    webhook_sink.wait_for(lambda s: len(s.requests) == 1)
    event_id = webhook_sink.events()[0]["id"]
    r = httpx.post(f"{base_url}/_emulator/trigger", json={"event": event_id})
    assert r.status_code == 200
    webhook_sink.wait_for(lambda s: len(s.requests) == 2)
    assert [e["id"] for e in webhook_sink.events()] == [event_id, event_id]


def test_trigger_emits_a_new_event_for_an_object(client: Any, base_url: str) -> None:
    pi = pay(client)
    r = httpx.post(f"{base_url}/_emulator/trigger",
                   json={"type": "charge.updated", "object": pi.latest_charge})
    assert r.json()["type"] == "charge.updated"
    assert client.v1.events.list(params={"type": "charge.updated"}).data[0].data.object.id == pi.latest_charge


def test_payload_is_the_event_as_the_api_returns_it(client: Any, webhook_sink: Any) -> None:
    client.v1.webhook_endpoints.create(params={"url": webhook_sink.url, "enabled_events": ["*"]})
    client.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})
    webhook_sink.wait_for(lambda s: len(s.requests) == 1)
    delivered = json.loads(webhook_sink.requests[0]["body"])
    assert delivered == client.v1.events.retrieve(delivered["id"]).to_dict() | {
        "pending_webhooks": delivered["pending_webhooks"]}


# ----------------------------------------------------------------------------- connected accounts

def test_connected_accounts_have_their_own_events_and_webhooks(emulator_server: Any,
                                                               webhook_sink: Any) -> None:
    platform = emulator_server.stripe_client()
    connected = emulator_server.stripe_client(stripe_account="acct_1ConnectedHooks00")
    other_sink_url = webhook_sink.url + "/connected"
    platform.v1.webhook_endpoints.create(params={"url": webhook_sink.url,
                                                 "enabled_events": ["charge.succeeded"]})
    connected.v1.webhook_endpoints.create(params={"url": other_sink_url,
                                                  "enabled_events": ["charge.succeeded"]})
    pay(connected)
    webhook_sink.wait_for(lambda s: len(s.requests) >= 1)
    # the connected account's charge goes only to its own endpoint, and says whose it is
    assert platform.v1.events.list().data == []
    (event,) = connected.v1.events.list(params={"type": "charge.succeeded"}).data
    assert event.account == "acct_1ConnectedHooks00"
    (own_endpoint,) = connected.v1.webhook_endpoints.list().data
    deliveries = httpx.get(f"{emulator_server.base_url}/_emulator/deliveries").json()["data"]
    assert [(d["event"], d["webhook_endpoint"]) for d in deliveries] == [
        (event.id, own_endpoint.id)]
    first = webhook_sink.requests[0]
    assert (json.loads(first["body"])["id"], first["path"]) == (event.id, "/webhooks/connected")
    assert platform.v1.webhook_endpoints.list().data[0].url == webhook_sink.url
    with pytest.raises(stripe.InvalidRequestError):
        platform.v1.events.retrieve(event.id)


def test_platform_connect_endpoint_receives_connected_account_events(emulator_server: Any,
                                                                     webhook_sink: Any) -> None:
    platform = emulator_server.stripe_client()
    connected = emulator_server.stripe_client(stripe_account="acct_1ConnectedHooks01")
    platform.v1.webhook_endpoints.create(params={"url": webhook_sink.url, "connect": True,
                                                 "enabled_events": ["charge.succeeded"]})
    pay(platform)       # not a Connect event: a connect endpoint does not get it
    pay(connected)
    webhook_sink.wait_for(lambda s: len(s.requests) >= 1)
    (event,) = connected.v1.events.list(params={"type": "charge.succeeded"}).data
    deliveries = httpx.get(f"{emulator_server.base_url}/_emulator/deliveries").json()["data"]
    assert [(d["event"], d["account"]) for d in deliveries] == [
        (event.id, "acct_1ConnectedHooks01")]
    assert json.loads(webhook_sink.requests[0]["body"])["account"] == "acct_1ConnectedHooks01"
