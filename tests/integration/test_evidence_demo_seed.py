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
from disputedesk.testing import desk_on_emulator

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
    if not courses:
        pytest.skip("this seed has no open dispute on the online course")
    view = svc.get_evidence(desk, courses[0])
    assert view.product_type == "digital_goods" and "course" in view.product_type_source
