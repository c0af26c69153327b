"""Nothing a client sends crashes the emulator: random requests against the ASGI app in-process.

Hypothesis throws methods, paths (real routes with real, random and hostile ids), headers (keys,
accounts, idempotency keys, content types) and bodies (bracket-syntax forms, raw bytes, broken
multipart) at the app. Every answer must carry a ``Request-Id`` and be either a success with a
JSON object (or a file's bytes) or a Stripe-shaped error: never a 500 from an unhandled exception.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
import warnings

with warnings.catch_warnings():  # starlette suggests httpx2; plain httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from disputedesk.emulator import Emulator, create_app
from disputedesk.emulator.context import Ctx
from disputedesk.emulator.resources import disputes, files, payment_intents, refunds

ERROR_TYPES = {"api_error", "card_error", "idempotency_error", "invalid_request_error",
               "rate_limit_error"}
KEY = "sk_test_fuzz"


@pytest.fixture(scope="module")
def app_and_ids() -> Iterator[tuple[TestClient, list[str]]]:
    em = Emulator(seed=9)
    with em.lock:
        ctx = Ctx(em, em.platform)
        pi = payment_intents.create_and_confirm(ctx, amount=5000, currency="usd",
                                                payment_method="pm_card_visa")
        charge = em.platform.collection("charge").get(pi["latest_charge"])
        refund = refunds.create_refund(ctx, charge, amount=100)
        upload = files.create_file(ctx, purpose="dispute_evidence", filename="r.pdf",
                                   content=b"%PDF-1.4\n%%EOF\n")
        pi2 = payment_intents.create_and_confirm(ctx, amount=3000, currency="usd",
                                                 payment_method="pm_card_visa")
        dispute = disputes.open_dispute(ctx, pi2["latest_charge"], "fraudulent", "chargeback",
                                        False)
    ids = [pi["id"], charge["id"], refund["id"], upload["id"], dispute["id"],
           refund["balance_transaction"]]
    # raise_server_exceptions=False: an unhandled exception shows up as a 500, which we refuse
    with TestClient(create_app(em), raise_server_exceptions=False) as client:
        yield client, ids


def _paths(ids: list[str]) -> st.SearchStrategy[str]:
    hostile = st.sampled_from(["", "x", "%00", "..", "%2e%2e", "ch_" + "a" * 300, "%ff%fe",
                               "ch_%22%27", "null", "0", "-1"])
    any_id = st.one_of(st.sampled_from(ids), hostile,
                       st.text(min_size=1, max_size=30).map(lambda t: quote(t, safe="")))
    templates = st.sampled_from([
        "/v1/payment_intents", "/v1/payment_intents/{}", "/v1/payment_intents/{}/confirm",
        "/v1/payment_intents/{}/capture", "/v1/payment_intents/{}/cancel", "/v1/charges",
        "/v1/charges/{}", "/v1/charges/{}/capture", "/v1/charges/{}/refunds",
        "/v1/charges/{}/refund", "/v1/charges/{}/dispute", "/v1/refunds", "/v1/refunds/{}",
        "/v1/refunds/{}/cancel", "/v1/test_helpers/refunds/{}/expire", "/v1/disputes",
        "/v1/disputes/{}", "/v1/disputes/{}/close", "/v1/files", "/v1/files/{}",
        "/v1/files/{}/contents", "/v1/radar/early_fraud_warnings",
        "/v1/radar/early_fraud_warnings/{}", "/v1/events", "/v1/events/{}",
        "/v1/webhook_endpoints", "/v1/webhook_endpoints/{}", "/v1/balance_transactions",
        "/v1/balance_transactions/{}", "/v1/{}", "/{}", "/_emulator/clock",
        "/_emulator/clock/advance", "/_emulator/trigger", "/_emulator/deliveries",
        "/_emulator/faults",
    ])
    return st.builds(lambda t, i: t.replace("{}", i), templates, any_id)


_KEYS = st.sampled_from([
    "amount", "currency", "charge", "payment_intent", "reason", "metadata[k]", "metadata",
    "metadata[]", "expand[]", "expand[0]", "expand", "limit", "starting_after", "ending_before",
    "created[gt]", "created", "evidence[customer_name]", "evidence[receipt]", "evidence",
    "evidence[enhanced_evidence][visa_compelling_evidence_3][prior_undisputed_transactions][0][charge]",
    "submit", "confirm", "payment_method", "source", "capture_method", "url",
    "enabled_events[]", "enabled_events", "purpose", "file", "type", "types[]", "seconds",
    "event", "object", "rate_limit", "error_rate", "latency_ms", "a[b][c][d][e]", "[]", "a]",
    "amount[]", "disabled", "description", "amount_to_capture", "file_link_data[create]",
])
_VALUES = st.one_of(
    st.sampled_from(["", "1", "-1", "0", "2000", "usd", "true", "false", "null", "nan", "inf",
                     "1e308", "99999999999999999999999", "pm_card_visa", "tok_visa",
                     "pm_card_createDispute", "winning_evidence", "*", "charge",
                     "http://127.0.0.1:1/x", "ch_x", "\x00", "é"]),
    st.text(max_size=40),
)
_FORM = st.lists(st.tuples(_KEYS, _VALUES), max_size=8).map(urlencode)
_BODY = st.one_of(_FORM.map(str.encode), st.binary(max_size=200),
                  st.just(b'{"seconds": 1e999}'), st.just(b'{"seconds": "NaN"}'),
                  st.just(b"[1, 2]"))
_CTYPES = st.sampled_from([None, "application/x-www-form-urlencoded", "application/json",
                           "multipart/form-data", "multipart/form-data; boundary=xyz",
                           "text/plain", "application/x-www-form-urlencoded; charset=latin-1"])
_AUTH = st.one_of(st.just(f"Bearer {KEY}"), st.none(), st.sampled_from([
    "Bearer", "Bearer sk_live_x", "Basic !!", "Basic " + "c2tfdGVzdF94Og==", "bearer  sk_test_y ",
    "Digest x"]), st.text(max_size=20))
_ACCOUNT = st.one_of(st.none(), st.sampled_from(["acct_1Fuzz", "acct_", "nobody", "acct_" + "z" * 300]))
_IDEMPOTENCY = st.one_of(st.none(), st.sampled_from(["k1", "k2", "", "x" * 300]))
_METHODS = st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"])


def _header_safe(value: str) -> bool:
    return all(32 <= ord(c) < 127 for c in value)


def _check(response: Any, method: str) -> None:
    assert response.status_code != 500, response.text
    assert response.headers.get("Request-Id", "").startswith("req_"), response.headers
    if method == "HEAD":
        return
    ctype = response.headers.get("content-type", "")
    if not ctype.startswith("application/json"):
        # only a file's bytes may be something other than JSON
        assert response.status_code == 200 and "/contents" in str(response.url), ctype
        return
    body = json.loads(response.content)
    assert isinstance(body, dict)
    if response.status_code >= 400:
        error = body["error"]
        assert error["type"] in ERROR_TYPES and isinstance(error["message"], str)
    else:
        assert "error" not in body


@settings(max_examples=int(os.environ.get("EMULATOR_FUZZ_EXAMPLES", "400")), deadline=None,
          database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data(), method=_METHODS, body=_BODY, ctype=_CTYPES, auth=_AUTH, account=_ACCOUNT,
       idempotency=_IDEMPOTENCY, query=_FORM)
def test_random_requests_get_stripe_shaped_answers(app_and_ids: Any, data: Any, method: str,
                                                   body: bytes, ctype: str | None,
                                                   auth: str | None, account: str | None,
                                                   idempotency: str | None, query: str) -> None:
    client, ids = app_and_ids
    path = data.draw(_paths(ids))
    headers: dict[str, str] = {}
    for name, value in (("Authorization", auth), ("Content-Type", ctype),
                        ("Stripe-Account", account), ("Idempotency-Key", idempotency)):
        if value is not None and _header_safe(value):
            headers[name] = value
    url = path + ("?" + query if query else "")
    response = client.request(method, url, content=body if method not in ("GET", "HEAD") else None,
                              headers=headers)
    _check(response, method)


def test_the_fuzz_check_refuses_a_crash(app_and_ids: Any) -> None:
    # guards against a check that cannot fail: a plain 500 without Stripe's shape is refused
    class Fake:
        status_code, text, url, content = 500, "boom", "/v1/x", b"boom"
        headers = {"Request-Id": "req_1", "content-type": "text/plain"}

    with pytest.raises(AssertionError):
        _check(Fake(), "GET")


# hostile requests that random generation rarely finds: each once, always
HOSTILE = [
    ("POST", "/_emulator/clock/advance", b'{"seconds": 1e999}', "application/json"),
    ("POST", "/_emulator/clock/advance", b"seconds=nan", None),
    ("POST", "/_emulator/clock/advance", b"seconds=1e300", None),
    ("POST", "/_emulator/clock/advance", b'{"seconds": true}', "application/json"),
    ("POST", "/_emulator/faults", b"rate_limit=inf&error_rate=nan", None),
    ("POST", "/_emulator/faults", b"latency_ms=1e20", None),
    ("POST", "/_emulator/faults", b"seed=1e30", None),
    ("POST", "/_emulator/trigger", b'{"event": ["evt_1"]}', "application/json"),
    ("POST", "/_emulator/trigger", b'{"type": {"a": 1}, "object": "ch_1"}', "application/json"),
    ("POST", "/_emulator/trigger", b'{"account": 5, "event": "evt_1"}', "application/json"),
    ("POST", "/_emulator/seed", b'{"charges": "many"}', "application/json"),
    ("POST", "/_emulator/seed", b'{"charges": 1e999}', "application/json"),
    ("POST", "/_emulator/seed", b"[]", "application/json"),
    ("GET", "/_emulator/deliveries?event[]=1&status[x]=2", b"", None),
    ("FOO", "/v1/charges", b"", None),
    ("DELETE", "/v1/payment_intents/%0A0", b"", None),  # the catch-all path cannot match "\n"
    ("GET", "/v1/charges/%0A/capture", b"", None),
    ("GET", "/_emulator/reset", b"", None),
    ("POST", "/v1/refunds", b"charge[]=1&amount[a]=2", None),
    ("POST", "/v1/refunds", b"amount=1&amount=2&charge=ch_x", None),
    ("POST", "/v1/files", b"--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n",
     "multipart/form-data; boundary=xyz"),
    ("GET", "/v1/charges?limit=1e3&created[gt]=abc", b"", None),
    ("GET", "/v1/events?types[a]=x&type[]=y", b"", None),
    ("GET", "/v1/disputes?expand[]=data.charge.customer.x.y", b"", None),
]


@pytest.mark.parametrize("method,path,body,ctype", HOSTILE)
def test_hostile_requests_get_stripe_shaped_answers(app_and_ids: Any, method: str, path: str,
                                                    body: bytes, ctype: str | None) -> None:
    client, _ = app_and_ids
    headers = {"Authorization": f"Bearer {KEY}"}
    if ctype:
        headers["Content-Type"] = ctype
    response = client.request(method, path, content=body or None, headers=headers)
    _check(response, method)
    # the emulator is still healthy afterwards: its clock reads a sane time
    clock = client.get("/_emulator/clock").json()
    assert isinstance(clock["now"], int) and clock["now"] > 1_600_000_000
