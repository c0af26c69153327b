"""Disputes end to end against the emulator: the real gateway, events fetched from /v1/events into
the desk's inbox and applied by the worker's process_batch, then the disputes services."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.domain.disputes import REASONS
from disputedesk.emulator.context import Ctx
from disputedesk.emulator.resources import disputes as emu_disputes
from disputedesk.emulator.testing import running_emulator
from disputedesk.errors import AlreadyDone, ValidationError
from disputedesk.evidence.files import PacketTooLarge
from disputedesk.evidence.templates import template_for
from disputedesk.services import disputes as svc
from disputedesk.services.disputes.common import PastDue
from disputedesk.services.events import initial_status, process_batch
from disputedesk.store import audit, inbox
from disputedesk.store import mirror as repo
from disputedesk.testing import desk_on_emulator
from disputedesk.wiring import build_deps


@pytest.fixture
def emulator():
    with running_emulator(seed=5) as server:
        yield server


@pytest.fixture
def desk(emulator, database_url, tmp_path):
    with desk_on_emulator(emulator, database_url, tmp_path) as deps:
        yield deps


def advance(emulator, desk, seconds: float) -> None:
    emulator.advance(seconds)
    desk.clock.set(emulator.emulator.clock.now())


def pull(desk) -> None:
    """Stripe's events (GET /v1/events) into the desk's inbox, then the worker applies them."""
    now = desk.clock.now()
    rows = []
    for event in desk.gateway().list_objects("event", {"limit": 100}):
        obj = event["data"]["object"]
        rows.append({
            "id": event["id"], "type": event["type"], "created": event["created"],
            "account": event.get("account"), "livemode": bool(event.get("livemode")),
            "api_version": event.get("api_version"), "object_type": obj.get("object"),
            "object_id": obj.get("id"), "payload": json.dumps(event),
            "status": initial_status(event["type"], obj.get("object"), desk.event_listeners),
            "attempts": 0, "last_error": None, "next_attempt_at": now, "received_at": now,
            "processed_at": None})
    with desk.store.write() as conn:
        inbox.insert_events(conn, rows[::-1])  # oldest first, as they happened
    while process_batch(desk.store, desk.clock, limit=500, listeners=desk.event_listeners).claimed:
        pass


def pay(client, pm: str, *, amount: int = 4200, metadata: dict | None = None, **extra) -> str:
    pi = client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": pm, "confirm": True,
        "metadata": metadata or {}, **extra})
    return pi.latest_charge


def open_dispute(emulator, desk, pm: str = "pm_card_createDispute", **kw) -> dict:
    client = emulator.stripe_client()
    charge = pay(client, pm, **kw)
    advance(emulator, desk, 2)
    pull(desk)
    (dispute,) = [d for d in client.v1.disputes.list(params={"charge": charge}).data]
    with desk.store.read() as conn:
        return repo.get_object(conn, "dispute", dispute.id)


def open_with_reason(emulator, desk, reason: str) -> dict:
    """A chargeback of any Stripe reason on a real emulator charge (the cards cover only two)."""
    client = emulator.stripe_client()
    charge = pay(client, "pm_card_visa", metadata={"order_id": f"ord_{reason}"})
    em = emulator.emulator
    with em.lock:
        dispute = emu_disputes.open_dispute(Ctx(em, em.platform), charge, reason, "chargeback", False)
    pull(desk)
    with desk.store.read() as conn:
        return repo.get_object(conn, "dispute", dispute["id"])


def actions(desk, dispute_id: str) -> list[str]:
    with desk.store.read() as conn:
        return [a["action"] for a in audit.for_object(conn, "dispute", dispute_id)]


def test_a_new_chargeback_appears_in_the_inbox_with_its_facts(emulator, desk):
    dispute = open_dispute(emulator, desk)
    page = svc.list_inbox(desk.store, desk.clock.now())
    (row,) = page.rows
    assert (row.id, row.kind, row.status, row.reason) == (dispute["id"], "chargeback",
                                                          "needs_response", "fraudulent")
    assert row.card_brand == "visa" and row.network_reason_code == "10.4"
    assert row.amount == 4200 and page.at_risk == {"usd": 4200}
    assert 8 * 86400 < row.time_left <= 10 * 86400 and row.work_state == "open"


def test_the_inbox_orders_by_deadline_and_tells_inquiries_from_chargebacks(emulator, desk):
    first = open_dispute(emulator, desk)
    advance(emulator, desk, 2 * 86400)
    inquiry = open_dispute(emulator, desk, "pm_card_createDisputeInquiry")
    rows = svc.list_inbox(desk.store, desk.clock.now()).rows
    assert [r.id for r in rows] == [first["id"], inquiry["id"]]
    only = svc.list_inbox(desk.store, desk.clock.now(), svc.InboxFilter(kind="inquiry")).rows
    assert [(r.id, r.kind) for r in only] == [(inquiry["id"], "inquiry")]
    soon = svc.list_inbox(desk.store, desk.clock.now(), svc.InboxFilter(due_within=8 * 86400)).rows
    assert [r.id for r in soon] == [first["id"]]


@pytest.mark.parametrize("reason", [r for r in REASONS])
def test_every_reason_gets_its_template_on_a_real_dispute(emulator, desk, reason):
    dispute = open_with_reason(emulator, desk, reason)
    result = svc.build(desk, dispute["id"], actor="ops")
    view = result.view
    template = template_for(reason, "physical_goods")
    assert view.reason == reason
    assert {m["field"] for m in view.missing} | set(view.filled) == set(template.fields)
    assert 0 <= view.score <= 100
    assert "uncategorized_file" in result.packet  # the generated summary PDF


def test_staging_then_submitting_sends_the_previewed_params_once(emulator, desk):
    dispute = open_dispute(emulator, desk)
    svc.edit_fields(desk, dispute["id"], {"uncategorized_text": "winning_evidence"}, actor="ana")
    svc.build(desk, dispute["id"], actor="ana")
    staged = svc.stage(desk, dispute["id"], actor="ana", note="first pass")
    assert staged.status == "done" and staged.params["submit"] is False
    again = svc.stage(desk, dispute["id"], actor="ana")  # as often as needed
    # The same document is not uploaded twice: its key is derived from its content.
    assert again.params["evidence"]["uncategorized_file"] == staged.params["evidence"]["uncategorized_file"]
    assert again.idempotency_key != staged.idempotency_key
    pv = svc.preview(desk, dispute["id"])
    assert pv.params["submit"] is True
    assert pv.params["evidence"]["uncategorized_text"] == "winning_evidence"
    assert pv.params["evidence"]["uncategorized_file"].startswith("file_")
    sub = svc.submit(desk, dispute["id"], actor="ana", expected_digest=pv.digest, note="ready")
    assert sub.params == pv.params and sub.dispute_status == "under_review"
    stripe_side = emulator.stripe_client().v1.disputes.retrieve(dispute["id"])
    assert stripe_side.evidence_details.submission_count == 1
    assert stripe_side.evidence.uncategorized_text == "winning_evidence"
    with pytest.raises(AlreadyDone):
        svc.submit(desk, dispute["id"], actor="bob")
    assert actions(desk, dispute["id"]).count("disputes.submit") == 1
    assert "disputes.stage" in actions(desk, dispute["id"])


def test_winning_evidence_ends_won_and_losing_evidence_ends_lost_in_the_mirror(emulator, desk):
    won = open_dispute(emulator, desk)
    lost = open_dispute(emulator, desk)
    svc.edit_fields(desk, won["id"], {"uncategorized_text": "winning_evidence"}, actor="ana")
    svc.edit_fields(desk, lost["id"], {"uncategorized_text": "losing_evidence"}, actor="ana")
    svc.submit(desk, won["id"], actor="ana")
    svc.submit(desk, lost["id"], actor="ana")
    advance(emulator, desk, 10)
    pull(desk)
    with desk.store.read() as conn:
        assert repo.get_object(conn, "dispute", won["id"])["status"] == "won"
        assert repo.get_object(conn, "dispute", lost["id"])["status"] == "lost"
    win = svc.get_outcome(desk, won["id"])
    loss = svc.get_outcome(desk, lost["id"])
    assert (win["result"], win["withdrawn"], win["reinstated"], win["dispute_fee"]) == (
        "won", 4200, 4200, 1500)
    assert (loss["result"], loss["withdrawn"], loss["reinstated"], loss["net"]) == (
        "lost", 4200, 0, -5700)
    totals = svc.list_outcomes(desk)["totals"]["usd"]
    assert totals["won"] == 1 and totals["lost"] == 1


def test_accepting_needs_explicit_confirmation_and_closes_the_dispute(emulator, desk):
    dispute = open_dispute(emulator, desk)
    with pytest.raises(ValidationError, match="concedes"):
        svc.accept(desk, dispute["id"], actor="ana", confirm=False)
    sub = svc.accept(desk, dispute["id"], actor="ana", confirm=True, note="not worth fighting")
    assert sub.dispute_status == "lost"
    assert svc.show(desk, dispute["id"])["work"]["state"] == "accepted"
    with pytest.raises(AlreadyDone):
        svc.submit(desk, dispute["id"], actor="ana")
    (entry,) = [a for a in svc.show(desk, dispute["id"])["audit"] if a["action"] == "disputes.accept"]
    assert (entry["actor"], entry["note"]) == ("ana", "not worth fighting")


def test_an_inquiry_escalated_to_a_chargeback_becomes_a_chargeback_in_the_inbox(emulator, desk):
    inquiry = open_dispute(emulator, desk, "pm_card_createDisputeInquiry")
    assert svc.list_inbox(desk.store, desk.clock.now()).rows[0].kind == "inquiry"
    svc.edit_fields(desk, inquiry["id"], {"uncategorized_text": "escalate_inquiry_evidence"},
                    actor="ana")
    svc.submit(desk, inquiry["id"], actor="ana")
    assert svc.show(desk, inquiry["id"])["work"]["state"] == "submitted"
    advance(emulator, desk, 10)
    pull(desk)
    (row,) = svc.list_inbox(desk.store, desk.clock.now()).rows
    assert (row.id, row.kind, row.status) == (inquiry["id"], "chargeback", "needs_response")
    assert row.work_state == "staged"  # the inquiry's evidence stays on the dispute
    svc.edit_fields(desk, inquiry["id"], {"uncategorized_text": "winning_evidence"}, actor="ana")
    svc.build(desk, inquiry["id"], actor="ana")
    assert svc.submit(desk, inquiry["id"], actor="ana").dispute_status == "under_review"


def test_submitting_past_due_is_refused(emulator, desk):
    dispute = open_dispute(emulator, desk)
    desk.clock.advance(11 * 86400)  # the desk's clock only: Stripe has not closed it yet
    with pytest.raises(PastDue):
        svc.submit(desk, dispute["id"], actor="ana")


def _noise_png(side: int, seed: int) -> bytes:
    import random

    rng = random.Random(seed)
    img = Image.frombytes("RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side * side * 3)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_a_packet_too_large_is_fitted_and_uploaded_within_the_limits(emulator, desk):
    dispute = open_dispute(emulator, desk)
    big = _noise_png(1400, 1)  # ~5.9 MB of noise: over the 5 MB file limit as uploaded
    assert len(big) > 5_000_000
    svc.attach(desk, dispute["id"], "receipt", "receipt.png", big, actor="ana")
    result = svc.build(desk, dispute["id"], actor="ana")
    assert result.steps and result.packet["receipt"]["size"] < 4_500_000
    assert sum(f["size"] for f in result.packet.values()) <= 4_500_000
    staged = svc.stage(desk, dispute["id"], actor="ana")
    assert staged.params["evidence"]["receipt"].startswith("file_")


def test_a_packet_that_cannot_fit_is_refused_naming_what_does_not_fit(emulator, desk):
    from fpdf import FPDF

    dispute = open_dispute(emulator, desk)
    pdf = FPDF()
    for n in range(60):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.cell(0, 10, f"Terms page {n}")
    # More pages than Stripe takes for a whole dispute: refused at upload, before the build.
    with pytest.raises(ValidationError, match="'terms.pdf' has 60 pages"):
        svc.attach(desk, dispute["id"], "refund_policy", "terms.pdf", bytes(pdf.output()),
                   actor="ana")
    pdf = FPDF()
    for n in range(30):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.cell(0, 10, f"Terms page {n}")
    for field in ("refund_policy", "cancellation_policy"):  # 60 pages in all
        svc.attach(desk, dispute["id"], field, f"{field}.pdf", bytes(pdf.output()), actor="ana")
    with pytest.raises(PacketTooLarge) as info:
        svc.build(desk, dispute["id"], actor="ana")
    assert "pages" in str(info.value) and "refund_policy" in str(info.value)


def test_a_hand_edited_dispute_is_left_alone_by_automation(emulator, desk):
    dispute = open_dispute(emulator, desk)
    svc.build(desk, dispute["id"], actor="automation", automated=True)
    svc.edit_fields(desk, dispute["id"], {"shipping_carrier": "UPS"}, actor="ana")
    assert svc.is_hand_edited(desk, dispute["id"])
    with pytest.raises(svc.HandEdited):
        svc.build(desk, dispute["id"], actor="automation", automated=True)
    view = svc.get_evidence(desk, dispute["id"])
    assert view.fields["shipping_carrier"] == "UPS" and view.sources["shipping_carrier"] == "manual"
    assert view.manual["shipping_carrier"]["edited_by"] == "ana"


def test_ce3_is_filled_from_the_customers_seeded_history_and_qualifies_at_stripe(desk):
    from disputedesk.emulator import Emulator
    from disputedesk.emulator import seed as seed_data

    em = Emulator(seed=3)
    with em.lock:
        seed_data.run(em, {"customers": 40, "charges": 1500, "seed": 3})
    with running_emulator(em) as server:
        desk.settings.stripe_api_base = server.base_url
        desk._gateway = None
        desk.clock.set(em.clock.now())
        client = server.stripe_client()
        (eligible,) = [x for x in client.v1.disputes.list(params={"limit": 100}).auto_paging_iter()
                       if x.enhanced_eligibility_types and x.status == "needs_response"]
        svc.fetch_dispute(desk, eligible.id)
        result = svc.build(desk, eligible.id, actor="ana")
        ce3 = result.view.ce3
        assert ce3["qualified"] is True, ce3["explain"]
        assert len(ce3["prior_charges"]) == 2 and "customer_purchase_ip" in ce3["matching_elements"]
        staged = svc.stage(desk, eligible.id, actor="ana")
        payload = staged.params["evidence"]["enhanced_evidence"]["visa_compelling_evidence_3"]
        assert [p["charge"] for p in payload["prior_undisputed_transactions"]] == ce3["prior_charges"]
        after = client.v1.disputes.retrieve(eligible.id)
        assert after.evidence_details.enhanced_eligibility.visa_compelling_evidence_3.status == \
            "qualified"


def test_ce3_is_refused_with_a_reason_when_the_history_does_not_qualify(emulator, desk):
    client = emulator.stripe_client()
    pay(client, "pm_card_visa", metadata={"ip_address": "203.0.113.9"})  # too recent, other card
    dispute = open_dispute(emulator, desk, "pm_card_createCe3EligibleDispute",
                           metadata={"ip_address": "203.0.113.9"})
    view = svc.build(desk, dispute["id"], actor="ana").view
    assert view.ce3["eligible"] is True and view.ce3["qualified"] is False
    assert "needs 2 prior undisputed charges" in view.ce3["explain"]
    pv = svc.preview(desk, dispute["id"])
    assert "enhanced_evidence" not in pv.params["evidence"]
    assert any("CE 3.0 not filled" in w for w in pv.warnings)


def test_ce3_is_not_offered_for_a_dispute_stripe_does_not_list_as_eligible(emulator, desk):
    dispute = open_dispute(emulator, desk, "pm_card_createDisputeProductNotReceived")
    view = svc.get_evidence(desk, dispute["id"])
    # Not a fraud dispute: the desk does not try CE 3.0 either.
    assert view.ce3["eligible"] is False and view.ce3["checked_by_desk"] is False
    assert "10.4" in view.ce3["explain"]


def test_a_dispute_reaches_the_desk_by_signed_webhook_and_joins_the_inbox(emulator, database_url,
                                                                          tmp_path):
    import time

    from disputedesk.testing import TEST_WEBHOOK_SECRET, run_server
    from disputedesk.web.app import create_app

    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_webhooks"),
                        stripe_api_base=emulator.base_url, webhook_secrets=[TEST_WEBHOOK_SECRET])
    deps = build_deps(settings, migrate=False)  # the system clock: signatures use real time
    try:
        with run_server(create_app(deps)) as base_url:
            emulator.emulator.add_webhook_endpoint(f"{base_url}/webhooks/stripe",
                                                   secret=TEST_WEBHOOK_SECRET)
            charge = pay(emulator.stripe_client(), "pm_card_createDispute")
            emulator.advance(1)
            deadline = time.monotonic() + 15
            rows = []
            while time.monotonic() < deadline and not rows:
                while process_batch(deps.store, deps.clock, listeners=deps.event_listeners).claimed:
                    pass
                rows = svc.list_inbox(deps.store, deps.clock.now()).rows
                time.sleep(0.05)
        (row,) = rows
        assert row.charge == charge and row.work_state == "open"
        assert [r["offset_seconds"] for r in svc.list_reminders(deps, row.id)] == [
            604800, 259200, 86400, 21600]
    finally:
        deps.close()
