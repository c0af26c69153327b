"""Refunds end to end against the emulator, through the real gateway: every check, partial
refunds in zero- and three-decimal currencies, look-ups by PaymentIntent and order id, approval,
cancel, and the refund test cards followed through Stripe's events."""

from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa

from disputedesk import errors
from disputedesk.domain.refunds import (
    REQUEST_METADATA_KEY,
    AmountTooLarge,
    ChargeDisputed,
)
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import refunds
from disputedesk.services.refunds import follow
from disputedesk.services.refunds.testing import desk_settings, pay, pump_events
from disputedesk.store import audit
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps
from disputedesk.worker import Worker


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=11) as server:
        yield server


@pytest.fixture
def client(emulator):
    return emulator.stripe_client()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@pytest.fixture
def make_desk(database_url, emulator, tmp_path, clock):
    built = []

    def make(**overrides):
        deps = build_deps(desk_settings(database_url, emulator.base_url, tmp_path, **overrides),
                          clock=clock, migrate=False)
        built.append(deps)
        return deps

    yield make
    for deps in built:
        deps.close()


@pytest.fixture
def desk(make_desk):
    return make_desk()


def stripe_refunds(client, charge_id: str) -> list:
    return list(client.v1.refunds.list(params={"charge": charge_id, "limit": 100}).data)


def actions(desk, request_id: str) -> list[str]:
    with desk.store.read() as conn:
        return [e["action"] for e in audit.for_object(conn, "refund_request", request_id)]


# --- the exactly-once path -----------------------------------------------------------------------

def test_full_refund_records_the_request_before_the_refund_and_links_them(desk, client):
    charge = pay(client, 5000)
    outcome = refunds.request_refund(desk, charge, actor="alice", note="damaged in transit",
                                     reason="requested_by_customer")
    request = outcome.request
    assert request["status"] == "succeeded" and request["amount"] == 5000 and request["full"]
    made = stripe_refunds(client, charge)
    assert [r.id for r in made] == [request["refund_id"]]
    assert made[0].metadata[REQUEST_METADATA_KEY] == request["id"]
    assert actions(desk, request["id"]) == ["refund.requested", "refund.approved",
                                            "refund.submitted", "refund.sent"]
    with desk.store.read() as conn:
        first = audit.for_object(conn, "refund_request", request["id"])[0]
    assert (first["actor"], first["note"]) == ("alice", "damaged in transit")


def test_partial_refunds_in_yen_and_kuwaiti_dinar_use_the_currency_exponent(desk, client):
    yen = pay(client, 5000, "jpy")
    assert refunds.request_refund(desk, yen, amount="1500 JPY", actor="a").request["amount"] == 1500
    with pytest.raises(errors.MoneyError) as info:
        refunds.request_refund(desk, yen, amount="12.5 JPY", actor="a")
    assert info.value.code == "invalid_amount"
    dinar = pay(client, 10000, "kwd")
    out = refunds.request_refund(desk, dinar, amount="1.230 KWD", actor="a").request
    assert (out["amount"], out["status"]) == (1230, "succeeded")
    with pytest.raises(errors.MoneyError) as info:
        refunds.request_refund(desk, dinar, amount="1.235 KWD", actor="a")
    assert info.value.code == "amount_not_multiple_of_10" and "1.230 KWD" in info.value.hint
    assert sorted(r.amount for r in stripe_refunds(client, dinar)) == [1230]
    # the API form: minor units
    assert refunds.request_refund(desk, dinar, amount=770, actor="a").request["amount"] == 770


def test_refund_by_payment_intent_id_and_by_order_id(desk, client):
    order, other = f"A-{uuid.uuid4().hex[:8]}", f"B-{uuid.uuid4().hex[:8]}"
    charge = pay(client, 3000, metadata={"order_id": order})
    intent = client.v1.charges.retrieve(charge).payment_intent
    by_intent = refunds.request_refund(desk, intent, amount="10.00", actor="a").request
    assert (by_intent["charge"], by_intent["target_type"]) == (charge, "payment_intent")
    by_order = refunds.request_refund(desk, order, amount="5.00 USD", actor="a").request
    assert (by_order["charge"], by_order["target_type"]) == (charge, "order_id")
    assert sorted(r.amount for r in stripe_refunds(client, charge)) == [500, 1000]
    unseen = pay(client, 3000, metadata={"order_id": other})
    with pytest.raises(errors.NotFound):  # order ids are looked up in the mirror ...
        refunds.request_refund(desk, other, actor="a")
    pump_events(desk)  # ... which webhooks keep current
    assert refunds.request_refund(desk, other, actor="a").request["charge"] == unseen


# --- the checks --------------------------------------------------------------------------------------

