"""Scenario scripts that run unchanged against the emulator and Stripe's test mode.

Only Stripe's own test inputs are used (pm_card_* PaymentMethods, documented behaviours); the
``stripe_target`` fixture advances the emulator's clock or, live, polls until Stripe catches up.
Live runs are opt-in: ``STRIPE_TEST_SECRET_KEY=sk_test_... pytest -m live_stripe``.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe


def _pay(target: Any, pm: str, amount: int = 2000) -> Any:
    return target.client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": pm, "confirm": True,
        "payment_method_types": ["card"], "metadata": {"scenario": "disputedesk"}})


def test_scenario_partial_then_full_refund(stripe_target: Any) -> None:
    client = stripe_target.client
    pi = _pay(stripe_target, "pm_card_visa")
    assert pi.status == "succeeded"
    first = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500,
                                             "reason": "requested_by_customer"})
    rest = client.v1.refunds.create(params={"payment_intent": pi.id})
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (first.status, rest.status, rest.amount) == ("succeeded", "succeeded", 1500)
    assert (charge.amount_refunded, charge.refunded) == (2000, True)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert info.value.code == "charge_already_refunded"


def test_scenario_declined_card(stripe_target: Any) -> None:
    with pytest.raises(stripe.CardError) as info:
        _pay(stripe_target, "pm_card_chargeDeclinedInsufficientFunds")
    assert info.value.error.decline_code == "insufficient_funds"


def test_scenario_pending_refund_succeeds(stripe_target: Any) -> None:
    client = stripe_target.client
    pi = _pay(stripe_target, "pm_card_pendingRefund")
    refund = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert refund.status == "pending"
    settled = stripe_target.eventually(lambda: client.v1.refunds.retrieve(refund.id),
                                       lambda r: r.status == "succeeded")
    assert settled.status == "succeeded"


def test_scenario_refund_that_fails_later(stripe_target: Any) -> None:
    client = stripe_target.client
    pi = _pay(stripe_target, "pm_card_refundFail")
    refund = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert refund.status == "succeeded"
    failed = stripe_target.eventually(lambda: client.v1.refunds.retrieve(refund.id),
                                      lambda r: r.status == "failed")
    assert failed.status == "failed" and failed.failure_reason is not None
