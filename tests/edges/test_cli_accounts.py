"""``disputedesk users ...`` and ``disputedesk tokens ...`` through the CLI runner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from disputedesk.cli.main import app
from disputedesk.errors import Conflict, ValidationError
from disputedesk.services import accounts
from disputedesk.store import audit
from disputedesk.testing import cheap_password_hashing, cli_token


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def database_url(sqlite_url):  # these tests are about the CLI, not the database
    return sqlite_url


@pytest.fixture
def cli(sqlite_url, tmp_path):
    runner = CliRunner()
    # ops-alice, an admin, proven by her personal token (bootstrap: tests/security)
    env = {"DISPUTEDESK_DATABASE_URL": sqlite_url, "DISPUTEDESK_DATA_DIR": str(tmp_path),
           "DISPUTEDESK_TOKEN": cli_token(sqlite_url, "ops-alice", "admin")}
    return lambda *args, input=None: runner.invoke(app, list(args), env=env, input=input)


def test_users_create_without_a_password_prints_a_one_time_link(cli, deps):
    result = cli("users", "create", "bob", "--role", "agent", "--base-url", "https://desk.example")
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("https://desk.example/login/link/")
    info = accounts.consume_login_link(deps, link.rsplit("/", 1)[1])
    assert info.actor.username == "bob" and info.actor.role == "agent"


def test_users_create_with_a_prompted_password_and_the_audit_names_the_actor(cli, deps):
    result = cli("users", "create", "carol", "--role", "approver", "--password",
                 input="a long password here\na long password here\n")
    assert result.exit_code == 0, result.output
    assert "a long password here" not in result.output
    assert accounts.login(deps, username="carol", password="a long password here").actor.role == "approver"
    with deps.store.read() as conn:
        assert [(e["actor"], e["person"], e["door"], e["credential"][:4])
                for e in audit.recent(conn) if e["action"] == "user.created"
                and e["details"]["username"] == "carol"] == [("ops-alice", "ops-alice", "cli", "tok_")]


def test_users_create_refuses_a_short_password_before_recording_anything(cli, deps):
    result = cli("users", "create", "dan", "--role", "viewer", "--password-stdin", input="short\n")
    assert isinstance(result.exception, ValidationError)
    assert "at least 12 characters" in str(result.exception)
    assert [u["username"] for u in accounts.list_users(deps)] == ["ops-alice"]


def test_users_reset_password_and_list_and_disable(cli, deps):
    accounts.create_user(deps, username="root", role="admin", password="root password 123")
    accounts.create_user(deps, username="erin", role="agent", password="erin password 123")
    result = cli("users", "reset-password", "erin", "--password-stdin", input="erin new password\n")
    assert result.exit_code == 0, result.output
    assert accounts.login(deps, username="erin", password="erin new password").actor
    assert cli("users", "disable", "erin").exit_code == 0
    rows = [json.loads(line) for line in cli("users", "list", "--json").output.splitlines()]
    assert {(r["username"], r["disabled"]) for r in rows} == {
        ("root", False), ("erin", True), ("ops-alice", False)}
    assert all("password" not in key for r in rows for key in r if key != "has_password")
    assert "disabled" in cli("users", "list").output


def test_users_reset_password_can_print_a_link_instead(cli, deps):
    accounts.create_user(deps, username="erin", role="agent")
    result = cli("users", "reset-password", "erin", "--link")
    assert result.exit_code == 0 and "/login/link/" in result.output


def test_the_last_admin_cannot_be_disabled_from_the_cli(cli, deps):
    result = cli("users", "disable", "ops-alice")
    assert isinstance(result.exception, Conflict)


def test_tokens_create_prints_the_token_once_and_list_shows_only_its_prefix(cli, deps):
    result = cli("tokens", "create", "--name", "nightly", "--role", "viewer", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    secret = created["secret"]
    assert accounts.authenticate_token(deps, secret).role == "viewer"
    listed = cli("tokens", "list", "--json").output
    assert secret not in listed and created["token"]["prefix"] in listed
    assert cli("tokens", "revoke", created["token"]["id"]).exit_code == 0
    assert accounts.authenticate_token(deps, secret) is None
    assert created["token"]["owner"] == "ops-alice"
    assert created["token"]["id"] not in cli("tokens", "list", "--json").output
    assert created["token"]["id"] in cli("tokens", "list", "--all").output


def test_users_roles_prints_the_permission_table(cli):
    result = cli("users", "roles")
    assert result.exit_code == 0 and "refunds.approve" in result.output
