"""The worker and the mirror on SQLite and PostgreSQL: ordering, refetch, retries, replay."""

from __future__ import annotations

import copy

import pytest

from disputedesk.services.events import replay
from disputedesk.services.jobs import backoff
from disputedesk.store import jobs as job_queue
from disputedesk.store import mirror as repo
from disputedesk.testing import (
    make_charge,
    make_dispute,
    make_early_fraud_warning,
    make_event,
    make_file,
    make_payment_intent,
    make_refund,
    refund_history,
)
from disputedesk.worker import Worker

from .helpers import event_status, store_events


def mirrored(deps, object_type, object_id):
    with deps.store.read() as conn:
        return repo.get_object(conn, object_type, object_id)


def queued_jobs(deps, name="mirror.refetch"):
    with deps.store.read() as conn:
        return [j for j in job_queue.list_jobs(conn, name=name) if j["status"] == "queued"]


def test_an_event_is_applied_and_marked_processed(deps):
    dispute = make_dispute(due_by=1_760_600_000)
    event = make_event("charge.dispute.created", dispute, created=100)
    store_events(deps, [event])
    Worker(deps).run_until_idle()
    assert mirrored(deps, "dispute", dispute["id"]) == dispute
    assert event_status(deps, event["id"])["status"] == "processed"
    with deps.store.read() as conn:
        row = repo.get_row(conn, "dispute", dispute["id"])
    assert (row["status"], row["due_by"], row["charge"], row["stripe_updated"]) == (
        "needs_response", 1_760_600_000, dispute["charge"], 100)


@pytest.mark.parametrize("obj", [
    make_charge(customer="cus_1"), make_payment_intent(customer="cus_1"), make_refund(),
    make_early_fraud_warning(), make_file(),
], ids=lambda o: o["object"])
def test_every_mirrored_object_type_is_stored_whole(deps, obj):
    store_events(deps, [make_event(f"{obj['object']}.updated", obj, created=5)])
    Worker(deps).run_until_idle()
    assert mirrored(deps, obj["object"], obj["id"]) == obj


def test_an_older_snapshot_never_overwrites_a_newer_one(deps):
    dispute = make_dispute(status="needs_response")
    newer = dict(copy.deepcopy(dispute), status="under_review")
    store_events(deps, [make_event("charge.dispute.updated", newer, created=200)])
    Worker(deps).run_until_idle()
    store_events(deps, [make_event("charge.dispute.created", dispute, created=100)])
    Worker(deps).run_until_idle()
    assert mirrored(deps, "dispute", dispute["id"])["status"] == "under_review"


def test_state_comes_from_the_snapshot_not_the_event_name(deps):
    # funds_reinstated on a *lost* dispute must not be recorded as won (Hyperswitch #11687).
    dispute = make_dispute(status="lost")
    store_events(deps, [make_event("charge.dispute.funds_reinstated", dispute, created=10)])
    Worker(deps).run_until_idle()
    assert mirrored(deps, "dispute", dispute["id"])["status"] == "lost"


def test_same_second_refund_snapshots_are_ordered_by_status_progression(deps):
    pending = make_refund(status="pending")
    succeeded = dict(copy.deepcopy(pending), status="succeeded")
    store_events(deps, [make_event("refund.updated", succeeded, created=50)])
    Worker(deps).run_until_idle()
    store_events(deps, [make_event("refund.created", pending, created=50)])
    Worker(deps).run_until_idle()
    assert mirrored(deps, "refund", pending["id"])["status"] == "succeeded"
    assert queued_jobs(deps) == []


def test_same_second_dispute_snapshots_are_ordered_by_submission_count(deps):
    staged = make_dispute(status="under_review")
    staged["evidence_details"]["submission_count"] = 1
    resubmitted = copy.deepcopy(staged)
    resubmitted["evidence_details"]["submission_count"] = 2
    store_events(deps, [make_event("charge.dispute.updated", resubmitted, created=70),
                        make_event("charge.dispute.updated", staged, created=70)])
    Worker(deps).run_until_idle()
    assert mirrored(deps, "dispute", staged["id"])["evidence_details"]["submission_count"] == 2


