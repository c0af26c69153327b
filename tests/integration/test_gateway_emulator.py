"""The gateway against the emulator over real HTTP: reads, idempotent writes, uploads, errors."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from disputedesk import errors
from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.stripe_api.gateway import StripeGateway


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=7) as server:
        yield server


@pytest.fixture
def gateway(emulator) -> StripeGateway:
    return StripeGateway(Settings(stripe_api_key=SecretStr("sk_test_gateway"),
                                  stripe_api_base=emulator.base_url, stripe_rate_limit=500,
                                  stripe_max_retries=2))


def _charge(emulator, amount=2000, currency="usd", pm="pm_card_visa") -> dict:
    pi = emulator.stripe_client().v1.payment_intents.create(params={
        "amount": amount, "currency": currency, "payment_method": pm, "confirm": True,
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
    })
    return pi.latest_charge if isinstance(pi.latest_charge, str) else pi.latest_charge.id


def test_fetch_object_returns_the_plain_snapshot(emulator, gateway):
    charge_id = _charge(emulator)
    charge = gateway.fetch_object("charge", charge_id)
    assert isinstance(charge, dict) and charge["id"] == charge_id and charge["amount"] == 2000


def test_create_refund_replays_with_the_same_idempotency_key(emulator, gateway):
    charge_id = _charge(emulator)
    first = gateway.create_refund({"charge": charge_id, "amount": 500},
                                  idempotency_key="desk-refund-1")
    second = gateway.create_refund({"charge": charge_id, "amount": 500},
                                   idempotency_key="desk-refund-1")
    assert first["id"] == second["id"]
    refunds = list(gateway.list_objects("refund", {"charge": charge_id}))
    assert [r["id"] for r in refunds] == [first["id"]]


def test_same_key_with_other_parameters_is_an_idempotency_error(emulator, gateway):
    charge_id = _charge(emulator)
    gateway.create_refund({"charge": charge_id, "amount": 100}, idempotency_key="desk-refund-2")
    with pytest.raises(errors.StripeIdempotencyError):
        gateway.create_refund({"charge": charge_id, "amount": 200},
                              idempotency_key="desk-refund-2")


def test_over_refund_is_translated_with_stripes_code(emulator, gateway):
    charge_id = _charge(emulator, amount=1000)
    with pytest.raises(errors.StripeInvalidRequest) as info:
        gateway.create_refund({"charge": charge_id, "amount": 5000}, idempotency_key="desk-3")
    assert info.value.stripe_code == "amount_too_large" and info.value.http_status == 400


def test_unknown_charge_is_a_not_found(gateway):
    with pytest.raises(errors.NotFound):
        gateway.fetch_object("charge", "ch_doesnotexist")


def test_list_objects_walks_every_page(emulator, gateway):
    ids = {_charge(emulator, amount=300 + i) for i in range(7)}
    seen = {c["id"] for c in gateway.iterate(gateway.client.v1.charges.list, {"limit": 2})}
    assert ids <= seen


def test_upload_file_sends_a_dispute_evidence_file(gateway):
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    uploaded = gateway.upload_file(pdf, "receipt.pdf", idempotency_key="desk-file-1")
    assert uploaded["purpose"] == "dispute_evidence" and uploaded["size"] == len(pdf)


def test_rate_limited_and_failed_answers_are_retried_until_they_pass(emulator):
    gateway = StripeGateway(Settings(stripe_api_key=SecretStr("sk_test_faults"),
                                     stripe_api_base=emulator.base_url, stripe_rate_limit=500,
                                     stripe_max_retries=10))
    charge_id = _charge(emulator)
    attempts = []

    def retrieve():
        attempts.append(1)
        return gateway.client.v1.charges.retrieve(charge_id)

    emulator.emulator.faults.configure(rate_limit=4, error_rate=0.2, seed=3)
    try:
        for _ in range(10):
            assert gateway.call(retrieve).id == charge_id
    finally:
        emulator.emulator.faults.configure(rate_limit=0, error_rate=0)
    # Ten answers needed; the limiter of 4/s refused some first and the gateway retried them.
    assert len(attempts) > 10
