"""Benchmark: the disputes inbox page with 50,000 disputes and 1,000,000 charges in the mirror.

    .venv/bin/python bench/dashboard.py [--disputes 50000] [--charges 1000000] [--requests 200]
                                        [--only sqlite|postgres]

The mirror is filled directly with synthetic rows through the store's repository
(``store.mirror.insert_rows``) in bulk, then the whole page is requested as a signed-in viewer
through the ASGI app (authentication, the keyset query, Jinja2 rendering): the first page, deeper
pages (following ``after=`` cursors), both sort orders and each filter. Prints p50 and p95 in
milliseconds for SQLite (a temporary file) and PostgreSQL (``DISPUTEDESK_TEST_DATABASE_URL``: a
fresh database is created and dropped). Nothing is asserted: the figures are the result.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import machine  # noqa: E402

from fastapi.testclient import TestClient  # noqa: E402

from disputedesk.config import Settings  # noqa: E402
from disputedesk.services import accounts  # noqa: E402
from disputedesk.store import make_engine, migrate  # noqa: E402
from disputedesk.store import mirror as repo  # noqa: E402
from disputedesk.testing import FakeStripe, ManualClock  # noqa: E402
from disputedesk.web.app import create_app  # noqa: E402
from disputedesk.wiring import build_deps  # noqa: E402

NOW = 1_760_000_000
BATCH = 10_000
STATUSES = (["needs_response"] * 40 + ["warning_needs_response"] * 8 + ["under_review"] * 10
            + ["warning_under_review"] * 2 + ["won"] * 20 + ["lost"] * 15 + ["warning_closed"] * 5)
REASONS = ("fraudulent", "product_not_received", "product_unacceptable", "duplicate",
           "subscription_canceled", "credit_not_processed", "general", "unrecognized")
BRANDS = (("visa", "10.4"), ("mastercard", "4853"), ("amex", "F29"), ("discover", "UA02"))
CURRENCIES = ("usd",) * 6 + ("eur", "eur", "gbp", "jpy")


def _mirror_row(obj: dict, **columns) -> dict:
    return {"id": obj["id"], "account": None, "livemode": False, "created": obj["created"],
            "stripe_updated": obj["created"], "stripe_rank": 0, "mirrored_at": float(NOW),
            "data": obj, **columns}


def populate(url: str, n_disputes: int, n_charges: int) -> None:
    rng = random.Random(7)
    engine = make_engine(url)
    started = time.monotonic()
    with engine.begin() as conn:
        batch = []
        for i in range(n_charges):
            created = NOW - rng.randrange(365 * 86400)
            amount = rng.randrange(500, 50_000)
            currency = rng.choice(CURRENCIES)
            charge = {"id": f"ch_bench{i:08d}", "object": "charge", "created": created,
                      "amount": amount, "currency": currency, "status": "succeeded",
                      "customer": f"cus_bench{i % 200_000:06d}", "disputed": i < n_disputes}
            batch.append(_mirror_row(charge, status="succeeded", amount=amount,
                                     amount_captured=amount, amount_refunded=0,
                                     currency=currency, customer=charge["customer"],
                                     payment_intent=None, disputed=i < n_disputes,
                                     refunded=False))
            if len(batch) == BATCH:
                repo.insert_rows(conn, "charge", batch)
                batch = []
        repo.insert_rows(conn, "charge", batch)
        batch = []
        for i in range(n_disputes):
            status = rng.choice(STATUSES)
            brand, code = rng.choice(BRANDS)
            created = NOW - rng.randrange(120 * 86400)
            due_by = created + 21 * 86400 if not status.startswith("warning_") else created + 30 * 86400
            currency = rng.choice(CURRENCIES)
            amount = rng.randrange(500, 50_000)
            dispute = {"id": f"du_bench{i:08d}", "object": "dispute", "created": created,
                       "amount": amount, "currency": currency, "status": status,
                       "reason": rng.choice(REASONS), "charge": f"ch_bench{i:08d}",
                       "network_reason_code": code,
                       "payment_method_details": {"type": "card", "card": {
                           "brand": brand, "network_reason_code": code,
                           "case_type": "inquiry" if status.startswith("warning_")
                           else "chargeback"}},
                       "evidence_details": {"due_by": due_by, "has_evidence": False,
                                            "submission_count": 0, "past_due": False},
                       "is_charge_refundable": False}
            batch.append(_mirror_row(dispute, status=status, reason=dispute["reason"],
                                     amount=amount, currency=currency, charge=dispute["charge"],
                                     payment_intent=None, due_by=due_by))
            if len(batch) == BATCH:
                repo.insert_rows(conn, "dispute", batch)
                batch = []
        repo.insert_rows(conn, "dispute", batch)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE disputes")
            conn.exec_driver_sql("VACUUM ANALYZE charges")
    engine.dispose()
    print(f"  mirror filled: {n_charges:,} charges, {n_disputes:,} disputes "
          f"in {time.monotonic() - started:.1f} s")


def measure(url: str, data_dir: Path, requests: int) -> list[float]:
    settings = Settings(database_url=url, data_dir=data_dir)
    deps = build_deps(settings, clock=ManualClock(NOW), gateway_factory=lambda _s: FakeStripe(),
                      migrate=False)
    accounts.create_user(deps, username="bench", role="viewer", password="bench password 123")
    session = accounts.login(deps, username="bench", password="bench password 123")
    client = TestClient(create_app(deps), follow_redirects=False)
    client.cookies.set("dd_session", session.token)
    queries = ["", "sort=-time_left", "status=needs_response", "kind=inquiry",
               "reason=fraudulent", "currency=eur", "brand=amex", "limit=100",
               "kind=chargeback&currency=usd&reason=product_not_received"]
    timings: list[float] = []
    cursors: dict[str, str] = {}
    with client:
        for _ in range(3):  # warm up: templates compiled, caches filled
            client.get("/disputes")
        reference = []  # the same client and app answering /healthz: the run's floor
        for _ in range(50):
            started = time.perf_counter()
            client.get("/healthz")
            reference.append((time.perf_counter() - started) * 1000)
        print(f"  reference: GET /healthz p50 {statistics.median(reference):.2f} ms "
              "(same client and app, this run)")
        for i in range(requests):
            q = queries[i % len(queries)]
            after = cursors.get(q) if i % 2 else None  # every other request goes a page deeper
            path = "/disputes?" + q + (f"&after={after}" if after else "")
            started = time.perf_counter()
            response = client.get(path, headers={"accept": "text/html"})
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")
            found = re.search(r'after=([A-Za-z0-9_-]+)"', response.text)
            if found:
                cursors[q] = found.group(1)
    deps.close()
    return timings


def report(name: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(f"{name}: {len(timings)} inbox requests  p50 {statistics.median(ordered):.1f} ms  "
          f"p95 {p95:.1f} ms  max {ordered[-1]:.1f} ms")


def run_sqlite(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        print("SQLite:")
        populate(url, args.disputes, args.charges)
        report("SQLite", measure(url, Path(tmp), args.requests))


def run_postgres(args) -> None:
    admin = os.environ.get("DISPUTEDESK_TEST_DATABASE_URL")
    if not admin:
        print("PostgreSQL: skipped (set DISPUTEDESK_TEST_DATABASE_URL)")
        return
    name = f"dd_bench_{uuid.uuid4().hex[:10]}"
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        print("PostgreSQL:")
        populate(url, args.disputes, args.charges)
        with tempfile.TemporaryDirectory() as tmp:
            report("PostgreSQL", measure(url, Path(tmp), args.requests))
    finally:
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disputes", type=int, default=50_000)
    parser.add_argument("--charges", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    if args.charges < args.disputes:
        parser.error("--charges must be at least --disputes (each dispute has its charge)")
    pg = os.environ.get("DISPUTEDESK_TEST_DATABASE_URL")
    machine.print_header(["sqlite://"] + ([pg] if pg and args.only != "sqlite" else []))
    if args.only in (None, "sqlite"):
        run_sqlite(args)
    if args.only in (None, "postgres"):
        run_postgres(args)


if __name__ == "__main__":
    main()
