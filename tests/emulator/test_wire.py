"""Requests the way Stripe takes and refuses them, Stripe-Version, and Connect events on the wire
(the schema-wide checks are in tests/emulator/conformance)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import stripe

H = {"Authorization": "Bearer sk_test_wire"}


def post(base_url: str, path: str, data: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(base_url + path, data=data, headers={**H, **headers})


def error_of(r: httpx.Response) -> dict[str, Any]:
    return r.json()["error"]


@pytest.mark.parametrize("path,data,param,code", [
    ("/v1/payment_intents", {"amount": 100, "currency": "usd", "receipt_email": "not-an-email"},
     "receipt_email", "email_invalid"),
    ("/v1/charges", {"amount": 100, "currency": "usd", "source": "tok_visa",
                     "receipt_email": "a@b"}, "receipt_email", "email_invalid"),
    ("/v1/payment_intents", {"amount": 100, "currency": "usd", "customer": "cus_doesnotexist"},
     "customer", "resource_missing"),
    ("/v1/charges", {"amount": 100, "currency": "usd", "source": "tok_visa",
                     "customer": "cus_doesnotexist"}, "customer", "resource_missing"),
    ("/v1/payment_intents", {"amount": 100, "currency": "usd", "shipping": "123 Main St"},
     "shipping", None),
    ("/v1/payment_intents", {"amount": 100, "currency": "usd", "shipping[name]": "Ada"},
     "shipping[address]", "parameter_missing"),
    ("/v1/payment_intents", {"amount": 100, "currency": "usd",
                             "application_fee_amount": "lots"},
     "application_fee_amount", "parameter_invalid_integer"),
    ("/v1/payment_intents", {"amount": 100, "currency": "usd", "use_stripe_sdk": "maybe"},
     "use_stripe_sdk", "parameter_invalid_boolean"),
    ("/v1/payment_intents", {"amount": 100, "currency": "usd", "hooks": "x"}, "hooks", None),
    ("/v1/payment_intents", {"amount": 100, "currency": "usd", "bogus": "1"}, "bogus",
     "parameter_unknown"),
    ("/v1/payment_intents", {"amount": 100, "currency": "usd",
                             "statement_descriptor": "x" * 23}, "statement_descriptor",
     "parameter_invalid_string"),
    ("/v1/payment_intents", {"amount": 0, "currency": "usd"}, "amount", "amount_too_small"),
])
def test_bad_input_is_refused_with_stripes_error_shape(base_url: str, path: str,
                                                       data: dict[str, Any], param: str,
                                                       code: str | None) -> None:
    r = post(base_url, path, data)
    err = error_of(r)
    assert r.status_code == 400 and err["type"] == "invalid_request_error"
    assert err["param"] == param and err["message"]
    assert err.get("code") == code
    if code:
        assert err["doc_url"] == "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
    listed = httpx.get(base_url + "/v1/payment_intents", headers=H).json()["data"]
    assert listed == []  # nothing half-made


def test_a_refund_with_a_malformed_instructions_email_is_refused(client: Any,
                                                                base_url: str) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    r = post(base_url, "/v1/refunds", {"payment_intent": pi.id,
                                       "instructions_email": "not-an-email"})
    assert r.status_code == 400
    assert (error_of(r)["code"], error_of(r)["param"]) == ("email_invalid", "instructions_email")
    assert client.v1.refunds.list().data == []


def test_connect_and_fee_params_are_stored_and_echoed(client: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "application_fee_amount": 123,
        "transfer_data": {"destination": "acct_1Destination0000"},
        "on_behalf_of": "acct_1Destination0000",
        "excluded_payment_method_types": ["klarna"],
        "amount_details": {"tip": {"amount": 100}}, "payment_details": {"order_reference": "o1"},
        "hooks": {"inputs": {"tax": {"calculation": "taxcalc_1"}}}})
    assert pi.application_fee_amount == 123
    assert pi.transfer_data.to_dict() == {"destination": "acct_1Destination0000"}
    assert pi.on_behalf_of == "acct_1Destination0000"
    assert pi.excluded_payment_method_types == ["klarna"]
    shipping = {"name": "Ada", "address": {"line1": "1 Main St", "country": "US"}}
    confirmed = client.v1.payment_intents.confirm(pi.id, params={
        "payment_method": "pm_card_visa", "shipping": shipping})
    assert confirmed.status == "succeeded"
    assert confirmed.shipping.to_dict() == {
        "address": {"city": None, "country": "US", "line1": "1 Main St", "line2": None,
                    "postal_code": None, "state": None},
        "carrier": None, "name": "Ada", "phone": None, "tracking_number": None}
    charge = client.v1.charges.retrieve(confirmed.latest_charge)
    assert charge.shipping.address.line2 is None and charge.shipping.name == "Ada"


def test_optional_fields_are_left_out_and_nullable_ones_present(base_url: str,
                                                                client: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    charge = httpx.get(f"{base_url}/v1/charges/{pi.latest_charge}", headers=H).json()
    for absent in ("level3", "transfer", "radar_options", "refunds", "presentment_details"):
        assert absent not in charge
    assert "rule" not in charge["outcome"] and "stripe_report" not in charge["fraud_details"]
    assert charge["failure_code"] is None and charge["review"] is None  # nullable: present
    body = httpx.get(f"{base_url}/v1/payment_intents/{pi.id}", headers=H).json()
    assert "amount_details" not in body and "hooks" not in body
    assert body["cancellation_reason"] is None


def test_stripe_version_is_echoed_and_old_versions_embed_charge_refunds(base_url: str,
                                                                       client: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 100})
    url = f"{base_url}/v1/charges/{pi.latest_charge}"
    today = httpx.get(url, headers=H)
    assert today.headers["Stripe-Version"] == "2026-10-28.endive"
    assert "refunds" not in today.json()
    old = httpx.get(url, headers={**H, "Stripe-Version": "2022-08-01"})
    assert old.headers["Stripe-Version"] == "2022-08-01"
    assert [r["id"] for r in old.json()["refunds"]["data"]] == [refund.id]
    assert old.json()["refunds"]["url"] == f"/v1/charges/{pi.latest_charge}/refunds"
    events = httpx.get(f"{base_url}/v1/events", params={"limit": 3},
                       headers={**H, "Stripe-Version": "2022-08-01"}).json()["data"]
    assert {e["api_version"] for e in events} == {"2022-08-01"}
    bad = httpx.get(url, headers={**H, "Stripe-Version": "yesterday"})
    assert bad.status_code == 400 and "Invalid Stripe API version" in error_of(bad)["message"]


def test_the_account_default_version_applies_without_a_header(client: Any,
                                                               emulator: Any,
                                                               base_url: str) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    default = emulator.api_version
    emulator.api_version = "2022-08-01"
    try:
        r = httpx.get(f"{base_url}/v1/charges/{pi.latest_charge}", headers=H)
        assert r.headers["Stripe-Version"] == "2022-08-01"
        assert r.json()["refunds"]["data"] == []
    finally:
        emulator.api_version = default


def test_deliveries_are_rendered_at_each_endpoints_api_version(client: Any, webhook_sink: Any,
                                                               base_url: str) -> None:
    for version in ("2026-08-26.dahlia", None):
        client.v1.webhook_endpoints.create(params={
            "url": webhook_sink.url + ("?v=pinned" if version else ""),
            "enabled_events": ["charge.succeeded"],
            **({"api_version": version} if version else {})})
    client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    webhook_sink.wait_for(lambda s: len(s.requests) >= 2)
    by_path = {r["path"]: json.loads(r["body"]) for r in webhook_sink.requests}
    assert by_path["/webhooks?v=pinned"]["api_version"] == "2026-08-26.dahlia"
    assert by_path["/webhooks"]["api_version"] == "2026-10-28.endive"
    r = post(base_url, "/v1/webhook_endpoints", {"url": "https://x.example/h",
                                                 "enabled_events[0]": "*",
                                                 "api_version": "latest"})
    assert r.status_code == 400 and error_of(r)["param"] == "api_version"


def handle_event(event: dict[str, Any]) -> str:
    """What a Connect-aware webhook handler does: branch on ``"account" in event``."""
    if "account" in event:
        return f"connected:{event['account']}"
    return "platform"


def test_a_connect_handler_branching_on_account_takes_the_right_path(
        emulator_server: Any, webhook_sink: Any) -> None:
    platform = emulator_server.stripe_client()
    platform.v1.webhook_endpoints.create(params={"url": webhook_sink.url,
                                                 "enabled_events": ["charge.succeeded"]})
    platform.v1.webhook_endpoints.create(params={"url": webhook_sink.url + "?connect",
                                                 "enabled_events": ["charge.succeeded"],
                                                 "connect": True})
    platform.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    connected = emulator_server.stripe_client(stripe_account="acct_1Connected000000")
    connected.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    webhook_sink.wait_for(lambda s: len(s.requests) >= 2)
    paths = {r["path"]: handle_event(json.loads(r["body"])) for r in webhook_sink.requests}
    assert paths == {"/webhooks": "platform",
                     "/webhooks?connect": "connected:acct_1Connected000000"}
    # the SDK sees the same thing through its own event objects
    event = stripe.Event.construct_from(json.loads(webhook_sink.requests[0]["body"]), "k")
    assert ("account" in event) == (webhook_sink.requests[0]["path"] != "/webhooks")
