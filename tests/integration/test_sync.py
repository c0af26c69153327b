"""Sync: with webhooks off, the mirror is brought equal to the emulator by backfill and catch-up."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import sync as sync_service
from disputedesk.services.events import process_batch
from disputedesk.store import mirror as repo
from disputedesk.wiring import build_deps

TYPES = {
    "charge": "charges",
    "refund": "refunds",
    "dispute": "disputes",
    "payment_intent": "payment_intents",
    "radar.early_fraud_warning": "early_fraud_warnings",
}


@pytest.fixture
def emulator():
    with running_emulator(seed=11) as server:
        yield server


@pytest.fixture
def desk(emulator, database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_sync"), stripe_api_base=emulator.base_url,
                        stripe_rate_limit=1000)
    deps = build_deps(settings, migrate=False)
    yield deps
    deps.close()


def _pay(client, pm: str, amount: int = 2500, currency: str = "usd") -> str:
    pi = client.v1.payment_intents.create(params={
        "amount": amount, "currency": currency, "payment_method": pm, "confirm": True,
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
    })
    return pi.latest_charge


def _drain(deps) -> None:
    while process_batch(deps.store, deps.clock, limit=500,
                        listeners=deps.event_listeners).claimed:
        pass


def _assert_mirror_equals_stripe(deps, client) -> None:
    lists = {
        "charge": client.v1.charges.list, "refund": client.v1.refunds.list,
        "dispute": client.v1.disputes.list, "payment_intent": client.v1.payment_intents.list,
        "radar.early_fraud_warning": client.v1.radar.early_fraud_warnings.list,
    }
    for object_type, list_fn in lists.items():
        truth = {o.id: o.to_dict() for o in list_fn(params={"limit": 100}).auto_paging_iter()}
        with deps.store.read() as conn:
            mirrored = {i: repo.get_object(conn, object_type, i) for i in truth}
            assert repo.count(conn, object_type) == len(truth), object_type
        for object_id, obj in truth.items():
            assert mirrored[object_id] == obj, f"{object_type} {object_id} differs"


def test_backfill_then_event_catch_up_make_the_mirror_equal_to_stripe(emulator, desk):
    client = emulator.stripe_client()
    charges = [_pay(client, "pm_card_visa", 1000 + i) for i in range(5)]
    _pay(client, "pm_card_createDispute")
    _pay(client, "pm_card_createDisputeInquiry", 4000)
    _pay(client, "pm_card_createEarlyFraudWarning" , 900)
    client.v1.refunds.create(params={"charge": charges[0], "amount": 300})
    emulator.advance(5)  # disputes and warnings open shortly after their charges

    report = sync_service.sync(desk)
    _drain(desk)
    assert report.objects["charges"] == 8 and report.objects["disputes"] == 2
    _assert_mirror_equals_stripe(desk, client)

    # Webhooks stay off; Stripe's state moves on. Only the events catch-up sees it.
    client.v1.refunds.create(params={"charge": charges[1]})
    dispute = next(d for d in client.v1.disputes.list().data if d.status == "needs_response")
    client.v1.disputes.update(dispute.id, params={
        "evidence": {"uncategorized_text": "winning_evidence"}, "submit": True})
    emulator.advance(60)  # the emulator decides the outcome
    report = sync_service.sync(desk, backfill_objects=False)
    _drain(desk)
    assert report.events_stored > 0
    _assert_mirror_equals_stripe(desk, client)
    with desk.store.read() as conn:
        assert repo.get_object(conn, "dispute", dispute.id)["status"] == "won"


def test_catch_up_twice_stores_each_event_once(emulator, desk):
    client = emulator.stripe_client()
    _pay(client, "pm_card_visa")
    first = sync_service.catch_up(desk)
    second = sync_service.catch_up(desk)
    assert first.events_stored > 0
    assert second.events_stored == 0 and second.events_seen >= 1


def test_unknown_object_names_are_refused_with_the_choices():
    with pytest.raises(Exception) as info:
        sync_service.parse_objects(["charges", "customers"])
    assert "customers" in str(info.value) and "disputes" in str(info.value)
