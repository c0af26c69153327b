"""Bulk refunds from a CSV: validate everything first, then run concurrently, resumably.

Each valid row has a stable key (``domain.bulk.row_key``: the row's own content: target, amount
and currency, reason; not the file). The key is the row's refund request id *and* its client
key, so the idempotency key follows from the row: running the same file again after Ctrl-C, a
crash or ``kill -9``, or an edited copy of it, meets the requests already recorded and finishes
them instead of refunding twice. A row whose charge already has a bulk request for the same
amount (written differently, or with another reason) is reported ``already_done`` unless the run
has ``allow_repeat`` (then keys are salted with the job id: that run's own requests).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from disputedesk.domain.bulk import (
    BulkFileInvalid,
    BulkResult,
    BulkRow,
    PlannedRow,
    Problem,
    parse_bulk_csv,
    result_csv,
    totals_by_currency,
    with_key,
)
from disputedesk.domain.refunds import plan_refund
from disputedesk.errors import DisputeDeskError, NotFound
from disputedesk.services.refunds import records
from disputedesk.services.refunds.charges import load_bundle, resolve_charge_id
from disputedesk.services.refunds.core import request_refund, submit_request
from disputedesk.store import audit
from disputedesk.store.refunds_tables import bulk_jobs, bulk_rows

log = logging.getLogger("disputedesk.refunds.bulk")

NOT_STARTED = "not_started"
ALREADY_DONE = "already_done"


@dataclass
class BulkProgress:
    total: int
    done: int = 0
    failed: int = 0


@dataclass
class BulkReport:
    job_id: str | None
    dry_run: bool
    total: int
    results: list[BulkResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    interrupted: bool = False
    planned: list[PlannedRow] = field(default_factory=list)  # a dry run's valid rows

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for result in self.results:
            out[result.status] = out.get(result.status, 0) + 1
        return out

    def result_csv(self) -> str:
        return result_csv(self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "dry_run": self.dry_run, "total": self.total,
                "interrupted": self.interrupted, "counts": self.counts,
                "problems": [p.to_dict() for p in self.problems],
                "results": [r.__dict__ for r in self.results],
                "planned": [p.__dict__ for p in self.planned],
                "totals": {cur: {"rows": rows, "amount": total}
                           for cur, (rows, total) in totals_by_currency(self.planned).items()}}


def default_concurrency(settings) -> int:
    # Enough threads to keep the limiter busy while each waits on a round trip and a commit.
    return int(min(32, max(4, settings.stripe_rate_limit // 3)))


def _decode(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8-sig", errors="replace")


# --- dry run ---------------------------------------------------------------------------------------

def _check_row(deps, row: BulkRow, live: bool | None) -> Problem | PlannedRow:
    try:
        charge_id, _ = resolve_charge_id(deps, row.target, row.target_type, live=live)
        bundle = load_bundle(deps, charge_id, live=live)
        with deps.store.read() as conn:
            in_flight = records.open_on_charge(conn, charge_id)
        plan = plan_refund(bundle.charge, amount=row.amount, reason=row.reason,
                           metadata=row.metadata, refunds=bundle.refunds,
                           disputes=bundle.disputes, in_flight=in_flight, request_id=row.key)
    except DisputeDeskError as exc:
        return Problem(row.row, exc.param or row.target_type, exc.message,
                       exc.hint or "fix or remove the row", exc.code)
    return PlannedRow(row.row, plan.charge, plan.amount, plan.currency, plan.full)


def _dry_run(deps, rows: list[BulkRow], workers: int, live: bool | None,
             progress: Callable[[BulkProgress], None] | None = None,
             job_id: str | None = None) -> BulkReport:
    """Every check against every row's charge; nothing is recorded."""
    state = BulkProgress(total=len(rows))
    problems: list[Problem] = []
    planned: list[PlannedRow] = []
    with ThreadPoolExecutor(workers) as pool:
        for outcome in pool.map(lambda r: _check_row(deps, r, live), rows):
            state.done += 1
            if isinstance(outcome, Problem):
                problems.append(outcome)
                state.failed += 1
            else:
                planned.append(outcome)
            if progress:
                progress(state)
    bad = {p.row: p.message for p in problems}
    results = [BulkResult(r.row, None, "invalid" if r.row in bad else "ok", bad.get(r.row))
               for r in rows]
    return BulkReport(job_id, True, len(rows), results, problems, planned=planned)


