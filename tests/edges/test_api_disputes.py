"""``/api/v1/disputes`` over HTTP (a real uvicorn server), with API tokens, against the emulator."""

from __future__ import annotations

import io

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import accounts
from disputedesk.services import disputes as svc
from disputedesk.store.disputes_tables import evidence_files
from disputedesk.testing import ManualClock, run_server
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps


@pytest.fixture
def emulator():
    with running_emulator(seed=31) as server:
        yield server


@pytest.fixture
def desk(emulator, sqlite_url, tmp_path):
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_api"), stripe_api_base=emulator.base_url,
                        stripe_rate_limit=1000)
    deps = build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()), migrate=False)
    yield deps
    deps.close()


@pytest.fixture
def api(desk):
    tokens = {role: accounts.token_for_role(desk, role, name=f"{role} token")
              for role in ("viewer", "agent", "admin")}
    with run_server(create_app(desk)) as base_url:
        clients = {role: httpx.Client(base_url=f"{base_url}/api/v1", timeout=30,
                                      headers={"Authorization": f"Bearer {token}"})
                   for role, token in tokens.items()}
        clients["anonymous"] = httpx.Client(base_url=f"{base_url}/api/v1", timeout=30)
        yield clients
        for client in clients.values():
            client.close()


def open_dispute(emulator, desk) -> str:
    client = emulator.stripe_client()
    pi = client.v1.payment_intents.create(params={
        "amount": 3100, "currency": "usd", "payment_method": "pm_card_createDispute", "confirm": True})
    emulator.advance(2)
    desk.clock.set(emulator.emulator.clock.now())
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    svc.fetch_dispute(desk, dispute.id)
    return dispute.id


def test_the_inbox_needs_a_token_and_lists_open_disputes(emulator, desk, api):
    dispute_id = open_dispute(emulator, desk)
    assert api["anonymous"].get("/disputes").status_code == 401
    response = api["viewer"].get("/disputes", params={"kind": "chargeback", "due_within": "10d"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["id"] for r in body["data"]] == [dispute_id] and body["at_risk"] == {"usd": 3100}
    assert api["viewer"].get(f"/disputes/{dispute_id}").json()["status"] == "needs_response"
    assert api["viewer"].get("/disputes/du_nope").status_code == 404


def test_a_viewer_cannot_change_evidence_or_submit(emulator, desk, api):
    dispute_id = open_dispute(emulator, desk)
    put = api["viewer"].put(f"/disputes/{dispute_id}/evidence", json={"fields": {"shipping_carrier": "UPS"}})
    assert put.status_code == 403
    assert api["viewer"].post(f"/disputes/{dispute_id}/submit", json={}).status_code == 403


def test_evidence_files_build_preview_submit_and_a_second_submit_refused(emulator, desk, api):
    agent = api["agent"]
    dispute_id = open_dispute(emulator, desk)
    put = agent.put(f"/disputes/{dispute_id}/evidence",
                    json={"fields": {"uncategorized_text": "winning_evidence",
                                     "customer_name": "Jenny Rosen"}, "note": "from the ticket"})
    assert put.status_code == 200, put.text
    assert put.json()["sources"]["customer_name"] == "manual"
    bad = agent.put(f"/disputes/{dispute_id}/evidence", json={"fields": {"receipt": "x"}})
    assert bad.status_code == 400 and "attach" in bad.json()["detail"]["hint"]
    buf = io.BytesIO()
    Image.new("RGB", (200, 100), (0, 90, 200)).save(buf, "JPEG")
    upload = agent.post(f"/disputes/{dispute_id}/files", data={"field": "receipt"},
                        files={"file": ("receipt.jpg", buf.getvalue(), "image/jpeg")})
    assert upload.status_code == 201, upload.text
    assert upload.json()["type"] == "jpeg"
    gif = agent.post(f"/disputes/{dispute_id}/files", data={"field": "receipt"},
                     files={"file": ("x.gif", b"GIF89a....", "image/gif")})
    assert gif.status_code == 400 and "GIF" in gif.json()["detail"]["message"]
    built = agent.post(f"/disputes/{dispute_id}/build", json={})
    assert built.status_code == 200 and "receipt" in built.json()["packet"]
    assert agent.post(f"/disputes/{dispute_id}/stage", json={"note": "draft"}).status_code == 200
    preview = agent.post(f"/disputes/{dispute_id}/preview").json()
    assert preview["params"]["submit"] is True and preview["params"]["evidence"]["receipt"].startswith("file_")
    submitted = agent.post(f"/disputes/{dispute_id}/submit",
                           json={"expected_digest": preview["digest"], "note": "complete"})
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["params"] == preview["params"]
    again = agent.post(f"/disputes/{dispute_id}/submit", json={})
    assert again.status_code == 409 and again.json()["detail"]["code"] == "already_done"


def test_accept_requires_confirm_true(emulator, desk, api):
    dispute_id = open_dispute(emulator, desk)
    refused = api["agent"].post(f"/disputes/{dispute_id}/accept", json={})
    assert refused.status_code == 400 and "concedes" in refused.json()["detail"]["message"]
    accepted = api["agent"].post(f"/disputes/{dispute_id}/accept", json={"confirm": True, "note": "fine"})
    assert accepted.status_code == 200 and accepted.json()["dispute_status"] == "lost"
    outcomes = api["viewer"].get("/disputes/outcomes").json()
    assert [o["dispute_id"] for o in outcomes["data"]] == [dispute_id]
    assert outcomes["data"][0]["withdrawn"] == 3100


def test_orders_import_over_http(emulator, desk, api):
    csv = b"order_id,email,total,currency\nord_9,jo@example.com,31.00,usd\n"
    response = api["agent"].post("/disputes/orders/import",
                                 files={"file": ("orders.csv", csv, "text/csv")})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


def test_the_disputes_routes_are_in_the_openapi_document(api):
    spec = api["anonymous"].get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/api/v1/disputes", "/api/v1/disputes/{dispute_id}/submit",
            "/api/v1/disputes/{dispute_id}/files"} <= paths