def test_amount_above_what_is_left_is_refused_with_what_is_left(desk, client):
    charge = pay(client, 5000)
    refunds.request_refund(desk, charge, amount="30.00 USD", actor="a")
    with pytest.raises(AmountTooLarge) as info:
        refunds.request_refund(desk, charge, amount="25.00 USD", actor="a")
    assert "20.00 USD left" in info.value.message
    assert len(stripe_refunds(client, charge)) == 1


def test_fully_refunded_charge_is_refused(desk, client):
    charge = pay(client, 1000)
    refunds.request_refund(desk, charge, actor="a")
    with pytest.raises(errors.NotRefundable) as info:
        refunds.request_refund(desk, charge, amount="1.00", actor="a", live=True)
    assert info.value.code == "charge_already_refunded"


def test_currency_mismatch_names_the_charge_currency(desk, client):
    charge = pay(client, 1000, "eur")
    with pytest.raises(errors.MoneyError) as info:
        refunds.request_refund(desk, charge, amount="5.00 USD", actor="a")
    assert info.value.code == "currency_mismatch" and "EUR" in info.value.hint


def test_disputed_charge_is_refused_and_points_to_the_dispute(desk, client, emulator):
    charge = pay(client, 2000, pm="pm_card_createDispute")
    emulator.advance(2)
    with pytest.raises(ChargeDisputed) as info:
        refunds.request_refund(desk, charge, actor="a")
    assert info.value.object_id.startswith("du_") and "dispute" in info.value.hint
    assert stripe_refunds(client, charge) == []
    with desk.store.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM refund_requests")).scalar_one() == 0


def test_open_inquiry_warns_about_a_later_chargeback_but_refunds(desk, client, emulator):
    charge = pay(client, 2000, pm="pm_card_createDisputeInquiry")
    emulator.advance(2)
    outcome = refunds.request_refund(desk, charge, amount="5.00", actor="a")
    assert [w["code"] for w in outcome.warnings] == ["open_inquiry"]
    assert "charge_for_pending_refund_disputed" in outcome.warnings[0]["message"]
    assert outcome.status == "succeeded"


def test_uncaptured_charge_is_refused(desk, client):
    intent = client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
        "capture_method": "manual",
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}})
    with pytest.raises(errors.NotRefundable) as info:
        refunds.request_refund(desk, intent.latest_charge, actor="a")
    assert info.value.code == "charge_not_captured"


def test_unknown_charge_is_not_found(desk):
    with pytest.raises(errors.NotFound):
        refunds.request_refund(desk, "ch_doesnotexist", actor="a")


def test_the_same_client_key_returns_the_first_request(desk, client):
    charge = pay(client, 5000)
    first = refunds.request_refund(desk, charge, amount="10.00", actor="a", client_key="k-1")
    again = refunds.request_refund(desk, charge, amount="10.00", actor="a", client_key="k-1")
    assert again.existing and again.request["id"] == first.request["id"]
    assert len(stripe_refunds(client, charge)) == 1


# --- approval --------------------------------------------------------------------------------------

def test_refund_above_the_threshold_waits_for_another_user(make_desk, client):
    desk = make_desk(approval_threshold="10.00 USD")
    charge = pay(client, 5000)
    outcome = refunds.request_refund(desk, charge, amount="20.00", actor="alice")
    rid = outcome.request["id"]
    assert outcome.status == "awaiting_approval" and "above the approval threshold" in outcome.approval
    assert stripe_refunds(client, charge) == []
    with pytest.raises(errors.PermissionDenied) as info:
        refunds.approve_request(desk, rid, actor="Alice ")
    assert info.value.code == "self_approval"
    done = refunds.approve_request(desk, rid, actor="bob", note="customer called twice")
    assert (done["status"], done["approved_by"]) == ("succeeded", "bob")
    assert len(stripe_refunds(client, charge)) == 1
    shown = refunds.show_request(desk, rid)
    assert [(a["action"], a["actor"]) for a in shown["approvals"]] == [
        ("required", "approval-policy"), ("approved", "bob")]
    assert "refund.approved" in [a["action"] for a in shown["audit"] if a["actor"] == "bob"]


def test_rejected_request_never_reaches_stripe(make_desk, client):
    desk = make_desk(approval_threshold="10.00 USD")
    charge = pay(client, 5000)
    rid = refunds.request_refund(desk, charge, amount="20.00", actor="alice").request["id"]
    rejected = refunds.reject_request(desk, rid, actor="bob", note="already refunded by bank")
    assert rejected["status"] == "rejected"
    with pytest.raises(errors.Conflict):
        refunds.approve_request(desk, rid, actor="carol")
    assert stripe_refunds(client, charge) == []