def check_job(deps, job_id: str, *, live: bool | None = None) -> BulkReport:
    """The dry run of a recorded job (the dashboard's review before the explicit confirm)."""
    job = load_job(deps, job_id)
    parsed = parse_bulk_csv(job["content"])
    return _dry_run(deps, _job_rows(parsed, job), default_concurrency(deps.settings), live,
                    job_id=job_id)


# --- jobs --------------------------------------------------------------------------------------------

def _job_for(deps, parsed, content: str, filename: str | None, actor: str,
             resume: str | None, allow_repeat: bool = False, status: str = "running") -> str:
    now = deps.clock.now()
    with deps.store.write() as conn:
        if resume:
            job = conn.execute(sa.select(bulk_jobs.c.id).where(bulk_jobs.c.id == resume)).first()
        else:  # the same file again (with the same --allow-repeat) is the same job
            job = conn.execute(sa.select(bulk_jobs.c.id).where(
                bulk_jobs.c.file_hash == parsed.file_hash,
                bulk_jobs.c.allow_repeat == allow_repeat).order_by(
                bulk_jobs.c.created.desc())).first()
        if job is not None:
            conn.execute(bulk_jobs.update().where(bulk_jobs.c.id == job.id).values(
                status=status, updated=now))
            audit.append(conn, at=now, actor=actor,
                         action="refunds.bulk.resumed" if status == "running"
                         else "refunds.bulk.uploaded",
                         object_type="bulk_job", object_id=job.id)
            return job.id
        job_id = "bulk_" + uuid.uuid4().hex[:20]
        conn.execute(bulk_jobs.insert().values(
            id=job_id, file_hash=parsed.file_hash, filename=filename, content=content,
            status=status, total_rows=len(parsed.rows), created_by=actor, created=now,
            updated=now, allow_repeat=allow_repeat))
        audit.append(conn, at=now, actor=actor,
                     action="refunds.bulk.started" if status == "running"
                     else "refunds.bulk.uploaded",
                     object_type="bulk_job", object_id=job_id,
                     details={"rows": len(parsed.rows), "file_hash": parsed.file_hash,
                              "filename": filename, "allow_repeat": allow_repeat})
    return job_id


def prepare_job(deps, data: bytes | str, *, actor: str, filename: str | None = None,
                allow_repeat: bool = False) -> str:
    """Validate a file (raising :class:`BulkFileInvalid` with every problem) and record its job
    as ``checked``: nothing runs until someone confirms it (:func:`confirm_job`). The same file
    again is the same job (a job running stays running)."""
    content = _decode(data)
    parsed = parse_bulk_csv(content)
    parsed.raise_for_problems()
    with deps.store.read() as conn:
        running = conn.execute(sa.select(bulk_jobs.c.id).where(
            bulk_jobs.c.file_hash == parsed.file_hash, bulk_jobs.c.allow_repeat == allow_repeat,
            bulk_jobs.c.status.in_(ACTIVE))).first()
    if running is not None:
        return running.id
    return _job_for(deps, parsed, content, filename, actor, None, allow_repeat,
                    status=CHECKED)


# --- the dashboard's bulk jobs: checked, confirmed, run on the job queue in slices ----------------

CHECKED = "checked"        # uploaded and checked; waits for someone to confirm it
STOPPING = "stopping"      # asked to stop; the run finishes the rows in flight
ACTIVE = ("running", STOPPING)
RUN_JOB = "refunds.bulk.run"
SLICE_SECONDS = 60.0       # one queue job runs this long, then queues the rest (lease: 300 s)
WATCH_SECONDS = 0.5        # how often a run looks for a Stop press and the end of its slice


