"""Bulk refunds: every problem of a bad file at once, dry runs, concurrent runs that can be
interrupted and resumed without a duplicate, and the result file."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from disputedesk.domain.bulk import BulkFileInvalid, parse_bulk_csv, read_result_csv
from disputedesk.domain.refunds import REQUEST_METADATA_KEY
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import refunds
from disputedesk.services.refunds.testing import desk_settings, pay
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=41) as server:
        yield server


@pytest.fixture
def desk(database_url, emulator, tmp_path):
    deps = build_deps(desk_settings(database_url, emulator.base_url, tmp_path),
                      clock=ManualClock(time.time()), migrate=False)
    yield deps
    deps.close()


def refunds_at_stripe(emulator, charges: list[str]) -> dict[str, list]:
    client = emulator.stripe_client()
    return {c: list(client.v1.refunds.list(params={"charge": c}).data) for c in charges}


def test_a_bad_file_reports_every_problem_at_once_and_runs_nothing(desk):
    data = ("charge,amount,reason\n"
            "ch_ok1,12.50,requested_by_customer\n"
            "ch_ok2,12,50,duplicate\n"
            ",full,\n"
            "pi_123,full,\n"
            "ch_ok3,full,because\n")
    with pytest.raises(BulkFileInvalid) as info:
        refunds.run_bulk(desk, data.encode(), actor="alice")
    rows = sorted({p.row for p in info.value.problems})
    assert rows == [3, 4, 5, 6]
    text = "\n".join(str(p) for p in info.value.problems)
    assert "row 5, charge: 'pi_123' is a PaymentIntent id" in text
    assert "row 6, reason: 'because' is not a refund reason" in text
    with desk.store.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM bulk_jobs")).scalar_one() == 0


def test_dry_run_checks_each_charge_and_records_nothing(desk, emulator):
    client = emulator.stripe_client()
    good = pay(client, 2000)
    disputed = pay(client, 2000, pm="pm_card_createDispute")
    emulator.advance(2)
    data = f"charge,amount\n{good},5.00\n{disputed},full\nch_missing,full\n{good}x,1.00 EUR\n"
    report = refunds.run_bulk(desk, data, actor="alice", dry_run=True)
    assert [(r.row, r.status) for r in report.results] == [
        (2, "ok"), (3, "invalid"), (4, "invalid"), (5, "invalid")]
    assert {p.code for p in report.problems} >= {"charge_disputed"}
    assert all(v == [] for v in refunds_at_stripe(emulator, [good, disputed]).values())


def test_interrupted_run_resumes_without_a_duplicate(desk, emulator, tmp_path):
    client = emulator.stripe_client()
    charges = [pay(client, 3000) for _ in range(12)]
    lines = ["charge,amount,reason,metadata.ticket"]
    lines += [f"{c},{'full' if i % 2 else '10.00'},requested_by_customer,T-{i}"
              for i, c in enumerate(charges)]
    data = "\n".join(lines) + "\n"
    stop = threading.Event()

    def stop_after_five(progress):
        if progress.done >= 5:
            stop.set()

    first = refunds.run_bulk(desk, data, actor="alice", concurrency=2, stop=stop,
                             progress=stop_after_five)
    assert first.interrupted and 5 <= sum(r.status == "succeeded" for r in first.results) < 12
    assert "not_started" in first.counts

    resumed = refunds.run_bulk(desk, None, actor="alice", resume=first.job_id, concurrency=4)
    assert not resumed.interrupted and resumed.job_id == first.job_id
    assert resumed.counts == {"succeeded": 12}
    made = refunds_at_stripe(emulator, charges)
    assert all(len(v) == 1 for v in made.values())
    assert made[charges[0]][0].amount == 1000 and made[charges[1]][0].amount == 3000
    assert made[charges[3]][0].metadata.to_dict()["ticket"] == "T-3"

    # The same file again (re-saved with ';') is the same job: nothing new is refunded.
    again = refunds.run_bulk(desk, data.replace(",", ";"), actor="alice")
    assert again.job_id == first.job_id and again.counts == {"succeeded": 12}
    assert all(len(v) == 1 for v in refunds_at_stripe(emulator, charges).values())

    results = read_result_csv(again.result_csv())
    by_row = {r.row: r for r in results}
    assert by_row[2].refund_id == made[charges[0]][0].id and by_row[2].status == "succeeded"
    tagged = made[charges[0]][0].metadata.to_dict()[REQUEST_METADATA_KEY]
    assert tagged == parse_bulk_csv(data).rows[0].key
    status = refunds.job_status(desk, first.job_id)
    assert status["counts"] == {"succeeded": 12} and status["job"]["status"] == "done"


def test_rows_that_fail_at_the_charge_are_reported_in_the_result(desk, emulator):
    client = emulator.stripe_client()
    ok = pay(client, 2000)
    done = pay(client, 2000)
    refunds.request_refund(desk, done, actor="bob")
    data = f"charge,amount\n{ok},5.00\n{done},full\nch_nope,full\n"
    report = refunds.run_bulk(desk, data, actor="alice")
    by_row = {r.row: r for r in report.results}
    assert by_row[2].status == "succeeded" and by_row[2].refund_id
    assert by_row[3].status == "failed" and "already fully refunded" in by_row[3].error
    assert by_row[4].status == "failed" and "ch_nope" in by_row[4].error
