"""Benchmark: the reports page and each REST report at 50,000 disputes and 1,000,000 charges.

    .venv/bin/python bench/reports.py [--disputes 50000] [--charges 1000000] [--requests 40]
                                      [--only sqlite|postgres]

The mirror is filled directly with synthetic rows (a year of charges on four networks, disputes
of every status with balance transactions, refunds and early fraud warnings: one for every 20
and every 80 charges) through the store's repository, as a backfill would; then the report facts
are built from it by the catch-up job (``reports.rebuild``, timed), then the page ``/reports``
(all three reports, charts and tables) and ``/api/v1/reports/disputes|monitoring|refunds`` are
requested as a signed-in viewer through the ASGI app. Last, a worker batch of 100 dispute
events is timed with the reports listener. Prints p50 and p95 in milliseconds for SQLite (a
temporary file) and PostgreSQL (``DISPUTEDESK_TEST_DATABASE_URL``: a fresh database is created
and dropped). Nothing is asserted: the figures are the result.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fastapi.testclient import TestClient  # noqa: E402

from disputedesk.config import Settings  # noqa: E402
from disputedesk.services import accounts, reports  # noqa: E402
from disputedesk.services.events import event_row, process_batch  # noqa: E402
from disputedesk.store import inbox, make_engine, migrate  # noqa: E402
from disputedesk.store import mirror as repo  # noqa: E402
from disputedesk.testing import (  # noqa: E402
    FakeStripe,
    ManualClock,
    create_pg_database,
    drop_pg_database,
    event_body,
    make_event,
    postgres_admin_url,
)
from disputedesk.web.app import create_app  # noqa: E402
from disputedesk.wiring import build_deps  # noqa: E402

NOW = 1_781_629_200  # mid June 2026
BATCH = 10_000
NETWORKS = ("visa",) * 55 + ("mastercard",) * 27 + ("amex",) * 12 + ("discover",) * 6
CURRENCIES = ("usd",) * 6 + ("eur", "eur", "gbp", "jpy")
STATUSES = (["needs_response"] * 10 + ["under_review"] * 10 + ["won"] * 30 + ["lost"] * 35
            + ["warning_needs_response"] * 3 + ["warning_closed"] * 10 + ["prevented"] * 2)
REASONS = ("fraudulent", "product_not_received", "product_unacceptable", "duplicate",
           "subscription_canceled", "credit_not_processed", "general", "unrecognized")


def _row(obj: dict, **columns) -> dict:
    return {"id": obj["id"], "account": None, "livemode": False, "created": obj["created"],
            "stripe_updated": obj["created"], "stripe_rank": 0, "mirrored_at": float(NOW - 60),
            "data": obj, **columns}


def _flush(conn, object_type: str, batch: list[dict]) -> list[dict]:
    if batch:
        repo.insert_rows(conn, object_type, batch)
    return []


def populate(url: str, n_disputes: int, n_charges: int) -> list[dict]:
    """Fill the mirror; returns some disputes (for the listener's batch)."""
    rng = random.Random(7)
    engine = make_engine(url)
    started = time.monotonic()
    charges: list[tuple[str, int, str, int]] = []
    sample = []
    with engine.begin() as conn:
        batch: list[dict] = []
        for i in range(n_charges):
            created = NOW - rng.randrange(365 * 86400)
            amount, currency, brand = rng.randrange(500, 50_000), rng.choice(CURRENCIES), \
                rng.choice(NETWORKS)
            charge = {"id": f"ch_b{i:08d}", "object": "charge", "created": created,
                      "amount": amount, "amount_captured": amount, "currency": currency,
                      "status": "succeeded", "captured": True, "disputed": i < n_disputes,
                      "payment_method_details": {"type": "card", "card": {"brand": brand}}}
            if i < n_disputes:
                charges.append((charge["id"], created, currency, amount))
            batch.append(_row(charge, status="succeeded", amount=amount, amount_captured=amount,
                              amount_refunded=0, currency=currency, customer=None,
                              payment_intent=None, disputed=i < n_disputes, refunded=False))
            if len(batch) == BATCH:
                batch = _flush(conn, "charge", batch)
        batch = _flush(conn, "charge", batch)
        for i, (charge_id, charged, currency, amount) in enumerate(charges):
            status = rng.choice(STATUSES)
            created = min(charged + rng.randrange(1, 60 * 86400), NOW - 60)
            inquiry = status.startswith("warning_")
            countered = status in ("under_review", "won") or (status == "lost" and i % 2)
            txns = [] if inquiry or status == "prevented" else [
                {"id": f"txn_w{i}", "amount": -amount, "fee": 1500, "fee_details": [
                    {"amount": 1500, "description": "Dispute fee"}], "net": -amount - 1500}]
            if status == "won":
                txns.append({"id": f"txn_r{i}", "amount": amount, "fee": 0, "fee_details": [],
                             "net": amount})
            dispute = {"id": f"du_b{i:08d}", "object": "dispute", "created": created,
                       "amount": amount, "currency": currency, "status": status,
                       "reason": rng.choice(REASONS), "charge": charge_id,
                       "balance_transactions": txns,
                       "payment_method_details": {"type": "card", "card": {
                           "brand": rng.choice(NETWORKS),
                           "case_type": "inquiry" if inquiry else "chargeback"}},
                       "evidence_details": {"due_by": created + 14 * 86400, "past_due": False,
                                            "submission_count": 1 if countered else 0}}
            if len(sample) < 100:
                sample.append(dispute)
            batch.append(_row(dispute, status=status, reason=dispute["reason"], amount=amount,
                              currency=currency, charge=charge_id, payment_intent=None,
                              due_by=created + 14 * 86400))
            if len(batch) == BATCH:
                batch = _flush(conn, "dispute", batch)
        batch = _flush(conn, "dispute", batch)
        for i in range(0, n_charges, 20):  # refunds, all made outside the desk
            created = NOW - rng.randrange(365 * 86400)
            refund = {"id": f"re_b{i:08d}", "object": "refund", "created": created,
                      "amount": rng.randrange(100, 5000), "currency": rng.choice(CURRENCIES),
                      "status": rng.choice(("succeeded",) * 18 + ("pending", "failed")),
                      "reason": rng.choice(("requested_by_customer", "duplicate", "fraudulent")),
                      "charge": f"ch_b{i:08d}", "metadata": {}}
            batch.append(_row(refund, status=refund["status"], amount=refund["amount"],
                              currency=refund["currency"], charge=refund["charge"],
                              payment_intent=None, reason=refund["reason"]))
            if len(batch) == BATCH:
                batch = _flush(conn, "refund", batch)
        batch = _flush(conn, "refund", batch)
        for i in range(0, n_charges, 80):
            warning = {"id": f"issfr_b{i:08d}", "object": "radar.early_fraud_warning",
                       "created": NOW - rng.randrange(365 * 86400), "actionable": True,
                       "fraud_type": "made_with_stolen_card", "charge": f"ch_b{i:08d}"}
            batch.append(_row(warning, actionable=True, fraud_type=warning["fraud_type"],
                              charge=warning["charge"], payment_intent=None))
        _flush(conn, "radar.early_fraud_warning", batch)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("charges", "disputes", "refunds", "early_fraud_warnings"):
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    engine.dispose()
    print(f"  mirror filled: {n_charges:,} charges, {n_disputes:,} disputes, "
          f"{n_charges // 20:,} refunds, {n_charges // 80:,} warnings "
          f"in {time.monotonic() - started:.1f} s")
    return sample


def _p(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
    return f"p50 {statistics.median(ordered):.1f} ms  p95 {p95:.1f} ms  max {ordered[-1]:.1f} ms"


def measure(name: str, url: str, data_dir: Path, requests: int, sample: list[dict]) -> None:
    settings = Settings(database_url=url, data_dir=data_dir, report_timezone="America/New_York")
    deps = build_deps(settings, clock=ManualClock(NOW), gateway_factory=lambda _s: FakeStripe(),
                      migrate=False)
    started = time.monotonic()
    reports.rebuild(deps)
    print(f"{name}: report facts built from the mirror in {time.monotonic() - started:.1f} s")
    if deps.store.engine.dialect.name == "postgresql":
        with deps.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("report_disputes", "report_refunds", "report_efws", "report_charges",
                          "report_sales", "report_dispute_cells", "report_refund_cells"):
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    accounts.create_user(deps, username="bench", role="viewer", password="bench password 123")
    session = accounts.login(deps, username="bench", password="bench password 123")
    client = TestClient(create_app(deps), follow_redirects=False)
    client.cookies.set("dd_session", session.token)
    paths = {"page /reports": "/reports",
             "GET /api/v1/reports/disputes": "/api/v1/reports/disputes",
             "GET /api/v1/reports/monitoring": "/api/v1/reports/monitoring",
             "GET /api/v1/reports/refunds": "/api/v1/reports/refunds"}
    with client:
        for label, path in paths.items():
            for _ in range(3):  # warm up
                client.get(path)
            timings = []
            for i in range(requests):
                query = ("?since=6mo" if i % 4 == 1 else "?account=platform" if i % 4 == 2
                         else "")
                started = time.perf_counter()
                response = client.get(path + query)
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}")
            print(f"{name}: {label:32s} {requests} requests  {_p(timings)}")
    # the listener's cost: 100 dispute events (each a new snapshot) in one worker batch
    events = []
    for dispute in sample:
        changed = {**dispute, "status": "won" if dispute["status"] != "won" else "lost"}
        events.append(make_event("charge.dispute.updated", changed, created=NOW))
    with deps.store.write() as conn:
        inbox.insert_events(conn, [event_row(event_body(e), NOW, deps.event_listeners)
                                   for e in events])
    started = time.perf_counter()
    result = process_batch(deps.store, deps.clock, limit=100, listeners=deps.event_listeners)
    took = (time.perf_counter() - started) * 1000
    print(f"{name}: worker batch of {result.processed} dispute events with every listener "
          f"{took:.0f} ms")
    deps.close()


def run_sqlite(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        print("SQLite:")
        sample = populate(url, args.disputes, args.charges)
        measure("SQLite", url, Path(tmp), args.requests, sample)


def run_postgres(args) -> None:
    admin = postgres_admin_url()
    if not admin:
        print("PostgreSQL: skipped (set DISPUTEDESK_TEST_DATABASE_URL)")
        return
    url = create_pg_database(admin, prefix="dd_bench")
    try:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        print("PostgreSQL:")
        sample = populate(url, args.disputes, args.charges)
        with tempfile.TemporaryDirectory() as tmp:
            measure("PostgreSQL", url, Path(tmp), args.requests, sample)
    finally:
        drop_pg_database(admin, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disputes", type=int, default=50_000)
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    if args.charges < args.disputes:
        parser.error("--charges must be at least --disputes (each dispute has its charge)")
    if args.only in (None, "sqlite"):
        run_sqlite(args)
    if args.only in (None, "postgres"):
        run_postgres(args)


if __name__ == "__main__":
    main()
