"""DISPUTEDESK_WEBHOOK_REFETCH: a webhook correctly signed (a leaked secret) but carrying a made-up
snapshot changes nothing in refetch mode, because the worker applies the object as Stripe's API
returns it; without the setting the same forgery is applied (which is why the setting exists).
Real servers over HTTP, pointed at the emulator."""

from __future__ import annotations

import time

import httpx
import pytest

from disputedesk.services import accounts
from disputedesk.testing import make_dispute, make_event, signed_delivery

from conftest import emulator_dispute, poll, start_server


def _client(server) -> httpx.Client:
    token = accounts.token_for_role(server.deps(), "admin")
    return httpx.Client(base_url=server.url, timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def _forge_won(server, dispute: dict) -> str:
    forged = make_dispute(id=dispute["id"], charge=dispute["charge"], amount=dispute["amount"],
                          status="won")
    event = make_event("charge.dispute.updated", forged, created=int(time.time()) + 60)
    body, headers = signed_delivery(event)
    assert httpx.post(server.url + "/webhooks/stripe", content=body, headers=headers).status_code == 200
    return event["id"]


def _settled(api: httpx.Client, event_id: str) -> dict:
    return poll(lambda: (lambda e: e if e["status"] != "received" or e["attempts"] else None)(
        api.get(f"/api/v1/events/{event_id}").json()))


@pytest.fixture
def refetching(backend_url, tmp_path):
    server = start_server(tmp_path, backend_url, DISPUTEDESK_WEBHOOK_REFETCH="true")
    yield server
    server.stop()


def test_a_signed_webhook_with_a_forged_snapshot_changes_nothing_in_refetch_mode(refetching):
    with _client(refetching) as api:
        dispute = emulator_dispute(refetching, api)
        event_id = _forge_won(refetching, dispute)
        assert _settled(api, event_id)["status"] == "processed"
        shown = api.get(f"/api/v1/disputes/{dispute['id']}").json()
        assert shown["status"] == "needs_response", shown["status"]


def test_a_signed_webhook_for_an_object_stripe_does_not_have_is_never_applied_in_refetch_mode(
        refetching):
    with _client(refetching) as api:
        event = make_event("charge.dispute.created", make_dispute(id="du_forged_by_attacker"),
                           created=int(time.time()))
        body, headers = signed_delivery(event)
        assert httpx.post(refetching.url + "/webhooks/stripe", content=body,
                          headers=headers).status_code == 200
        settled = _settled(api, event["id"])
        assert settled["status"] in ("received", "failed") and "du_forged_by_attacker" in (
            settled["last_error"] or "")
        assert api.get("/api/v1/disputes/du_forged_by_attacker").status_code == 404


def test_without_refetch_the_signed_forged_snapshot_is_applied(desk):
    with _client(desk) as api:
        dispute = emulator_dispute(desk, api)
        event_id = _forge_won(desk, dispute)
        assert _settled(api, event_id)["status"] == "processed"
        assert api.get(f"/api/v1/disputes/{dispute['id']}").json()["status"] == "won"