def _set_status(deps, job_id: str, status: str, *, actor: str, action: str,
                expect: tuple[str, ...], details: dict | None = None) -> None:
    from disputedesk.errors import Conflict

    now = deps.clock.now()
    with deps.store.write() as conn:
        done = conn.execute(bulk_jobs.update().where(
            bulk_jobs.c.id == job_id, bulk_jobs.c.status.in_(expect)).values(
            status=status, updated=now)).rowcount
        if not done:
            job = conn.execute(sa.select(bulk_jobs.c.status).where(
                bulk_jobs.c.id == job_id)).first()
            if job is None:
                raise NotFound(f"no bulk job has the id '{job_id}'", object_id=job_id)
            raise Conflict(f"bulk job {job_id} is {job.status}", object_id=job_id,
                           hint="reload the page to see where it is")
        audit.append(conn, at=now, actor=actor, action=action, object_type="bulk_job",
                     object_id=job_id, details=details or {})


def confirm_job(deps, job_id: str, *, actor: str, sentence: str) -> None:
    """Someone confirmed a checked (or interrupted) job: queue its run on the job queue."""
    from disputedesk.services.jobs import enqueue

    _set_status(deps, job_id, "running", actor=actor, action="refunds.bulk.confirmed",
                expect=(CHECKED, "interrupted"), details={"confirmed": sentence})
    enqueue(deps, RUN_JOB, {"job_id": job_id, "actor": actor}, dedupe_key=f"bulk:{job_id}")


def stop_job(deps, job_id: str, *, actor: str) -> str:
    """Cancel a checked job (nothing ran), or stop a running one (rows in flight finish; it can
    be resumed). Returns the new status."""
    job = load_job(deps, job_id)
    if job["status"] == CHECKED:
        _set_status(deps, job_id, "canceled", actor=actor, action="refunds.bulk.canceled",
                    expect=(CHECKED,))
        return "canceled"
    _set_status(deps, job_id, STOPPING, actor=actor, action="refunds.bulk.stopping",
                expect=("running",))
    return STOPPING


def _status_of(deps, job_id: str) -> str | None:
    with deps.store.read() as conn:
        return conn.execute(sa.select(bulk_jobs.c.status).where(
            bulk_jobs.c.id == job_id)).scalar()


def run_job_slice(deps, payload: dict) -> None:
    """The queue job: run a confirmed bulk job for up to SLICE_SECONDS, then queue the rest;
    a restart loses nothing (the queue job is durable and every row is idempotent)."""
    import time

    from disputedesk.services.jobs import enqueue

    job_id, actor = payload["job_id"], payload["actor"]
    if _status_of(deps, job_id) == STOPPING:
        _finish_stopped(deps, job_id, actor)
        return
    if _status_of(deps, job_id) != "running":
        return  # canceled, done, or taken back meanwhile
    stop = threading.Event()
    finished = threading.Event()
    started = time.monotonic()
    why: list[str] = []

    def watch() -> None:  # stop at the end of the slice, or when someone presses Stop
        while not finished.wait(WATCH_SECONDS):
            if _status_of(deps, job_id) == STOPPING:
                why.append("person")
            elif time.monotonic() - started > SLICE_SECONDS:
                why.append("slice")
            if why:
                stop.set()
                return

    watcher = threading.Thread(target=watch, name=f"bulk-watch-{job_id}", daemon=True)
    watcher.start()
    try:
        report = run_bulk(deps, actor=actor, resume=job_id, stop=stop)
    finally:
        finished.set()
        watcher.join(timeout=2)
    if report.interrupted and why == ["slice"]:
        _set_status(deps, job_id, "running", actor=actor, action="refunds.bulk.continued",
                    expect=("interrupted",))
        enqueue(deps, RUN_JOB, payload, dedupe_key=f"bulk:{job_id}")


def _finish_stopped(deps, job_id: str, actor: str) -> None:
    _set_status(deps, job_id, "interrupted", actor=actor, action="refunds.bulk.interrupted",
                expect=(STOPPING,))


def _job_rows(parsed, job: dict) -> list[BulkRow]:
    """The job's rows with the keys it runs under (salted with the job id for allow_repeat)."""
    if job.get("allow_repeat"):
        return [with_key(r, job["id"]) for r in parsed.rows]
    return list(parsed.rows)


