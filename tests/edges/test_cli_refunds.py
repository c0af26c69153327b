"""``disputedesk refund``, ``refunds ...`` and ``charges ...`` through the CLI, against the
emulator: amounts as people type them, approval by another user, bulk files, Ctrl-C and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from disputedesk import errors
from disputedesk.domain.bulk import BulkFileInvalid, read_result_csv
from disputedesk.emulator.testing import running_emulator
from disputedesk.services.refunds.testing import pay
from disputedesk.testing import cli_token


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=53) as server:
        yield server


@pytest.fixture
def env(sqlite_url, tmp_path, emulator) -> dict:
    return {"DISPUTEDESK_DATABASE_URL": sqlite_url, "DISPUTEDESK_DATA_DIR": str(tmp_path),
            "DISPUTEDESK_STRIPE_API_KEY": "sk_test_cli",
            "DISPUTEDESK_STRIPE_API_BASE": emulator.base_url,
            "DISPUTEDESK_STRIPE_RATE_LIMIT": "500",
            # alice, an approver, proven by her personal token (as `disputedesk login` stores it)
            "DISPUTEDESK_TOKEN": cli_token(sqlite_url, "alice", "approver")}


@pytest.fixture
def cli(env):
    from disputedesk.cli.main import app

    runner = CliRunner()
    return lambda *args, **extra: runner.invoke(app, list(args), env={**env, **extra})


def test_refund_in_major_units_then_charges_show_the_rest(cli, emulator):
    charge = pay(emulator.stripe_client(), 5000, "eur")
    result = cli("refund", charge, "--amount", "12.50 EUR", "--note", "late delivery",
                 "--metadata", "ticket=T-9")
    assert result.exit_code == 0, result.output
    assert "12.50 EUR" in result.output and "succeeded" in result.output
    shown = cli("charges", "show", charge)
    assert "left to refund: 37.50 EUR" in shown.output
    rows = json.loads(cli("refunds", "list", "--charge", charge, "--json").output)
    assert [(r["amount"], r["requested_by"], r["metadata"]) for r in rows] == [
        (1250, "alice", {"ticket": "T-9"})]
    trail = cli("refunds", "show", rows[0]["id"])
    assert "late delivery" in trail.output and "refund.sent" in trail.output


def test_a_refund_in_another_currency_is_refused_with_the_fix(cli, emulator):
    charge = pay(emulator.stripe_client(), 5000, "jpy")
    result = cli("refund", charge, "--amount", "12.50 EUR")
    assert isinstance(result.exception, errors.MoneyError)
    assert "enter the amount in JPY" in str(result.exception)


def test_approval_by_another_user_through_the_cli(cli, emulator, sqlite_url):
    charge = pay(emulator.stripe_client(), 50000)
    admin = cli_token(sqlite_url, "root", "admin")
    assert cli("settings", "set", "approval_threshold", "100.00 USD",
               DISPUTEDESK_TOKEN=admin).exit_code == 0
    limits = {"DISPUTEDESK_APPROVAL_THRESHOLD": ""}  # the environment no longer matters
    asked = cli("refund", charge, "--amount", "250", "--json", **limits)
    request = json.loads(asked.output)["request"]
    assert request["status"] == "awaiting_approval"
    own = cli("refunds", "approve", request["id"], **limits)
    assert isinstance(own.exception, errors.PermissionDenied)
    done = cli("refunds", "approve", request["id"], "--note", "checked the order",
               DISPUTEDESK_TOKEN=cli_token(sqlite_url, "bob", "approver"), **limits)
    assert done.exit_code == 0 and "succeeded" in done.output


def test_charges_search_finds_by_email_after_a_live_look(cli, emulator):
    charge = pay(emulator.stripe_client(), 1500, email="search.me@example.com")
    assert cli("charges", "show", charge, "--live").exit_code == 0
    found = json.loads(cli("charges", "search", "--email", "Search.Me@example.com", "--json").output)
    assert [c["id"] for c in found] == [charge]


def test_bulk_reports_every_bad_row_and_refunds_nothing(cli, tmp_path):
    file = tmp_path / "bad.csv"
    file.write_text("charge,amount\nch_a,12,50\n,full\nch_b,-3\n")
    result = cli("refunds", "bulk", str(file))
    assert isinstance(result.exception, BulkFileInvalid)
    assert {p.row for p in result.exception.problems} == {2, 3, 4}
    for row in ("row 2", "row 3", "row 4"):
        assert row in result.output


def test_bulk_dry_run_then_run_writes_the_result_file(cli, emulator, tmp_path):
    client = emulator.stripe_client()
    charges = [pay(client, 2000) for _ in range(3)]
    file = tmp_path / "refunds.csv"
    file.write_text("charge,amount,reason\n" + "".join(
        f"{c},5.00,requested_by_customer\n" for c in charges) + "ch_gone,full,\n")
    dry = cli("refunds", "bulk", str(file), "--dry-run")
    assert dry.exit_code == 2 and "row 5" in dry.output and "nothing was refunded" in dry.output
    assert ("Without --dry-run: Refund 3 rows: 15.00 USD (3 rows). 1 row has a problem and will "
            "not be refunded.") in " ".join(dry.output.split())
    assert all(not client.v1.refunds.list(params={"charge": c}).data for c in charges)
    run = cli("refunds", "bulk", str(file))
    assert run.exit_code == 0, run.output
    results = read_result_csv((tmp_path / "refunds.csv.result.csv").read_text())
    assert [(r.row, r.status) for r in results] == [
        (2, "succeeded"), (3, "succeeded"), (4, "succeeded"), (5, "failed")]


def test_ctrl_c_stops_a_bulk_run_that_resumes_without_duplicates(env, emulator, tmp_path):
    client = emulator.stripe_client()
    charges = [pay(client, 2000) for _ in range(30)]
    file = tmp_path / "many.csv"
    file.write_text("charge,amount\n" + "".join(f"{c},full\n" for c in charges))
    emulator.emulator.faults.configure(latency_ms=60)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "disputedesk.cli.main", "refunds", "bulk", str(file),
             "--concurrency", "2"],
            env={**os.environ, **env, "PYTHONPATH": os.pathsep.join(sys.path)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                client.v1.refunds.list(params={"charge": c}).data for c in charges[:4]):
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        emulator.emulator.faults.configure(latency_ms=0)
    assert proc.returncode == 130, output
    job = output.split("--resume ")[1].split()[0]
    partial = read_result_csv((tmp_path / "many.csv.result.csv").read_text())
    assert "not_started" in {r.status for r in partial}
    from disputedesk.cli.main import app

    resumed = CliRunner().invoke(app, ["refunds", "bulk", "--resume", job,
                                       "--out", str(tmp_path / "resumed.csv")], env=env)
    assert resumed.exit_code == 0, resumed.output
    final = read_result_csv((tmp_path / "resumed.csv").read_text())
    assert {r.status for r in final} == {"succeeded"}
    assert [len(client.v1.refunds.list(params={"charge": c}).data) for c in charges] == [1] * 30


def test_an_edited_bulk_file_reports_unchanged_rows_already_done_unless_allow_repeat(
        cli, emulator, tmp_path):
    client = emulator.stripe_client()
    a, b = pay(client, 5000), pay(client, 5000)
    file = tmp_path / "first.csv"
    file.write_text(f"charge,amount\n{a},10.00\n{b},5.00\n")
    assert cli("refunds", "bulk", str(file)).exit_code == 0
    edited = tmp_path / "edited.csv"
    edited.write_text(f"charge,amount\n{a},10.00\n{b},6.00\n")
    assert cli("refunds", "bulk", str(edited)).exit_code == 0
    rows = {r.row: r for r in read_result_csv(
        (tmp_path / "edited.csv.result.csv").read_text())}
    assert rows[2].status == "already_done" and rows[3].status == "succeeded"
    assert len(client.v1.refunds.list(params={"charge": a}).data) == 1
    repeat = cli("refunds", "bulk", str(file), "--allow-repeat", "--out",
                 str(tmp_path / "repeat.csv"))
    assert repeat.exit_code == 0, repeat.output
    assert len(client.v1.refunds.list(params={"charge": a}).data) == 2
