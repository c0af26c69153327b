"""Idempotency, pagination, expand, fault injection and the control plane."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

AUTH = {"Authorization": "Bearer sk_test_abc123"}


def charge(client: Any, amount: int = 1000) -> Any:
    return client.v1.charges.create(params={"amount": amount, "currency": "usd",
                                            "source": "tok_visa"})


# ----------------------------------------------------------------------------- idempotency

def test_same_idempotency_key_replays_the_first_result(base_url: str) -> None:
    first_charge = httpx.post(f"{base_url}/v1/charges", headers=AUTH, data={
        "amount": "1000", "currency": "usd", "source": "tok_visa"}).json()
    headers = {**AUTH, "Idempotency-Key": "k-1"}
    data = {"charge": first_charge["id"], "amount": "100"}
    first = httpx.post(f"{base_url}/v1/refunds", headers=headers, data=data)
    again = httpx.post(f"{base_url}/v1/refunds", headers=headers, data=data)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    refunds = httpx.get(f"{base_url}/v1/refunds", headers=AUTH).json()["data"]
    assert len(refunds) == 1


def test_reused_key_with_other_params_is_an_idempotency_error(client: Any) -> None:
    ch = charge(client)
    client.v1.refunds.create(params={"charge": ch.id, "amount": 100},
                             options={"idempotency_key": "k-2"})
    with pytest.raises(stripe.IdempotencyError):
        client.v1.refunds.create(params={"charge": ch.id, "amount": 200},
                                 options={"idempotency_key": "k-2"})


def test_errors_are_replayed_too(client: Any) -> None:
    with pytest.raises(stripe.CardError):
        client.v1.charges.create(params={"amount": 1000, "currency": "usd",
                                         "source": "tok_chargeDeclined"},
                                 options={"idempotency_key": "k-3"})
    with pytest.raises(stripe.CardError):
        client.v1.charges.create(params={"amount": 1000, "currency": "usd",
                                         "source": "tok_chargeDeclined"},
                                 options={"idempotency_key": "k-3"})
    assert len(client.v1.charges.list().data) == 1


def test_keys_expire_after_24_hours_of_emulator_time(client: Any, emulator: Any) -> None:
    ch = charge(client)
    client.v1.refunds.create(params={"charge": ch.id, "amount": 100},
                             options={"idempotency_key": "k-4"})
    emulator.advance(24 * 3600)
    client.v1.refunds.create(params={"charge": ch.id, "amount": 100},
                             options={"idempotency_key": "k-4"})
    assert len(client.v1.refunds.list().data) == 2


def test_keys_are_scoped_per_account(base_url: str) -> None:
    data = {"amount": "1000", "currency": "usd", "source": "tok_visa"}
    a = httpx.post(f"{base_url}/v1/charges", data=data,
                   headers={**AUTH, "Idempotency-Key": "same", "Stripe-Account": "acct_1"}).json()
    b = httpx.post(f"{base_url}/v1/charges", data=data,
                   headers={**AUTH, "Idempotency-Key": "same", "Stripe-Account": "acct_2"}).json()
    assert a["id"] != b["id"]


# ----------------------------------------------------------------------------- pagination

def test_pagination_walks_newest_first_and_auto_paging_gets_everything(client: Any) -> None:
    ids = [charge(client).id for _ in range(25)]
    page = client.v1.charges.list(params={"limit": 10})
    assert [c.id for c in page.data] == ids[::-1][:10] and page.has_more is True
    assert page.url == "/v1/charges"
    walked = [c.id for c in client.v1.charges.list(params={"limit": 7}).auto_paging_iter()]
    assert walked == ids[::-1]
    after = client.v1.charges.list(params={"starting_after": ids[5], "limit": 3})
    assert [c.id for c in after.data] == [ids[4], ids[3], ids[2]]
    before = client.v1.charges.list(params={"ending_before": ids[5], "limit": 3})
    assert [c.id for c in before.data] == [ids[8], ids[7], ids[6]] and before.has_more is True


@pytest.mark.parametrize("limit", [0, 101])
def test_limit_must_be_between_1_and_100(client: Any, limit: int) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.charges.list(params={"limit": limit})
    assert info.value.param == "limit"


def test_unknown_cursor_is_resource_missing(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.charges.list(params={"starting_after": "ch_nope"})
    assert info.value.code == "resource_missing"


def test_created_range_filters(client: Any, emulator: Any) -> None:
    old = charge(client)
    emulator.advance(1000)
    new = charge(client)
    assert [c.id for c in client.v1.charges.list(params={"created": {"lt": new.created}}).data] == [old.id]
    assert [c.id for c in client.v1.charges.list(params={"created": {"gt": old.created}}).data] == [new.id]
    assert len(client.v1.charges.list(params={"created": {"gte": old.created, "lte": new.created}}).data) == 2


# ----------------------------------------------------------------------------- expand

def test_expand_nested_and_in_lists(client: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
    refund = client.v1.refunds.create(params={
        "payment_intent": pi.id, "amount": 100,
        "expand": ["charge.balance_transaction", "payment_intent"]})
    assert refund.charge.balance_transaction.object == "balance_transaction"
    assert refund.payment_intent.id == pi.id
    listed = client.v1.refunds.list(params={"expand": ["data.charge"]})
    assert listed.data[0].charge.id == pi.latest_charge


def test_dispute_expands_charge_payment_intent_and_balance_transactions(client: Any,
                                                                       emulator: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "payment_method": "pm_card_createDispute",
        "confirm": True})
    emulator.advance(1)
    (plain,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    assert isinstance(plain.charge, str) and isinstance(plain.payment_intent, str)
    dispute = client.v1.disputes.retrieve(plain.id, params={"expand": [
        "charge.balance_transaction", "payment_intent.latest_charge"]})
    assert dispute.charge.id == pi.latest_charge
    assert dispute.charge.balance_transaction.object == "balance_transaction"
    assert dispute.payment_intent.latest_charge.id == pi.latest_charge
    (withdrawal,) = dispute.balance_transactions
    assert (withdrawal.object, withdrawal.amount, withdrawal.fee) == ("balance_transaction",
                                                                     -2000, 1500)
    listed = client.v1.disputes.list(params={"expand": ["data.charge"]})
    assert listed.data[0].charge.id == pi.latest_charge


def test_refund_expands_its_balance_transaction_and_charge(client: Any) -> None:
    ch = charge(client, 1500)
    refund = client.v1.refunds.create(params={"charge": ch.id, "amount": 400,
                                              "expand": ["balance_transaction", "charge"]})
    assert (refund.balance_transaction.amount, refund.balance_transaction.type) == (-400,
                                                                                    "refund")
    assert refund.charge.amount_refunded == 400
    again = client.v1.refunds.retrieve(refund.id, params={"expand": ["balance_transaction"]})
    assert again.balance_transaction.id == refund.balance_transaction.id


def test_expanding_a_plain_field_is_refused(client: Any) -> None:
    ch = charge(client)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.charges.retrieve(ch.id, params={"expand": ["currency"]})
    assert info.value.param == "expand"


# ----------------------------------------------------------------------------- faults

def test_rate_limit_answers_429_with_reason_header(base_url: str, emulator: Any) -> None:
    httpx.post(f"{base_url}/_emulator/faults", json={"rate_limit": 2})
    codes = [httpx.get(f"{base_url}/v1/charges", headers=AUTH) for _ in range(6)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, "expected some requests over 2/s to be limited"
    assert limited[0].headers["Stripe-Rate-Limited-Reason"] == "global-rate"
    assert limited[0].json()["error"]["code"] == "rate_limit"


def test_rate_limit_surfaces_as_sdk_rate_limit_error(client: Any, emulator: Any) -> None:
    emulator.faults.configure(rate_limit=1)
    with pytest.raises(stripe.RateLimitError):
        for _ in range(5):
            client.v1.charges.list()


def test_error_rate_one_gives_api_error(client: Any, emulator: Any) -> None:
    emulator.faults.configure(error_rate=1.0)
    with pytest.raises(stripe.APIError) as info:
        client.v1.charges.list()
    assert info.value.http_status == 500


def test_faults_are_off_by_default_and_readable(base_url: str) -> None:
    assert httpx.get(f"{base_url}/_emulator/faults").json() == {
        "rate_limit": 0.0, "error_rate": 0.0, "latency_ms": 0}


def test_bad_fault_values_are_refused(base_url: str) -> None:
    r = httpx.post(f"{base_url}/_emulator/faults", json={"error_rate": 2})
    assert r.status_code == 400


# ----------------------------------------------------------------------------- control plane

def test_clock_advance_moves_created_timestamps(base_url: str, client: Any) -> None:
    before = httpx.get(f"{base_url}/_emulator/clock").json()["now"]
    r = httpx.post(f"{base_url}/_emulator/clock/advance", json={"seconds": 86400})
    assert r.json()["now"] >= before + 86400
    assert charge(client).created >= before + 86400


def test_clock_refuses_to_go_backwards(base_url: str) -> None:
    r = httpx.post(f"{base_url}/_emulator/clock/advance", data={"seconds": "-5"})
    assert r.status_code == 400


def test_reset_forgets_everything_and_restarts_ids(base_url: str, client: Any) -> None:
    first = charge(client).id
    assert httpx.post(f"{base_url}/_emulator/reset").status_code == 200
    assert client.v1.charges.list().data == []
    assert charge(client).id == first  # same seed, same ids
