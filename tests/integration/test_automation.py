"""Automation rules in the worker, against the emulator: the real gateway, Stripe's events stored
in the inbox as the webhook receiver stores them, then the worker (events -> listener -> durable
``automation.evaluate`` job -> decisions -> the refunds and disputes services)."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import automation, sync
from disputedesk.services import disputes as dsvc
from disputedesk.services import events as events_service
from disputedesk.services.automation import runner
from disputedesk.store import audit
from disputedesk.store import jobs as job_queue
from disputedesk.store import mirror as repo
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps
from disputedesk.worker import Worker

ORDERS = (
    "order_id,email,customer_name,total,currency,created_at,carrier,tracking_number,shipped_at,"
    "shipping_line1,shipping_city,shipping_postal_code,shipping_country,product_description,"
    "customer_ip,billing_address\n"
    "ord_1,jenny@example.com,Jenny Rosen,42.00,usd,2026-01-05T10:00:00Z,UPS,1Z999AA10123456784,"
    "2026-01-06,1 Main St,Springfield,62701,US,Blue running shoes size 42,203.0.113.9,"
    "\"1 Main St, Springfield\"\n")


@pytest.fixture
def emulator():
    with running_emulator(seed=11) as server:
        yield server


def make_desk(emulator, database_url, tmp_path, **extra):
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_automation"),
                        stripe_api_base=emulator.base_url, stripe_rate_limit=1000, **extra)
    return build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()), migrate=False)


@pytest.fixture
def desk(emulator, database_url, tmp_path):
    deps = make_desk(emulator, database_url, tmp_path)
    yield deps
    deps.close()


def advance(emulator, desk, seconds: float) -> None:
    emulator.advance(seconds)
    desk.clock.set(emulator.emulator.clock.now())


def deliver(desk) -> None:
    """Stripe's events into the desk's inbox by the sync catch-up from /v1/events (the same
    inbox and rows the webhook receiver writes; events already stored are skipped)."""
    sync.catch_up(desk)


def work(desk) -> None:
    deliver(desk)
    Worker(desk).run_until_idle()


def pay(emulator, pm: str, amount: int, **extra) -> str:
    pi = emulator.stripe_client().v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": pm, "confirm": True, **extra})
    return pi.latest_charge


def dispute_of(emulator, charge: str) -> dict:
    (dispute,) = emulator.stripe_client().v1.disputes.list(params={"charge": charge}).data
    return dispute


def refunds_of(emulator, charge: str) -> list:
    return list(emulator.stripe_client().v1.refunds.list(params={"charge": charge}).data)


def decision(desk, object_id: str, rule: str) -> dict:
    found = [d for d in automation.decisions(desk, object_id) if d["rule"] == rule]
    assert found, f"no decision of {rule} on {object_id}"
    return found[-1]


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def rules_file(tmp_path, text: str):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


# --- the default rule set, end to end ------------------------------------------------------------

def test_an_early_fraud_warning_on_a_small_charge_is_refunded_once_with_reason_fraudulent(
        emulator, desk):
    charge = pay(emulator, "pm_card_createEarlyFraudWarning", 1000)
    advance(emulator, desk, 2)
    work(desk)
    (refund,) = refunds_of(emulator, charge)
    assert (refund.amount, refund.reason, refund.status) == (1000, "fraudulent", "succeeded")
    made = decision(desk, charge, "refund-small-early-fraud-warnings")
    assert made["matched"] and made["trigger"] == "early_fraud_warning.created"
    assert made["inputs"]["amount"] == "10.00 USD" and made["inputs"]["dispute_fee"] == "15.00 USD"
    key = f"refund-small-early-fraud-warnings|{charge}|refund_charge"
    assert made["outcome"][key]["status"] == "done"
    assert not decision(desk, charge, "review-larger-early-fraud-warnings")["matched"]
    # The warning's and the refund's later events are replayed: nothing is refunded again.
    with desk.store.write() as conn:
        conn.execute(sa.text("UPDATE events SET status='received'"))
    Worker(desk).run_until_idle()
    work(desk)
    assert len(refunds_of(emulator, charge)) == 1
    (row,) = [a for a in automation.actions(desk, charge) if a["kind"] == "refund_charge"]
    assert row["status"] == "done" and row["key"] == key
    with desk.store.read() as conn:
        entries = [e["action"] for e in audit.for_object(conn, "radar.early_fraud_warning",
                                                          made["object_id"])]
    assert entries.count("automation.refund_charge") == 1


def test_an_early_fraud_warning_above_the_fee_is_left_to_a_person(emulator, desk):
    charge = pay(emulator, "pm_card_createEarlyFraudWarning", 9900)
    advance(emulator, desk, 2)
    work(desk)
    assert refunds_of(emulator, charge) == []
    review = decision(desk, charge, "review-larger-early-fraud-warnings")
    assert review["matched"] and [a["kind"] for a in review["actions"]] == ["notify"]
    assert "99.00 USD" in review["actions"][0]["params"]["message"]
    refund_rule = decision(desk, charge, "refund-small-early-fraud-warnings")
    assert not refund_rule["matched"] and "is false" in refund_rule["explanation"]


def test_a_fraud_dispute_under_the_countered_fee_is_accepted(emulator, desk):
    charge = pay(emulator, "pm_card_createDispute", 1200)
    advance(emulator, desk, 2)
    work(desk)
    dispute = dispute_of(emulator, charge)
    assert dispute.status == "lost"
    accepted = decision(desk, dispute.id, "accept-small-fraud-disputes")
    assert accepted["matched"] and accepted["inputs"]["reason"] == "fraudulent"
    build = decision(desk, dispute.id, "build-evidence-for-new-disputes")
    assert build["actions"][0]["status"] == "skipped"
    assert "accepts this dispute" in build["actions"][0]["reason"]
    (sub,) = [s for s in dsvc.list_submissions(desk, dispute.id) if s["kind"] == "accept"]
    assert sub["actor"] == "rule:accept-small-fraud-disputes"


def test_a_new_dispute_gets_evidence_built_and_staged_and_deadline_timers(emulator, desk):
    charge = pay(emulator, "pm_card_createDispute", 4200)
    advance(emulator, desk, 2)
    work(desk)
    dispute = dispute_of(emulator, charge)
    assert dispute.status == "needs_response" and dispute.evidence_details.has_evidence
    assert dsvc.show(desk, dispute.id)["draft"] is not None
    assert not decision(desk, dispute.id, "accept-small-fraud-disputes")["matched"]
    with desk.store.read() as conn:
        timers = automation.records.list_timers(conn, dispute.id)
    due_by = dispute.evidence_details.due_by
    assert sorted((t["rule"], t["run_at"]) for t in timers) == [
        ("submit-complete-evidence-48h-before-due", due_by - 48 * 3600),
        ("warn-incomplete-evidence-48h-before-due", due_by - 48 * 3600)]


def test_complete_evidence_is_submitted_48_hours_before_due_by_and_not_earlier(emulator, desk):
    dsvc.import_orders(desk, ORDERS.encode(), actor="ops", format="csv")
    charge = pay(emulator, "pm_card_createDisputeProductNotReceived", 4200,
                 metadata={"order_id": "ord_1"}, receipt_email="jenny@example.com")
    advance(emulator, desk, 2)
    work(desk)
    dispute = dispute_of(emulator, charge)
    # The merchant's systems (not a person) add the receipt and the carrier's proof.
    for field in ("receipt", "shipping_documentation", "customer_communication",
                  "customer_signature"):
        dsvc.attach(desk, dispute.id, field, f"{field}.png", png(), actor="shop-sync",
                    automated=True)
    due_by = dispute.evidence_details.due_by
    desk.clock.set(due_by - 49 * 3600)
    Worker(desk).run_until_idle()
    assert dispute_of(emulator, charge).evidence_details.submission_count == 0
    desk.clock.set(due_by - 48 * 3600 + 60)
    Worker(desk).run_until_idle()
    after = dispute_of(emulator, charge)
    assert after.status == "under_review" and after.evidence_details.submission_count == 1
    made = decision(desk, dispute.id, "submit-complete-evidence-48h-before-due")
    assert made["trigger"] == "deadline.approaching" and made["source"] == "deadline timer"
    assert made["actions"][0]["status"] == "run"
    assert int(made["actions"][0]["reason"].split("evidence ")[1].split("%")[0]) >= 80
    warn = decision(desk, dispute.id, "warn-incomplete-evidence-48h-before-due")
    assert not warn["matched"]
    # The timer fires again (a restarted worker, a replay): no second submission.
    automation.run_evaluation(desk, "deadline.approaching", dispute.id, source="test",
                              only_rule="submit-complete-evidence-48h-before-due")
    assert dispute_of(emulator, charge).evidence_details.submission_count == 1


def test_incomplete_evidence_is_not_submitted_and_a_person_is_told(emulator, desk):
    charge = pay(emulator, "pm_card_createDispute", 4200)
    advance(emulator, desk, 2)
    work(desk)
    dispute = dispute_of(emulator, charge)
    desk.clock.set(dispute.evidence_details.due_by - 47 * 3600)
    Worker(desk).run_until_idle()
    assert dispute_of(emulator, charge).evidence_details.submission_count == 0
    submit = decision(desk, dispute.id, "submit-complete-evidence-48h-before-due")
    assert submit["actions"][0]["status"] == "skipped"
    assert "needs 80%" in submit["actions"][0]["reason"]
    warn = decision(desk, dispute.id, "warn-incomplete-evidence-48h-before-due")
    assert warn["matched"] and next(iter(warn["outcome"].values()))["status"] == "done"


def test_an_inquiry_is_answered_with_staged_evidence(emulator, desk):
    charge = pay(emulator, "pm_card_createDisputeInquiry", 4200)
    advance(emulator, desk, 2)
    work(desk)
    inquiry = dispute_of(emulator, charge)
    made = decision(desk, inquiry.id, "answer-inquiries")
    assert made["trigger"] == "inquiry.created"
    assert [v["status"] for v in made["outcome"].values()] == ["done", "done"]
    assert inquiry.evidence_details.has_evidence and inquiry.status == "warning_needs_response"


def test_a_failed_refund_is_reported(emulator, desk):
    charge = pay(emulator, "pm_card_refundFail", 3000)
    emulator.stripe_client().v1.refunds.create(params={"charge": charge})
    advance(emulator, desk, 5)
    work(desk)
    (refund,) = refunds_of(emulator, charge)
    made = decision(desk, refund.id, "notify-failed-refunds")
    assert made["matched"] and made["trigger"] == "refund.failed"
    assert "expired_or_canceled_card" in made["actions"][0]["params"]["message"]


# --- rules of one's own: triggers, tag, assign, people first -------------------------------------

CUSTOM = """
[[rules]]
name = "tag-updates"
why = "Track disputes that changed."
trigger = "dispute.updated"
actions = [{ kind = "tag", tags = ["changed"] }]

