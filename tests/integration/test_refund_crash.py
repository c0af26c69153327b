"""The refund path killed with SIGKILL at each point: after a restart the desk heals, and the
emulator holds exactly one refund per request. The emulator runs in this (parent) process, so it
survives the child's death like Stripe survives the desk's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from disputedesk.config import Settings
from disputedesk.domain.refunds import REQUEST_METADATA_KEY
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import refunds
from disputedesk.services.refunds import lease
from disputedesk.services.refunds.faults import ENV, POINTS
from disputedesk.services.refunds.testing import desk_settings, pay, pump_events
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps

CHILD = textwrap.dedent("""
    import json, sys
    from disputedesk.config import load_settings
    from disputedesk.services import refunds
    from disputedesk.wiring import build_deps

    deps = build_deps(load_settings(), migrate=False)
    charge, amount, key = sys.argv[1:4]
    outcome = refunds.request_refund(deps, charge, amount=amount, actor="alice", client_key=key)
    print(json.dumps({"id": outcome.request["id"], "status": outcome.request["status"]}))
""")

# What the database holds after the kill, before any healing.
STATE_AFTER_KILL = {
    "after_record": ("approved", 0),
    "before_call": ("submitted", 0),
    "after_stripe": ("submitted", 1),
    "before_commit": ("submitted", 1),
}


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=23) as server:
        yield server


def child_env(database_url: str, emulator, tmp_path, crash_at: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path),
               DISPUTEDESK_DATABASE_URL=database_url, DISPUTEDESK_DATA_DIR=str(tmp_path),
               DISPUTEDESK_STRIPE_API_KEY="sk_test_child", DISPUTEDESK_STRIPE_API_BASE=emulator.base_url,
               DISPUTEDESK_STRIPE_RATE_LIMIT="1000")
    env.pop(ENV, None)
    if crash_at:
        env[ENV] = crash_at
    return env


def run_child(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def tagged_refunds(client, charge: str, request_id: str) -> list:
    listed = client.v1.refunds.list(params={"charge": charge, "limit": 100}).data
    return [r for r in listed if r.metadata.to_dict().get(REQUEST_METADATA_KEY) == request_id]


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_each_point_heals_to_exactly_one_refund(point, database_url, emulator, tmp_path):
    assert set(POINTS) == set(STATE_AFTER_KILL)
    client = emulator.stripe_client()
    charge = pay(client, 5000)
    key = f"crash-{point}-{time.time_ns()}"
    killed = run_child(child_env(database_url, emulator, tmp_path, point), charge, "12.00", key)
    assert killed.returncode == -9, killed.stderr[-2000:]

    # "Restart": a fresh process's view of the same database and the same Stripe.
    deps = build_deps(desk_settings(database_url, emulator.base_url, tmp_path),
                      clock=ManualClock(time.time()), migrate=False)
    try:
        [request] = refunds.list_requests(deps, charge=charge)
        expected_status, expected_refunds = STATE_AFTER_KILL[point]
        assert (request["status"], request["refund_id"]) == (expected_status, None)
        assert len(tagged_refunds(client, charge, request["id"])) == expected_refunds

        # The killed process may have held the send lease (its own settings decide how long):
        # the healer waits until it runs out.
        deps.clock.advance(lease.lease_seconds(Settings()) + 1)
        counts = refunds.heal(deps)
        healed = refunds.show_request(deps, request["id"])["request"]
        made = tagged_refunds(client, charge, request["id"])
        assert healed["status"] == "succeeded" and len(made) == 1
        assert healed["refund_id"] == made[0].id and made[0].amount == 1200
        assert counts["errors"] == 0

        # Healing again, and the user pressing the button again, change nothing.
        refunds.heal(deps)
        again = run_child(child_env(database_url, emulator, tmp_path, None), charge, "12.00", key)
        assert again.returncode == 0, again.stderr[-2000:]
        assert json.loads(again.stdout)["id"] == request["id"]
        assert len(client.v1.refunds.list(params={"charge": charge}).data) == 1
    finally:
        deps.close()


def test_a_refund_made_before_the_crash_is_adopted_from_its_event(database_url, emulator, tmp_path):
    client = emulator.stripe_client()
    charge = pay(client, 5000)
    killed = run_child(child_env(database_url, emulator, tmp_path, "after_stripe"), charge,
                       "7.00", f"adopt-{time.time_ns()}")
    assert killed.returncode == -9
    deps = build_deps(desk_settings(database_url, emulator.base_url, tmp_path),
                      clock=ManualClock(time.time()), migrate=False)
    try:
        pump_events(deps)  # refund.created names the request in its metadata
        [request] = refunds.list_requests(deps, charge=charge)
        assert request["status"] == "succeeded"
        assert request["refund_id"] == tagged_refunds(client, charge, request["id"])[0].id
        refunds.heal(deps)
        assert len(client.v1.refunds.list(params={"charge": charge}).data) == 1
    finally:
        deps.close()
