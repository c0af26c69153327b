"""Automation actions killed with SIGKILL mid-action in a real worker process: after a restart the
action is done exactly once. The emulator runs in this (parent) process, so it survives the
worker's death like Stripe survives the desk's; the workers are child processes on the same
database (SQLite file, or PostgreSQL when ``DISPUTEDESK_TEST_DATABASE_URL`` is set).

Each child pulls Stripe's events into the inbox (``sync.catch_up``) and runs the worker until it
is idle; the first dies at ``DISPUTEDESK_TEST_CRASH_AT`` (after the action key is claimed, or
after Stripe acted and before the key is marked done). The children take "now" on the command
line: the restarted one runs past the dead worker's job lease and claim lease, as a worker
restarted a few minutes later would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import automation
from disputedesk.services import disputes as dsvc
from disputedesk.services.automation.runner import CRASH_ENV, CRASH_POINTS
from disputedesk.store import audit
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps

CHILD = textwrap.dedent("""
    import json, sys
    from disputedesk.config import load_settings
    from disputedesk.services import events, sync
    from disputedesk.testing import ManualClock
    from disputedesk.wiring import build_deps
    from disputedesk.worker import Worker

    now, replay_type = float(sys.argv[1]), sys.argv[2]
    deps = build_deps(load_settings(), clock=ManualClock(now), migrate=False)
    try:
        sync.catch_up(deps)
        replayed = events.replay(deps.store, deps.clock, actor="test",
                                 type=replay_type) if replay_type else 0
        Worker(deps).run_until_idle()
    finally:
        deps.close()
    print(json.dumps({"replayed": replayed}))