def test_snapshots_that_cannot_be_ordered_queue_one_refetch(deps, fake_stripe):
    one = make_dispute(metadata={"a": "1"})
    two = dict(copy.deepcopy(one), metadata={"a": "2"})
    three = dict(copy.deepcopy(one), metadata={"a": "3"})
    store_events(deps, [make_event("charge.dispute.updated", one, created=80)])
    Worker(deps).process_events()
    store_events(deps, [make_event("charge.dispute.updated", two, created=80),
                        make_event("charge.dispute.updated", three, created=80)])
    Worker(deps).process_events()
    (job,) = queued_jobs(deps)
    assert job["payload"] == {"object_type": "dispute", "object_id": one["id"],
                              "account": None, "trigger_updated": 80}
    fake_stripe.put(three)
    Worker(deps).run_until_idle()
    assert mirrored(deps, "dispute", one["id"]) == three
    assert fake_stripe.calls.count(("dispute", one["id"])) == 1


def test_a_refetch_is_dropped_when_a_newer_event_arrived_meanwhile(deps, fake_stripe):
    base = make_dispute(metadata={"a": "1"})
    store_events(deps, [make_event("charge.dispute.updated", base, created=80),
                        make_event("charge.dispute.updated",
                                   dict(copy.deepcopy(base), metadata={"a": "2"}), created=80)])
    Worker(deps).process_events()
    newest = dict(copy.deepcopy(base), status="under_review")
    store_events(deps, [make_event("charge.dispute.updated", newest, created=90)])
    Worker(deps).process_events()
    fake_stripe.put(base)  # Stripe answered before the newer event: stale by now
    Worker(deps).run_until_idle()
    assert mirrored(deps, "dispute", base["id"]) == newest


def test_a_refetch_that_fails_is_retried_with_backoff(deps, fake_stripe, clock):
    base = make_dispute(metadata={"a": "1"})
    other = dict(copy.deepcopy(base), metadata={"a": "2"})
    store_events(deps, [make_event("charge.dispute.updated", base, created=80),
                        make_event("charge.dispute.updated", other, created=80)])
    fake_stripe.put(other)
    fake_stripe.failures_left = 1
    worker = Worker(deps)
    worker.run_until_idle()
    (job,) = queued_jobs(deps)
    assert job["attempts"] == 1 and "StripeUnavailable" in job["last_error"]
    clock.advance(backoff(1))
    worker.run_until_idle()
    assert mirrored(deps, "dispute", base["id"]) == other


def test_charge_refunded_never_creates_or_changes_refunds(deps):
    charge = make_charge(amount_refunded=500, refunded=False)
    charge["refunds"] = {"object": "list", "data": [make_refund(charge=charge["id"])],
                         "has_more": False}
    store_events(deps, [make_event("charge.refunded", charge, created=5)])
    Worker(deps).run_until_idle()
    with deps.store.read() as conn:
        assert repo.count(conn, "refund") == 0
        assert repo.get_row(conn, "charge", charge["id"])["amount_refunded"] == 500


def test_refund_history_is_followed_through_refund_events(deps):
    events, final_refund, final_charge = refund_history()
    store_events(deps, list(reversed(events)))
    Worker(deps).run_until_idle()
    assert mirrored(deps, "refund", final_refund["id"]) == final_refund
    assert mirrored(deps, "charge", final_charge["id"]) == final_charge


def test_events_of_objects_the_desk_does_not_mirror_are_ignored(deps):
    event = make_event("customer.created", {"id": "cus_1", "object": "customer"})
    store_events(deps, [event])
    assert event_status(deps, event["id"])["status"] == "ignored"
    assert Worker(deps).run_until_idle() == 0


def test_a_broken_event_is_retried_then_parked_without_blocking_the_others(deps, clock):
    good = make_event("charge.dispute.created", make_dispute(), created=5)
    bad = make_event("charge.dispute.created", make_dispute(), created=5)
    bad["data"]["object"]["evidence_details"] = "not an object"  # rank cannot be computed
    store_events(deps, [good, bad])
    worker = Worker(deps)
    for _ in range(deps.settings.job_max_attempts):
        worker.run_until_idle()
        clock.advance(3600)
    assert event_status(deps, good["id"])["status"] == "processed"
    parked = event_status(deps, bad["id"])
    assert parked["status"] == "failed"
    assert parked["attempts"] == deps.settings.job_max_attempts
    assert "AttributeError" in parked["last_error"]


