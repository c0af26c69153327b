"""PaymentIntents and Charges through the official SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe


@pytest.fixture(autouse=True)
def _customers(add_customers: Any) -> None:
    add_customers("cus_test1", "cus_a", "cus_b", "cus_x", "cus_1", "cus_2")


def pay(client: Any, pm: str = "pm_card_visa", amount: int = 2000, **extra: Any) -> Any:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": pm, "confirm": True, **extra})


def test_confirming_a_payment_intent_creates_a_succeeded_captured_charge(client: Any) -> None:
    pi = pay(client, metadata={"order": "42"}, customer="cus_test1", description="Order 42",
             receipt_email="ada@example.com")
    assert (pi.status, pi.amount_received, pi.amount_capturable) == ("succeeded", 2000, 0)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.paid, charge.captured, charge.status) == (True, True, "succeeded")
    assert (charge.amount_captured, charge.amount_refunded, charge.refunded) == (2000, 0, False)
    assert charge.payment_intent == pi.id and charge.customer == "cus_test1"
    assert charge.metadata.to_dict() == {"order": "42"}
    card = charge.payment_method_details.card
    assert (card.brand, card.last4, card.country, card.checks.cvc_check) == ("visa", "4242", "US", "pass")
    assert charge.outcome.type == "authorized" and charge.outcome.network_status == "approved_by_network"
    assert charge.disputed is False


@pytest.mark.parametrize("pm,brand,last4", [("pm_card_mastercard", "mastercard", "4444"),
                                            ("pm_card_amex", "amex", "0005"),
                                            ("pm_card_visa_debit", "visa", "5556")])
def test_brand_test_cards_give_their_brand(client: Any, pm: str, brand: str, last4: str) -> None:
    pi = pay(client, pm, expand=["latest_charge"])
    card = pi.latest_charge.payment_method_details.card
    assert (card.brand, card.last4) == (brand, last4)


@pytest.mark.parametrize("pm,decline_code", [
    ("pm_card_chargeDeclined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ("pm_card_chargeDeclinedLostCard", "lost_card"),
    ("pm_card_chargeDeclinedStolenCard", "stolen_card"),
])
def test_decline_cards_answer_402_card_error_with_decline_code(client: Any, pm: str,
                                                               decline_code: str) -> None:
    with pytest.raises(stripe.CardError) as info:
        pay(client, pm)
    err = info.value
    assert err.http_status == 402 and err.code == "card_declined"
    assert err.error.decline_code == decline_code
    pi = client.v1.payment_intents.retrieve(err.error.payment_intent.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.decline_code == decline_code
    failed = client.v1.charges.retrieve(pi.latest_charge)
    assert (failed.status, failed.paid, failed.failure_code) == ("failed", False, "card_declined")


def test_payment_intent_without_confirm_waits_then_confirms(client: Any) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 700, "currency": "eur"})
    assert pi.status == "requires_payment_method" and pi.latest_charge is None
    pi = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert pi.status == "succeeded" and pi.latest_charge.startswith("ch_")


def test_manual_capture_authorizes_then_captures(client: Any) -> None:
    pi = pay(client, capture_method="manual")
    assert (pi.status, pi.amount_capturable) == ("requires_capture", 2000)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.captured, charge.amount_captured, charge.balance_transaction) == (False, 0, None)
    pi = client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 1500})
    assert (pi.status, pi.amount_received) == ("succeeded", 1500)
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.captured, charge.amount_captured) == (True, 1500)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.capture(pi.id)
    assert info.value.code == "payment_intent_unexpected_state"


def test_unknown_payment_method_is_404(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        pay(client, "pm_card_nonsense")
    assert info.value.http_status == 404 and info.value.code == "resource_missing"


def test_amount_below_minimum_is_refused(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        pay(client, amount=10)
    assert info.value.code == "amount_too_small"


def test_payment_intents_list_filters_by_customer(client: Any) -> None:
    pay(client, customer="cus_a")
    mine = pay(client, customer="cus_b")
    listed = client.v1.payment_intents.list(params={"customer": "cus_b"})
    assert [p.id for p in listed.data] == [mine.id]


def test_legacy_charge_with_token_source(client: Any) -> None:
    charge = client.v1.charges.create(params={
        "amount": 1234, "currency": "usd", "source": "tok_mastercard",
        "metadata": {"k": "v"}, "customer": "cus_x"})
    assert charge.status == "succeeded" and charge.payment_intent is None
    assert charge.source.object == "card" and charge.source.last4 == "4444"
    assert charge.payment_method_details.card.brand == "mastercard"
    assert charge.balance_transaction.startswith("txn_")


def test_legacy_charge_declined_token_is_card_error(client: Any) -> None:
    with pytest.raises(stripe.CardError) as info:
        client.v1.charges.create(params={"amount": 1234, "currency": "usd",
                                         "source": "tok_chargeDeclined"})
    assert info.value.error.decline_code == "generic_decline"


def test_charge_metadata_update_emits_charge_updated(client: Any) -> None:
    charge = client.v1.charges.create(params={"amount": 1000, "currency": "usd",
                                              "source": "tok_visa", "metadata": {"a": "1"}})
    updated = client.v1.charges.update(charge.id, params={"metadata": {"a": "", "b": "2"}})
    assert updated.metadata.to_dict() == {"b": "2"}
    event = client.v1.events.list(params={"type": "charge.updated"}).data[0]
    assert event.data.object.id == charge.id
    assert event.data.previous_attributes.to_dict() == {"metadata": {"a": "1"}}


def test_charges_list_filters_by_payment_intent_customer_and_created(client: Any,
                                                                      emulator: Any) -> None:
    first = pay(client, customer="cus_1")
    emulator.advance(100)
    second = pay(client, customer="cus_2")
    by_pi = client.v1.charges.list(params={"payment_intent": second.id})
    by_customer = client.v1.charges.list(params={"customer": "cus_1"})
    created_at = client.v1.charges.retrieve(second.latest_charge).created
    recent = client.v1.charges.list(params={"created": {"gte": created_at}})
    assert [c.id for c in by_pi.data] == [second.latest_charge]
    assert [c.id for c in by_customer.data] == [first.latest_charge]
    assert [c.id for c in recent.data] == [second.latest_charge]


def test_balance_transaction_of_a_charge_books_the_stripe_fee(client: Any) -> None:
    pi = pay(client, amount=10000)
    charge = client.v1.charges.retrieve(pi.latest_charge, params={"expand": ["balance_transaction"]})
    txn = charge.balance_transaction
    assert (txn.amount, txn.fee, txn.net, txn.type, txn.source) == (10000, 320, 9680, "charge", charge.id)