""")

REFUND_RULE = "refund-small-early-fraud-warnings"
ACCEPT_RULE = "accept-small-fraud-disputes"
# Past the dead worker's job lease (300 s) and its claim on the action key (299 s).
RESTART_AFTER_SECONDS = 301


@pytest.fixture
def emulator():
    # One per test: a fresh database's catch-up reaches back over every event the emulator holds.
    with running_emulator(seed=29) as server:
        yield server


def child_env(database_url: str, emulator, tmp_path, crash_at: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEDESK_")}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), DISPUTEDESK_DATABASE_URL=database_url,
               DISPUTEDESK_DATA_DIR=str(tmp_path), DISPUTEDESK_STRIPE_API_KEY="sk_test_child",
               DISPUTEDESK_STRIPE_API_BASE=emulator.base_url, DISPUTEDESK_STRIPE_RATE_LIMIT="1000")
    if crash_at:
        env[CRASH_ENV] = crash_at
    return env


def run_worker(database_url: str, emulator, tmp_path, *, now: float, crash_at: str | None = None,
               replay_type: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, repr(now), replay_type],
        env=child_env(database_url, emulator, tmp_path, crash_at),
        capture_output=True, text=True, timeout=60, check=False)


def kill_at(database_url: str, emulator, tmp_path, point: str) -> float:
    """Run a worker that dies at ``point``; returns the "now" it ran at."""
    now = emulator.emulator.clock.now()
    killed = run_worker(database_url, emulator, tmp_path, now=now, crash_at=point)
    assert killed.returncode == -9, f"expected SIGKILL at {point}: {killed.stderr[-3000:]}"
    return now


def restart(database_url: str, emulator, tmp_path, *, killed_at: float, replay_type: str) -> int:
    """Run the restarted worker to completion; returns how many events it replayed."""
    done = run_worker(database_url, emulator, tmp_path, now=killed_at + RESTART_AFTER_SECONDS,
                      replay_type=replay_type)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["replayed"]


def claim_status(database_url: str, emulator, tmp_path, key: str) -> str | None:
    deps = open_desk(database_url, emulator, tmp_path)
    try:
        with deps.store.read() as conn:
            row = automation.records.get_action(conn, key)
        return row and row["status"]
    finally:
        deps.close()


def open_desk(database_url: str, emulator, tmp_path):
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_parent"),
                        stripe_api_base=emulator.base_url, stripe_rate_limit=1000)
    return build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()), migrate=False)


def done_once(deps, object_id: str, rule: str, key: str) -> None:
    """The decisions show the action done by exactly one of them, and its key done once."""
    made = [d for d in automation.decisions(deps, object_id, limit=1000) if d["rule"] == rule]
    outcomes = [(d["outcome"] or {}).get(key, {}).get("status") for d in made]
    assert outcomes.count("done") == 1, outcomes
    assert set(outcomes) <= {"done", "already_done", "skipped", None}, outcomes
    with deps.store.read() as conn:
        row = automation.records.get_action(conn, key)
    # Claimed by the dead worker, claimed again and finished by the restarted one.
    assert (row["status"], row["attempts"]) == ("done", 2)


def test_crash_points_are_the_ones_this_test_kills_at():
    assert set(CRASH_POINTS) == {"after_claim", "after_side_effect"}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_worker_killed_mid_refund_of_an_early_fraud_warning_refunds_once_after_restart(
        point, database_url, emulator, tmp_path):
    client = emulator.stripe_client()
    charge = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_createEarlyFraudWarning",
        "confirm": True}).latest_charge
    emulator.advance(2)  # the warning is created

    key = f"{REFUND_RULE}|{charge}|refund_charge"
    killed_at = kill_at(database_url, emulator, tmp_path, point)
    # Died mid-action: the key is claimed, Stripe refunded only if the crash came after it.
    assert claim_status(database_url, emulator, tmp_path, key) == "started"
    made = client.v1.refunds.list(params={"charge": charge}).data
    assert len(made) == (1 if point == "after_side_effect" else 0)

    replayed = restart(database_url, emulator, tmp_path, killed_at=killed_at,
                       replay_type="radar.early_fraud_warning.created")
    assert replayed == 1

    refunds = client.v1.refunds.list(params={"charge": charge, "limit": 100}).data
    assert [(r.amount, r.reason, r.status) for r in refunds] == [(1000, "fraudulent", "succeeded")]
    deps = open_desk(database_url, emulator, tmp_path)
    try:
        done_once(deps, charge, REFUND_RULE, key)
        efw = next(d["object_id"] for d in automation.decisions(deps, charge)
                   if d["rule"] == REFUND_RULE)
        with deps.store.read() as conn:
            entries = [e["action"] for e in audit.for_object(conn, "radar.early_fraud_warning", efw)]
        assert entries.count("automation.refund_charge") == 1
    finally:
        deps.close()


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_worker_killed_mid_accept_of_a_small_fraud_dispute_closes_it_once_after_restart(
        point, database_url, emulator, tmp_path):
    client = emulator.stripe_client()
    charge = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_createDispute",
        "confirm": True}).latest_charge
    emulator.advance(2)  # the dispute is created

    (dispute,) = client.v1.disputes.list(params={"charge": charge}).data
    key = f"{ACCEPT_RULE}|{dispute.id}|accept_dispute"
    killed_at = kill_at(database_url, emulator, tmp_path, point)
    assert claim_status(database_url, emulator, tmp_path, key) == "started"
    status = client.v1.disputes.retrieve(dispute.id).status
    assert status == ("lost" if point == "after_side_effect" else "needs_response")

    replayed = restart(database_url, emulator, tmp_path, killed_at=killed_at,
                       replay_type="charge.dispute.created")
    assert replayed == 1

    dispute = client.v1.disputes.retrieve(dispute.id)
    assert dispute.status == "lost"
    closed = [e for e in client.v1.events.list(params={"type": "charge.dispute.closed",
                                                       "limit": 100}).data
              if e.data.object["id"] == dispute.id]
    assert len(closed) == 1
    deps = open_desk(database_url, emulator, tmp_path)
    try:
        done_once(deps, dispute.id, ACCEPT_RULE, key)
        subs = dsvc.list_submissions(deps, dispute.id)
        assert [(s["kind"], s["status"], s["actor"]) for s in subs] == [
            ("accept", "done", f"rule:{ACCEPT_RULE}")]
    finally:
        deps.close()