def test_a_failed_attempt_waits_for_its_backoff(deps, clock):
    bad = make_event("charge.dispute.created", make_dispute(), created=5)
    bad["data"]["object"]["evidence_details"] = "not an object"
    store_events(deps, [bad])
    worker = Worker(deps)
    worker.run_until_idle()
    row = event_status(deps, bad["id"])
    assert (row["status"], row["attempts"]) == ("received", 1)
    assert row["next_attempt_at"] == clock.now() + backoff(1)
    assert worker.process_events().claimed == 0


def test_replaying_failed_events_queues_them_again_and_is_audited(deps, clock):
    bad = make_event("charge.dispute.created", make_dispute(), created=5)
    bad["data"]["object"]["evidence_details"] = "not an object"
    store_events(deps, [bad])
    worker = Worker(deps)
    for _ in range(deps.settings.job_max_attempts):
        worker.run_until_idle()
        clock.advance(3600)
    assert replay(deps.store, deps.clock, actor="ops", failed=True) == 1
    row = event_status(deps, bad["id"])
    assert (row["status"], row["attempts"]) == ("received", 0)
    from disputedesk.store import audit

    with deps.store.read() as conn:
        assert audit.recent(conn)[0]["action"] == "events.replay"


def test_a_listener_failure_rolls_back_the_mirror_write_of_its_event(deps):
    calls = []

    def listener(conn, event, decision, now):
        calls.append(event["id"])
        raise RuntimeError("listener broke")

    deps.event_listeners.on("charge.dispute.created", listener)
    dispute = make_dispute()
    event = make_event("charge.dispute.created", dispute, created=5)
    store_events(deps, [event])
    Worker(deps).process_events()
    assert calls  # it ran
    assert mirrored(deps, "dispute", dispute["id"]) is None
    row = event_status(deps, event["id"])
    assert row["status"] == "received" and "listener broke" in row["last_error"]


def test_reconciliation_refetches_open_disputes_and_pending_refunds(deps, fake_stripe):
    open_dispute = make_dispute(status="needs_response")
    won = make_dispute(status="won")
    pending = make_refund(status="pending")
    done = make_refund(status="succeeded")
    store_events(deps, [make_event("x.updated", o, created=9)
                        for o in (open_dispute, won, pending, done)])
    worker = Worker(deps)
    worker.run_until_idle()
    fake_stripe.put(dict(open_dispute, status="under_review"))
    fake_stripe.put(dict(pending, status="succeeded"))
    from disputedesk.services.jobs import reconcile_open_objects

    reconcile_open_objects(deps, {})
    worker.run_until_idle()
    fetched = {call for call in fake_stripe.calls if call[0] in ("dispute", "refund")}
    assert fetched == {("dispute", open_dispute["id"]), ("refund", pending["id"])}
    assert mirrored(deps, "dispute", open_dispute["id"])["status"] == "under_review"
    assert mirrored(deps, "refund", pending["id"])["status"] == "succeeded"


def test_a_batch_listener_gets_every_matching_event_of_the_batch_at_once(deps):
    batches = []
    deps.event_listeners.on_batch(
        ["charge.dispute.created"],
        lambda conn, items, now: batches.append([(e["id"], d.value) for e, d in items]))
    events = [make_event("charge.dispute.created", make_dispute(), created=5) for _ in range(3)]
    store_events(deps, events + [make_event("refund.created", make_refund(), created=5)])
    Worker(deps).run_until_idle()
    assert len(batches) == 1
    assert sorted(batches[0]) == sorted((e["id"], "apply") for e in events)


def test_a_batch_listener_makes_an_otherwise_ignored_type_handled(deps):
    from disputedesk.services.events import initial_status

    deps.event_listeners.on_batch(["customer.created"], lambda conn, items, now: None)
    assert initial_status("customer.created", "customer", deps.event_listeners) == "received"
    assert initial_status("customer.deleted", "customer", deps.event_listeners) == "ignored"
