"""Benchmark: events applied per second by ONE worker, with the desk's real features installed.

    .venv/bin/python bench/worker_throughput.py [--events 20000] [--mix mixed,disputes]
    DISPUTEDESK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/worker_throughput.py      # also PostgreSQL

The desk is built exactly as ``disputedesk serve`` builds it (``wiring.build_deps``: every
feature's listeners and jobs installed); "mirror only" swaps in an empty ``EventListeners`` to show
what the listeners cost. The events are stored in the inbox first, then one ``Worker`` applies them
with the default settings (batch size, SQLite batch budget) until none is left; the clock is
manual, so only the worker's own work is timed. Mixes:

- ``mixed``: a card account's traffic - per 100 payments: payment_intent.created/.succeeded,
  charge.succeeded/.updated; 10 refunds (refund.created/.updated, charge.refunded; one in five
  fails: refund.failed, refund.updated), a third of them made by the desk (a refund request
  follows them); 3 chargebacks with their whole life (created, funds_withdrawn, three updates,
  funds_reinstated, closed, a late update); 2 early fraud warnings;
- ``disputes``: dispute histories only - the worst case for the listeners.

Events come in near-true order with local shuffles (Stripe does not deliver in order). After each
run the bench checks that every event was processed on the first attempt and that the features'
rows are there (work rows, reminders, outcomes, queued automation evaluations, moved refund
requests) - a failing batch retried one event at a time would otherwise pass for a fast one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402

from disputedesk.testing import (
    dispute_history,
    make_charge,
    make_early_fraud_warning,
    make_event,
    make_payment_intent,
    make_refund,
    new_id,
)

PG_ENV = "DISPUTEDESK_TEST_DATABASE_URL"
NOW = 1_780_000_000  # the desk's (manual) clock; the stream covers the 30 days before it
SPAN = 30 * 86400


def _payment(at: int, rng: random.Random) -> tuple[list[dict], dict]:
    intent = make_payment_intent(created=at, status="requires_payment_method",
                                 amount=rng.choice((1500, 2000, 4999, 12000)))
    events = [make_event("payment_intent.created", intent, created=at)]
    charge = make_charge(created=at + 2, amount=intent["amount"], payment_intent=intent["id"],
                         customer=f"cus_{rng.randrange(5000):05d}")
    intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=charge["id"])
    events.append(make_event("payment_intent.succeeded", intent, created=at + 2))
    events.append(make_event("charge.succeeded", charge, created=at + 2))
    charge["receipt_url"] = f"https://pay.stripe.com/receipts/{charge['id']}"
    events.append(make_event("charge.updated", charge, created=at + 3))
    return events, charge


def _refund(charge: dict, at: int, rng: random.Random, request_id: str | None) -> list[dict]:
    metadata = {"disputedesk_request_id": request_id} if request_id else {}
    refund = make_refund(charge=charge["id"], amount=charge["amount"], created=at,
                         status="succeeded", metadata=metadata)
    events = [make_event("refund.created", refund, created=at)]
    charge = dict(charge, amount_refunded=refund["amount"], refunded=True)
    events.append(make_event("charge.refunded", charge, created=at))
    refund["destination_details"]["card"]["reference_status"] = "available"
    events.append(make_event("refund.updated", refund, created=at + 3600))
    if rng.random() < 0.2:
        later = at + 5 * 86400
        refund.update(status="failed", failure_reason="expired_or_canceled_card")
        events.append(make_event("refund.failed", refund, created=later))
        events.append(make_event("refund.updated", refund, created=later))
    return events


def build_stream(n: int, mix: str, seed: int = 7) -> tuple[list[dict], list[dict]]:
    """(events in delivery order, refund requests the desk made) - about ``n`` events."""
    rng = random.Random(seed)
    events: list[dict] = []
    requests: list[dict] = []
    while len(events) < n:
        at = NOW - SPAN + rng.randrange(SPAN - 3 * 86400)
        if mix == "disputes":
            history, _ = dispute_history(start=at)
            events += history
            continue
        paid, charge = _payment(at, rng)
        events += paid
        roll = rng.random()
        if roll < 0.10:
            request_id = None
            if rng.random() < 1 / 3:
                request_id = f"req_{new_id('bench')}"
                requests.append(_request_row(request_id, charge, at))
            events += _refund(charge, at + 600, rng, request_id)
        elif roll < 0.13:
            history, _ = dispute_history(start=at + 86400, charge=charge["id"])
            events += history
        elif roll < 0.15:
            warning = make_early_fraud_warning(charge=charge["id"], created=at + 3600)
            events.append(make_event("radar.early_fraud_warning.created", warning,
                                     created=at + 3600))
    events.sort(key=lambda e: e["created"])
    for i in range(0, len(events) - 8, 8):  # local disorder: shuffle windows of 8
        window = events[i:i + 8]
        rng.shuffle(window)
        events[i:i + 8] = window
    return events[:n], requests


def _request_row(request_id: str, charge: dict, at: int) -> dict:
    return {"id": request_id, "source_key": None, "target_type": "charge", "target": charge["id"],
            "charge": charge["id"], "payment_intent": charge.get("payment_intent"),
            "account": None, "amount": charge["amount"], "currency": charge["currency"],
            "full": True, "reason": "requested_by_customer", "metadata": {}, "note": None,
            "warnings": None, "requested_by": "bench", "approval_reason": None,
            "approved_by": None, "decided_at": None, "status": "submitted", "attempt": 1,
            "refund_id": None, "refund_status": None, "error_code": None, "error": None,
            "bulk_job_id": None, "created": float(at), "updated": float(at),
            "submitted_at": float(at)}


def _inbox_rows(events: list[dict]) -> list[dict]:
    rows = []
    for event in events:
        obj = event["data"]["object"]
        rows.append({"id": event["id"], "type": event["type"], "created": event["created"],
                     "account": None, "livemode": False, "api_version": event.get("api_version"),
                     "object_type": obj["object"], "object_id": obj["id"],
                     "payload": json.dumps(event, indent=2), "status": "received", "attempts": 0,
                     "last_error": None, "next_attempt_at": 0, "received_at": 0,
                     "processed_at": None})
    return rows


def fresh_database(kind: str, workdir: Path, label: str):
    if kind == "sqlite":
        return f"sqlite:///{workdir / (label + '.db')}", lambda: None
    from disputedesk.testing import create_pg_database, drop_pg_database

    admin = os.environ[PG_ENV]
    url = create_pg_database(admin, prefix="ddbench")
    return url, lambda: drop_pg_database(admin, url)


def run(kind: str, n: int, mix: str, workdir: Path, *, features: bool = True,
        batch_size: int | None = None, label: str = "") -> dict:
    """Apply ``n`` events of ``mix`` with one worker; returns the figures and the checks."""
    import sqlalchemy as sa

    from disputedesk.config import Settings
    from disputedesk.services.events import EventListeners
    from disputedesk.store import inbox
    from disputedesk.store.refunds_tables import refund_requests
    from disputedesk.testing import ManualClock
    from disputedesk.wiring import build_deps
    from disputedesk.worker import Worker

    events, requests = build_stream(n, mix)
    url, cleanup = fresh_database(kind, workdir, f"worker_{mix}_{features}_{label}")
    try:
        settings = Settings(database_url=url)
        if batch_size is not None:
            settings.worker_batch_size = batch_size
        deps = build_deps(settings, clock=ManualClock(NOW), gateway_factory=None)
        if not features:  # the mirror alone, without the listeners the features installed
            deps.event_listeners = EventListeners()
        rows = _inbox_rows(events)
        with deps.store.write() as conn:
            for i in range(0, len(rows), 1000):
                inbox.insert_events(conn, rows[i:i + 1000])
            if requests and features:
                conn.execute(refund_requests.insert(), requests)
        worker = Worker(deps)
        totals = {"processed": 0, "ignored": 0, "retried": 0, "failed": 0, "batches": 0}
        t0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(1_000_000):
            result = worker.process_events()
            if not result.claimed:
                break
            totals["batches"] += 1
            for key in ("processed", "ignored", "retried", "failed"):
                totals[key] += getattr(result, key)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        with deps.store.read() as conn:
            def count(sql: str) -> int:
                return conn.exec_driver_sql(sql).scalar_one()

            checks = {"left": count("SELECT count(*) FROM events WHERE status <> 'processed'")}
            if features:
                checks.update(
                    work_rows=count("SELECT count(*) FROM dispute_work"),
                    reminders=count("SELECT count(*) FROM dispute_reminders"),
                    outcomes=count("SELECT count(*) FROM dispute_outcomes"),
                    evaluations=count("SELECT count(*) FROM jobs WHERE name = 'automation.evaluate'"),
                    requests_moved=conn.execute(sa.select(sa.func.count()).where(
                        refund_requests.c.status != "submitted")).scalar_one())
        deps.close()
    finally:
        cleanup()
    handled = totals["processed"] + totals["ignored"]
    return {"kind": kind, "mix": mix, "features": features, "events": len(events),
            "seconds": elapsed, "rate": handled / elapsed, "cpu_rate": handled / cpu, **totals, "checks": checks,
            "requests": len(requests),
            "expected": _expected(events, requests) if features else {}}


def _expected(events: list[dict], requests: list[dict]) -> dict:
    disputes = {e["data"]["object"]["id"] for e in events if e["type"].startswith("charge.dispute.")}
    evaluations = sum(e["type"] in ("charge.dispute.created", "charge.dispute.updated",
                                    "radar.early_fraud_warning.created", "refund.failed")
                      for e in events)
    return {"work_rows": len(disputes), "evaluations": evaluations}


def report(r: dict) -> str:
    what = "mirror + features" if r["features"] else "mirror only"
    line = (f"{r['kind']:>10} {r['mix']:>8} {what:>17} | {r['events']:>6} events "
            f"{r['seconds']:>6.2f} s {r['rate']:>7.0f} events/s (per worker CPU second "
            f"{r['cpu_rate']:>6.0f}) | {r['batches']:>4} batches "
            f"(avg {r['events'] / max(1, r['batches']):.0f})")
    problems = []
    if r["retried"] or r["failed"] or r["checks"]["left"]:
        problems.append(f"NOT CLEAN: retried={r['retried']} failed={r['failed']} "
                        f"left={r['checks']['left']}")
    for key, want in r["expected"].items():
        if r["checks"].get(key) != want:
            problems.append(f"{key}={r['checks'].get(key)} expected {want}")
    if r["features"]:
        c = r["checks"]
        line += (f" | work {c['work_rows']}, reminders {c['reminders']}, outcomes {c['outcomes']}"
                 f", evaluations {c['evaluations']}, requests moved {c['requests_moved']}"
                 f"/{r['requests']}")
    return line + ("" if not problems else "  !! " + "; ".join(problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--mix", default="mixed,disputes")
    parser.add_argument("--db", default=None, help="sqlite, postgresql or both (default: "
                        "both when DISPUTEDESK_TEST_DATABASE_URL is set)")
    parser.add_argument("--no-bare", action="store_true", help="skip the mirror-only runs")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per figure; the fastest is shown (a shared machine is noisy)")
    args = parser.parse_args()
    kinds = (["sqlite", "postgresql"] if args.db in (None, "both") else [args.db])
    if not os.environ.get(PG_ENV):
        kinds = [k for k in kinds if k != "postgresql"]
    machine.print_header(["sqlite://"] + ([os.environ[PG_ENV]] if "postgresql" in kinds else []))
    print("one worker, default batch size; events stored first, then applied; reference: the "
          "same worker with no listeners (mirror only), this run")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            for mix in args.mix.split(","):
                for features in ((True,) if args.no_bare else (False, True)):
                    runs = [run(kind, args.events, mix, Path(tmp), features=features,
                                label=str(i)) for i in range(args.repeat)]
                    print(report(max(runs, key=lambda r: r["rate"])), flush=True)


if __name__ == "__main__":
    main()
