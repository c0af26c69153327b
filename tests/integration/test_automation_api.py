"""``/api/v1/rules`` over HTTP: who may read and who may author, check, dry run, backtest,
decisions per object."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from disputedesk.services import accounts
from disputedesk.testing import cheap_password_hashing, make_dispute, make_event
from disputedesk.web.app import create_app
from disputedesk.worker import Worker
from tests.contract.helpers import store_events

GOOD = """[[rules]]
name = "tag-all"
why = "Every new dispute gets a tag."
trigger = "dispute.created"
actions = [{ kind = "tag", tags = ["new"] }]
"""


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def client(deps):
    with TestClient(create_app(deps)) as c:
        yield c


def auth(deps, role: str) -> dict:
    return {"Authorization": f"Bearer {accounts.token_for_role(deps, role)}"}


def test_a_viewer_reads_the_rules_in_force_but_may_not_check_files(client, deps):
    viewer = auth(deps, "viewer")
    shown = client.get("/api/v1/rules", headers=viewer)
    assert shown.status_code == 200
    assert shown.json()["rules"][0]["name"] == "refund-small-early-fraud-warnings"
    refused = client.post("/api/v1/rules/check", content=GOOD, headers=viewer)
    assert refused.status_code == 403
    assert client.get("/api/v1/rules").status_code == 401


def test_check_returns_every_problem_with_its_line(client, deps):
    admin = auth(deps, "admin")
    bad = GOOD.replace('actions = [{ kind = "tag", tags = ["new"] }]',
                       'condition = "__import__(\'os\')"\nactions = [{ kind = "tag", tags = ["new"] }]')
    answer = client.post("/api/v1/rules/check", content=bad, headers=admin)
    assert answer.status_code == 200
    body = answer.json()
    assert body["valid"] is False and body["problems"][0]["line"] == 5
    assert body["problems"][0]["rule"] == "tag-all"
    ok = client.post("/api/v1/rules/check", content=GOOD, headers=admin).json()
    assert ok == {"valid": True, "problems": [], "rules": 1}


def test_dry_run_and_decisions_per_dispute(client, deps):
    dispute = make_dispute(amount=1000, reason="fraudulent")
    store_events(deps, [make_event("charge.dispute.created", dispute)])
    viewer = auth(deps, "viewer")
    from disputedesk.services.events import process_batch

    process_batch(deps.store, deps.clock, listeners=None)
    planned = client.get("/api/v1/rules/dry-run", headers=viewer).json()["decisions"]
    assert any(d["rule"] == "accept-small-fraud-disputes" and d["object_id"] == dispute["id"]
               for d in planned)
    mine = client.post("/api/v1/rules/dry-run", content=GOOD, headers=auth(deps, "admin"))
    assert [d["rule"] for d in mine.json()["decisions"]] == ["tag-all"]
    assert client.get(f"/api/v1/rules/decisions/{dispute['id']}",
                      headers=viewer).json()["decisions"] == []


def test_decisions_of_an_object_after_the_worker_ran(client, deps):
    dispute = make_dispute(amount=5000, reason="product_not_received")
    store_events(deps, [make_event("charge.dispute.created", dispute)])
    Worker(deps).run_until_idle()
    body = client.get(f"/api/v1/rules/decisions/{dispute['id']}", headers=auth(deps, "viewer")).json()
    assert {d["rule"] for d in body["decisions"]} == {"accept-small-fraud-disputes",
                                                      "build-evidence-for-new-disputes"}
    assert all("explanation" in d and "inputs" in d for d in body["decisions"])


def test_backtest_of_the_rules_in_force_and_of_a_file(client, deps):
    report = client.get("/api/v1/rules/backtest?since=30d", headers=auth(deps, "viewer"))
    assert report.status_code == 200 and report.json()["disputes_seen"] == 0
    bad = client.get("/api/v1/rules/backtest?since=soon", headers=auth(deps, "viewer"))
    assert bad.status_code == 400
    mine = client.post("/api/v1/rules/backtest?since=30d", content=GOOD, headers=auth(deps, "admin"))
    assert [r["rule"] for r in mine.json()["rules"]] == ["tag-all"]


def test_a_backtest_of_the_active_rules_is_kept_across_a_restart(deps, settings, clock,
                                                                 fake_stripe):
    from disputedesk.services.automation.backtests import last_backtest, run_and_record
    from disputedesk.wiring import build_deps

    assert last_backtest(deps) is None
    ran = run_and_record(deps, window="90d", actor="ana")
    restarted = build_deps(settings, clock=clock, gateway_factory=lambda _s: fake_stripe,
                           migrate=False)
    try:
        kept = last_backtest(restarted)
    finally:
        restarted.close()
    assert kept["ran_by"] == "ana" and kept["window"] == "90d"
    assert kept["disputes_seen"] == ran["disputes_seen"] and kept["rules"] == ran["rules"]