[[rules]]
name = "assign-big"
why = "Big disputes go to Ana."
trigger = "dispute.created"
condition = 'amount >= money("40 USD")'
priority = 1
actions = [{ kind = "assign", user = "ana" }]

[[rules]]
name = "accept-all-fraud"
why = "Test: accept every fraud dispute."
trigger = "dispute.created"
condition = 'reason == "fraudulent"'
priority = 5
actions = [{ kind = "accept_dispute" }]
"""


def test_tag_and_assign_actions_and_an_assigned_dispute_is_left_to_its_person(
        emulator, database_url, tmp_path):
    desk = make_desk(emulator, database_url, tmp_path,
                     rules_file=rules_file(tmp_path, CUSTOM))
    try:
        charge_big = pay(emulator, "pm_card_createDispute", 4200)
        charge_small = pay(emulator, "pm_card_createDispute", 1000)
        advance(emulator, desk, 2)
        work(desk)
        big, small = dispute_of(emulator, charge_big), dispute_of(emulator, charge_small)
        assert big.status == "needs_response" and small.status == "lost"
        skipped = decision(desk, big.id, "accept-all-fraud")["actions"][0]
        assert skipped["status"] == "skipped" and "assigned to ana" in skipped["reason"]
        with desk.store.read() as conn:
            assert automation.records.get_labels(conn, big.id)["assigned_to"] == "ana"
        # Ana stages evidence: charge.dispute.updated; tagging still runs on an assigned case.
        dsvc.build(desk, big.id, actor="ana")
        dsvc.stage(desk, big.id, actor="ana")
        advance(emulator, desk, 1)
        work(desk)
        with desk.store.read() as conn:
            assert automation.records.get_labels(conn, big.id)["tags"] == ["changed"]
        tagged = decision(desk, big.id, "tag-updates")
        assert tagged["trigger"] == "dispute.updated" and tagged["source"].startswith("event evt_")
    finally:
        desk.close()


def test_override_manual_lets_a_rule_act_on_a_hand_edited_dispute(emulator, database_url,
                                                                  tmp_path):
    text = CUSTOM.replace('priority = 5\n', 'priority = 5\noverride_manual = true\n').replace(
        'condition = \'amount >= money("40 USD")\'', 'condition = "false"')
    desk = make_desk(emulator, database_url, tmp_path, rules_file=rules_file(tmp_path, text))
    try:
        charge = pay(emulator, "pm_card_createDispute", 4200)
        advance(emulator, desk, 2)
        deliver(desk)
        events_service.process_batch(desk.store, desk.clock, listeners=desk.event_listeners)
        dispute = dispute_of(emulator, charge)
        dsvc.edit_fields(desk, dispute.id, {"uncategorized_text": "by hand"}, actor="bob")
        Worker(desk).run_until_idle()
        assert dispute_of(emulator, charge).status == "lost"
    finally:
        desk.close()


# --- at most once, across replays and crashes ----------------------------------------------------

class SimulatedCrash(BaseException):
    """The worker process dies here (BaseException: nothing in the desk catches it)."""


def crash_at(monkeypatch, point: str) -> None:
    def crash(name: str) -> None:
        if name == point:
            monkeypatch.setattr(runner, "crash_point", lambda _n: None)  # once
            raise SimulatedCrash(name)
    monkeypatch.setattr(runner, "crash_point", crash)


@pytest.mark.parametrize("point", ["after_claim", "after_side_effect"])
def test_a_worker_dying_mid_refund_refunds_exactly_once_after_restart(
        emulator, database_url, tmp_path, monkeypatch, point):
    desk = make_desk(emulator, database_url, tmp_path)
    charge = pay(emulator, "pm_card_createEarlyFraudWarning", 1000)
    advance(emulator, desk, 2)
    crash_at(monkeypatch, point)
    deliver(desk)
    with pytest.raises(SimulatedCrash):
        Worker(desk).run_until_idle()
    key = f"refund-small-early-fraud-warnings|{charge}|refund_charge"
    with desk.store.read() as conn:
        assert automation.records.get_action(conn, key)["status"] == "started"
    assert len(refunds_of(emulator, charge)) == (1 if point == "after_side_effect" else 0)
    desk.close()

    restarted = make_desk(emulator, database_url, tmp_path)  # a new process
    try:
        restarted.clock.set(emulator.emulator.clock.now() + 301)  # the job's lease runs out
        Worker(restarted).run_until_idle()
        (refund,) = refunds_of(emulator, charge)
        assert refund.reason == "fraudulent"
        with restarted.store.read() as conn:
            row = automation.records.get_action(conn, key)
            assert (row["status"], row["attempts"]) == ("done", 2)
    finally:
        restarted.close()


def test_a_worker_dying_after_accepting_completes_without_a_second_call(
        emulator, database_url, tmp_path, monkeypatch):
    desk = make_desk(emulator, database_url, tmp_path)
    charge = pay(emulator, "pm_card_createDispute", 1000)
    advance(emulator, desk, 2)
    crash_at(monkeypatch, "after_side_effect")
    deliver(desk)
    with pytest.raises(SimulatedCrash):
        Worker(desk).run_until_idle()
    dispute = dispute_of(emulator, charge)
    assert dispute.status == "lost"
    desk.close()
    restarted = make_desk(emulator, database_url, tmp_path)
    try:
        restarted.clock.set(emulator.emulator.clock.now() + 301)
        work(restarted)
        key = f"accept-small-fraud-disputes|{dispute.id}|accept_dispute"
        with restarted.store.read() as conn:
            assert automation.records.get_action(conn, key)["status"] == "done"
            subs = [s for s in dsvc.list_submissions(restarted, dispute.id)]
        assert [(s["kind"], s["status"]) for s in subs] == [("accept", "done")]
        first, again = [d for d in automation.decisions(restarted, dispute.id)
                        if d["rule"] == "accept-small-fraud-disputes"]
        assert first["outcome"][key] == {"status": "done",
                                         "detail": "resumed after an interruption"}
        assert again["actions"][0]["status"] == "already_done"
    finally:
        restarted.close()


def test_the_listener_only_queues_a_job_inside_the_event_transaction(emulator, desk):
    charge = pay(emulator, "pm_card_createEarlyFraudWarning", 1000)
    advance(emulator, desk, 2)
    deliver(desk)
    events_service.process_batch(desk.store, desk.clock, listeners=desk.event_listeners)
    assert refunds_of(emulator, charge) == []  # nothing called Stripe yet
    with desk.store.read() as conn:
        queued = job_queue.list_jobs(conn, name=automation.EVALUATE_JOB)
        efw = repo.get_object(conn, "radar.early_fraud_warning", queued[0]["payload"]["object_id"])
    assert [j["payload"]["trigger"] for j in queued] == ["early_fraud_warning.created"]
    assert efw["charge"] == charge
