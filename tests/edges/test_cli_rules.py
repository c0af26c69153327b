"""``disputedesk rules check|show|dry-run|decisions`` through the CLI runner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from disputedesk.cli.main import app
from disputedesk.testing import make_dispute, make_event
from disputedesk.worker import Worker
from tests.contract.helpers import store_events

BAD = """version = 1

[[rules]]
name = "bad"
why = "typo in a name"
trigger = "dispute.created"
condition = 'amout < money("15 USD")'
actions = [{ kind = "accept_dispute" }]

[[rules]]
name = "late"
why = "no hours"
trigger = "deadline.approaching"
actions = [{ kind = "notify", channel = "log", message = "due" }]
"""

SNEAKY = """[[rules]]
name = "escape"
why = "tries to reach Python internals"
trigger = "dispute.created"
condition = '().__class__.__bases__[0].__subclasses__() == []'
actions = [{ kind = "tag", tags = ["x"] }]
"""

GOOD = """[[rules]]
name = "tag-all"
why = "Every new dispute gets a tag."
trigger = "dispute.created"
actions = [{ kind = "tag", tags = ["new"] }]
"""


@pytest.fixture
def database_url(sqlite_url):  # these tests are about the CLI, not the database
    return sqlite_url


@pytest.fixture
def cli(sqlite_url, tmp_path):
    runner = CliRunner()
    env = {"DISPUTEDESK_DATABASE_URL": sqlite_url, "DISPUTEDESK_DATA_DIR": str(tmp_path),
           "COLUMNS": "250"}
    return lambda *args, **extra: runner.invoke(app, list(args), env={**env, **extra})


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_check_lists_every_problem_with_its_line_and_exits_2(cli, tmp_path):
    path = write(tmp_path, "rules.toml", BAD)
    result = cli("rules", "check", path)
    assert result.exit_code == 2
    output = result.output
    assert f"{path}:7: rule 'bad': condition: unknown name `amout` at column 1" in output
    assert "did you mean `amount`?" in output
    assert f"{path}:10: rule 'late'" in output and "hours_before" in output
    assert "2 problem(s)" in output


def test_check_refuses_an_expression_reaching_python_internals(cli, tmp_path):
    path = write(tmp_path, "sneaky.toml", SNEAKY)
    result = cli("rules", "check", path)
    assert result.exit_code == 2
    assert f"{path}:5: rule 'escape': condition:" in result.output
    assert "__class__" in result.output


def test_check_reports_a_toml_syntax_error_with_its_line(cli, tmp_path):
    path = write(tmp_path, "broken.toml", GOOD + '\n[[rules]\nname = "x"\n')
    result = cli("rules", "check", path)
    assert result.exit_code == 2
    assert f"{path}:7:" in result.output and "TOML syntax error" in result.output


def test_check_accepts_a_good_file_and_the_default_rules(cli, tmp_path):
    result = cli("rules", "check", write(tmp_path, "good.yaml.toml", GOOD))
    assert result.exit_code == 0, result.output
    assert "OK, 1 rules" in result.output
    assert cli("rules", "check").exit_code == 0  # nothing configured: the default set


def test_a_configured_rules_file_with_errors_is_named_by_check_without_arguments(cli, tmp_path):
    path = write(tmp_path, "rules.toml", BAD)
    result = cli("rules", "check", DISPUTEDESK_RULES_FILE=path)
    assert result.exit_code == 2 and f"{path}:7:" in result.output


def test_show_lists_the_default_rules_in_priority_order(cli):
    result = cli("rules", "show", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    names = [r["name"] for r in shown["rules"]]
    assert names[0] == "refund-small-early-fraud-warnings"
    assert "submit-complete-evidence-48h-before-due" in names
    assert shown["fees"]["usd"] == {"dispute": 1500, "countered": 1500}


def test_dry_run_shows_what_would_happen_and_does_nothing(cli, deps, tmp_path):
    dispute = make_dispute(amount=1000, reason="fraudulent")
    store_events(deps, [make_event("charge.dispute.created", dispute)])
    from disputedesk.services.events import process_batch

    process_batch(deps.store, deps.clock, listeners=None)  # mirror only: no jobs
    result = cli("rules", "dry-run", "--json")
    assert result.exit_code == 0, result.output
    decisions = [json.loads(line) for line in result.output.splitlines()]
    accept = [d for d in decisions if d["rule"] == "accept-small-fraud-disputes"]
    assert accept and accept[0]["object_id"] == dispute["id"]
    assert accept[0]["actions"][0] == {**accept[0]["actions"][0], "kind": "accept_dispute",
                                       "status": "run"}
    table = cli("rules", "dry-run", "--file", write(tmp_path, "good.toml", GOOD))
    assert table.exit_code == 0 and "tag-all" in table.output and "nothing was done" in table.output
    assert cli("rules", "decisions", "--json").output.strip() == ""  # nothing recorded


def test_decisions_shows_what_the_worker_recorded_per_dispute(cli, deps, tmp_path):
    dispute = make_dispute(amount=5000, reason="product_not_received")
    store_events(deps, [make_event("charge.dispute.created", dispute)])
    Worker(deps).run_until_idle()
    result = cli("rules", "decisions", "--dispute", dispute["id"], "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {r["rule"] for r in rows} == {"accept-small-fraud-disputes",
                                        "build-evidence-for-new-disputes"}
    table = cli("rules", "decisions", "--dispute", dispute["id"])
    assert "build-evidence-for-new-disputes" in table.output
