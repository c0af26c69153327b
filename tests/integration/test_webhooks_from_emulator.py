"""The emulator delivers real signed webhooks to a running desk: stored once, applied, rotated."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator import Emulator
from disputedesk.emulator.testing import running_emulator
from disputedesk.store import inbox
from disputedesk.store import mirror as repo
from disputedesk.testing import run_server
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps
from disputedesk.worker import Worker


def _wait(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


@pytest.fixture
def emulator():
    with running_emulator(Emulator(seed=5, webhook_retry_delays=(0.2, 0.2, 0.2))) as server:
        yield server


def _desk(emulator, database_url, tmp_path, secrets):
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_hooks"),
                        stripe_api_base=emulator.base_url,
                        webhook_secrets=[SecretStr(s) for s in secrets])
    return build_deps(settings, migrate=False)


def _endpoint(emulator):
    """An endpoint for every event; its URL is set once the desk's port is known."""
    return emulator.stripe_client().v1.webhook_endpoints.create(
        params={"url": "http://127.0.0.1:9/webhooks/stripe", "enabled_events": ["*"]})


def _point(emulator, endpoint, url):
    emulator.stripe_client().v1.webhook_endpoints.update(
        endpoint.id, params={"url": f"{url}/webhooks/stripe"})


def _deliveries(emulator, event_id):
    params = {"event": event_id} if event_id else {}
    answer = httpx.get(f"{emulator.base_url}/_emulator/deliveries", params=params,
                       headers={"Authorization": "Bearer sk_test_hooks"})
    return answer.json()["data"]


def _stored(deps, event_id):
    with deps.store.read() as conn:
        return inbox.get_event(conn, event_id)


def _dispute_event(emulator):
    client = emulator.stripe_client()
    client.v1.payment_intents.create(params={
        "amount": 3100, "currency": "usd", "payment_method": "pm_card_createDispute",
        "confirm": True})
    emulator.advance(2)
    return _wait(lambda: next(iter(client.v1.events.list(
        params={"type": "charge.dispute.created"}).data), None))


def test_delivered_events_are_stored_once_and_applied_to_the_mirror(emulator, database_url,
                                                                    tmp_path):
    endpoint = _endpoint(emulator)
    deps = _desk(emulator, database_url, tmp_path, [endpoint.secret])
    with run_server(create_app(deps)) as url:
        _point(emulator, endpoint, url)
        event = _dispute_event(emulator)
        assert _wait(lambda: _stored(deps, event.id)) is not None
        # Stripe may deliver an event twice: the second delivery is acknowledged, not stored again.
        httpx.post(f"{emulator.base_url}/_emulator/trigger", data={"event": event.id},
                   headers={"Authorization": "Bearer sk_test_hooks"})
        assert _wait(lambda: len(_deliveries(emulator, event.id)) >= 2)
        assert _wait(lambda: all(d["status"] == "succeeded"
                                 for d in _deliveries(emulator, event.id)))
        with deps.store.read() as conn:
            assert len(inbox.list_events(conn, type="charge.dispute.created", limit=50)) == 1
        Worker(deps).run_until_idle()
        dispute_id = event.data.object.id
        with deps.store.read() as conn:
            mirrored = repo.get_object(conn, "dispute", dispute_id)
        assert mirrored["status"] == "needs_response"
    deps.close()


def test_a_desk_without_the_endpoints_secret_refuses_and_stores_nothing(emulator, database_url,
                                                                       tmp_path):
    endpoint = _endpoint(emulator)
    deps = _desk(emulator, database_url, tmp_path, ["whsec_not_the_right_one"])
    with run_server(create_app(deps)) as url:
        _point(emulator, endpoint, url)
        event = _dispute_event(emulator)
        attempts = _wait(lambda: [a for d in _deliveries(emulator, event.id)
                                  for a in d["attempts"]])
        assert attempts and all(a["status_code"] == 400 for a in attempts)
        assert _stored(deps, event.id) is None
    deps.close()


def test_secret_rotation_accepts_the_old_secret_beside_the_new_one(emulator, database_url,
                                                                   tmp_path):
    endpoint = _endpoint(emulator)
    # During a rotation the desk holds both secrets; Stripe still signs with the old one.
    deps = _desk(emulator, database_url, tmp_path,
                 ["whsec_the_new_secret_0123456789", endpoint.secret])
    with run_server(create_app(deps)) as url:
        _point(emulator, endpoint, url)
        event = _dispute_event(emulator)
        assert _wait(lambda: _stored(deps, event.id)) is not None
    deps.close()


@pytest.mark.parametrize(("fault", "refused_with"), [
    ("tampered_body", 400), ("wrong_secret", 400), ("stale_timestamp", 400),
    ("future_timestamp", 400), ("malformed_body", 400), ("oversized_body", 413),
    ("duplicate", 200),
])
def test_hostile_deliveries_are_refused_and_the_genuine_retry_is_stored_once(
        emulator, database_url, tmp_path, fault, refused_with):
    endpoint = _endpoint(emulator)
    deps = _desk(emulator, database_url, tmp_path, [endpoint.secret])
    with run_server(create_app(deps)) as url:
        _point(emulator, endpoint, url)
        answer = httpx.post(f"{emulator.base_url}/_emulator/webhook_faults",
                            data={"fault": fault, "count": 1},
                            headers={"Authorization": "Bearer sk_test_hooks"})
        assert answer.status_code == 200 and answer.json()["pending"] == [fault]
        _dispute_event(emulator)

        def faulted():  # the fault hits whichever delivery goes out first
            return next(((d, a) for d in _deliveries(emulator, None) for a in d["attempts"]
                         if a.get("fault") == fault), None)

        delivery, attempt = _wait(faulted)
        assert attempt["status_code"] == refused_with
        # Stripe retries a refused delivery; the genuine retry is accepted and stored once.
        assert _wait(lambda: next(d for d in _deliveries(emulator, delivery["event"])
                                  if d["id"] == delivery["id"])["status"] == "succeeded")
        with deps.store.read() as conn:
            stored_ids = [e["id"] for e in inbox.list_events(conn, limit=500)]
        assert stored_ids.count(delivery["event"]) == 1
        assert "evt_malformed" not in stored_ids
    deps.close()


def test_an_unknown_delivery_fault_is_refused_with_the_choices(emulator):
    answer = httpx.post(f"{emulator.base_url}/_emulator/webhook_faults", data={"fault": "nope"},
                        headers={"Authorization": "Bearer sk_test_hooks"})
    assert answer.status_code == 400
    assert "tampered_body" in answer.json()["error"]["message"]
