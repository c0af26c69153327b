"""Several worker processes on one PostgreSQL database: each event applied exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import sqlalchemy as sa

from disputedesk.store import inbox, make_engine, migrate
from disputedesk.store import mirror as repo
from disputedesk.store.engine import Store
from disputedesk.testing import dispute_history

pytestmark = pytest.mark.postgres

WORKER = textwrap.dedent("""
    import os, sys, time
    import sqlalchemy as sa
    from disputedesk.config import Settings
    from disputedesk.services.events import EventListeners
    from disputedesk.wiring import build_deps
    from disputedesk.worker import Worker

    deps = build_deps(Settings(database_url=sys.argv[1], worker_batch_size=50), migrate=False)
    deps.event_listeners = EventListeners()  # the core alone: features have their own tests
    pid = os.getpid()

    def count_application(conn, event, decision, now):
        # runs in the event's own transaction: rolled back with it, committed with it
        conn.execute(sa.text("INSERT INTO applied_log (event_id, pid) VALUES (:e, :p)"),
                     {"e": event["id"], "p": pid})

    deps.event_listeners.on("*", count_application)
    worker = Worker(deps)
    idle = 0
    deadline = time.monotonic() + 240
    while idle < 5 and time.monotonic() < deadline:
        if worker.process_events().claimed:
            idle = 0
        else:
            idle += 1
            time.sleep(0.1)
    deps.close()
""")


@pytest.fixture
def pg_url():
    from disputedesk.testing import create_pg_database, drop_pg_database, postgres_admin_url

    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("DISPUTEDESK_TEST_DATABASE_URL is not set")
    url = create_pg_database(admin)
    yield url
    drop_pg_database(admin, url)


def test_four_worker_processes_apply_ten_thousand_events_exactly_once(pg_url):
    from tests.contract.helpers import event_row

    engine = make_engine(pg_url)
    migrate(engine)
    store = Store(engine)
    finals, rows = [], []
    while len(rows) < 10_000:
        events, final = dispute_history()
        finals.append(final)
        rows += [event_row(e) for e in events]
    rows = rows[:10_000]
    applied_ids = {r["id"] for r in rows}
    with store.write() as conn:
        conn.execute(sa.text("CREATE TABLE applied_log (event_id text NOT NULL, pid int NOT NULL)"))
        for start in range(0, len(rows), 1000):
            inbox.insert_events(conn, rows[start:start + 1000])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, pg_url], env=env) for _ in range(4)]
    for proc in procs:
        assert proc.wait(timeout=280) == 0
    with store.read() as conn:
        counts = inbox.counts_by_status(conn)
        log = conn.execute(sa.text("SELECT event_id, pid FROM applied_log")).all()
        mirrored = {f["id"]: repo.get_object(conn, "dispute", f["id"]) for f in finals[:-1]}
    store.dispose()
    assert counts["processed"] == 10_000 and counts["received"] == 0 and counts["failed"] == 0
    assert len(log) == 10_000
    assert {event_id for event_id, _ in log} == applied_ids
    assert len({pid for _, pid in log}) > 1  # the work really was shared
    # every whole history (all but the last, cut at 10,000) ended in its final state
    assert all(mirrored[f["id"]]["status"] == "won" for f in finals[:-1])