def load_job(deps, job_id: str) -> dict:
    with deps.store.read() as conn:
        job = conn.execute(sa.select(bulk_jobs).where(bulk_jobs.c.id == job_id)).mappings().first()
    if job is None:
        raise NotFound(f"no bulk job has the id '{job_id}'", object_id=job_id,
                       hint="the id is printed when a bulk run starts")
    return dict(job)


def _save_row(deps, job_id: str, row: BulkRow, result: BulkResult,
              request_id: str | None) -> None:
    now = deps.clock.now()
    values = dict(status=result.status, refund_id=result.refund_id, error=result.error,
                  request_id=request_id, updated=now)
    with deps.store.write() as conn:
        done = conn.execute(bulk_rows.update().where(
            bulk_rows.c.job_id == job_id, bulk_rows.c.row == row.row).values(**values)).rowcount
        if not done:
            conn.execute(bulk_rows.insert().values(
                job_id=job_id, row=row.row, row_key=row.key, target_type=row.target_type,
                target=row.target, **values))


def _run_row(deps, row: BulkRow, job_id: str, actor: str, live: bool | None,
             allow_repeat: bool = False) -> BulkResult:
    request = None
    repeat = False
    try:
        with deps.store.read() as conn:
            request = records.get(conn, row.key)
        if request is None:
            outcome = request_refund(
                deps, row.target, target_type=row.target_type, amount=row.amount,
                reason=row.reason, metadata=dict(row.metadata), note=row.note, actor=actor,
                client_key=row.key, request_id=row.key, bulk_job_id=job_id, live=live,
                skip_bulk_repeat=not allow_repeat)
            request, repeat = outcome.request, outcome.repeat_of is not None
        elif request["status"] == "approved":
            request = submit_request(deps, row.key, actor=actor)
        elif request["status"] == "submitted" and request["refund_id"] is None:
            # Through the replay path: send lease, and the look for a refund already made
            # when the key is old enough that Stripe may have pruned it.
            request = submit_request(deps, row.key, actor=actor, replay=True)
        result = _result(row, request, job_id, repeat)
    except DisputeDeskError as exc:
        result = BulkResult(row.row, None, "failed", str(exc))
        with deps.store.read() as conn:
            request = records.get(conn, row.key)
    _save_row(deps, job_id, row, result, request["id"] if request is not None else None)
    return result


def _result(row: BulkRow, request: dict, job_id: str, repeat: bool) -> BulkResult:
    """The row's result; a request of another job (the same row in an earlier file, or the same
    charge and amount written differently) is ``already_done`` unless it came to nothing."""
    if not repeat and request["bulk_job_id"] == job_id:
        return BulkResult(row.row, request["refund_id"], request["status"], request["error"])
    where = (f"bulk job {request['bulk_job_id']}" if request["bulk_job_id"] else "another run")
    note = (f"already requested in {where} as refund request {request['id']} "
            f"({request['status']}); run with --allow-repeat to refund it again")
    if request["status"] in ("failed", "canceled", "rejected"):
        return BulkResult(row.row, request["refund_id"], request["status"],
                          f"{note}: {request['error'] or request['status']}")
    return BulkResult(row.row, request["refund_id"], ALREADY_DONE, note)


