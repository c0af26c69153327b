"""``disputedesk events list|show|replay`` and ``disputedesk db`` through the CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from disputedesk.cli.main import app
from disputedesk.errors import ValidationError
from disputedesk.store import inbox
from disputedesk.testing import make_dispute, make_event
from disputedesk.worker import Worker
from tests.contract.helpers import store_events


@pytest.fixture
def cli(sqlite_url, tmp_path):
    runner = CliRunner()
    from disputedesk.testing import cli_token

    env = {"DISPUTEDESK_DATABASE_URL": sqlite_url, "DISPUTEDESK_DATA_DIR": str(tmp_path),
           "DISPUTEDESK_TOKEN": cli_token(sqlite_url, "ops", "agent")}
    return lambda *args: runner.invoke(app, list(args), env=env)


@pytest.fixture
def database_url(sqlite_url):  # these tests are about the CLI, not the database
    return sqlite_url


def test_events_list_shows_stored_events_as_json_lines(cli, deps):
    events = [make_event("charge.dispute.created", make_dispute()) for _ in range(3)]
    store_events(deps, events)
    result = cli("events", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(e["id"] for e in events)
    assert {r["status"] for r in rows} == {"received"}


def test_events_list_filters_by_status_and_type(cli, deps):
    store_events(deps, [make_event("charge.dispute.created", make_dispute()),
                        make_event("customer.created", {"id": "cus_1", "object": "customer"})])
    result = cli("events", "list", "--status", "ignored", "--json")
    assert [json.loads(x)["type"] for x in result.output.splitlines()] == ["customer.created"]
    result = cli("events", "list", "--type", "charge.dispute.created")
    assert result.exit_code == 0 and "charge.dispute.created" in result.output


def test_events_list_rejects_an_unknown_status(cli):
    result = cli("events", "list", "--status", "done")
    assert isinstance(result.exception, ValidationError)


def test_events_show_prints_state_and_raw_payload(cli, deps):
    event = make_event("charge.dispute.created", make_dispute())
    store_events(deps, [event])
    result = cli("events", "show", event["id"])
    assert result.exit_code == 0
    assert '"status": "received"' in result.output
    assert event["data"]["object"]["id"] in result.output


def test_events_replay_by_id_type_and_failed(cli, deps):
    event = make_event("charge.dispute.created", make_dispute())
    store_events(deps, [event])
    Worker(deps).run_until_idle()
    assert "1 event(s) queued" in cli("events", "replay", event["id"]).output
    with deps.store.read() as conn:
        assert inbox.get_event(conn, event["id"])["status"] == "received"
    assert "1 event(s) queued" in cli("events", "replay", "--type", "charge.dispute.created").output
    assert "0 event(s) queued" in cli("events", "replay", "--failed").output


def test_events_replay_needs_a_selection(cli):
    assert isinstance(cli("events", "replay").exception, ValidationError)


def test_showing_an_unknown_event_exits_4_with_one_line(sqlite_url, tmp_path):
    env = dict(os.environ, DISPUTEDESK_DATABASE_URL=sqlite_url,
               PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, "-m", "disputedesk.cli.main", "events", "show",
                             "evt_missing"], env=env, capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 4
    assert "evt_missing" in result.stderr and "Traceback" not in result.stderr


def test_db_upgrade_creates_the_schema_and_current_reports_it(tmp_path):
    runner = CliRunner()
    env = {"DISPUTEDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    before = runner.invoke(app, ["db", "current"], env=env)
    assert "run `disputedesk db upgrade`" in before.output
    result = runner.invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0 and "revision" in result.output
    assert "run `disputedesk" not in runner.invoke(app, ["db", "current"], env=env).output


def test_a_replay_from_the_cli_is_audited_as_the_person(sqlite_url, tmp_path, deps):
    import sqlalchemy as sa

    from disputedesk.store.tables import audit_log

    event = make_event("charge.dispute.created", make_dispute())
    store_events(deps, [event])
    from disputedesk.testing import cli_token

    env = {"DISPUTEDESK_DATABASE_URL": sqlite_url, "DISPUTEDESK_DATA_DIR": str(tmp_path),
           "DISPUTEDESK_TOKEN": cli_token(sqlite_url, "dana", "agent")}
    assert CliRunner().invoke(app, ["events", "replay", event["id"]], env=env).exit_code == 0
    with deps.store.read() as conn:
        actors = [r.actor for r in conn.execute(
            sa.select(audit_log.c.actor).where(audit_log.c.action == "events.replay"))]
    assert actors == ["dana"]
