"""Radar early fraud warnings through the official SDK: the EFW test card, reads, actionable."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from disputedesk.emulator.context import Ctx
from disputedesk.emulator.resources import disputes


def warned_payment(target: Any) -> tuple[Any, Any]:
    client = target.client
    pi = client.v1.payment_intents.create(params={
        "amount": 3000, "currency": "usd", "payment_method": "pm_card_createEarlyFraudWarning",
        "confirm": True, "payment_method_types": ["card"]})
    page = target.eventually(
        lambda: client.v1.radar.early_fraud_warnings.list(params={"payment_intent": pi.id}),
        lambda p: len(p.data) >= 1)
    assert len(page.data) == 1, "the EFW test card should produce one early fraud warning"
    return pi, page.data[0]


def test_efw_card_creates_an_actionable_warning(stripe_target: Any) -> None:
    pi, efw = warned_payment(stripe_target)
    assert efw.id.startswith("issfr_")
    assert efw.object == "radar.early_fraud_warning"
    assert efw.actionable is True
    assert efw.charge == pi.latest_charge
    assert efw.payment_intent == pi.id
    assert efw.fraud_type in ("card_never_received", "fraudulent_card_application",
                              "made_with_counterfeit_card", "made_with_lost_card",
                              "made_with_stolen_card", "misc", "unauthorized_use_of_card")


def test_efw_card_emits_radar_early_fraud_warning_created(stripe_target: Any) -> None:
    client = stripe_target.client
    _, efw = warned_payment(stripe_target)
    events = stripe_target.eventually(
        lambda: client.v1.events.list(params={"type": "radar.early_fraud_warning.created"}),
        lambda p: any(e.data.object.id == efw.id for e in p.data))
    assert any(e.data.object.id == efw.id for e in events.data)


def test_retrieve_and_list_by_charge(stripe_target: Any) -> None:
    client = stripe_target.client
    pi, efw = warned_payment(stripe_target)
    got = client.v1.radar.early_fraud_warnings.retrieve(efw.id)
    assert got.id == efw.id
    listed = client.v1.radar.early_fraud_warnings.list(params={"charge": pi.latest_charge})
    assert [e.id for e in listed.data] == [efw.id]
    expanded = client.v1.radar.early_fraud_warnings.retrieve(efw.id,
                                                             params={"expand": ["charge"]})
    assert expanded.charge.id == pi.latest_charge


def test_unknown_warning_is_a_404(stripe_target: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe_target.client.v1.radar.early_fraud_warnings.retrieve("issfr_doesnotexist0000000")
    assert info.value.http_status == 404


def test_full_refund_makes_the_warning_not_actionable(stripe_target: Any) -> None:
    client = stripe_target.client
    pi, efw = warned_payment(stripe_target)
    client.v1.refunds.create(params={"payment_intent": pi.id})
    after = stripe_target.eventually(lambda: client.v1.radar.early_fraud_warnings.retrieve(efw.id),
                                     lambda e: e.actionable is False)
    assert after.actionable is False
    events = stripe_target.eventually(
        lambda: client.v1.events.list(params={"type": "radar.early_fraud_warning.updated"}),
        lambda p: any(e.data.object.id == efw.id for e in p.data))
    update = next(e for e in events.data if e.data.object.id == efw.id)
    assert update.data.previous_attributes.actionable is True


def test_partial_refund_keeps_the_warning_actionable(client: Any, emulator: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 3000, "currency": "usd", "payment_method": "pm_card_createEarlyFraudWarning",
        "confirm": True})
    emulator.advance(1)
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    (efw,) = client.v1.radar.early_fraud_warnings.list(params={"payment_intent": pi.id}).data
    assert efw.actionable is True


def test_a_dispute_makes_the_warning_not_actionable(client: Any, emulator: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 3000, "currency": "usd", "payment_method": "pm_card_createEarlyFraudWarning",
        "confirm": True})
    emulator.advance(1)
    with emulator.lock:
        disputes.open_dispute(Ctx(emulator, emulator.platform), pi.latest_charge, "fraudulent",
                              "chargeback", False)
    (efw,) = client.v1.radar.early_fraud_warnings.list(params={"payment_intent": pi.id}).data
    assert efw.actionable is False


def test_list_pages_newest_first(client: Any, emulator: Any) -> None:
    ids = []
    for _ in range(3):
        pi = client.v1.payment_intents.create(params={
            "amount": 3000, "currency": "usd", "payment_method": "pm_card_createEarlyFraudWarning",
            "confirm": True})
        emulator.advance(1)
        ids.append(client.v1.radar.early_fraud_warnings.list(
            params={"payment_intent": pi.id}).data[0].id)
    first = client.v1.radar.early_fraud_warnings.list(params={"limit": 2})
    assert [e.id for e in first.data] == ids[::-1][:2] and first.has_more
    walked = [e.id for e in client.v1.radar.early_fraud_warnings.list(
        params={"limit": 1}).auto_paging_iter()]
    assert walked == ids[::-1]


def test_full_refund_flips_the_warning_within_the_refund_request(client: Any,
                                                                  emulator: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 3000, "currency": "usd", "payment_method": "pm_card_createEarlyFraudWarning",
        "confirm": True})
    emulator.advance(1)
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    client.v1.refunds.create(params={"payment_intent": pi.id})  # the rest: fully refunded now
    # no read of the warning in between: the update event exists already, caused by the refund
    updates = client.v1.events.list(params={"type": "radar.early_fraud_warning.updated"}).data
    refunds = client.v1.events.list(params={"type": "refund.created"}).data
    assert len(updates) == 1
    assert updates[0].data.object.actionable is False
    assert updates[0].data.previous_attributes.actionable is True
    assert updates[0].request.id == refunds[0].request.id  # the second (newest) refund