def run_bulk(deps, data: bytes | str | None = None, *, actor: str, filename: str | None = None,
             dry_run: bool = False, resume: str | None = None, concurrency: int | None = None,
             live: bool | None = None, stop: threading.Event | None = None,
             progress: Callable[[BulkProgress], None] | None = None,
             allow_repeat: bool = False) -> BulkReport:
    """Validate the whole file (all problems at once), then refund each row (or, with
    ``dry_run``, run every check against the charges without recording anything).

    ``resume`` continues a job by id (its file is stored). ``stop`` (or Ctrl-C in the calling
    thread) stops taking new rows; rows in flight finish; the job is then ``interrupted``.
    ``allow_repeat`` refunds rows that repeat an earlier bulk request (same row, or same charge
    and amount) again; without it they are reported ``already_done``. A resumed job keeps the
    choice it was started with.
    """
    if resume:
        job = load_job(deps, resume)
        content = job["content"]
    elif data is None:
        raise ValueError("give the file's content or a job to resume")
    else:
        content = _decode(data)
    parsed = parse_bulk_csv(content)
    parsed.raise_for_problems()
    rows = list(parsed.rows)
    workers = concurrency or default_concurrency(deps.settings)
    stop = stop or threading.Event()
    state = BulkProgress(total=len(rows))

    if dry_run:
        return _dry_run(deps, rows, workers, live, progress)

    job_id = _job_for(deps, parsed, content, filename, actor, resume, allow_repeat)
    job = load_job(deps, job_id)
    allow_repeat = bool(job.get("allow_repeat"))
    rows = _job_rows(parsed, job)
    results: dict[int, BulkResult] = {}
    interrupted = False
    pool = ThreadPoolExecutor(workers, thread_name_prefix="bulk-refund")
    pending: set[Future] = set()
    try:
        queue = iter(rows)
        while True:
            while len(pending) < workers * 2 and not stop.is_set():
                row = next(queue, None)
                if row is None:
                    break
                # Each row in the caller's context: its audit rows keep the person and door.
                pending.add(pool.submit(contextvars.copy_context().run, _run_row, deps, row,
                                        job_id, actor, live, allow_repeat))
            if not pending:
                break
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                result = future.result()
                results[result.row] = result
                state.done += 1
                state.failed += result.status == "failed"
                if progress:
                    progress(state)
    except KeyboardInterrupt:
        stop.set()
    finally:
        for future in pending:  # rows in flight finish: a refund is never left half recorded
            try:
                result = future.result()
            except Exception:  # pragma: no cover - _run_row catches the desk's errors
                log.exception("a bulk row failed unexpectedly")
                continue
            results[result.row] = result
            state.done += 1
        pool.shutdown(wait=True)
    interrupted = len(results) < len(rows)
    now = deps.clock.now()
    with deps.store.write() as conn:
        conn.execute(bulk_jobs.update().where(bulk_jobs.c.id == job_id).values(
            status="interrupted" if interrupted else "done", updated=now))
        audit.append(conn, at=now, actor=actor,
                     action="refunds.bulk.interrupted" if interrupted else "refunds.bulk.finished",
                     object_type="bulk_job", object_id=job_id,
                     details={"rows": len(rows), "done": len(results)})
    ordered = [results.get(r.row) or BulkResult(r.row, None, NOT_STARTED) for r in rows]
    return BulkReport(job_id, False, len(rows), ordered, [], interrupted)


def job_status(deps, job_id: str) -> dict[str, Any]:
    """A job and the current state of each of its rows (requests move on after the run)."""
    job = load_job(deps, job_id)
    parsed = parse_bulk_csv(job.pop("content"))
    rows = _job_rows(parsed, job)
    with deps.store.read() as conn:
        saved = {r.row: dict(r._mapping) for r in conn.execute(
            sa.select(bulk_rows).where(bulk_rows.c.job_id == job_id))}
        requests = {r["id"]: r for r in records.list_requests(conn, bulk_job_id=job_id,
                                                              limit=1_000_000)}
    results = []
    for row in rows:
        request = requests.get(row.key)
        if request is not None:
            results.append(BulkResult(row.row, request["refund_id"], request["status"],
                                      request["error"]))
        elif row.row in saved:
            results.append(BulkResult(row.row, saved[row.row]["refund_id"],
                                      saved[row.row]["status"], saved[row.row]["error"]))
        else:
            results.append(BulkResult(row.row, None, NOT_STARTED))
    report = BulkReport(job_id, False, len(rows), results,
                        interrupted=job["status"] == "interrupted")
    return {"job": job, "counts": report.counts, "report": report}


__all__ = ["BulkFileInvalid", "BulkProgress", "BulkReport", "check_job", "confirm_job",
           "job_status", "load_job", "prepare_job", "run_bulk", "run_job_slice", "stop_job"]