def test_daily_limit_counts_the_operators_refunds_of_the_utc_day(make_desk, client, clock):
    desk = make_desk(approval_daily_limit="30.00 USD")
    charge = pay(client, 10000)
    assert refunds.request_refund(desk, charge, amount="20.00", actor="alice").status == "succeeded"
    second = refunds.request_refund(desk, charge, amount="20.00", actor="alice")
    assert second.status == "awaiting_approval" and "daily limit" in second.approval
    assert refunds.request_refund(desk, charge, amount="20.00", actor="bob").status == "succeeded"
    clock.advance(86_400)
    assert refunds.request_refund(desk, charge, amount="20.00", actor="alice").status == "succeeded"


# --- cancel ------------------------------------------------------------------------------------------

def test_a_request_awaiting_approval_can_be_canceled(make_desk, client):
    desk = make_desk(approval_threshold="1.00 USD")
    charge = pay(client, 5000)
    rid = refunds.request_refund(desk, charge, amount="20.00", actor="alice").request["id"]
    assert refunds.cancel_request(desk, rid, actor="alice")["status"] == "canceled"
    # the money it reserved is free again
    assert refunds.show_charge(desk, charge)["balance"]["left"] == 5000


def test_a_refund_in_requires_action_is_canceled_at_stripe(desk, client, monkeypatch):
    from disputedesk.emulator.resources import refunds as emulator_refunds

    original = emulator_refunds.create_refund
    # Card refunds never wait for action; make this one do so, as a bank-transfer refund would.
    monkeypatch.setattr(emulator_refunds, "create_refund",
                        lambda ctx, charge, amount=None, **kw: original(
                            ctx, charge, amount, **{**kw, "initial_status": "requires_action"}))
    charge = pay(client, 5000)
    request = refunds.request_refund(desk, charge, amount="10.00", actor="alice").request
    assert request["status"] == "requires_action"
    monkeypatch.undo()
    canceled = refunds.cancel_request(desk, request["id"], actor="bob", note="customer changed mind")
    assert canceled["status"] == "canceled"
    assert client.v1.refunds.retrieve(request["refund_id"]).status == "canceled"
    done = refunds.request_refund(desk, charge, amount="10.00", actor="a")
    with pytest.raises(errors.Conflict):
        refunds.cancel_request(desk, done.request["id"], actor="a")


# --- follow-up through events --------------------------------------------------------------------

def test_pending_refund_card_moves_to_succeeded_through_events(desk, client, emulator):
    charge = pay(client, 5000, pm="pm_card_pendingRefund")
    request = refunds.request_refund(desk, charge, actor="a").request
    assert request["status"] == "pending"
    emulator.advance(5)
    pump_events(desk)
    assert refunds.show_request(desk, request["id"])["request"]["status"] == "succeeded"


def test_refund_that_fails_after_succeeding_is_marked_failed_and_notified(desk, client, emulator,
                                                                          monkeypatch):
    sent = []

    class Capture:
        def send(self, note, only=None):
            sent.append(note)
            return {}

    monkeypatch.setattr(follow, "notifier_factory", lambda settings: Capture())
    charge = pay(client, 5000, pm="pm_card_refundFail")
    request = refunds.request_refund(desk, charge, actor="a").request
    assert request["status"] == "succeeded"
    emulator.advance(5)
    pump_events(desk)
    Worker(desk).run_until_idle()
    shown = refunds.show_request(desk, request["id"])["request"]
    assert (shown["status"], shown["error_code"]) == ("failed", "expired_or_canceled_card")
    assert [n.kind for n in sent] == ["refund.failed"]
    assert request["id"] in sent[0].body
    pump_events(desk)  # the same events again change nothing and notify nobody twice
    Worker(desk).run_until_idle()
    assert len(sent) == 1


def test_charges_show_and_search_look_before_refunding(desk, client, emulator):
    order = f"S-{uuid.uuid4().hex[:8]}"
    charge = pay(client, 4000, metadata={"order_id": order}, email="Jenny@Example.com")
    refunds.request_refund(desk, charge, amount="15.00", actor="a")
    shown = refunds.show_charge(desk, charge, live=True)
    assert shown["source"] == "stripe"
    assert shown["balance"]["left"] == 2500 and len(shown["refunds"]) == 1
    assert [r["id"] for r in shown["requests"]] == [shown["refunds"][0]["metadata"][
        REQUEST_METADATA_KEY]]
    pump_events(desk)
    assert [c["id"] for c in refunds.search_charges(desk, order_id=order)] == [charge]
    assert charge in [c["id"] for c in refunds.search_charges(desk, email="jenny@example.com")]
    found = refunds.search_charges(desk, last4="4242", email="jenny@example.com")
    assert charge in [c["id"] for c in found]
    with pytest.raises(errors.ValidationError):
        refunds.search_charges(desk, last4="42")
