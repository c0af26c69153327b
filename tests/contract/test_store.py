"""The store on SQLite and PostgreSQL: migrations, inbox, jobs, audit log."""

from __future__ import annotations

import sqlalchemy as sa

from disputedesk.services.jobs import JobRegistry, backoff, run_due_jobs
from disputedesk.store import audit, inbox, is_current, make_engine, migrate
from disputedesk.store import jobs as job_queue
from disputedesk.store.tables import MIRROR_TABLES
from disputedesk.testing import make_dispute, make_event

from .helpers import event_row


def test_migrations_create_every_table_and_report_current(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        assert not is_current(engine)
        migrate(engine)
        migrate(engine)  # a second run is a no-op
        names = set(sa.inspect(engine).get_table_names())
        assert {"events", "jobs", "audit_log", *[t.name for t in MIRROR_TABLES.values()]} <= names
        assert is_current(engine)
    finally:
        engine.dispose()


def test_disputes_table_has_an_index_for_status_and_due_by(deps):
    indexes = sa.inspect(deps.store.engine).get_indexes("disputes")
    assert ["status", "due_by"] in [ix["column_names"] for ix in indexes]


def test_an_event_inserted_twice_is_stored_once(deps):
    event = make_event("charge.dispute.created", make_dispute())
    with deps.store.write() as conn:
        inbox.insert_events(conn, [event_row(event)])
    with deps.store.write() as conn:
        inbox.insert_events(conn, [event_row(event), event_row(event)])
    with deps.store.read() as conn:
        assert inbox.counts_by_status(conn)["received"] == 1


def test_a_failed_write_transaction_leaves_nothing_behind(deps):
    event = make_event("charge.dispute.created", make_dispute())
    try:
        with deps.store.write() as conn:
            inbox.insert_events(conn, [event_row(event)])
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with deps.store.read() as conn:
        assert inbox.get_event(conn, event["id"]) is None


def test_a_dedupe_key_keeps_one_queued_job(deps):
    with deps.store.write() as conn:
        first = job_queue.enqueue(conn, "x", {"a": 1}, now=0, dedupe_key="k")
        second = job_queue.enqueue(conn, "x", {"a": 2}, now=0, dedupe_key="k")
        assert (first, second) == (True, False)
        assert len(job_queue.list_jobs(conn, name="x")) == 1


def test_a_claimed_job_can_be_queued_again_while_it_runs(deps):
    with deps.store.write() as conn:
        job_queue.enqueue(conn, "x", now=0, dedupe_key="k")
        claimed = job_queue.claim_due(conn, now=1, limit=5, lease_seconds=60)
        assert [j.name for j in claimed] == ["x"]
        assert job_queue.enqueue(conn, "x", now=1, dedupe_key="k") is True


def test_a_job_whose_lease_ran_out_is_claimed_again(deps):
    with deps.store.write() as conn:
        job_queue.enqueue(conn, "x", now=0)
        assert len(job_queue.claim_due(conn, now=1, limit=5, lease_seconds=60)) == 1
        assert job_queue.claim_due(conn, now=30, limit=5, lease_seconds=60) == []
        again = job_queue.claim_due(conn, now=62, limit=5, lease_seconds=60)
        assert [j.attempts for j in again] == [2]


def test_a_failing_job_is_retried_with_backoff_then_parked_with_its_error(deps, clock):
    registry = JobRegistry()
    calls = []

    def broken(ctx, payload):
        calls.append(payload)
        raise RuntimeError("upstream said no")

    registry.register("broken", broken, max_attempts=3)
    with deps.store.write() as conn:
        job_queue.enqueue(conn, "broken", {"n": 1}, now=clock.now())
    for attempt in (1, 2, 3):
        assert run_due_jobs(deps, registry) == 1
        assert run_due_jobs(deps, registry) == 0  # not due until the backoff passed
        clock.advance(backoff(attempt))
    with deps.store.read() as conn:
        (job,) = job_queue.list_jobs(conn, name="broken")
    assert len(calls) == 3
    assert job["status"] == "failed"
    assert job["last_error"] == "RuntimeError: upstream said no"


def test_a_job_without_a_handler_is_parked_not_lost(deps):
    with deps.store.write() as conn:
        job_queue.enqueue(conn, "nobody.handles.this", now=deps.clock.now())
    run_due_jobs(deps, JobRegistry())
    with deps.store.read() as conn:
        (job,) = job_queue.list_jobs(conn)
    assert job["status"] == "failed"
    assert "no handler" in job["last_error"]


def test_a_periodic_job_queues_its_next_run(deps, clock):
    registry = JobRegistry()
    runs = []
    registry.register("tick", lambda ctx, payload: runs.append(ctx.clock.now()))
    registry.every("tick", 60)
    from disputedesk.services.jobs import ensure_periodic

    ensure_periodic(deps, registry)
    ensure_periodic(deps, registry)  # still one queued
    assert run_due_jobs(deps, registry) == 1
    assert run_due_jobs(deps, registry) == 0
    clock.advance(60)
    assert run_due_jobs(deps, registry) == 1
    assert len(runs) == 2


def test_the_audit_log_keeps_actions_per_object(deps):
    with deps.store.write() as conn:
        audit.append(conn, at=2, actor="ana", action="dispute.submit", object_type="dispute",
                     object_id="du_1", note="strong evidence", details={"files": 2})
        audit.append(conn, at=1, actor="bo", action="dispute.view", object_type="dispute",
                     object_id="du_1")
    with deps.store.read() as conn:
        rows = audit.for_object(conn, "dispute", "du_1")
    assert [r["actor"] for r in rows] == ["bo", "ana"]
    assert rows[1]["details"] == {"files": 2}
