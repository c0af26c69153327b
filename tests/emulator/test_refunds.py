"""Refunds through the official SDK: validations, amounts on the charge, test cards, events."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from disputedesk.emulator.context import Ctx
from disputedesk.emulator.resources import refunds as refunds_module


def paid_charge(client: Any, pm: str = "pm_card_visa", amount: int = 2000,
                currency: str = "usd") -> Any:
    pi = client.v1.payment_intents.create(params={
        "amount": amount, "currency": currency, "payment_method": pm, "confirm": True})
    return client.v1.charges.retrieve(pi.latest_charge)


def test_partial_refunds_add_up_then_the_charge_is_refunded(client: Any) -> None:
    charge = paid_charge(client)
    first = client.v1.refunds.create(params={"charge": charge.id, "amount": 500,
                                             "reason": "requested_by_customer",
                                             "metadata": {"ticket": "T-1"}})
    assert (first.status, first.amount, first.reason) == ("succeeded", 500, "requested_by_customer")
    assert first.metadata.to_dict() == {"ticket": "T-1"}
    mid = client.v1.charges.retrieve(charge.id)
    assert (mid.amount_refunded, mid.refunded) == (500, False)
    rest = client.v1.refunds.create(params={"payment_intent": charge.payment_intent})
    assert rest.amount == 1500 and rest.charge == charge.id
    done = client.v1.charges.retrieve(charge.id)
    assert (done.amount_refunded, done.refunded) == (2000, True)


def test_refund_rejects_amount_above_refundable(client: Any) -> None:
    charge = paid_charge(client)
    client.v1.refunds.create(params={"charge": charge.id, "amount": 1500})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 501})
    assert (info.value.http_status, info.value.code, info.value.param) == (400, "amount_too_large", "amount")


def test_refunding_a_fully_refunded_charge_is_charge_already_refunded(client: Any) -> None:
    charge = paid_charge(client)
    client.v1.refunds.create(params={"charge": charge.id})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": charge.id})
    assert info.value.code == "charge_already_refunded"


def test_refunding_an_unknown_charge_is_404_resource_missing(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": "ch_doesnotexist"})
    assert (info.value.http_status, info.value.code, info.value.param) == (404, "resource_missing", "charge")
    assert "No such charge: 'ch_doesnotexist'" in str(info.value)


@pytest.mark.parametrize("amount", ["0", "-5", "abc"])
def test_refund_amount_must_be_a_positive_integer(client: Any, amount: str) -> None:
    charge = paid_charge(client)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": charge.id, "amount": amount})
    assert info.value.code == "parameter_invalid_integer"


def test_refund_reason_must_be_one_of_stripes(client: Any) -> None:
    charge = paid_charge(client)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": charge.id, "reason": "changed_mind"})
    assert info.value.param == "reason"


def test_three_decimal_currency_refunds_must_be_multiples_of_ten(client: Any) -> None:
    charge = paid_charge(client, amount=5000, currency="kwd")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"charge": charge.id, "amount": 1005})
    assert client.v1.refunds.create(params={"charge": charge.id, "amount": 1010}).amount == 1010


def test_refund_needs_charge_or_payment_intent(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"amount": 100})
    assert info.value.http_status == 400


def test_refund_books_a_negative_balance_transaction(client: Any) -> None:
    charge = paid_charge(client)
    refund = client.v1.refunds.create(params={"charge": charge.id, "amount": 700,
                                              "expand": ["balance_transaction"]})
    txn = refund.balance_transaction
    assert (txn.amount, txn.fee, txn.net, txn.type, txn.source) == (-700, 0, -700, "refund", refund.id)


def test_refund_metadata_update_retrieve_and_list_filters(client: Any) -> None:
    a = paid_charge(client)
    b = paid_charge(client)
    ra = client.v1.refunds.create(params={"charge": a.id, "amount": 100})
    rb = client.v1.refunds.create(params={"charge": b.id, "amount": 100})
    updated = client.v1.refunds.update(ra.id, params={"metadata": {"note": "x"}})
    assert updated.metadata.to_dict() == {"note": "x"}
    assert client.v1.refunds.retrieve(ra.id).metadata.to_dict() == {"note": "x"}
    assert [r.id for r in client.v1.refunds.list(params={"charge": a.id}).data] == [ra.id]
    assert [r.id for r in client.v1.refunds.list(
        params={"payment_intent": b.payment_intent}).data] == [rb.id]
    assert [r.id for r in client.v1.refunds.list().data] == [rb.id, ra.id]


def test_cancel_refuses_refunds_not_in_requires_action(client: Any) -> None:
    refund = client.v1.refunds.create(params={"charge": paid_charge(client).id})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.cancel(refund.id)
    assert info.value.http_status == 400


def _requires_action_refund(emulator: Any, charge_id: str) -> str:
    # no card payment produces requires_action refunds; create one the way the seed can
    with emulator.lock:
        ctx = Ctx(emulator, emulator.platform)
        charge = ctx.get("charge", charge_id)
        return refunds_module.create_refund(ctx, charge, 500, initial_status="requires_action")["id"]


def test_cancel_and_expire_act_on_requires_action_refunds(client: Any, emulator: Any) -> None:
    charge = paid_charge(client)
    first = _requires_action_refund(emulator, charge.id)
    canceled = client.v1.refunds.cancel(first)
    assert (canceled.status, canceled.failure_reason) == ("canceled", "merchant_request")
    second = _requires_action_refund(emulator, charge.id)
    expired = client.v1.test_helpers.refunds.expire(second)
    assert expired.status == "failed"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.test_helpers.refunds.expire(second)


def test_pending_refund_card_succeeds_once_the_clock_moves(client: Any, emulator: Any) -> None:
    charge = paid_charge(client, "pm_card_pendingRefund")
    refund = client.v1.refunds.create(params={"charge": charge.id})
    assert (refund.status, refund.pending_reason) == ("pending", "processing")
    emulator.advance(5)
    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"
    updated = client.v1.events.list(params={"type": "refund.updated"}).data[0]
    assert updated.data.previous_attributes.status == "pending"
    assert updated.request.id is None  # automatic, not caused by a request


def test_failing_refund_card_fails_later_and_gives_the_amount_back(client: Any,
                                                                    emulator: Any) -> None:
    charge = paid_charge(client, "pm_card_refundFail")
    refund = client.v1.refunds.create(params={"charge": charge.id})
    assert refund.status == "succeeded"
    assert client.v1.charges.retrieve(charge.id).refunded is True
    emulator.advance(5)
    failed = client.v1.refunds.retrieve(refund.id, params={"expand": ["failure_balance_transaction"]})
    assert (failed.status, failed.failure_reason) == ("failed", "expired_or_canceled_card")
    assert failed.failure_balance_transaction.amount == 2000
    after = client.v1.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (0, False)
    types = [e.type for e in client.v1.events.list(params={"limit": 5}).data]
    assert "refund.failed" in types


def test_pending_refund_also_settles_in_real_time(client: Any, emulator: Any) -> None:
    emulator.settings["pending_refund_seconds"] = 0.3
    charge = paid_charge(client, "pm_card_pendingRefund")
    refund = client.v1.refunds.create(params={"charge": charge.id})
    import time
    deadline = time.monotonic() + 5
    status = refund.status
    while status != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.v1.refunds.retrieve(refund.id).status
    assert status == "succeeded"


def test_refund_emits_refund_created_and_charge_refunded(client: Any) -> None:
    charge = paid_charge(client)
    refund = client.v1.refunds.create(params={"charge": charge.id, "amount": 300},
                                      options={"idempotency_key": "refund-evt-1"})
    created = client.v1.events.list(params={"type": "refund.created"}).data[0]
    refunded = client.v1.events.list(params={"type": "charge.refunded"}).data[0]
    assert created.data.object.id == refund.id
    assert created.request.idempotency_key == "refund-evt-1"
    assert refunded.data.object.amount_refunded == 300
    assert refunded.data.previous_attributes.amount_refunded == 0


def test_legacy_charge_scoped_refund_routes(client: Any) -> None:
    charge = paid_charge(client)
    refund = client.v1.refunds.create(params={"charge": charge.id, "amount": 100})
    expanded = client.v1.charges.retrieve(charge.id, params={"expand": ["refunds"]})
    assert [r.id for r in expanded.refunds.data] == [refund.id]
