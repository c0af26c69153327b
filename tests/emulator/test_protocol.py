"""Raw wire protocol (httpx, not the SDK): auth, errors, headers, body parsing, accounts."""

from __future__ import annotations

import base64

import httpx
import pytest

AUTH = {"Authorization": "Bearer sk_test_abc123"}


def test_missing_key_gets_stripes_401_body(base_url: str) -> None:
    r = httpx.get(f"{base_url}/v1/charges")
    assert r.status_code == 401
    assert r.json() == {"error": {
        "type": "invalid_request_error",
        "message": "You did not provide an API key. You need to provide your API key in the "
                   "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                   "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                   "details, or we can help at https://support.stripe.com/."}}
    assert r.headers["Request-Id"].startswith("req_")


@pytest.mark.parametrize("header", ["Bearer sk_live_1234567890abcdef", "Bearer pk_test_123456789",
                                    "Bearer sk_test_", "Token sk_test_123", "Basic !!!"])
def test_malformed_or_non_test_key_is_refused_with_401(base_url: str, header: str) -> None:
    r = httpx.get(f"{base_url}/v1/charges", headers={"Authorization": header})
    assert r.status_code == 401
    body = r.json()["error"]
    assert body["type"] == "invalid_request_error"
    assert "sk_live_1234567890abcdef" not in body["message"]  # keys are masked


def test_basic_auth_with_key_as_username_is_accepted(base_url: str) -> None:
    token = base64.b64encode(b"sk_test_abc123:").decode()
    r = httpx.get(f"{base_url}/v1/charges", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 200
    assert r.json() == {"object": "list", "data": [], "has_more": False, "url": "/v1/charges"}


def test_every_response_has_a_request_id_and_stripe_version_is_accepted(base_url: str) -> None:
    r = httpx.get(f"{base_url}/v1/refunds",
                  headers={**AUTH, "Stripe-Version": "2026-10-28.endive"})
    assert r.status_code == 200
    assert r.headers["Request-Id"].startswith("req_")


@pytest.mark.parametrize("method,path,headers", [
    ("GET", "/v1/refunds", {}),                                   # 401
    ("GET", "/v1/refunds/re_missing", AUTH),                       # 404 resource_missing
    ("POST", "/v1/refunds", AUTH),                                 # 400 parameter_missing
    ("DELETE", "/v1/refunds", AUTH),                               # wrong method: 404
    ("GET", "/v1/nothing/here", AUTH),                             # unknown URL
    ("GET", "/v1/charges", {**AUTH, "Stripe-Account": "nobody"}),  # 403
    ("GET", "/_emulator/clock", {}),                               # control plane
    ("POST", "/_emulator/clock/advance", {}),                      # control plane error
    ("GET", "/_emulator/deliveries", {}),
])
def test_request_id_on_errors_and_control_plane(base_url: str, method: str, path: str,
                                                 headers: dict[str, str]) -> None:
    r = httpx.request(method, f"{base_url}{path}", headers=headers)
    assert r.headers["Request-Id"].startswith("req_")
    assert r.headers["content-type"].startswith("application/json")


def test_wrong_method_on_a_known_path_is_stripes_unrecognized_url(base_url: str) -> None:
    r = httpx.request("PUT", f"{base_url}/v1/refunds", headers=AUTH)
    assert r.status_code == 404
    assert r.json()["error"]["message"].startswith("Unrecognized request URL (PUT: /v1/refunds)")


def test_unknown_url_is_a_stripe_shaped_404(base_url: str) -> None:
    r = httpx.post(f"{base_url}/v1/no_such_thing", headers=AUTH)
    assert r.status_code == 404
    assert r.json()["error"]["message"].startswith("Unrecognized request URL (POST: /v1/no_such_thing)")


def test_unknown_parameter_is_400_parameter_unknown(base_url: str) -> None:
    r = httpx.post(f"{base_url}/v1/refunds", headers=AUTH, data={"charge": "ch_1", "colour": "x"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["code"], err["param"], err["type"]) == ("parameter_unknown", "colour",
                                                       "invalid_request_error")


def test_bad_integer_is_400_parameter_invalid_integer(base_url: str) -> None:
    r = httpx.post(f"{base_url}/v1/payment_intents", headers=AUTH,
                   data={"amount": "ten", "currency": "usd"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "parameter_invalid_integer"
    assert r.json()["error"]["param"] == "amount"


@pytest.mark.parametrize("body,ctype", [
    (b"\xff\xfe=\x00", "application/x-www-form-urlencoded"),
    (b'{"amount": 100}', "application/json"),
    (b"metadata=1&metadata[a]=2", "application/x-www-form-urlencoded"),
    (b"a]b=1", "application/x-www-form-urlencoded"),
    (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
])
def test_malformed_bodies_get_400_not_a_crash(base_url: str, body: bytes, ctype: str) -> None:
    r = httpx.post(f"{base_url}/v1/payment_intents", headers={**AUTH, "Content-Type": ctype},
                   content=body)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_metadata_as_a_hash_of_hashes_is_refused(base_url: str) -> None:
    r = httpx.post(f"{base_url}/v1/payment_intents", headers=AUTH,
                   data={"amount": "100", "currency": "usd", "metadata[a][b]": "c"})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "metadata[a]"


def test_bracket_syntax_reaches_nested_params(base_url: str) -> None:
    r = httpx.post(f"{base_url}/v1/payment_intents", headers=AUTH, data={
        "amount": "1500", "currency": "usd", "metadata[order]": "A-1", "metadata[step]": "2",
        "payment_method_types[]": "card", "expand[]": "latest_charge",
        "payment_method": "pm_card_visa", "confirm": "true",
        "shipping[name]": "Ada", "shipping[address][line1]": "1 Main St"})
    assert r.status_code == 200, r.text
    pi = r.json()
    assert pi["metadata"] == {"order": "A-1", "step": "2"}
    assert pi["payment_method_types"] == ["card"]
    assert pi["latest_charge"]["object"] == "charge"
    assert pi["shipping"]["address"]["line1"] == "1 Main St"


def test_get_query_strings_use_the_same_bracket_syntax(base_url: str) -> None:
    r = httpx.get(f"{base_url}/v1/events", headers=AUTH,
                  params={"types[0]": "charge.succeeded", "types[1]": "refund.created",
                          "created[gte]": "0"})
    assert r.status_code == 200


def test_invalid_stripe_account_header_is_refused(base_url: str) -> None:
    r = httpx.get(f"{base_url}/v1/charges", headers={**AUTH, "Stripe-Account": "nobody"})
    assert r.status_code == 403
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_connected_accounts_do_not_see_each_others_objects(base_url: str) -> None:
    data = {"amount": "1000", "currency": "usd", "source": "tok_visa"}
    a = httpx.post(f"{base_url}/v1/charges", headers={**AUTH, "Stripe-Account": "acct_A"},
                   data=data).json()
    seen_by_b = httpx.get(f"{base_url}/v1/charges/{a['id']}",
                          headers={**AUTH, "Stripe-Account": "acct_B"})
    seen_by_platform = httpx.get(f"{base_url}/v1/charges", headers=AUTH).json()
    seen_by_a = httpx.get(f"{base_url}/v1/charges/{a['id']}",
                          headers={**AUTH, "Stripe-Account": "acct_A"})
    assert seen_by_b.status_code == 404
    assert seen_by_platform["data"] == []
    assert seen_by_a.status_code == 200
    event = httpx.get(f"{base_url}/v1/events", headers={**AUTH, "Stripe-Account": "acct_A"},
                      params={"type": "charge.succeeded"}).json()["data"][0]
    assert event["account"] == "acct_A"
