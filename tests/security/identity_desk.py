"""The desk of the identity, CLI-door and policy tests: the real server over HTTP (uvicorn on a
free port in a thread, sharing the test's database so tests can arrange users, rules and runs in
process) on SQLite and PostgreSQL (``database_url`` is parametrized by tests/conftest.py), the
emulator as Stripe, signed-in people and the real CLI in another process.

Test modules import the fixtures they use from here (``desk`` here overrides the suite
conftest's out-of-process server for those modules).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import accounts
from disputedesk.testing import cheap_password_hashing, ManualClock, run_server
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps

PASSWORD = "correct horse battery staple"
THRESHOLD = "100.00 USD"


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=97) as server:
        yield server


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """In this process only (the CLI subprocesses hash for real)."""
    cheap_password_hashing(monkeypatch)


def desk_settings(emulator, database_url, data_dir, **extra) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir,
                    stripe_api_key=SecretStr("sk_test_security"),
                    stripe_api_base=emulator.base_url, stripe_rate_limit=1000, **extra)


@pytest.fixture
def desk(emulator, database_url, tmp_path):
    """The dashboard/API process's desk; its environment says the threshold is 100.00 USD."""
    deps = build_deps(desk_settings(emulator, database_url, tmp_path,
                                    approval_threshold=THRESHOLD),
                      clock=ManualClock(emulator.emulator.clock.now()), migrate=False)
    yield deps
    deps.close()


@pytest.fixture
def server(desk):
    with run_server(create_app(desk)) as base_url:
        yield base_url


@pytest.fixture
def person(desk, server):
    """``person("alice", "approver")``: an HTTP client signed in to the dashboard as that user
    (created with ``role`` when missing). Its JSON API calls carry the session's CSRF token."""
    clients: list[httpx.Client] = []

    def sign_in(username: str, role: str | None = None, *, password: str = PASSWORD) -> httpx.Client:
        if role is not None and not any(u["username"] == username
                                        for u in accounts.list_users(desk)):
            accounts.create_user(desk, username=username, role=role, password=password)
        client = httpx.Client(base_url=server, timeout=30, follow_redirects=False)
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
        form = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf})
        assert form.status_code == 303, form.text
        me = client.get("/api/v1/me")
        assert me.status_code == 200, me.text
        session = accounts.session_actor(desk, client.cookies["dd_session"])
        client.headers["X-CSRF-Token"] = session[1]
        clients.append(client)
        return client

    yield sign_in
    for client in clients:
        client.close()


@pytest.fixture
def bearer(server):
    clients: list[httpx.Client] = []

    def make(secret: str) -> httpx.Client:
        client = httpx.Client(base_url=server, timeout=30,
                              headers={"Authorization": f"Bearer {secret}"})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def pay(emulator, amount: int, pm: str = "pm_card_visa") -> str:
    intent = emulator.stripe_client().v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": pm, "confirm": True})
    return intent.latest_charge


@pytest.fixture
def run_cli(emulator, database_url, tmp_path):
    """The real CLI in another process: ``run_cli(*args, env={...}, input="...")``.

    Its environment is clean of the test process's DISPUTEDESK_* variables; it has no terminal
    (a new session), so a password prompt reads stdin."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEDESK_")}
    base.update({"DISPUTEDESK_DATABASE_URL": database_url,
                 "DISPUTEDESK_DATA_DIR": str(tmp_path),
                 "DISPUTEDESK_STRIPE_API_KEY": "sk_test_security_cli",
                 "DISPUTEDESK_STRIPE_API_BASE": emulator.base_url,
                 "DISPUTEDESK_STRIPE_RATE_LIMIT": "500",
                 "DISPUTEDESK_TOKEN_FILE": str(tmp_path / "cli-token"),
                 "COLUMNS": "200", "PYTHONPATH": os.pathsep.join(sys.path)})

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "disputedesk.cli.main", *args],
                              env={**base, **(env or {})}, input=input, capture_output=True,
                              text=True, timeout=timeout, start_new_session=True)

    return run


def wait_until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
