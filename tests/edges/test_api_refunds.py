"""``/api/v1/refunds`` and ``/api/v1/charges`` over HTTP with API tokens, against the emulator."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.domain.bulk import read_result_csv
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import accounts
from disputedesk.services.refunds.testing import pay, wait_for
from disputedesk.testing import cheap_password_hashing, ManualClock, run_server
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=61) as server:
        yield server


@pytest.fixture
def desk(emulator, sqlite_url, tmp_path):
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_api"), stripe_api_base=emulator.base_url,
                        stripe_rate_limit=1000, approval_threshold="100.00 USD, 100.00 EUR")
    deps = build_deps(settings, clock=ManualClock(time.time()), migrate=False)
    yield deps
    deps.close()


PASSWORD = "correct horse battery staple"


@pytest.fixture
def server(desk):
    with run_server(create_app(desk)) as base_url:
        yield base_url


@pytest.fixture
def api(desk, server):
    roles = {"viewer": "viewer", "agent": "agent", "approver": "approver", "approver2": "approver"}
    tokens = {name: accounts.token_for_role(desk, role, name=f"{name} token")
              for name, role in roles.items()}
    clients = {name: httpx.Client(base_url=f"{server}/api/v1", timeout=30,
                                  headers={"Authorization": f"Bearer {token}"})
               for name, token in tokens.items()}
    clients["anonymous"] = httpx.Client(base_url=f"{server}/api/v1", timeout=30)
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
def person(desk, server, monkeypatch):
    """``person("alice", "approver")``: an API client signed in as that user by session."""
    cheap_password_hashing(monkeypatch)
    clients = []

    def sign_in(username: str, role: str) -> httpx.Client:
        accounts.create_user(desk, username=username, role=role, password=PASSWORD)
        session = accounts.login(desk, username=username, password=PASSWORD)
        client = httpx.Client(base_url=f"{server}/api/v1", timeout=30,
                              headers={"X-CSRF-Token": session.csrf_secret},
                              cookies={"dd_session": session.token})
        clients.append(client)
        return client

    yield sign_in
    for client in clients:
        client.close()


def test_create_in_minor_units_is_idempotent_by_key(api, emulator):
    charge = pay(emulator.stripe_client(), 5000, "eur")
    body = {"target": charge, "amount": 1250, "note": "late", "metadata": {"ticket": "T-1"}}
    first = api["agent"].post("/refunds", json=body, headers={"Idempotency-Key": "api-1"})
    assert first.status_code == 201, first.text
    again = api["agent"].post("/refunds", json=body, headers={"Idempotency-Key": "api-1"})
    request = first.json()["request"]
    assert request["status"] == "succeeded" and request["amount_display"] == "12.50 EUR"
    assert again.json()["existing"] and again.json()["request"]["id"] == request["id"]
    assert len(emulator.stripe_client().v1.refunds.list(params={"charge": charge}).data) == 1
    shown = api["viewer"].get(f"/refunds/{request['id']}").json()
    assert [a["action"] for a in shown["audit"]][:2] == ["refund.requested", "refund.approved"]
    listed = api["viewer"].get("/refunds", params={"charge": charge}).json()["data"]
    assert [r["id"] for r in listed] == [request["id"]]


def test_permissions_and_errors_map_to_http(api, emulator):
    charge = pay(emulator.stripe_client(), 5000)
    assert api["anonymous"].get("/refunds").status_code == 401
    assert api["viewer"].post("/refunds", json={"target": charge}).status_code == 403
    too_much = api["agent"].post("/refunds", json={"target": charge, "amount_text": "60.00 USD"})
    assert too_much.status_code == 409 and too_much.json()["detail"]["code"] == "amount_too_large"
    bad = api["agent"].post("/refunds", json={"target": charge, "amount_text": "12,50"})
    assert bad.status_code == 400 and "dot" in bad.json()["detail"]["hint"]
    assert api["viewer"].get("/refunds/nope").status_code == 404


def test_approval_flow_over_http(api, person, emulator):
    charge = pay(emulator.stripe_client(), 50000)
    asked = api["approver"].post("/refunds", json={"target": charge, "amount_text": "250"}).json()
    rid = asked["request"]["id"]
    assert asked["request"]["status"] == "awaiting_approval"
    denied = api["agent"].post(f"/refunds/{rid}/approve")
    assert denied.status_code == 403 and denied.json()["detail"]["code"] == "permission_denied"
    for action in ("approve", "reject"):
        by_token = api["approver2"].post(f"/refunds/{rid}/{action}", json={"note": "ok"})
        assert by_token.status_code == 403, by_token.text
        assert by_token.json()["detail"]["code"] == "person_required"
        assert "signed-in person" in by_token.json()["detail"]["message"]
    assert api["viewer"].get(f"/refunds/{rid}").json()["request"]["status"] == "awaiting_approval"
    done = person("carol", "approver").post(f"/refunds/{rid}/approve", json={"note": "ok"})
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    again = person("dave", "approver").post(f"/refunds/{rid}/reject")
    assert again.status_code == 409


def test_a_requester_cannot_approve_their_own_refund_with_an_approver_token(
        api, person, desk, server, emulator):
    charge = pay(emulator.stripe_client(), 50000)
    alice = person("alice", "approver")
    asked = alice.post("/refunds", json={"target": charge, "amount_text": "250"})
    assert asked.status_code == 201, asked.text
    rid = asked.json()["request"]["id"]
    assert asked.json()["request"]["status"] == "awaiting_approval"
    own = alice.post(f"/refunds/{rid}/approve")
    assert own.status_code == 403 and own.json()["detail"]["code"] == "self_approval"
    # An admin gave alice an approver token for her scripts: it is not a second person.
    _info, secret = accounts.create_token(desk, name="alice-scripts", role="approver",
                                          owner="alice", actor="admin")
    bearer = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=server, timeout=30, headers=bearer) as token:
        listed = token.get("/api/v1/refunds", params={"status": "awaiting_approval"})
        assert listed.status_code == 200 and rid in [r["id"] for r in listed.json()["data"]]
        for action in ("approve", "reject"):
            refused = token.post(f"/api/v1/refunds/{rid}/{action}", json={"note": "me again"})
            assert refused.status_code == 403, refused.text
            assert refused.json()["detail"]["code"] == "person_required"
            # nor through the dashboard's form route, which also accepts a bearer token
            form = token.post(f"/refunds/{rid}/{action}", data={"note": "me again"},
                              headers={"accept": "application/json"})
            assert form.status_code == 403 and form.json()["detail"]["code"] == "person_required"
    assert api["viewer"].get(f"/refunds/{rid}").json()["request"]["status"] == "awaiting_approval"
    done = person("bob", "approver").post(f"/refunds/{rid}/approve", json={"note": "checked"})
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    shown = api["viewer"].get(f"/refunds/{rid}").json()
    assert [a["actor"] for a in shown["audit"] if a["action"] == "refund.approved"] == ["bob"]


def test_cancel_a_request_awaiting_approval(api, emulator):
    charge = pay(emulator.stripe_client(), 50000)
    rid = api["agent"].post("/refunds", json={"target": charge, "amount": 20000}).json()[
        "request"]["id"]
    canceled = api["agent"].post(f"/refunds/{rid}/cancel", json={"note": "typo"})
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"


def test_charges_show_and_search(api, emulator):
    charge = pay(emulator.stripe_client(), 4000, email="api.search@example.com")
    shown = api["viewer"].get(f"/charges/{charge}", params={"live": "true"})
    assert shown.status_code == 200 and shown.json()["balance"]["left"] == 4000
    found = api["viewer"].get("/charges/search", params={"email": "api.search@example.com"})
    assert [c["id"] for c in found.json()["data"]] == [charge]
    assert api["viewer"].get("/charges/search").status_code == 400


def test_bulk_upload_status_and_result(api, emulator):
    client = emulator.stripe_client()
    charges = [pay(client, 2000) for _ in range(3)]
    data = "charge,amount\n" + "".join(f"{c},5.00\n" for c in charges)
    bad = api["approver"].post("/refunds/bulk",
                               files={"file": ("bad.csv", "charge,amount\nch_1,12,50\n,full\n")})
    assert bad.status_code == 400
    assert [p["row"] for p in bad.json()["detail"]["problems"]] == [2, 3]
    assert api["agent"].post("/refunds/bulk", files={"file": ("r.csv", data)}).status_code == 403
    dry = api["approver"].post("/refunds/bulk", files={"file": ("r.csv", data)},
                               data={"dry_run": "true"})
    assert dry.status_code == 202 and dry.json()["dry_run"] and dry.json()["problems"] == []
    started = api["approver"].post("/refunds/bulk", files={"file": ("r.csv", data)})
    assert started.status_code == 202
    job = started.json()["job_id"]
    status = wait_for(lambda: (s := api["viewer"].get(f"/refunds/bulk/{job}").json())["job"][
        "status"] == "done" and s)
    assert status["counts"] == {"succeeded": 3}
    result = api["viewer"].get(f"/refunds/bulk/{job}/result.csv")
    assert [r.status for r in read_result_csv(result.text)] == ["succeeded"] * 3


def test_a_reused_idempotency_key_with_other_parameters_is_refused_with_409(api, emulator):
    charge = pay(emulator.stripe_client(), 5000, "eur")
    body = {"target": charge, "amount": 500}
    first = api["agent"].post("/refunds", json=body, headers={"Idempotency-Key": "k-reuse"})
    assert first.status_code == 201, first.text
    key = first.json()["request"]["source_key"]
    assert key.startswith("api:") and key.endswith(":k-reuse")
    other = api["agent"].post("/refunds", json={**body, "amount": 600},
                              headers={"Idempotency-Key": "k-reuse"})
    assert other.status_code == 409, other.text
    assert other.json()["detail"]["code"] == "idempotency_key_reused"
    assert "k-reuse" in other.json()["detail"]["message"]
    assert len(emulator.stripe_client().v1.refunds.list(params={"charge": charge}).data) == 1


def test_idempotency_keys_are_scoped_to_the_caller(api, emulator):
    client = emulator.stripe_client()
    one, two = pay(client, 5000, "eur"), pay(client, 5000, "eur")
    mine = api["agent"].post("/refunds", json={"target": one, "amount": 500},
                             headers={"Idempotency-Key": "shared-key"})
    theirs = api["approver"].post("/refunds", json={"target": two, "amount": 500},
                                  headers={"Idempotency-Key": "shared-key"})
    assert mine.status_code == theirs.status_code == 201, theirs.text
    assert mine.json()["request"]["id"] != theirs.json()["request"]["id"]
    assert not theirs.json()["existing"]
