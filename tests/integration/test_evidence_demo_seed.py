"""Evidence on the demo's seeded data (the emulator's seed, as `disputedesk demo` runs it): no open
dispute's text holds a claim without its source, evidence already on Stripe is kept through
composing and staging, and Visa CE 3.0 is found by the desk where Stripe did not flag it."""

from __future__ import annotations

import re
import shutil

import pytest

from disputedesk.emulator import Emulator
from disputedesk.emulator import seed as seed_data
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import disputes as svc
from disputedesk.services.sync import sync
from disputedesk.store import mirror as repo
from disputedesk.store.tables import disputes as mirror_disputes
from disputedesk.testing import cheap_password_hashing, desk_on_emulator

OPEN = ("needs_response", "warning_needs_response")


@pytest.fixture(scope="module")
def seeded():
    em = Emulator(seed=42)
    with em.lock:  # the demo's defaults (embedded.start_embedded_stripe)
        seed_data.run(em, {"customers": 300, "charges": 3000, "seed": 42})
    with running_emulator(em) as server:
        yield server


@pytest.fixture(scope="module")
def desk(seeded, _sqlite_template, tmp_path_factory):
    # One synced desk for the module (syncing 3,000 charges is the slow part); the tests touch
    # different disputes.
    tmp = tmp_path_factory.mktemp("demo")
    shutil.copyfile(_sqlite_template, tmp / "desk.db")
    with desk_on_emulator(seeded, f"sqlite:///{tmp / 'desk.db'}", tmp) as deps:
        sync(deps, events=False)
        yield deps


def open_disputes(desk) -> list[dict]:
    with desk.store.read() as conn:
        rows = conn.execute(mirror_disputes.select().where(mirror_disputes.c.status.in_(OPEN))).all()
        return [repo.get_object(conn, "dispute", r.id) for r in rows]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_no_open_dispute_of_the_demo_says_anything_without_its_source(desk):
    disputes = open_disputes(desk)
    assert len(disputes) >= 20
    for dispute in disputes:
        view = svc.get_evidence(desk, dispute["id"])
        for name, value in view.fields.items():
            info = view.provenance[name]
            assert info["record"], (dispute["id"], name)
            if view.sources[name] == "template":
                # The field is made of claims only, each on facts the desk holds, each with sources.
                assert squash(value) == "".join(squash(c["text"]) for c in info["claims"])
                assert all(c["sources"] for c in info["claims"])
            if view.sources[name] == "stripe":
                assert value == dispute["evidence"][name]
        letter = view.fields.get("uncategorized_text", "")
        if view.sources.get("uncategorized_text") == "template":
            for unbacked in ("was delivered", "refund policy shown at checkout", "agreed to the renewal",
                             "received what they paid for"):
                assert unbacked not in letter, (dispute["id"], letter)
        # What is missing is said, with what to add.
        assert all(item["add"] for item in view.to_add)


def test_evidence_already_on_stripe_is_read_scored_and_survives_composing_and_staging(desk, seeded):
    with_evidence = [x for x in open_disputes(desk) if x["status"] == "needs_response"
                     and (x.get("evidence") or {}).get("uncategorized_text")]
    assert with_evidence, "the seed puts evidence on some open disputes"
    tracked = [x for x in with_evidence if x["evidence"].get("shipping_tracking_number")]
    dispute = (tracked or with_evidence)[0]
    before = {k: v for k, v in dispute["evidence"].items() if v}
    view = svc.get_evidence(desk, dispute["id"])
    for name, value in before.items():
        if isinstance(value, str) and name in view.fields:
            assert view.fields[name] == value and view.sources[name] == "stripe"
    if tracked:
        assert "shipping_tracking_number" not in [m["field"] for m in view.missing]
    assert view.on_stripe["uncategorized_text"] == before["uncategorized_text"]
    preview = svc.preview(desk, dispute["id"], actor="ana")
    changes = {c["field"]: c["change"] for c in preview.diff}
    assert changes["uncategorized_text"] == "unchanged"
    assert "replaced" not in changes.values()
    # Every seeded charge has a receipt email: the receipt document is built from the charge.
    assert changes["receipt"] == "added" and view.provenance["customer_name"]["record"]
    assert "receipt" in view.filled
    svc.stage(desk, dispute["id"], actor="ana")
    after = seeded.stripe_client().v1.disputes.retrieve(dispute["id"]).to_dict()["evidence"]
    for name, value in before.items():
        assert after[name] == value, name


