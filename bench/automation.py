"""Benchmark: the cost of one automation evaluation (the ``automation.evaluate`` job), cached and not.

    .venv/bin/python bench/automation.py [--disputes 60] [--rounds 3]
    DISPUTEDESK_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/automation.py          # also PostgreSQL

The emulator (in this process) opens ``--disputes`` disputes through the official SDK; the desk
(default rules, SQLite or PostgreSQL) mirrors them by the sync catch-up and applies the events.
Then for every dispute the bench runs ``runner.run_evaluation`` for ``dispute.created`` exactly as
the job does:

- ``first``: the first evaluation, which also carries out the rules' actions (build the evidence
  packet, its PDF, stage it on the emulator) - the actions' cost, not the evaluation's;
- ``evaluation``: the same evaluation again (a redelivered or updated event: every action key
  is already done), i.e. facts, rules, decisions recorded - the evaluation alone;
- ``uncached`` (the reference of this run): the same as ``evaluation`` with the caches emptied
  before each job and every fact built, as before the cache: rules parsed again, evidence
  templates compiled again, the evidence composed for a completeness no rule reads.

Each row gives the mean and p95 per job in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import machine  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from disputedesk.emulator.testing import running_emulator  # noqa: E402
from disputedesk.evidence import composer  # noqa: E402
from disputedesk.services import sync  # noqa: E402
from disputedesk.services.automation import rulesets, runner  # noqa: E402
from disputedesk.store import make_engine, migrate  # noqa: E402
from disputedesk.store.tables import disputes as disputes_table  # noqa: E402
from disputedesk.testing import create_pg_database, desk_on_emulator, drop_pg_database  # noqa: E402
from disputedesk.worker import Worker  # noqa: E402

PG_ENV = "DISPUTEDESK_TEST_DATABASE_URL"


def _stats(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    return f"{statistics.mean(samples) * 1000:>8.2f} {p95 * 1000:>8.2f}"


def _time_each(deps, ids: list[str], rounds: int, before=None) -> list[float]:
    out = []
    for _ in range(rounds):
        for dispute_id in ids:
            if before:
                before()
            t0 = time.perf_counter()
            runner.run_evaluation(deps, "dispute.created", dispute_id, source="bench")
            out.append(time.perf_counter() - t0)
    return out


def _uncached():
    """Empty every cache and build every fact, as before the cache existed."""
    real = runner.build_facts

    def all_facts(*args, **kwargs):
        kwargs["reads"] = None
        return real(*args, **kwargs)

    def before():
        rulesets._cache.clear()
        composer._compiled.cache_clear()

    return all_facts, before


def run(kind: str, n: int, rounds: int, workdir: Path) -> None:
    if kind == "sqlite":
        url, cleanup = f"sqlite:///{workdir / 'automation.db'}", (lambda: None)
    else:
        admin = os.environ[PG_ENV]
        url = create_pg_database(admin, prefix="ddbench")
        cleanup = lambda: drop_pg_database(admin, url)  # noqa: E731
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    try:
        with running_emulator(seed=7) as server:
            client = server.stripe_client()
            for i in range(n):
                client.v1.payment_intents.create(params={
                    "amount": 2000 + i, "currency": "usd", "confirm": True,
                    "payment_method": "pm_card_createDispute"})
            with desk_on_emulator(server, url, workdir) as deps:
                sync.catch_up(deps)
                worker = Worker(deps)
                while worker.process_events().claimed:
                    pass
                with deps.store.read() as conn:
                    ids = list(conn.execute(sa.select(disputes_table.c.id)).scalars())
                first = _time_each(deps, ids, 1)
                cached = _time_each(deps, ids, rounds)
                real, (all_facts, before) = runner.build_facts, _uncached()
                runner.build_facts = all_facts
                try:
                    uncached = _time_each(deps, ids, rounds, before=before)
                finally:
                    runner.build_facts = real
    finally:
        cleanup()
    name = "SQLite" if kind == "sqlite" else "PostgreSQL"
    print(f"\n== automation.evaluate on {name}: {len(ids)} disputes, default rules ==")
    print(f"{'job':<34} {'mean ms':>8} {'p95 ms':>8}")
    print(f"{'first (carries out the actions)':<34} {_stats(first)}")
    print(f"{'evaluation (cached)':<34} {_stats(cached)}")
    print(f"{'uncached (reference)':<34} {_stats(uncached)}")
    print(f"evaluation / uncached: {statistics.mean(cached) / statistics.mean(uncached):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--disputes", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])
    machine.print_header(["sqlite://"] + ([os.environ[PG_ENV]] if os.environ.get(PG_ENV) else []))
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            run(kind, args.disputes, args.rounds, Path(tmp))


if __name__ == "__main__":
    main()
