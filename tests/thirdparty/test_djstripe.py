"""dj-stripe, unchanged, against the emulator: webhooks processed, rows synced, rows right.

dj-stripe 2.11 pins ``stripe<16`` (the project uses 16), so it runs in a virtualenv of its own
(``conftest.djstripe_python``), as a child process (``djstripe_child.py``) serving its webhook
view from Django's WSGI app on a free port. The emulator delivers every event there; dj-stripe
verifies each signature, calls back (``GET /v1/account``, the objects' customers, payment
methods, ...), and stores Events, Charges, Refunds, Disputes. ``djstripe_sync_models Charge
Refund Dispute`` then lists them all from the emulator. Every stored row is compared with the
emulator's object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from disputedesk.emulator import Emulator
from disputedesk.emulator.testing import EmulatorServer, running_emulator

HERE = Path(__file__).parent


class Child:
    """dj-stripe's process: one JSON command per line in, one JSON answer per line out."""

    def __init__(self, python: Path, emulator_url: str, db: Path) -> None:
        env = dict(os.environ, DJSTRIPE_DB=str(db), EMULATOR_URL=emulator_url,
                   PYTHONPATH=str(HERE))
        env.pop("DJANGO_SETTINGS_MODULE", None)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([str(python), str(HERE / "djstripe_child.py")], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        self.ready = self.read()

    def read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("dj-stripe's process ended:\n" + self.errors())
        return json.loads(line)

    def ask(self, **command: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def errors(self) -> str:
        """The end of dj-stripe's stderr (its tracebacks), for failure messages."""
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-6000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask(cmd="quit")
            except (AssertionError, BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.stderr.close()


@pytest.fixture
def emulator_server() -> Iterator[EmulatorServer]:
    # dj-stripe answers a delivery only after its own API calls: give it time
    emulator = Emulator(seed=23, webhook_timeout=60.0, webhook_retry_delays=(0.5, 1.0, 2.0))
    with running_emulator(emulator) as server:
        yield server


@pytest.fixture
def djstripe(djstripe_python: Path, emulator_server: EmulatorServer,
             tmp_path: Path) -> Iterator[Child]:
    child = Child(djstripe_python, emulator_server.base_url, tmp_path / "djstripe.sqlite3")
    try:
        yield child
    finally:
        child.close()


def wait_for_deliveries(base_url: str, timeout: float = 120.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        data = httpx.get(f"{base_url}/_emulator/deliveries", timeout=10).json()["data"]
        if data and all(d["status"] != "pending" for d in data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries still pending: {data}")
        time.sleep(0.2)


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in rows}


@pytest.mark.timeout(1200)  # the first run builds dj-stripe's virtualenv (pip, ~1 min)
def test_djstripe_processes_every_webhook_and_its_rows_match_the_emulator(
        djstripe: Child, emulator_server: EmulatorServer) -> None:
    assert djstripe.ready["ready"] is True
    client = emulator_server.stripe_client()
    emulator = emulator_server.emulator
    # history without events (seeding emits none): only djstripe_sync_models can bring it in
    seeded = httpx.post(f"{emulator_server.base_url}/_emulator/seed",
                        json={"customers": 8, "charges": 120, "seed": 5}, timeout=60).json()
    assert seeded["refunds"] and seeded["disputes"]
    customer = client.v1.customers.create(params={"email": "grace@example.com",
                                                  "name": "Grace Hopper"})

    def pay(pm: str, amount: int, **extra: Any) -> Any:
        return client.v1.payment_intents.create(params={
            "amount": amount, "currency": "usd", "payment_method": pm, "confirm": True,
            "customer": customer.id, **extra})

    plain = pay("pm_card_visa", 2500)
    refunded = pay("pm_card_mastercard", 4000)
    client.v1.refunds.create(params={"payment_intent": refunded.id, "amount": 1500,
                                     "reason": "requested_by_customer"})
    client.v1.refunds.create(params={"payment_intent": refunded.id})
    disputed = pay("pm_card_createDispute", 6000)
    inquiry = pay("pm_card_createDisputeInquiry", 1200)
    won = pay("pm_card_createDisputeProductNotReceived", 3300)
    emulator.advance(2)  # disputes open
    [won_dispute] = client.v1.disputes.list(params={"charge": won.latest_charge}).data
    client.v1.disputes.update(won_dispute.id, params={
        "evidence": {"uncategorized_text": "winning_evidence"}, "submit": True})
    emulator.advance(10)  # the outcome lands
    declined = None
    try:
        pay("pm_card_chargeDeclined", 700)
    except Exception as exc:  # stripe.CardError: the failed charge still exists
        declined = exc
    assert declined is not None

    deliveries = wait_for_deliveries(emulator_server.base_url)
    events = list(client.v1.events.list(params={"limit": 100}).auto_paging_iter())
    assert len(events) >= 25
    assert {d["event"] for d in deliveries} == {e.id for e in events}
    failed = [(d["event_type"], d["attempts"][-1]) for d in deliveries
              if d["status"] != "succeeded"]
    assert not failed, (failed, djstripe.errors())

    sync = djstripe.ask(cmd="sync", models=["Charge", "Refund", "Dispute"])
    assert sync["ok"], sync
    stored = djstripe.ask(cmd="dump")

    # every event was received, verified and processed, none failed
    assert len(stored["triggers"]) == len(events)
    assert all(t["valid"] and t["processed"] and not t["exception"] for t in stored["triggers"])
    assert {e["id"]: e["type"] for e in stored["events"]} == {e.id: e.type for e in events}

    charges = list(client.v1.charges.list(params={"limit": 100}).auto_paging_iter())
    rows = by_id(stored["charges"])
    assert set(rows) == {c.id for c in charges}
    for charge in charges:
        row, data = rows[charge.id], rows[charge.id]["stripe_data"]
        for field in ("amount", "amount_captured", "amount_refunded", "refunded", "disputed",
                      "status", "captured", "paid", "currency"):
            assert data[field] == charge[field], (charge.id, field)
        assert (row["status"], row["customer"], row["payment_intent"], row["payment_method"],
                row["balance_transaction"]) == (charge.status, charge.customer,
                                                charge.payment_intent, charge.payment_method,
                                                charge.balance_transaction)

    refunds = list(client.v1.refunds.list(params={"limit": 100}).auto_paging_iter())
    rows = by_id(stored["refunds"])
    assert set(rows) == {r.id for r in refunds} and len(refunds) == 2 + seeded["refunds"]
    for refund in refunds:
        row = rows[refund.id]
        assert (row["amount"], row["charge"], row["balance_transaction"]) == (
            refund.amount, refund.charge, refund.balance_transaction)
        assert (row["stripe_data"]["status"], row["stripe_data"]["reason"]) == (
            refund.status, refund.reason)

    disputes = list(client.v1.disputes.list(params={"limit": 100}).auto_paging_iter())
    rows = by_id(stored["disputes"])
    assert set(rows) == {d.id for d in disputes}
    assert len(disputes) == 3 + seeded["disputes"] + seeded["inquiries"]
    for dispute in disputes:
        row, data = rows[dispute.id], rows[dispute.id]["stripe_data"]
        assert (row["charge"], row["payment_intent"]) == (dispute.charge, dispute.payment_intent)
        for field in ("amount", "status", "reason", "is_charge_refundable"):
            assert data[field] == dispute[field], (dispute.id, field)
        assert [t["id"] for t in data["balance_transactions"]] == [
            t.id for t in dispute.balance_transactions]
    mine = {rows[i]["stripe_data"]["status"] for i in rows
            if rows[i]["charge"] in (disputed.latest_charge, inquiry.latest_charge,
                                     won.latest_charge)}
    assert mine == {"needs_response", "warning_needs_response", "won"}

    # what dj-stripe fetched on its own while processing: the account, customer, methods
    assert stored["accounts"] == [client.v1.accounts.retrieve_current().id]
    customers = list(client.v1.customers.list(params={"limit": 100}).auto_paging_iter())
    assert len(customers) == 9
    assert sorted((c["id"], c["email"], c["name"]) for c in stored["customers"]) == sorted(
        (c.id, c.email, c.name) for c in customers if c.id in {ch.customer for ch in charges})
    intents = by_id(stored["payment_intents"])
    for pi in (plain, refunded, disputed, inquiry, won):
        current = client.v1.payment_intents.retrieve(pi.id)
        assert (intents[pi.id]["stripe_data"]["status"], intents[pi.id]["customer"],
                intents[pi.id]["payment_method"]) == (current.status, customer.id,
                                                      current.payment_method)
    assert {m["id"] for m in stored["payment_methods"]} >= {c.payment_method for c in charges}


@pytest.mark.timeout(1200)
def test_the_child_runs_the_pinned_djstripe(djstripe_python: Path) -> None:
    out = subprocess.run([str(djstripe_python), "-c",
                          "from importlib.metadata import version as v; "
                          "print(v('dj-stripe'), v('stripe'), v('Django'))"],
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert out[0] == "2.11.0" and out[1].startswith("15.") and out[2].startswith("5.2")
    assert Path(sys.prefix) != djstripe_python.parent.parent  # not the project's .venv
