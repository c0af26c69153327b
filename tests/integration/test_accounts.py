"""Accounts service: passwords, sign-in and lockout, sessions, login links, API tokens, audit.

Runs on SQLite and, when configured, PostgreSQL (the ``deps`` fixture follows ``database_url``).
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from disputedesk.testing import cheap_password_hashing
from disputedesk.domain.permissions import (
    PERMISSIONS,
    ROLE_PERMISSIONS,
    ROLES,
    UnknownPermission,
    allows,
    roles_with,
)
from disputedesk.errors import AuthenticationFailed, Conflict, NotFound, ValidationError
from disputedesk.services import accounts
from disputedesk.store import audit
from disputedesk.store.accounts_tables import api_tokens, login_links, sessions, users

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    # Same algorithm (argon2id), test-sized cost: the lockout tests hash dozens of times.
    cheap_password_hashing(monkeypatch)


def _row(deps, table, *where):
    with deps.store.read() as conn:
        return conn.execute(sa.select(table).where(*where)).first()


# --- the permission table --------------------------------------------------------------------

def test_each_role_has_everything_the_role_below_it_has():
    for lower, higher in itertools.pairwise(ROLES):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher], (lower, higher)


def test_the_admin_role_has_every_permission_and_the_viewer_only_reads():
    assert ROLE_PERMISSIONS["admin"] == set(PERMISSIONS)
    assert all(p.endswith(".read") for p in ROLE_PERMISSIONS["viewer"])


def test_agents_request_refunds_but_only_approvers_approve_them():
    assert allows("agent", "refunds.request") and not allows("agent", "refunds.approve")
    assert allows("approver", "refunds.approve")
    assert roles_with("users.manage") == ["admin"]


def test_an_unknown_role_has_no_permission_and_an_unknown_permission_is_an_error():
    assert not allows("superuser", "disputes.read")
    with pytest.raises(UnknownPermission, match="refunds.aprove"):
        allows("admin", "refunds.aprove")


# --- users and passwords ---------------------------------------------------------------------

def test_a_password_is_stored_as_an_argon2id_hash_and_verifies(deps):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    row = _row(deps, users, users.c.username_key == "alice")
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert accounts.verify_password(row.password_hash, PASSWORD)
    assert not accounts.verify_password(row.password_hash, PASSWORD + "!")
    assert not accounts.verify_password(None, PASSWORD)


def test_a_short_password_is_refused_with_the_minimum_length_named(deps):
    with pytest.raises(ValidationError, match=f"at least {accounts.PASSWORD_MIN_LENGTH} characters"):
        accounts.create_user(deps, username="bob", role="viewer", password="short")
    assert accounts.list_users(deps) == []


def test_the_user_name_as_password_is_refused(deps):
    with pytest.raises(ValidationError, match="must not be the user name"):
        accounts.create_user(deps, username="longusername1", role="viewer",
                             password="LongUserName1")


def test_user_names_are_unique_regardless_of_case(deps):
    accounts.create_user(deps, username="Alice", role="agent", password=PASSWORD)
    with pytest.raises(Conflict, match="already exists"):
        accounts.create_user(deps, username="alice", role="viewer", password=PASSWORD)
    assert accounts.get_user(deps, "ALICE")["username"] == "Alice"


def test_an_unknown_role_or_bad_user_name_is_refused(deps):
    with pytest.raises(ValidationError, match="unknown role 'root'"):
        accounts.create_user(deps, username="carol", role="root")
    with pytest.raises(ValidationError, match="not a valid user name"):
        accounts.create_user(deps, username="token:evil", role="viewer")


def test_user_dicts_never_contain_the_password_hash(deps):
    user = accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    assert "password_hash" not in user and user["has_password"] is True
    assert all("password_hash" not in u for u in accounts.list_users(deps))


def test_admin_changes_to_users_are_audited(deps):
    accounts.create_user(deps, username="root", role="admin", password=PASSWORD, actor="ops")
    accounts.create_user(deps, username="alice", role="agent", actor="root")
    accounts.set_role(deps, username="alice", role="approver", actor="root")
    accounts.set_password(deps, username="alice", password=PASSWORD, actor="root")
    accounts.set_disabled(deps, username="alice", disabled=True, actor="root")
    with deps.store.read() as conn:
        entries = audit.recent(conn)
    actions = [(e["actor"], e["action"]) for e in reversed(entries)]
    assert actions == [("ops", "user.created"), ("root", "user.created"),
                       ("root", "user.role_changed"), ("root", "user.password_set"),
                       ("root", "user.disabled")]
    assert all(PASSWORD not in str(e) for e in entries)


def test_the_last_active_admin_can_be_neither_disabled_nor_demoted(deps):
    accounts.create_user(deps, username="root", role="admin", password=PASSWORD)
    with pytest.raises(Conflict, match="last active admin"):
        accounts.set_disabled(deps, username="root", disabled=True, actor="root")
    with pytest.raises(Conflict, match="last active admin"):
        accounts.set_role(deps, username="root", role="agent", actor="root")
    accounts.create_user(deps, username="root2", role="admin", password=PASSWORD)
    assert accounts.set_role(deps, username="root", role="agent", actor="root2")["role"] == "agent"


def test_changing_an_unknown_user_names_it(deps):
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        accounts.set_password(deps, username="ghost", password=PASSWORD, actor="root")


# --- sign-in and lockout ---------------------------------------------------------------------

def test_login_with_the_right_password_starts_a_session(deps, clock):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    info = accounts.login(deps, username="ALICE", password=PASSWORD, ip="10.0.0.1")
    assert info.actor.username == "alice" and info.actor.role == "agent"
    assert info.actor.via == "session" and not info.must_set_password
    actor, csrf = accounts.session_actor(deps, info.token)
    assert actor == info.actor and csrf == info.csrf_secret
    # Only the digest is stored.
    assert _row(deps, sessions, sessions.c.id_hash == info.token) is None
    assert _row(deps, sessions, sessions.c.id_hash == accounts.digest(info.token)) is not None
    assert accounts.get_user(deps, "alice")["last_login"] == clock.now()


@pytest.mark.parametrize("username,password", [("alice", "wrong password!!"),
                                               ("nobody", PASSWORD)])
def test_login_refusals_say_the_same_thing_for_unknown_users_and_wrong_passwords(
        deps, username, password):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    with pytest.raises(AuthenticationFailed) as caught:
        accounts.login(deps, username=username, password=password, ip="10.0.0.1")
    assert caught.value.message == "wrong user name or password"


def test_a_disabled_user_cannot_sign_in_and_loses_open_sessions(deps):
    accounts.create_user(deps, username="root", role="admin", password=PASSWORD)
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    info = accounts.login(deps, username="alice", password=PASSWORD)
    accounts.set_disabled(deps, username="alice", disabled=True, actor="root")
    assert accounts.session_actor(deps, info.token) is None
    with pytest.raises(AuthenticationFailed):
        accounts.login(deps, username="alice", password=PASSWORD)


def test_five_failures_lock_the_user_name_for_the_window_even_for_the_right_password(deps, clock):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        with pytest.raises(AuthenticationFailed) as caught:
            accounts.login(deps, username="alice", password="not the password", ip="10.0.0.1")
        assert not isinstance(caught.value, accounts.LoginLocked)
        clock.advance(10)
    with pytest.raises(accounts.LoginLocked, match="too many failed sign-ins for this user name; "
                                                   "try again in 15 minutes") as caught:
        accounts.login(deps, username="alice", password=PASSWORD, ip="10.0.0.2")
    assert 0 < caught.value.retry_after <= accounts.LOGIN_WINDOW
    clock.advance(caught.value.retry_after)
    assert accounts.login(deps, username="alice", password=PASSWORD, ip="10.0.0.2").actor


def test_a_successful_sign_in_clears_earlier_failures(deps, clock):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME - 1):
        with pytest.raises(AuthenticationFailed):
            accounts.login(deps, username="alice", password="not the password")
    clock.advance(1)
    accounts.login(deps, username="alice", password=PASSWORD)
    clock.advance(1)
    with pytest.raises(AuthenticationFailed) as caught:
        accounts.login(deps, username="alice", password="not the password")
    assert not isinstance(caught.value, accounts.LoginLocked)


def test_many_failures_from_one_address_lock_that_address_across_user_names(deps, clock):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    for i in range(accounts.MAX_FAILURES_PER_IP):
        with pytest.raises(AuthenticationFailed):
            accounts.login(deps, username=f"guess{i}", password="nope nope nope", ip="203.0.113.9")
    with pytest.raises(accounts.LoginLocked, match="for your address"):
        accounts.login(deps, username="alice", password=PASSWORD, ip="203.0.113.9")
    assert accounts.login(deps, username="alice", password=PASSWORD, ip="198.51.100.1").actor


def test_a_session_ends_after_the_idle_timeout_and_after_its_lifetime(deps, clock):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    idle = accounts.login(deps, username="alice", password=PASSWORD)
    clock.advance(accounts.SESSION_IDLE_TIMEOUT)
    assert accounts.session_actor(deps, idle.token) is None

    busy = accounts.login(deps, username="alice", password=PASSWORD)
    while clock.now() + 3600 < busy.expires_at:
        clock.advance(3600)
        assert accounts.session_actor(deps, busy.token) is not None
    clock.advance(3600)
    assert accounts.session_actor(deps, busy.token) is None


def test_logout_ends_the_session(deps):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    info = accounts.login(deps, username="alice", password=PASSWORD)
    accounts.logout(deps, info.token)
    assert accounts.session_actor(deps, info.token) is None


def test_setting_a_password_ends_other_sessions_but_keeps_the_current_one(deps):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    here = accounts.login(deps, username="alice", password=PASSWORD)
    elsewhere = accounts.login(deps, username="alice", password=PASSWORD)
    accounts.set_password(deps, username="alice", password="another long password",
                          actor="alice", keep_session=here.token)
    assert accounts.session_actor(deps, here.token) is not None
    assert accounts.session_actor(deps, elsewhere.token) is None
    with pytest.raises(AuthenticationFailed):
        accounts.login(deps, username="alice", password=PASSWORD)


# --- one-time login links ----------------------------------------------------------------------

def test_a_login_link_works_once(deps):
    accounts.create_user(deps, username="alice", role="approver")
    token = accounts.create_login_link(deps, username="alice", actor="root")
    assert _row(deps, login_links, login_links.c.token_hash == accounts.digest(token)) is not None
    info = accounts.consume_login_link(deps, token)
    assert info.actor.username == "alice" and info.must_set_password
    with pytest.raises(AuthenticationFailed, match="already used, has expired"):
        accounts.consume_login_link(deps, token)


def test_a_login_link_expires(deps, clock):
    accounts.create_user(deps, username="alice", role="approver")
    token = accounts.create_login_link(deps, username="alice", actor="root", ttl=600)
    clock.advance(600)
    with pytest.raises(AuthenticationFailed):
        accounts.consume_login_link(deps, token)


def test_an_unknown_login_link_is_refused(deps):
    with pytest.raises(AuthenticationFailed):
        accounts.consume_login_link(deps, "made-up")


def test_the_first_admin_is_created_once_with_a_one_time_link(deps):
    link = accounts.ensure_first_admin(deps, "http://127.0.0.1:8000/")
    assert link is not None and link.startswith("http://127.0.0.1:8000/login/link/")
    assert [(u["username"], u["role"], u["has_password"]) for u in accounts.list_users(deps)] == [
        ("admin", "admin", False)]
    assert accounts.ensure_first_admin(deps, "http://127.0.0.1:8000") is None
    info = accounts.consume_login_link(deps, link.rsplit("/", 1)[1])
    assert info.actor.role == "admin" and info.must_set_password


# --- API tokens --------------------------------------------------------------------------------

def _root(deps) -> str:
    """The admin the tokens below belong to."""
    if not any(u["username"] == "root" for u in accounts.list_users(deps)):
        accounts.create_user(deps, username="root", role="admin")
    return "root"


@pytest.mark.parametrize("role", ROLES)
def test_a_token_authenticates_with_its_role_until_revoked(deps, role):
    info, secret = accounts.create_token(deps, name="ci", role=role, owner=_root(deps))
    assert secret.startswith("ddk_") and info["prefix"] == secret[:12]
    assert "secret" not in info and secret not in str(info)
    actor = accounts.authenticate_token(deps, secret)
    assert (actor.id, actor.username, actor.role, actor.via) == (info["id"], "root", role, "token")
    accounts.revoke_token(deps, info["id"], actor="root")
    assert accounts.authenticate_token(deps, secret) is None


def test_a_token_is_stored_only_as_its_sha256(deps):
    info, secret = accounts.create_token(deps, name="ci", role="viewer", owner=_root(deps))
    row = _row(deps, api_tokens, api_tokens.c.id == int(info["id"][4:]))
    assert row.token_hash == accounts.digest(secret) and secret not in row.token_hash


def test_wrong_tokens_do_not_authenticate(deps):
    _, secret = accounts.create_token(deps, name="ci", role="admin", owner=_root(deps))
    for wrong in ["", "ddk_", secret[:-1], secret + "x", secret.replace("ddk_", "xyz_"), "x" * 500]:
        assert accounts.authenticate_token(deps, wrong) is None


def test_token_use_is_recorded_at_most_once_a_minute(deps, clock):
    _, secret = accounts.create_token(deps, name="ci", role="viewer", owner=_root(deps))
    accounts.authenticate_token(deps, secret)
    first = clock.now()
    clock.advance(30)
    accounts.authenticate_token(deps, secret)
    assert accounts.list_tokens(deps)[0]["last_used_at"] == first
    clock.advance(30)
    accounts.authenticate_token(deps, secret)
    assert accounts.list_tokens(deps)[0]["last_used_at"] == clock.now()


def test_token_creation_and_revocation_are_audited(deps):
    info, secret = accounts.create_token(deps, name="ci", role="agent", owner=_root(deps))
    accounts.revoke_token(deps, info["id"], actor="root")
    accounts.revoke_token(deps, info["id"], actor="root")  # twice: recorded once
    with deps.store.read() as conn:
        entries = audit.for_object(conn, "api_token", info["id"])
    assert [e["action"] for e in entries] == ["token.created", "token.revoked"]
    assert all(secret not in str(e) for e in entries)


def test_revoking_an_unknown_token_names_it(deps):
    with pytest.raises(NotFound, match="tok_999"):
        accounts.revoke_token(deps, "tok_999", actor="root")


def test_the_cleanup_job_deletes_expired_sessions_and_old_attempts(deps, clock):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    info = accounts.login(deps, username="alice", password=PASSWORD)
    with pytest.raises(AuthenticationFailed):
        accounts.login(deps, username="alice", password="not the password")
    clock.advance(2 * 86400)
    assert deps.jobs.get(accounts.CLEANUP_JOB) is not None
    removed = accounts.cleanup(deps, {})
    assert removed["sessions"] == 1 and removed["attempts"] == 2
    assert accounts.session_actor(deps, info.token) is None


def test_the_permission_table_in_the_docs_matches_the_code():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "accounts.md").read_text()
    documented = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`") and cells[0].strip("`") in PERMISSIONS:
            documented[cells[0].strip("`")] = {r for r, c in zip(ROLES, cells[1:5]) if c == "yes"}
    assert documented == {p: {r for r in ROLES if p in ROLE_PERMISSIONS[r]} for p in PERMISSIONS}
