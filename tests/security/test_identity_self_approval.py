"""Maker-checker between people, over HTTP: every path by which one person could be both the
maker and the checker of a refund above the approval threshold (100.00 USD) is refused, with a
message that says why, and another person can still approve."""

from __future__ import annotations

import sqlalchemy as sa

from identity_desk import (  # noqa: F401 - the fixtures this module uses
    _cheap_argon2,
    bearer,
    desk,
    emulator,
    pay,
    person,
    run_cli,
    server,
)

from disputedesk.services import accounts, sync
from disputedesk.store.refunds_tables import refund_requests
from disputedesk.worker import Worker


def _ask(client, charge: str, amount: str = "250") -> str:
    asked = client.post("/api/v1/refunds", json={"target": charge, "amount_text": amount})
    assert asked.status_code == 201, asked.text
    request = asked.json()["request"]
    assert request["status"] == "awaiting_approval", request
    return request["id"]


def _refused(response, code: str) -> str:
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    assert detail["code"] == code, detail
    return detail["message"]


def _status(client, rid: str) -> str:
    return client.get(f"/api/v1/refunds/{rid}").json()["request"]["status"]


def test_requesting_through_my_api_token_then_approving_as_me_is_refused(
        desk, person, bearer, emulator):
    alice = person("alice", "approver")
    # An admin made alice a token for her scripts: it is alice, not a second person.
    _info, secret = accounts.create_token(desk, name="alice-scripts", role="approver",
                                          owner="alice", actor="admin")
    rid = _ask(bearer(secret), pay(emulator, 50_000))
    message = _refused(alice.post(f"/api/v1/refunds/{rid}/approve", json={}), "self_approval")
    assert "alice" in message and "another user must" in message
    _refused(alice.post(f"/api/v1/refunds/{rid}/reject", json={}), "self_approval")
    assert _status(alice, rid) == "awaiting_approval"
    bob = person("bob", "approver")
    done = bob.post(f"/api/v1/refunds/{rid}/approve", json={"note": "checked"})
    assert done.status_code == 200 and done.json()["status"] == "succeeded", done.text


def test_an_admin_minting_a_token_to_request_then_approving_in_the_dashboard_is_refused(
        person, emulator, bearer):
    root = person("root", "admin")
    made = root.post("/api/v1/tokens", json={"name": "root-bot", "role": "approver"})
    assert made.status_code == 201, made.text
    assert made.json()["token"]["owner"] == "root"
    rid = _ask(bearer(made.json()["secret"]), pay(emulator, 30_000))
    form = root.post(f"/refunds/{rid}/approve", data={"note": "mine"},
                     headers={"accept": "application/json"})
    assert form.status_code in (303, 403)
    assert _status(root, rid) == "awaiting_approval"
    _refused(root.post(f"/api/v1/refunds/{rid}/approve", json={}), "self_approval")


def test_creating_a_second_user_to_approve_my_own_request_is_refused(person, emulator):
    mallory = person("mallory", "admin")
    created = mallory.post("/api/v1/users", json={"username": "mallory2", "role": "approver",
                                                  "password": "another long password"})
    assert created.status_code == 201 and created.json()["created_by"] == "mallory"
    rid = _ask(mallory, pay(emulator, 40_000))
    sock = person("mallory2", password="another long password")
    message = _refused(sock.post(f"/api/v1/refunds/{rid}/approve", json={}),
                       "approver_created_by_requester")
    assert "created mallory2's account" in message
    assert _status(mallory, rid) == "awaiting_approval"


def test_a_rule_i_own_requesting_a_refund_i_then_approve_is_refused(desk, person, emulator):
    root = person("root", "admin")
    alice = person("alice", "approver")
    # The default rules refund early fraud warnings up to the dispute fee; with a 5.00 USD
    # threshold that refund waits for a person. alice answers for the rules.
    for key, value in (("approval_threshold", "5.00 USD"), ("rules_owner", "alice")):
        assert root.put(f"/api/v1/settings/{key}", json={"value": value}).status_code == 200
    charge = pay(emulator, 1000, "pm_card_createEarlyFraudWarning")
    emulator.advance(2)
    desk.clock.set(emulator.emulator.clock.now())
    sync.catch_up(desk)
    Worker(desk).run_until_idle()
    with desk.store.read() as conn:
        (row,) = conn.execute(sa.select(refund_requests).where(
            refund_requests.c.charge == charge)).mappings().all()
    assert row["status"] == "awaiting_approval" and row["requested_by"].startswith("rule:")
    assert row["requester_person"] == "alice"
    message = _refused(alice.post(f"/api/v1/refunds/{row['id']}/approve", json={}),
                       "self_approval")
    assert "rule" in message and "alice" in message
    bob = person("bob", "approver")
    done = bob.post(f"/api/v1/refunds/{row['id']}/approve", json={})
    assert done.status_code == 200 and done.json()["status"] == "succeeded", done.text
    trail = root.get("/api/v1/audit", params={"object_id": row["id"]}).json()
    asked = next(e for e in trail if e["action"] == "refund.requested")
    assert (asked["person"], asked["door"], asked["credential"]) == (
        "alice", "rule", row["requested_by"])