def test_text_templates_over_http_need_settings_manage_for_changes_and_refuse_bad_jinja(api):
    listed = api["viewer"].get("/disputes/templates")
    assert listed.status_code == 200
    assert {t["name"] for t in listed.json()["data"]} == {
        "refund_policy_disclosure", "cancellation_policy_disclosure", "refund_refusal_explanation",
        "cancellation_rebuttal", "rebuttal_letter"}
    body = {"source": '{% claim "refund_window" %}{{ merchant.name or "We" }} refund within '
                      '{{ facts.refund_window }} days.{% endclaim %}'}
    assert api["viewer"].put("/disputes/templates/rebuttal_letter", json=body).status_code == 403
    # A template renders into every dispute's evidence: an agent may not change it.
    refused = api["agent"].put("/disputes/templates/rebuttal_letter", json=body)
    assert refused.status_code == 403, refused.text
    assert api["agent"].delete("/disputes/templates/rebuttal_letter").status_code == 403
    changed = api["admin"].put("/disputes/templates/rebuttal_letter", json=body)
    assert changed.status_code == 200 and changed.json()["custom"] is True
    bad = api["admin"].put("/disputes/templates/rebuttal_letter", json={"source": "{% if %}"})
    assert bad.status_code == 400 and "line 1" in bad.text
    # A sentence that names no facts would be sent whatever the desk knows: refused.
    loose = api["admin"].put("/disputes/templates/rebuttal_letter",
                             json={"source": "We refund within 30 days."})
    assert loose.status_code == 400 and "outside a claim" in loose.text
    assert api["admin"].put("/disputes/templates/nope", json=body).status_code == 422
    reset = api["admin"].delete("/disputes/templates/rebuttal_letter")
    assert reset.status_code == 200 and reset.json()["custom"] is False


def test_a_template_that_would_burn_cpu_is_refused_with_a_clear_message_on_the_evidence(
        emulator, desk, api):
    dispute_id = open_dispute(emulator, desk)
    for source in ("{{ 'x' * 300000000 }}",
                   "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"):
        source = '{% claim "dispute" %}' + source + "{% endclaim %}"
        stored = api["admin"].put("/disputes/templates/rebuttal_letter", json={"source": source})
        assert stored.status_code == 200, stored.text  # it compiles; it is stopped when rendered
        evidence = api["viewer"].get(f"/disputes/{dispute_id}/evidence")
        assert evidence.status_code == 400, evidence.text
        assert "template 'rebuttal_letter' was stopped" in evidence.json()["detail"]["message"]


def test_preview_needs_the_submit_permission_and_audits_its_rebuild_as_the_caller(
        emulator, desk, api):
    dispute_id = open_dispute(emulator, desk)
    edited = api["agent"].put(f"/disputes/{dispute_id}/evidence",
                              json={"fields": {"uncategorized_text": "winning_evidence"}})
    assert edited.status_code == 200
    # A preview uploads files to Stripe and rebuilds a stale draft: not for a viewer.
    refused = api["viewer"].post(f"/disputes/{dispute_id}/preview")
    assert refused.status_code == 403, refused.text
    assert svc.draft_of(desk, dispute_id) is None  # nothing was built for the viewer
    with desk.store.read() as conn:
        assert not conn.execute(sa.select(evidence_files).where(
            evidence_files.c.dispute_id == dispute_id)).first()
    preview = api["agent"].post(f"/disputes/{dispute_id}/preview")
    assert preview.status_code == 200, preview.text
    agent_name = api["agent"].get("/me").json()["username"]
    builds = [a for a in svc.show(desk, dispute_id)["audit"]
              if a["action"] == "disputes.evidence.build"]
    assert [b["actor"] for b in builds] == [agent_name]
    assert svc.draft_of(desk, dispute_id)["built_by"] == agent_name
