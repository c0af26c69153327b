"""40 wrong passwords at once, against the real server over HTTP (threads, and two server
processes on one database) and against the service from 40 threads: never more password checks
than the limit. A check is an answer 401 (the password was verified and wrong); a refused
attempt is 429 and costs no verification."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from disputedesk.errors import AuthenticationFailed
from disputedesk.services import accounts
from disputedesk.services.signin_limits import (
    MAX_FAILURES_PER_IP,
    MAX_FAILURES_PER_USERNAME,
    LoginLocked,
)
from disputedesk.store.accounts_tables import login_attempts

from conftest import PASSWORD, start_server

GUESSES = 40
CSRF = "f" * 43  # the sign-in form's double-submit token: any value, as long as both match


def _guess(url: str, username: str, barrier: threading.Barrier) -> int:
    with httpx.Client(base_url=url, timeout=120, follow_redirects=False,
                      cookies={"dd_login_csrf": CSRF}) as client:
        barrier.wait()
        return client.post("/login", data={"username": username, "password": "wrong guess 123",
                                           "csrf_token": CSRF}).status_code


def _all_at_once(targets: list[tuple[str, str]]) -> list[int]:
    barrier = threading.Barrier(len(targets))
    with ThreadPoolExecutor(len(targets)) as pool:
        return list(pool.map(lambda t: _guess(t[0], t[1], barrier), targets))


def _checked(deps, username: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(login_attempts)
    if username is not None:
        query = query.where(login_attempts.c.username_key == username)
    with deps.store.read() as conn:
        return conn.execute(query).scalar_one()


def test_forty_parallel_wrong_passwords_get_at_most_the_account_limit_checked(desk):
    accounts.create_user(desk.deps(), username="victim1", role="approver", password=PASSWORD)
    statuses = _all_at_once([(desk.url, "victim1")] * GUESSES)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) == MAX_FAILURES_PER_USERNAME
    assert _checked(desk.deps(), "victim1") == MAX_FAILURES_PER_USERNAME
    # Locked now, even for the right password.
    with httpx.Client(base_url=desk.url, cookies={"dd_login_csrf": CSRF}) as client:
        locked = client.post("/login", data={"username": "victim1", "password": PASSWORD,
                                             "csrf_token": CSRF})
    assert locked.status_code == 429 and "this user name" in locked.text


def test_forty_parallel_wrong_passwords_over_two_server_processes_get_at_most_the_limit(
        desk, tmp_path):
    accounts.create_user(desk.deps(), username="victim2", role="approver", password=PASSWORD)
    second = start_server(tmp_path, desk.database_url, "--worker-threads", "0")
    try:
        targets = [(desk.url if i % 2 else second.url, "victim2") for i in range(GUESSES)]
        statuses = _all_at_once(targets)
    finally:
        second.stop()
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) == MAX_FAILURES_PER_USERNAME
    assert _checked(desk.deps(), "victim2") == MAX_FAILURES_PER_USERNAME


def test_forty_parallel_guesses_at_forty_user_names_from_one_address_get_at_most_its_limit(desk):
    before = _checked(desk.deps())
    # The address (127.0.0.1) may already have spent attempts in this module: count what is left.
    statuses = _all_at_once([(desk.url, f"spray{i}") for i in range(GUESSES)])
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= MAX_FAILURES_PER_IP
    assert _checked(desk.deps()) - before == statuses.count(401)
    assert statuses.count(429) >= GUESSES - MAX_FAILURES_PER_IP


@pytest.mark.parametrize("spread", ["one address", "forty addresses"])
def test_forty_threads_signing_in_at_once_get_at_most_the_account_limit_checked(deps, spread):
    accounts.create_user(deps, username="victim3", role="agent", password=PASSWORD)
    barrier = threading.Barrier(GUESSES)

    def guess(i: int) -> str:
        barrier.wait()
        try:
            accounts.login(deps, username="victim3", password="wrong guess 123",
                           ip="10.0.0.1" if spread == "one address" else f"10.0.1.{i}")
        except LoginLocked:
            return "locked"
        except AuthenticationFailed:
            return "checked"
        return "signed in"

    with ThreadPoolExecutor(GUESSES) as pool:
        outcomes = list(pool.map(guess, range(GUESSES)))
    assert outcomes.count("checked") == MAX_FAILURES_PER_USERNAME
    assert outcomes.count("locked") == GUESSES - MAX_FAILURES_PER_USERNAME
    assert _checked(deps, "victim3") == MAX_FAILURES_PER_USERNAME
