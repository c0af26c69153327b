"""Ways a refund could be made twice (or refused wrongly) that the desk must close: an edited
bulk file, racing senders of one stuck request, a 409 from Stripe, a replayed key Stripe may have
pruned, and concurrent requests against one operator's daily limit."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
import stripe

from disputedesk.domain.bulk import parse_bulk_csv
from disputedesk.domain.refunds import REQUEST_METADATA_KEY
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import refunds
from disputedesk.services.refunds import bulk as bulk_svc
from disputedesk.services.refunds.testing import desk_settings, pay
from disputedesk.store.refunds_tables import refund_requests
from disputedesk.stripe_api.gateway import translate
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps

DAY = 86_400


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=97) as server:
        yield server


@pytest.fixture
def make_desk(database_url, emulator, tmp_path):
    built = []
    clock = ManualClock(time.time())

    def make(**overrides):
        deps = build_deps(desk_settings(database_url, emulator.base_url, tmp_path, **overrides),
                          clock=clock, migrate=False)
        built.append(deps)
        return deps

    yield make
    for deps in built:
        deps.close()


@pytest.fixture
def desk(make_desk):
    return make_desk()


def refunds_on(emulator, charge: str) -> list:
    return list(emulator.stripe_client().v1.refunds.list(params={"charge": charge}).data)


def stuck(desk, charge: str, *, request_id: str | None = None, bulk_job_id: str | None = None,
          amount: str = "10.00") -> str:
    """A request marked ``submitted`` whose call never reached Stripe (a crash before the call)."""
    outcome = refunds.request_refund(desk, charge, amount=amount, actor="alice", submit=False,
                                     request_id=request_id, client_key=request_id,
                                     bulk_job_id=bulk_job_id)
    rid = outcome.request["id"]
    now = desk.clock.now()
    with desk.store.write() as conn:
        conn.execute(refund_requests.update().where(refund_requests.c.id == rid).values(
            status="submitted", submitted_at=now, updated=now))
    return rid


def gate_stripe_calls(desk, monkeypatch, parties: int = 2) -> list[str]:
    """Hold every create_refund call until ``parties`` calls arrived (or 2 s passed), so that
    racing senders meet right before Stripe; returns the idempotency keys used."""
    gateway = desk.gateway()
    original = gateway.create_refund
    barrier = threading.Barrier(parties, timeout=2)
    keys: list[str] = []

    def create_refund(params, *, idempotency_key, account=None):
        keys.append(idempotency_key)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return original(params, idempotency_key=idempotency_key, account=account)

    monkeypatch.setattr(gateway, "create_refund", create_refund)
    return keys


def together(*fns) -> list:
    start = threading.Barrier(len(fns))
    out: list = [None] * len(fns)

    def run(i, fn):
        start.wait()
        try:
            out[i] = fn()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


# --- 1. an edited bulk file ---------------------------------------------------------------------

def test_an_edited_bulk_file_does_not_refund_its_unchanged_rows_again(desk, emulator):
    client = emulator.stripe_client()
    a, b = pay(client, 5000), pay(client, 5000)
    first = refunds.run_bulk(desk, f"charge,amount\n{a},10.00\n{b},5.00\n", actor="alice")
    assert first.counts == {"succeeded": 2}
    edited = refunds.run_bulk(desk, f"charge,amount\n{a},10.00\n{b},6.00\n", actor="alice")
    assert edited.job_id != first.job_id
    by_row = {r.row: r for r in edited.results}
    assert by_row[2].status == "already_done" and by_row[2].refund_id == first.results[0].refund_id
    assert by_row[3].status == "succeeded"
    assert [r.amount for r in refunds_on(emulator, a)] == [1000]
    assert sorted(r.amount for r in refunds_on(emulator, b)) == [500, 600]
    assert "already_done" in edited.result_csv()


def test_the_same_amount_written_differently_on_the_same_charge_counts_as_done(desk, emulator):
    client = emulator.stripe_client()
    a = pay(client, 5000)
    refunds.run_bulk(desk, f"charge,amount,note\n{a},10.00,first\n", actor="alice")
    again = refunds.run_bulk(desk, f"charge,amount,note\n{a},10.00 USD,second\n", actor="bob")
    assert again.results[0].status == "already_done"
    assert len(refunds_on(emulator, a)) == 1


def test_allow_repeat_refunds_a_repeated_row_again(desk, emulator):
    client = emulator.stripe_client()
    a = pay(client, 5000)
    refunds.run_bulk(desk, f"charge,amount\n{a},10.00\n", actor="alice")
    again = refunds.run_bulk(desk, f"charge,amount\n{a},10.00\n", actor="alice",
                             allow_repeat=True)
    assert again.results[0].status == "succeeded"
    assert [r.amount for r in refunds_on(emulator, a)] == [1000, 1000]
    # Running the repeat job again (or resuming it) still does not refund a third time.
    resumed = refunds.run_bulk(desk, None, actor="alice", resume=again.job_id)
    assert resumed.results[0].status == "succeeded" and len(refunds_on(emulator, a)) == 2


def test_row_keys_follow_the_rows_content_not_the_file():
    one = parse_bulk_csv("charge,amount\nch_a,10.00\nch_b,5.00\n")
    two = parse_bulk_csv("charge,amount,note\nch_b,6.00,x\nch_a,10.0,edited\n")
    assert one.rows[0].key == two.rows[1].key
    assert one.rows[1].key != two.rows[0].key


# --- 2. racing senders of one stuck request -----------------------------------------------------

def test_a_heal_and_a_submit_retry_racing_on_a_stuck_request_make_one_refund(
        desk, emulator, monkeypatch):
    charge = pay(emulator.stripe_client(), 5000)
    rid = stuck(desk, charge)
    desk.clock.advance(DAY)  # old enough that the healer may move to a fresh key
    gate_stripe_calls(desk, monkeypatch)
    together(lambda: refunds.heal(desk),
             lambda: refunds.submit_request(desk, rid, replay=True))
    assert len(refunds_on(emulator, charge)) == 1
    refunds.heal(desk)  # whatever is left is healed without a second refund
    assert len(refunds_on(emulator, charge)) == 1


def test_two_heals_racing_on_a_stuck_request_make_one_refund(desk, emulator, monkeypatch):
    charge = pay(emulator.stripe_client(), 5000)
    stuck(desk, charge)
    desk.clock.advance(DAY)
    gate_stripe_calls(desk, monkeypatch)
    together(lambda: refunds.heal(desk), lambda: refunds.heal(desk))
    refunds.heal(desk)
    made = refunds_on(emulator, charge)
    assert len(made) == 1


def test_a_fresh_attempt_clears_the_old_error_and_is_audited(desk, emulator):
    charge = pay(emulator.stripe_client(), 5000)
    rid = stuck(desk, charge)
    with desk.store.write() as conn:
        conn.execute(refund_requests.update().where(refund_requests.c.id == rid).values(
            error_code="stripe_unavailable", error="earlier 500"))
    desk.clock.advance(DAY)
    refunds.heal(desk)
    row = refunds.show_request(desk, rid)
    assert row["request"]["attempt"] == 2 and row["request"]["status"] == "succeeded"
    assert row["request"]["error_code"] is None
    assert "refund.new_attempt" in [e["action"] for e in row["audit"]]


# --- 3. a 409 is "result unknown", never a failure -------------------------------------------

def test_a_409_from_stripe_keeps_the_request_submitted_and_retries(desk, emulator, monkeypatch):
    charge = pay(emulator.stripe_client(), 5000)
    gateway = desk.gateway()

    def busy(params, *, idempotency_key, account=None):
        raise translate(stripe.APIError(
            "There is currently another in-progress request using this Idempotent Key",
            http_status=409, code="idempotency_key_in_use"))

    monkeypatch.setattr(gateway, "create_refund", busy)
    outcome = refunds.request_refund(desk, charge, amount="10.00", actor="alice")
    assert outcome.status == "submitted" and outcome.request["error_code"] == "stripe_conflict"
    with desk.store.read() as conn:
        queued = conn.execute(sa.text("SELECT count(*) FROM jobs WHERE name = :name"),
                              {"name": "refunds.submit"}).scalar_one()
    assert queued == 1
    monkeypatch.undo()
    desk.clock.advance(60)
    refunds.heal(desk, older_than=30)
    assert refunds.show_request(desk, outcome.request["id"])["request"]["status"] == "succeeded"
    assert len(refunds_on(emulator, charge)) == 1


# --- 4. replays of a key Stripe may have pruned ---------------------------------------------

def test_a_submit_retry_of_an_old_key_adopts_the_refund_already_made(desk, emulator):
    charge = pay(emulator.stripe_client(), 5000)
    rid = stuck(desk, charge)
    # The refund went through but the answer was lost, and the key has since been pruned.
    emulator.stripe_client().v1.refunds.create(params={
        "charge": charge, "amount": 1000, "metadata": {REQUEST_METADATA_KEY: rid}})
    desk.clock.advance(DAY)
    row = refunds.submit_request(desk, rid, replay=True)
    assert row["refund_id"] is not None
    assert len(refunds_on(emulator, charge)) == 1


def test_resuming_a_bulk_job_adopts_a_refund_whose_key_may_be_pruned(desk, emulator):
    charge = pay(emulator.stripe_client(), 5000)
    data = f"charge,amount\n{charge},10.00\n"
    job_id = bulk_svc.prepare_job(desk, data, actor="alice")
    key = parse_bulk_csv(data).rows[0].key
    stuck(desk, charge, request_id=key, bulk_job_id=job_id)
    emulator.stripe_client().v1.refunds.create(params={
        "charge": charge, "amount": 1000, "metadata": {REQUEST_METADATA_KEY: key}})
    desk.clock.advance(DAY)
    report = refunds.run_bulk(desk, None, actor="alice", resume=job_id)
    assert report.results[0].status == "succeeded" and report.results[0].refund_id
    assert len(refunds_on(emulator, charge)) == 1


# --- 5. the daily limit under concurrency -------------------------------------------------------

def test_concurrent_requests_by_one_operator_cannot_pass_the_daily_limit_together(
        make_desk, emulator, monkeypatch):
    from disputedesk.services.refunds import records

    desk = make_desk(approval_daily_limit="500.00 USD")
    client = emulator.stripe_client()
    charges = [pay(client, 50_000) for _ in range(4)]
    original = records.requested_today
    barrier = threading.Barrier(4, timeout=1)

    def requested_today(*args, **kwargs):
        # Every request reads the operator's totals before any of them commits, if it can.
        out = original(*args, **kwargs)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        return out

    monkeypatch.setattr(records, "requested_today", requested_today)
    results = together(*[
        (lambda c=c: refunds.request_refund(desk, c, amount="400.00 USD", actor="Alice"))
        for c in charges])
    statuses = [r.status for r in results]
    assert sum(s != "awaiting_approval" for s in statuses) <= 1, statuses


def test_the_operator_lock_does_not_hold_up_other_operators(make_desk, emulator):
    desk = make_desk(approval_daily_limit="500.00 USD")
    client = emulator.stripe_client()
    a, b = pay(client, 100_000), pay(client, 100_000)
    first = refunds.request_refund(desk, a, amount="400.00 USD", actor="alice")
    second = refunds.request_refund(desk, b, amount="400.00 USD", actor="bob")
    assert first.status == "succeeded" and second.status == "succeeded"
    third = refunds.request_refund(desk, b, amount="50.00 USD", actor="bob")
    assert third.status == "succeeded"
    fourth = refunds.request_refund(desk, a, amount="60.00 USD", actor="alice")
    assert fourth.status == "succeeded"
    fifth = refunds.request_refund(desk, a, amount="60.00 USD", actor="alice")
    assert fifth.status == "awaiting_approval"
