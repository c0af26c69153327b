"""Disputes through the official SDK: Stripe's dispute test cards, evidence, magic strings, close.

Scenarios take ``stripe_target``: they run against the emulator by default and, unchanged,
against Stripe's test mode when ``STRIPE_TEST_SECRET_KEY`` is set (``-m live_stripe``).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import stripe

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n2 0 obj << /Type /Page >> endobj\n%%EOF\n"


def pay(client: Any, payment_method: str, amount: int = 4200, currency: str = "usd") -> Any:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": currency, "payment_method": payment_method,
        "confirm": True, "payment_method_types": ["card"]})


def disputes_of(target: Any, pi: Any, count: int = 1) -> list[Any]:
    """The PaymentIntent's disputes once ``count`` exist (Stripe opens them shortly after)."""
    page = target.eventually(
        lambda: target.client.v1.disputes.list(params={"payment_intent": pi.id}),
        lambda p: len(p.data) >= count)
    assert len(page.data) >= count, f"expected {count} dispute(s) on {pi.id}"
    return sorted(page.data, key=lambda d: d.created)


def upload(client: Any, content: bytes = PDF, purpose: str = "dispute_evidence",
           name: str = "receipt.pdf") -> Any:
    f = io.BytesIO(content)
    f.name = name
    return client.v1.files.create(params={"file": f, "purpose": purpose})


def event_types(client: Any, dispute_id: str) -> list[str]:
    events = client.v1.events.list(params={"limit": 100})
    return [e.type for e in reversed(events.data)
            if e.data.object.to_dict().get("id") == dispute_id]


# ----------------------------------------------------------------------------- test cards

def test_fraud_card_opens_needs_response_chargeback_with_amount_and_fee_withdrawn(
        stripe_target: Any) -> None:
    client = stripe_target.client
    pi = pay(client, "pm_card_createDispute")
    (dispute,) = disputes_of(stripe_target, pi)
    assert dispute.id.startswith(("du_", "dp_"))
    assert dispute.status == "needs_response"
    assert dispute.reason == "fraudulent"
    assert dispute.amount == 4200 and dispute.currency == "usd"
    assert dispute.charge == pi.latest_charge and dispute.payment_intent == pi.id
    assert dispute.is_charge_refundable is False
    assert dispute.payment_method_details.type == "card"
    assert dispute.payment_method_details.card.case_type == "chargeback"
    assert dispute.payment_method_details.card.brand == "visa"
    (txn,) = dispute.balance_transactions
    assert (txn.amount, txn.fee, txn.net) == (-4200, 1500, -5700)
    assert txn.type == "adjustment"
    assert txn.fee_details[0].description == "Dispute fee"
    details = dispute.evidence_details
    assert details.has_evidence is False and details.past_due is False
    assert details.submission_count == 0
    assert 7 * 86400 <= details.due_by - dispute.created <= 21 * 86400
    assert client.v1.charges.retrieve(pi.latest_charge).disputed is True


