"""Two (or ten) people pressing the refund button at once make one refund."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from disputedesk import errors
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import refunds
from disputedesk.services.refunds.testing import desk_settings, pay
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps

PRESSES = 10


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=31) as server:
        yield server


@pytest.fixture
def desk(database_url, emulator, tmp_path):
    deps = build_deps(desk_settings(database_url, emulator.base_url, tmp_path),
                      clock=ManualClock(time.time()), migrate=False)
    yield deps
    deps.close()


def at_once(fn, n: int = PRESSES) -> list:
    """Run ``fn`` from ``n`` threads released together; returns results or exceptions."""
    barrier = threading.Barrier(n)

    def press(_):
        barrier.wait()
        try:
            return fn()
        except errors.DisputeDeskError as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(press, range(n)))


def stripe_refunds(emulator, charge: str) -> list:
    return list(emulator.stripe_client().v1.refunds.list(params={"charge": charge}).data)


def test_the_same_request_from_ten_threads_makes_one_refund(desk, emulator):
    charge = pay(emulator.stripe_client(), 5000)
    results = at_once(lambda: refunds.request_refund(desk, charge, amount="10.00", actor="alice",
                                                     client_key="button-1"))
    assert all(isinstance(r, refunds.RefundOutcome) for r in results), results
    assert len({r.request["id"] for r in results}) == 1
    assert [r.amount for r in stripe_refunds(emulator, charge)] == [1000]


def test_ten_full_refunds_at_once_refund_the_money_once(desk, emulator):
    charge = pay(emulator.stripe_client(), 5000)
    results = at_once(lambda: refunds.request_refund(desk, charge, actor="alice"))
    made = [r for r in results if isinstance(r, refunds.RefundOutcome)]
    refused = [r for r in results if isinstance(r, errors.NotRefundable)]
    assert len(made) == 1 and len(refused) == PRESSES - 1, results
    assert [r.amount for r in stripe_refunds(emulator, charge)] == [5000]


def test_one_approved_request_sent_from_ten_threads_is_sent_once(desk, emulator):
    charge = pay(emulator.stripe_client(), 5000)
    rid = refunds.request_refund(desk, charge, amount="5.00", actor="a", submit=False).request["id"]
    results = at_once(lambda: refunds.submit_request(desk, rid))
    assert {r["id"] for r in results} == {rid}
    assert len(stripe_refunds(emulator, charge)) == 1
    assert refunds.show_request(desk, rid)["request"]["status"] == "succeeded"


PROCESS = textwrap.dedent("""
    import sys, time
    from disputedesk.config import load_settings
    from disputedesk.services import refunds
    from disputedesk.wiring import build_deps

    deps = build_deps(load_settings(), migrate=False)
    start = float(sys.argv[3])
    while time.time() < start:
        time.sleep(0.001)
    out = refunds.request_refund(deps, sys.argv[1], amount="10.00", actor="alice",
                                 client_key=sys.argv[2])
    print(out.request["id"])
""")


@pytest.mark.postgres
def test_the_same_request_from_ten_processes_makes_one_refund(_pg_session_database, emulator,
                                                              tmp_path):
    # Processes only differ from threads on PostgreSQL: SQLite has one writer per database.
    database_url = _pg_session_database
    if database_url is None:
        pytest.skip("DISPUTEDESK_TEST_DATABASE_URL is not set")
    charge = pay(emulator.stripe_client(), 5000)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path),
               DISPUTEDESK_DATABASE_URL=database_url, DISPUTEDESK_DATA_DIR=str(tmp_path),
               DISPUTEDESK_STRIPE_API_KEY="sk_test_proc",
               DISPUTEDESK_STRIPE_API_BASE=emulator.base_url, DISPUTEDESK_STRIPE_RATE_LIMIT="1000")
    start = str(time.time() + 4)  # let every interpreter start, then press together
    procs = [subprocess.Popen([sys.executable, "-c", PROCESS, charge, "button-p", start], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(PRESSES)]
    outputs = [p.communicate(timeout=90) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-1000:] for o in outputs]
    assert len({out.strip() for out, _ in outputs}) == 1
    assert [r.amount for r in stripe_refunds(emulator, charge)] == [1000]
