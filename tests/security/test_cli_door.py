"""The CLI is a door like the others: the real CLI in another process, against the same database
as the running server. Who is not a desk user with the role is refused before anything is
recorded (exit code 6); a proven user acts as themselves, recorded with the door and credential."""

from __future__ import annotations

import os
import stat

import sqlalchemy as sa

from identity_desk import (  # noqa: F401 - the fixtures this module uses
    _cheap_argon2,
    bearer,
    desk,
    emulator,
    PASSWORD,
    pay,
    person,
    run_cli,
    server,
)

from disputedesk.services import accounts
from disputedesk.store.refunds_tables import refund_requests
from disputedesk.store.tables import audit_log
from disputedesk.testing import cli_token


def _counts(desk) -> tuple[int, int]:
    with desk.store.read() as conn:
        return (conn.execute(sa.select(sa.func.count()).select_from(refund_requests)).scalar(),
                conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar())


def test_refunding_as_a_made_up_name_is_refused_before_anything_is_recorded(
        desk, run_cli, emulator):
    charge = pay(emulator, 5000)
    before = _counts(desk)
    done = run_cli("refund", charge, "--amount", "10", "--actor", "nobody-real",
                   input="whatever password\n")
    assert done.returncode == 6, done.stdout + done.stderr
    assert "wrong user name or password" in done.stderr
    assert _counts(desk)[0] == before[0]
    with desk.store.read() as conn:  # only the failed sign-in attempt counts, no audit row
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == before[1]
    assert emulator.stripe_client().v1.refunds.list(params={"charge": charge}).data == []


def test_refunding_with_no_proof_of_who_i_am_is_refused(desk, run_cli, emulator):
    charge = pay(emulator, 5000)
    done = run_cli("refund", charge, "--amount", "10")
    assert done.returncode == 6
    assert "disputedesk login" in done.stderr and "DISPUTEDESK_TOKEN" in done.stderr
    assert _counts(desk)[0] == 0


def test_refunding_as_a_viewer_is_refused(desk, database_url, run_cli, emulator):
    charge = pay(emulator, 5000)
    token = cli_token(database_url, "vera", "viewer")
    done = run_cli("refund", charge, "--amount", "10", env={"DISPUTEDESK_TOKEN": token})
    assert done.returncode == 6
    assert "vera is viewer" in done.stderr and "agent" in done.stderr
    assert _counts(desk)[0] == 0


def test_changing_users_as_an_agent_is_refused(desk, database_url, run_cli):
    token = cli_token(database_url, "ana", "agent")
    done = run_cli("users", "create", "sneaky", "--role", "admin",
                   env={"DISPUTEDESK_TOKEN": token})
    assert done.returncode == 6 and "users.manage" in done.stderr
    assert [u["username"] for u in accounts.list_users(desk)] == ["ana"]


def test_a_real_agent_refunds_and_the_audit_names_them_and_their_token(
        desk, database_url, run_cli, emulator):
    charge = pay(emulator, 5000)
    token = cli_token(database_url, "ana", "agent")
    done = run_cli("refund", charge, "--amount", "12.50", "--json",
                   env={"DISPUTEDESK_TOKEN": token})
    assert done.returncode == 0, done.stderr
    with desk.store.read() as conn:
        (row,) = conn.execute(sa.select(refund_requests)).mappings().all()
        asked = conn.execute(sa.select(audit_log).where(
            audit_log.c.action == "refund.requested")).mappings().one()
    assert (row["requested_by"], row["requester_person"], row["status"]) == (
        "ana", "ana", "succeeded")
    assert (asked["actor"], asked["person"], asked["door"]) == ("ana", "ana", "cli")
    assert asked["credential"].startswith("tok_")


def test_a_real_approver_proven_by_password_approves_another_persons_refund(
        desk, database_url, run_cli, emulator):
    accounts.create_user(desk, username="bob", role="approver", password=PASSWORD)
    charge = pay(emulator, 50_000)
    asked = run_cli("refund", charge, "--amount", "250", "--json",
                    env={"DISPUTEDESK_TOKEN": cli_token(database_url, "ana", "agent")})
    assert asked.returncode == 0, asked.stderr
    with desk.store.read() as conn:
        rid = conn.execute(sa.select(refund_requests.c.id)).scalar_one()
    wrong = run_cli("refunds", "approve", rid, "--actor", "bob", input="not his password\n")
    assert wrong.returncode == 6
    done = run_cli("refunds", "approve", rid, "--actor", "bob", input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    with desk.store.read() as conn:
        approved = conn.execute(sa.select(audit_log).where(
            audit_log.c.action == "refund.approved", audit_log.c.actor == "bob")).mappings().one()
    assert (approved["door"], approved["credential"]) == ("cli", "password")


def test_approving_with_a_scripts_api_token_is_refused(desk, database_url, run_cli, emulator):
    charge = pay(emulator, 50_000)
    run_cli("refund", charge, "--amount", "250",
            env={"DISPUTEDESK_TOKEN": cli_token(database_url, "ana", "agent")})
    with desk.store.read() as conn:
        rid = conn.execute(sa.select(refund_requests.c.id)).scalar_one()
    script = cli_token(database_url, "bob", "approver", signed_in=False)
    done = run_cli("refunds", "approve", rid, env={"DISPUTEDESK_TOKEN": script})
    assert done.returncode == 6 and "disputedesk login" in done.stderr
    assert desk and run_cli("refunds", "list", "--json").returncode == 0  # reading stays open


def test_login_stores_a_private_token_that_later_commands_act_with(
        desk, run_cli, tmp_path, emulator):
    accounts.create_user(desk, username="ana", role="agent", password=PASSWORD)
    done = run_cli("login", "--user", "ana", input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    path = tmp_path / "cli-token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "ana (agent)" in run_cli("whoami").stdout
    assert run_cli("refund", pay(emulator, 3000), "--amount", "5").returncode == 0
    assert run_cli("logout").returncode == 0 and not path.exists()
    assert run_cli("refund", pay(emulator, 3000), "--amount", "5").returncode == 6


def test_bootstrapping_a_second_admin_on_a_desk_with_users_is_refused(desk, run_cli):
    first = run_cli("users", "create", "founder", "--role", "admin")
    assert first.returncode == 0, first.stderr
    assert "/login/link/" in first.stdout
    again = run_cli("users", "create", "intruder", "--role", "admin")
    assert again.returncode == 6
    assert [u["username"] for u in accounts.list_users(desk)] == ["founder"]
    with desk.store.read() as conn:
        created = conn.execute(sa.select(audit_log).where(
            audit_log.c.action == "user.created")).mappings().one()
    assert created["actor"].startswith("bootstrap:")
    assert (created["door"], created["credential"]) == ("cli", "bootstrap")