def test_fraud_card_emits_dispute_created_and_funds_withdrawn_events(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    types = stripe_target.eventually(lambda: event_types(client, dispute.id),
                                     lambda t: "charge.dispute.funds_withdrawn" in t)
    assert "charge.dispute.created" in types
    assert "charge.dispute.funds_withdrawn" in types
    assert not any(t.startswith("dispute.") for t in types)


def test_product_not_received_card_opens_a_product_not_received_chargeback(
        stripe_target: Any) -> None:
    pi = pay(stripe_target.client, "pm_card_createDisputeProductNotReceived")
    (dispute,) = disputes_of(stripe_target, pi)
    assert dispute.reason == "product_not_received"
    assert dispute.status == "needs_response"


def test_inquiry_card_opens_an_inquiry_without_moving_money(stripe_target: Any) -> None:
    pi = pay(stripe_target.client, "pm_card_createDisputeInquiry")
    (dispute,) = disputes_of(stripe_target, pi)
    assert dispute.status == "warning_needs_response"
    assert dispute.payment_method_details.card.case_type == "inquiry"
    assert dispute.balance_transactions == []
    assert dispute.is_charge_refundable is True


def test_ce3_card_opens_a_dispute_eligible_for_visa_compelling_evidence_3(
        stripe_target: Any) -> None:
    pi = pay(stripe_target.client, "pm_card_createCe3EligibleDispute")
    (dispute,) = disputes_of(stripe_target, pi)
    assert dispute.enhanced_eligibility_types == ["visa_compelling_evidence_3"]
    ce3 = dispute.evidence_details.enhanced_eligibility.visa_compelling_evidence_3
    assert ce3.status in ("requires_action", "qualified", "not_qualified")
    assert dispute.network_reason_code == "10.4"


def test_multiple_disputes_card_opens_two_disputes_on_one_charge(stripe_target: Any) -> None:
    pi = pay(stripe_target.client, "pm_card_createMultipleDisputes")
    first, second = disputes_of(stripe_target, pi, count=2)
    assert first.id != second.id
    assert first.charge == second.charge == pi.latest_charge
    listed = stripe_target.client.v1.disputes.list(params={"charge": pi.latest_charge})
    assert {d.id for d in listed.data} == {first.id, second.id}


def test_ordinary_card_opens_no_dispute(stripe_target: Any) -> None:
    pi = pay(stripe_target.client, "pm_card_visa")
    page = stripe_target.eventually(
        lambda: stripe_target.client.v1.disputes.list(params={"payment_intent": pi.id}),
        lambda p: False, seconds=2)
    assert page.data == []


# ----------------------------------------------------------------------------- evidence

def test_staged_evidence_is_kept_but_not_submitted(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    receipt = upload(client)
    staged = client.v1.disputes.update(dispute.id, params={
        "evidence": {"customer_name": "Ada Lovelace", "receipt": receipt.id},
        "submit": False})
    assert staged.status == "needs_response"
    assert staged.evidence.customer_name == "Ada Lovelace"
    assert staged.evidence.receipt == receipt.id
    assert staged.evidence_details.has_evidence is True
    assert staged.evidence_details.submission_count == 0


def test_submitting_evidence_puts_the_dispute_under_review(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    client.v1.disputes.update(dispute.id, params={
        "evidence": {"product_description": "Blue mug"}, "submit": False})
    submitted = client.v1.disputes.update(dispute.id, params={"submit": True})
    assert submitted.status == "under_review"
    assert submitted.evidence.product_description == "Blue mug"
    assert submitted.evidence_details.submission_count == 1
    assert submitted.evidence_details.past_due is False


def test_evidence_file_field_expands_to_the_file(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    receipt = upload(client)
    client.v1.disputes.update(dispute.id, params={"evidence": {"receipt": receipt.id},
                                                  "submit": False})
    got = client.v1.disputes.retrieve(dispute.id, params={"expand": ["evidence.receipt"]})
    assert got.evidence.receipt.id == receipt.id
    assert got.evidence.receipt.object == "file"
    assert got.evidence.receipt.purpose == "dispute_evidence"


def test_unknown_evidence_field_is_refused(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.disputes.update(dispute.id, params={"evidence": {"favourite_colour": "blue"}})
    assert info.value.http_status == 400
    assert info.value.code == "parameter_unknown"
    assert info.value.param == "evidence[favourite_colour]"


def test_text_evidence_longer_than_its_limit_is_refused(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    with pytest.raises(stripe.InvalidRequestError) as short:
        client.v1.disputes.update(dispute.id, params={
            "evidence": {"customer_name": "x" * 5001}, "submit": False})
    assert short.value.param == "evidence[customer_name]"
    with pytest.raises(stripe.InvalidRequestError) as long:
        client.v1.disputes.update(dispute.id, params={
            "evidence": {"uncategorized_text": "x" * 20001}, "submit": False})
    assert long.value.param == "evidence[uncategorized_text]"
    ok = client.v1.disputes.update(dispute.id, params={
        "evidence": {"uncategorized_text": "x" * 20000}, "submit": False})
    assert len(ok.evidence.uncategorized_text) == 20000


def test_evidence_file_must_be_an_upload_for_dispute_evidence(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    identity = upload(client, purpose="identity_document", name="passport.pdf")
    with pytest.raises(stripe.InvalidRequestError) as wrong:
        client.v1.disputes.update(dispute.id, params={"evidence": {"receipt": identity.id},
                                                      "submit": False})
    assert wrong.value.param == "evidence[receipt]"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.disputes.update(dispute.id, params={
            "evidence": {"receipt": "file_doesnotexist000000000"}, "submit": False})
    assert missing.value.param == "evidence[receipt]"


def test_evidence_cannot_be_changed_after_submission(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    client.v1.disputes.update(dispute.id, params={"evidence": {"customer_name": "Ada"}})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.disputes.update(dispute.id, params={"evidence": {"customer_name": "Bob"}})
    assert info.value.http_status == 400
    assert client.v1.disputes.retrieve(dispute.id).evidence.customer_name == "Ada"


def test_metadata_updates_without_submitting(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    updated = client.v1.disputes.update(dispute.id, params={"metadata": {"case": "42"}})
    assert updated.metadata.to_dict() == {"case": "42"}
    assert updated.status == "needs_response"
    assert updated.evidence_details.submission_count == 0


def test_evidence_update_emits_dispute_updated_with_previous_attributes(
        stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    client.v1.disputes.update(dispute.id, params={"evidence": {"customer_name": "Ada"},
                                                  "submit": False})
    events = stripe_target.eventually(
        lambda: client.v1.events.list(params={"type": "charge.dispute.updated"}),
        lambda p: any(e.data.object.id == dispute.id for e in p.data))
    event = next(e for e in events.data if e.data.object.id == dispute.id)
    assert event.data.object.evidence.customer_name == "Ada"
    assert event.data.previous_attributes.evidence.customer_name is None


# ----------------------------------------------------------------------------- outcomes

def test_winning_evidence_wins_the_dispute_and_reinstates_the_amount(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    submitted = client.v1.disputes.update(dispute.id, params={
        "evidence": {"uncategorized_text": "winning_evidence"}})
    assert submitted.status == "under_review"
    won = stripe_target.eventually(lambda: client.v1.disputes.retrieve(dispute.id),
                                   lambda d: d.status == "won")
    assert won.status == "won"
    withdrawal, reinstatement = won.balance_transactions
    assert withdrawal.amount == -4200
    assert reinstatement.amount == 4200
    types = stripe_target.eventually(lambda: event_types(client, dispute.id),
                                     lambda t: "charge.dispute.closed" in t)
    assert "charge.dispute.funds_reinstated" in types
    assert "charge.dispute.closed" in types


def test_losing_evidence_loses_the_dispute(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    client.v1.disputes.update(dispute.id, params={
        "evidence": {"uncategorized_text": "losing_evidence"}})
    lost = stripe_target.eventually(lambda: client.v1.disputes.retrieve(dispute.id),
                                    lambda d: d.status == "lost")
    assert lost.status == "lost"
    assert len(lost.balance_transactions) == 1


def test_escalate_inquiry_evidence_turns_the_inquiry_into_a_chargeback(
        stripe_target: Any) -> None:
    client = stripe_target.client
    (inquiry,) = disputes_of(stripe_target, pay(client, "pm_card_createDisputeInquiry"))
    answered = client.v1.disputes.update(inquiry.id, params={
        "evidence": {"uncategorized_text": "escalate_inquiry_evidence"}})
    assert answered.status == "warning_under_review"
    escalated = stripe_target.eventually(lambda: client.v1.disputes.retrieve(inquiry.id),
                                         lambda d: d.status == "needs_response")
    assert escalated.status == "needs_response"
    assert len(escalated.balance_transactions) == 1
    assert escalated.balance_transactions[0].fee == 1500


def test_losing_evidence_on_an_inquiry_closes_it_without_escalation(stripe_target: Any) -> None:
    client = stripe_target.client
    (inquiry,) = disputes_of(stripe_target, pay(client, "pm_card_createDisputeInquiry"))
    client.v1.disputes.update(inquiry.id, params={
        "evidence": {"uncategorized_text": "losing_evidence"}})
    closed = stripe_target.eventually(lambda: client.v1.disputes.retrieve(inquiry.id),
                                      lambda d: d.status == "warning_closed")
    assert closed.status == "warning_closed"
    assert closed.balance_transactions == []


def test_closing_a_chargeback_accepts_it_as_lost(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    closed = client.v1.disputes.close(dispute.id)
    assert closed.status == "lost"
    types = stripe_target.eventually(lambda: event_types(client, dispute.id),
                                     lambda t: "charge.dispute.closed" in t)
    assert "charge.dispute.closed" in types


def test_closed_dispute_refuses_evidence(stripe_target: Any) -> None:
    client = stripe_target.client
    (dispute,) = disputes_of(stripe_target, pay(client, "pm_card_createDispute"))
    client.v1.disputes.close(dispute.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.update(dispute.id, params={"evidence": {"customer_name": "Ada"}})
    assert client.v1.disputes.retrieve(dispute.id).status == "lost"


# ----------------------------------------------------------------------------- refunds

def test_refunding_a_charged_back_charge_fails(stripe_target: Any) -> None:
    client = stripe_target.client
    pi = pay(client, "pm_card_createDispute")
    disputes_of(stripe_target, pi)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.refunds.create(params={"charge": pi.latest_charge})
    assert info.value.http_status == 400
    assert info.value.code == "charge_disputed"


def test_an_inquiry_can_still_be_refunded(stripe_target: Any) -> None:
    client = stripe_target.client
    pi = pay(client, "pm_card_createDisputeInquiry")
    disputes_of(stripe_target, pi)
    refund = client.v1.refunds.create(params={"charge": pi.latest_charge})
    assert refund.status in ("succeeded", "pending")


# ----------------------------------------------------------------------------- reads

def test_retrieving_an_unknown_dispute_is_a_404(stripe_target: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        stripe_target.client.v1.disputes.retrieve("du_doesnotexist0000000000")
    assert info.value.http_status == 404
    assert info.value.code == "resource_missing"


def test_list_filters_by_charge_payment_intent_and_created(stripe_target: Any) -> None:
    client = stripe_target.client
    a = pay(client, "pm_card_createDispute")
    b = pay(client, "pm_card_createDisputeProductNotReceived")
    (da,) = disputes_of(stripe_target, a)
    (db,) = disputes_of(stripe_target, b)
    assert [d.id for d in client.v1.disputes.list(params={"charge": a.latest_charge}).data] \
        == [da.id]
    assert [d.id for d in client.v1.disputes.list(params={"payment_intent": b.id}).data] \
        == [db.id]
    since = client.v1.disputes.list(params={"created": {"gte": da.created}, "limit": 100})
    assert {da.id, db.id} <= {d.id for d in since.data}
    future = client.v1.disputes.list(params={"created": {"gt": db.created + 86400}})
    assert future.data == []


# ----------------------------------------------------------------------------- emulator clock

def test_unanswered_chargeback_is_lost_once_due_by_passes(client: Any, emulator: Any) -> None:
    pi = pay(client, "pm_card_createDispute")
    emulator.advance(1)
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    emulator.advance(dispute.evidence_details.due_by - emulator.clock.now() - 60)
    assert client.v1.disputes.retrieve(dispute.id).status == "needs_response"
    emulator.advance(120)
    assert client.v1.disputes.retrieve(dispute.id).status == "lost"
    closed = client.v1.events.list(params={"type": "charge.dispute.closed"}).data
    assert [e.data.object.id for e in closed] == [dispute.id]
    assert closed[0].request.id is None


def test_inquiry_left_alone_closes_after_120_days(client: Any, emulator: Any) -> None:
    pi = pay(client, "pm_card_createDisputeInquiry")
    emulator.advance(1)
    (inquiry,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    emulator.advance(119 * 86400)
    assert client.v1.disputes.retrieve(inquiry.id).status == "warning_needs_response"
    emulator.advance(2 * 86400)
    assert client.v1.disputes.retrieve(inquiry.id).status == "warning_closed"


def test_outcome_waits_for_the_clock(client: Any, emulator: Any) -> None:
    emulator.settings["dispute_outcome_seconds"] = 300.0
    try:
        pi = pay(client, "pm_card_createDispute")
        emulator.advance(1)
        (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
        client.v1.disputes.update(dispute.id, params={
            "evidence": {"uncategorized_text": "winning_evidence"}})
        emulator.advance(200)
        assert client.v1.disputes.retrieve(dispute.id).status == "under_review"
        emulator.advance(101)
        assert client.v1.disputes.retrieve(dispute.id).status == "won"
    finally:
        emulator.settings["dispute_outcome_seconds"] = 5.0


def test_closing_an_inquiry_closes_it_as_warning_closed(client: Any, emulator: Any) -> None:
    pi = pay(client, "pm_card_createDisputeInquiry")
    emulator.advance(1)
    (inquiry,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    assert client.v1.disputes.close(inquiry.id).status == "warning_closed"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.disputes.close(inquiry.id)


def test_legacy_charge_dispute_endpoints_reach_the_latest_dispute(client: Any,
                                                                  emulator: Any) -> None:
    pi = pay(client, "pm_card_createDispute")
    emulator.advance(1)
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    got = client.raw_request("get", f"/v1/charges/{pi.latest_charge}/dispute")
    assert client.deserialize(got, api_mode="V1").id == dispute.id
    closed = client.raw_request("post", f"/v1/charges/{pi.latest_charge}/dispute/close")
    assert client.deserialize(closed, api_mode="V1").status == "lost"


def test_ce3_evidence_qualifies_then_submission_keeps_it_qualified(client: Any,
                                                                  emulator: Any) -> None:
    pi = pay(client, "pm_card_createCe3EligibleDispute")
    emulator.advance(1)
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    ce3 = dispute.evidence_details.enhanced_eligibility.visa_compelling_evidence_3
    assert ce3.status == "requires_action"
    assert "missing_prior_undisputed_transactions" in ce3.required_actions
    tx = {"customer_purchase_ip": "10.0.0.1", "customer_device_id": "358240051111110",
          "product_description": "Sneakers"}
    staged = client.v1.disputes.update(dispute.id, params={"submit": False, "evidence": {
        "enhanced_evidence": {"visa_compelling_evidence_3": {
            "disputed_transaction": dict(tx, merchandise_or_services="merchandise"),
            "prior_undisputed_transactions": [dict(tx, charge="ch_a"), dict(tx, charge="ch_b")],
        }}}})
    qualified = staged.evidence_details.enhanced_eligibility.visa_compelling_evidence_3
    assert (qualified.status, qualified.required_actions) == ("qualified", [])
    submitted = client.v1.disputes.update(dispute.id, params={"submit": True})
    assert submitted.evidence_details.enhanced_eligibility.visa_compelling_evidence_3.status \
        == "qualified"


def test_ce3_submission_without_qualifying_is_not_qualified(client: Any, emulator: Any) -> None:
    pi = pay(client, "pm_card_createCe3EligibleDispute")
    emulator.advance(1)
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    submitted = client.v1.disputes.update(dispute.id, params={
        "evidence": {"customer_name": "Ada"}})
    assert submitted.evidence_details.enhanced_eligibility.visa_compelling_evidence_3.status \
        == "not_qualified"


def test_refund_of_a_fully_refunded_inquiry_charge_marks_it_not_refundable(
        client: Any, emulator: Any) -> None:
    pi = pay(client, "pm_card_createDisputeInquiry")
    emulator.advance(1)
    client.v1.refunds.create(params={"payment_intent": pi.id})
    (inquiry,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    assert inquiry.is_charge_refundable is False


def test_dispute_events_reach_webhook_endpoints_signed(client: Any, emulator: Any,
                                                      webhook_sink: Any) -> None:
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": webhook_sink.url,
        "enabled_events": ["charge.dispute.created", "charge.dispute.funds_withdrawn"]})
    pay(client, "pm_card_createDispute")
    emulator.advance(1)
    webhook_sink.wait_for(lambda s: len(s.requests) >= 2)
    for request in webhook_sink.requests:
        event = stripe.Webhook.construct_event(request["body"],
                                               request["headers"]["Stripe-Signature"],
                                               endpoint.secret)
        assert event.type.startswith("charge.dispute.")
    assert {e["type"] for e in webhook_sink.events()} == {"charge.dispute.created",
                                                         "charge.dispute.funds_withdrawn"}