def test_ce3_is_found_from_the_mirror_for_a_dispute_stripe_did_not_flag(desk, seeded):
    em = seeded.emulator
    flagged = [x for x in em.platform.collection("dispute").objects.values()
               if x["status"] == "needs_response" and x["enhanced_eligibility_types"]]
    assert flagged
    dispute_id = flagged[0]["id"]
    with em.lock:  # Stripe no longer says it is eligible
        target = em.platform.collection("dispute").objects[dispute_id]
        target["enhanced_eligibility_types"] = []
        target["evidence_details"]["enhanced_eligibility"] = {}
    svc.fetch_dispute(desk, dispute_id)
    view = svc.get_evidence(desk, dispute_id)
    assert view.ce3["eligible"] is False
    assert view.ce3["checked_by_desk"] is True
    assert view.ce3["qualified"] is True and view.ce3["found_by_desk"] is True, view.ce3["explain"]
    assert len(view.ce3["prior_charges"]) == 2


def test_the_online_course_is_treated_as_digital_goods_with_the_basis_shown(desk):
    courses = []
    with desk.store.read() as conn:
        for dispute in open_disputes(desk):
            charge = repo.get_object(conn, "charge", dispute["charge"])
            if charge and "course" in (charge.get("description") or "").lower():
                courses.append(dispute["id"])
    assert courses, "the demo's fixed seed has an open dispute on the online course"
    view = svc.get_evidence(desk, courses[0])
    assert view.product_type == "digital_goods" and "course" in view.product_type_source


def test_the_inbox_first_row_needs_a_response_in_the_cli_the_api_and_the_dashboard(desk, monkeypatch):
    """On the demo data (8 disputes under review with long-passed deadlines) the same order and
    words reach every door: the CLI in another process, REST over HTTP, the dashboard page."""
    import html
    import json
    import os
    import subprocess
    import sys

    import httpx
    from fastapi.testclient import TestClient

    from disputedesk.services import accounts
    from disputedesk.testing import run_server
    from disputedesk.web.app import create_app

    now = desk.clock.now()
    rows = svc.list_inbox(desk.store, now, limit=200).rows
    assert rows[0].needs_response and rows[0].todo.startswith("due in")
    review = [r for r in rows if not r.needs_response]
    assert review and all("awaiting the issuer" in r.todo and "overdue" not in r.todo for r in review)
    assert rows.index(review[0]) == len(rows) - len(review)  # all needing a response come first

    # REST over HTTP.
    token = accounts.token_for_role(desk, "viewer", name="viewer")
    with run_server(create_app(desk)) as base_url:
        got = httpx.get(f"{base_url}/api/v1/disputes", params={"limit": 200},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["data"]
    assert [(r["id"], r["todo"]) for r in got] == [(r.id, r.todo) for r in rows]

    # The CLI in another process (its own clock: the words are read with the seed's clock near
    # real time, so compare the order and the needs-response flag).
    env = {**os.environ, "DISPUTEDESK_DATABASE_URL": desk.settings.database_url,
           "DISPUTEDESK_DATA_DIR": str(desk.settings.data_dir)}
    out = subprocess.run([sys.executable, "-m", "disputedesk.cli.main", "disputes", "list", "--limit", "200",
                          "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    cli_rows = json.loads(out.stdout)["data"]
    assert [r["id"] for r in cli_rows] == [r.id for r in rows]
    assert cli_rows[0]["needs_response"] is True

    # The dashboard page.
    cheap_password_hashing(monkeypatch)
    accounts.create_user(desk, username="vic", role="viewer", password="correct horse battery")
    with TestClient(create_app(desk), follow_redirects=False) as client:
        client.get("/login")
        client.post("/login", data={"username": "vic", "password": "correct horse battery",
                                    "csrf_token": client.cookies.get("dd_login_csrf"), "next": "/"})
        page = client.get("/disputes", params={"limit": 200}).text
    body = page[page.index('id="inbox"'):]
    shown = re.findall(r'href="/disputes/(du_[A-Za-z0-9]+)"', body)
    assert shown == [r.id for r in rows]
    first_row = body[body.index("<tbody>"):body.index("</tr>", body.index("<tbody>"))]
    assert html.escape(rows[0].todo) in first_row
    assert "awaiting the issuer" in body and "overdue" not in body.split(rows[len(rows) - len(review)].id)[1]


def test_outcomes_show_amounts_as_people_read_them_and_say_when_no_countered_fee_was_booked(desk):
    from typer.testing import CliRunner

    from disputedesk.cli.main import app

    data = svc.list_outcomes(desk, limit=500)["data"]
    if not data:
        svc.refresh(desk)
        data = svc.list_outcomes(desk, limit=500)["data"]
    assert data, "the demo has closed disputes"
    env = {"DISPUTEDESK_DATABASE_URL": desk.settings.database_url,
           "DISPUTEDESK_DATA_DIR": str(desk.settings.data_dir), "COLUMNS": "400"}
    out = CliRunner().invoke(app, ["disputes", "outcomes", "--limit", "500"], env=env)
    assert out.exit_code == 0, out.output
    first = data[0]
    from disputedesk.domain.money import format_money

    assert format_money(first["amount"], first["currency"]) in out.output
    countered = [o for o in data if o["countered"]]
    assert countered and "none booked" in out.output  # the emulator books no countered fee
