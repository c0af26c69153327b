"""Dashboard bulk jobs: checked on upload (nothing refunded), each row's outcome and the totals
per currency, an explicit confirm, then the run on the job queue: it survives a restart, runs in
slices, and can be stopped, resumed or canceled."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from disputedesk.errors import Conflict
from disputedesk.emulator.testing import running_emulator
from disputedesk.services.refunds import bulk
from disputedesk.services.refunds.testing import desk_settings, pay
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps
from disputedesk.worker import Worker


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=43) as server:
        yield server


def _desk(database_url, emulator, tmp_path, **overrides):
    return build_deps(desk_settings(database_url, emulator.base_url, tmp_path, **overrides),
                      clock=ManualClock(time.time()), migrate=False)


@pytest.fixture
def desk(database_url, emulator, tmp_path):
    deps = _desk(database_url, emulator, tmp_path)
    yield deps
    deps.close()


def _refunded(emulator, charges):
    client = emulator.stripe_client()
    return sorted(r.amount for c in charges for r in client.v1.refunds.list(
        params={"charge": c}).data)


def _status(deps, job_id):
    return bulk.load_job(deps, job_id)["status"]


def test_an_upload_is_checked_not_run_and_the_review_counts_each_currency(desk, emulator):
    client = emulator.stripe_client()
    usd1, usd2, jpy, kwd, small = (pay(client, 5000), pay(client, 2500), pay(client, 5000, "jpy"),
                                   pay(client, 5000, "kwd"), pay(client, 1000))
    csv = ("charge,amount\n"
           f"{usd1},12.50\n{usd2},full\n{jpy},1500 JPY\n{kwd},1.250 KWD\n"
           f"{small},999.00\n")
    job_id = bulk.prepare_job(desk, csv, actor="bo", filename="mixed.csv")
    assert _status(desk, job_id) == "checked"
    report = bulk.check_job(desk, job_id)
    assert [(p.row, p.amount, p.currency) for p in report.planned] == [
        (2, 1250, "usd"), (3, 2500, "usd"), (4, 1500, "jpy"), (5, 1250, "kwd")]
    assert [p.row for p in report.problems] == [6]
    assert report.to_dict()["totals"] == {"usd": {"rows": 2, "amount": 3750},
                                          "jpy": {"rows": 1, "amount": 1500},
                                          "kwd": {"rows": 1, "amount": 1250}}
    from disputedesk.domain.bulk import bulk_confirmation

    assert bulk_confirmation(report.planned, len(report.problems), "en_US") == (
        "Refund 4 rows: 1,500 JPY (1 row), 1.250 KWD (1 row), 37.50 USD (2 rows). "
        "1 row has a problem and will not be refunded.")
    Worker(desk).run_until_idle()
    assert _refunded(emulator, [usd1, usd2, jpy, kwd]) == []  # nothing without a confirm
    assert _status(desk, job_id) == "checked"


def test_a_confirmed_job_survives_a_restart_and_completes(database_url, emulator, tmp_path):
    client = emulator.stripe_client()
    charges = [pay(client, 3000 + i) for i in range(3)]
    first = _desk(database_url, emulator, tmp_path)
    job_id = bulk.prepare_job(first, "charge,amount\n" + "".join(f"{c},full\n" for c in charges),
                              actor="bo")
    bulk.confirm_job(first, job_id, actor="bo", sentence="Refund 3 rows")
    first.close()  # the process stops before any worker took the job
    assert _refunded(emulator, charges) == []
    second = _desk(database_url, emulator, tmp_path)  # the desk started again
    try:
        Worker(second).run_until_idle()
        assert _status(second, job_id) == "done"
        assert _refunded(emulator, charges) == [3000, 3001, 3002]
        with second.store.read() as conn:
            actions = [r[0] for r in conn.execute(sa.text(
                "SELECT action FROM audit_log WHERE object_id = :id ORDER BY id"), {"id": job_id})]
        assert actions[:2] == ["refunds.bulk.uploaded", "refunds.bulk.confirmed"]
        assert actions[-1] == "refunds.bulk.finished"
    finally:
        second.close()


def test_a_long_job_runs_in_slices_without_a_duplicate(database_url, emulator, tmp_path,
                                                      monkeypatch):
    monkeypatch.setattr(bulk, "SLICE_SECONDS", 0.0)
    monkeypatch.setattr(bulk, "WATCH_SECONDS", 0.01)
    client = emulator.stripe_client()
    charges = [pay(client, 1000 + i) for i in range(16)]
    deps = _desk(database_url, emulator, tmp_path, stripe_rate_limit=12)  # 4 at a time
    try:
        job_id = bulk.prepare_job(deps, "charge,amount\n" + "".join(f"{c},full\n"
                                                                    for c in charges), actor="bo")
        bulk.confirm_job(deps, job_id, actor="bo", sentence="Refund 16 rows")
        Worker(deps).run_until_idle()
        assert _status(deps, job_id) == "done"
        assert _refunded(emulator, charges) == [1000 + i for i in range(16)]
        with deps.store.read() as conn:
            slices = conn.execute(sa.text(
                "SELECT count(*) FROM audit_log WHERE object_id = :id AND action = "
                "'refunds.bulk.continued'"), {"id": job_id}).scalar_one()
        assert slices >= 1
    finally:
        deps.close()


def test_stop_then_resume_and_cancel_before_it_ran(desk, emulator):
    client = emulator.stripe_client()
    charges = [pay(client, 700), pay(client, 800)]
    job_id = bulk.prepare_job(desk, "charge,amount\n" + "".join(f"{c},full\n" for c in charges),
                              actor="bo")
    bulk.confirm_job(desk, job_id, actor="bo", sentence="Refund 2 rows")
    assert bulk.stop_job(desk, job_id, actor="bo") == "stopping"
    Worker(desk).run_until_idle()
    assert _status(desk, job_id) == "interrupted" and _refunded(emulator, charges) == []
    bulk.confirm_job(desk, job_id, actor="bo", sentence="resume")
    Worker(desk).run_until_idle()
    assert _status(desk, job_id) == "done" and _refunded(emulator, charges) == [700, 800]

    other = bulk.prepare_job(desk, f"charge,amount\n{pay(client, 900)},full\n", actor="bo")
    assert bulk.stop_job(desk, other, actor="bo") == "canceled"
    with pytest.raises(Conflict, match="is canceled"):
        bulk.confirm_job(desk, other, actor="bo", sentence="too late")
