"""``POST /_emulator/seed``: a year of realistic, deterministic data, read through the SDK."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from disputedesk.emulator import Clock, Emulator, seed


def seeded(base_url: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{base_url}/_emulator/seed", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def everything(listing: Any) -> list[Any]:
    return list(listing.auto_paging_iter())


def test_seed_creates_customers_payments_refunds_disputes_and_warnings(
        client: Any, base_url: str) -> None:
    summary = seeded(base_url, customers=80, charges=1500, seed=7)
    assert summary["charges"] == 1500
    charges = everything(client.v1.charges.list(params={"limit": 100}))
    assert len(charges) == 1500
    assert len({c.customer for c in charges}) > 40
    repeaters = [n for n in Counter(c.customer for c in charges).values() if n >= 5]
    assert repeaters, "some customers should buy repeatedly"
    currencies = Counter(c.currency for c in charges)
    assert set(currencies) == {"usd", "eur", "gbp", "jpy", "kwd"}
    assert currencies.most_common(1)[0][0] == "usd"
    assert all(c.metadata["order_id"].startswith("ord_") for c in charges)
    assert any("ip_address" in c.metadata for c in charges)
    refunds = everything(client.v1.refunds.list(params={"limit": 100}))
    assert summary["refunds"] == len(refunds) > 0
    by_charge = {c.id: c for c in charges}
    assert any(by_charge[r.charge].refunded for r in refunds)
    assert any(not by_charge[r.charge].refunded for r in refunds), "partial refunds expected"
    disputes = everything(client.v1.disputes.list(params={"limit": 100}))
    assert len(disputes) == summary["disputes"] + summary["inquiries"]
    statuses = Counter(d.status for d in disputes)
    assert {"needs_response", "lost"} <= set(statuses)
    assert any(s.startswith("warning_") for s in statuses)
    assert Counter(d.reason for d in disputes).most_common(1)[0][0] == "fraudulent"
    assert {d.reason for d in disputes} == {
        "fraudulent", "product_not_received", "product_unacceptable", "unrecognized",
        "subscription_canceled", "credit_not_processed", "general", "duplicate", "noncompliant"}
    assert all(by_charge[d.charge].disputed for d in disputes)
    efws = everything(client.v1.radar.early_fraud_warnings.list(params={"limit": 100}))
    assert len(efws) == summary["early_fraud_warnings"] > 0


def test_seeded_history_spans_the_past_year_in_creation_order(client: Any, base_url: str,
                                                              emulator: Emulator) -> None:
    seeded(base_url, customers=20, charges=300, seed=1)
    now = emulator.clock.now()
    created = [c.created for c in everything(client.v1.charges.list(params={"limit": 100}))]
    assert created == sorted(created, reverse=True)
    assert now - 366 * 86400 < min(created) < now - 200 * 86400
    assert max(created) <= now


def test_open_seeded_disputes_are_due_in_the_future(client: Any, base_url: str,
                                                    emulator: Emulator) -> None:
    seeded(base_url, customers=50, charges=2000, seed=3)
    now = emulator.clock.now()
    disputes = everything(client.v1.disputes.list(params={"limit": 100}))
    open_ = [d for d in disputes if d.status in ("needs_response", "warning_needs_response")]
    assert open_
    assert all(d.evidence_details.due_by > now for d in open_)
    closed = [d for d in disputes if d.status in ("won", "lost", "under_review")]
    assert all(d.evidence_details.due_by < now for d in closed)
    for d in disputes:
        if d.status == "won":
            assert [t.amount for t in d.balance_transactions] == [-d.amount, d.amount]
        elif d.status.startswith("warning_"):
            assert d.balance_transactions == []
        else:
            assert len(d.balance_transactions) == 1


def test_seeded_open_chargeback_is_lost_once_its_deadline_passes(
        client: Any, base_url: str, emulator: Emulator) -> None:
    seeded(base_url, customers=50, charges=1000, seed=5)
    waiting = [d for d in everything(client.v1.disputes.list(params={"limit": 100}))
               if d.status == "needs_response" and not d.evidence_details.has_evidence]
    assert waiting
    emulator.advance(22 * 86400)
    assert client.v1.disputes.retrieve(waiting[0].id).status == "lost"


def test_same_seed_gives_the_same_data_set() -> None:
    def snapshot(em: Emulator) -> list[tuple[Any, ...]]:
        with em.lock:
            seed.run(em, {"customers": 30, "charges": 400, "seed": 11})
        acct = em.platform
        return ([(c["id"], c["amount"], c["currency"], c["customer"])
                 for c in acct.collection("charge").objects.values()]
                + [(d["id"], d["status"], d["reason"])
                   for d in acct.collection("dispute").objects.values()])

    start = 1_790_000_000
    one = Emulator(seed=1, clock=Clock(start, frozen=True))
    two = Emulator(seed=1, clock=Clock(start, frozen=True))
    a, b = snapshot(one), snapshot(two)
    assert a[:400] == b[:400]
    assert a[400:] == b[400:]
    other = Emulator(seed=1, clock=Clock(start, frozen=True))
    with other.lock:
        seed.run(other, {"customers": 30, "charges": 400, "seed": 12})
    assert [c["id"] for c in other.platform.collection("charge").objects.values()] != \
        [x[0] for x in a[:400]]


def test_seeding_twice_adds_more_data_without_id_clashes(client: Any, base_url: str) -> None:
    seeded(base_url, customers=5, charges=50, seed=2)
    seeded(base_url, customers=5, charges=50, seed=2)
    assert len(everything(client.v1.charges.list(params={"limit": 100}))) == 100


def test_seed_into_a_connected_account_stays_there(emulator_server: Any, base_url: str) -> None:
    response = httpx.post(f"{base_url}/_emulator/seed", json={"charges": 30, "customers": 5},
                          headers={"Stripe-Account": "acct_1SeededConnected00"})
    assert response.status_code == 200
    platform = emulator_server.stripe_client()
    connected = emulator_server.stripe_client(stripe_account="acct_1SeededConnected00")
    assert platform.v1.charges.list().data == []
    assert len(everything(connected.v1.charges.list(params={"limit": 100}))) == 30


@pytest.mark.parametrize("body", [{"charges": -1}, {"charges": "many"}, {"customers": 10**9}])
def test_seed_refuses_bad_numbers(base_url: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{base_url}/_emulator/seed", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
