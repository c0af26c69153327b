"""The security suite's real server: ``disputedesk serve --emulator`` in another process, on a free
port of 127.0.0.1, over SQLite or PostgreSQL, so attacks go over HTTP exactly as an attacker's
would and the server's memory can be read from /proc/<pid>/status.

``desk`` is one server per test module and database; tests make the users and tokens they need
through ``desk.deps()`` (the same database, opened from the test process).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from disputedesk.config import Settings
from disputedesk.testing import (
    TEST_WEBHOOK_SECRET,
    create_pg_database,
    drop_pg_database,
    postgres_admin_url,
)
from disputedesk.wiring import build_deps

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEDESK_")}
    env.update({"DISPUTEDESK_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def memory_kb(pid: int) -> dict[str, int]:
    """VmHWM (peak resident) and VmRSS of a process, in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            out[name] = int(value.split()[0])
    return out


@dataclass
class DeskServer:
    url: str
    proc: subprocess.Popen
    log: Path
    data_dir: Path
    database_url: str
    _deps: list = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory(self) -> dict[str, int]:
        return memory_kb(self.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def deps(self):
        """The desk's services over the server's database, from the test process."""
        if not self._deps:
            self._deps.append(build_deps(Settings(database_url=self.database_url,
                                                  data_dir=self.data_dir), migrate=False))
        return self._deps[0]

    def stop(self) -> None:
        for deps in self._deps:
            deps.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(data_dir: Path, database_url: str | None, *args: str, **env: str) -> DeskServer:
    """``serve --emulator`` on a free port, run in ``data_dir``; ``database_url`` None: the
    default SQLite file in the data folder (``DISPUTEDESK_DATA_DIR`` in ``env``, or data_dir)."""
    port = free_port()
    log = data_dir / "serve.log"
    if database_url is not None:
        env["DISPUTEDESK_DATABASE_URL"] = database_url
    env = {"DISPUTEDESK_WEBHOOK_SECRETS": TEST_WEBHOOK_SECRET, **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "disputedesk.cli.main", "serve", "--emulator", "--port", str(port),
         *args],
        cwd=data_dir, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=clean_env(data_dir, **env))
    folder = Path(env.get("DISPUTEDESK_DATA_DIR", data_dir))
    server = DeskServer(url=f"http://127.0.0.1:{port}", proc=proc, log=log, data_dir=folder,
                        database_url=database_url or f"sqlite:///{folder / 'disputedesk.db'}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve ended early:\n{server.output()}")
        if re.search(r"Uvicorn running", server.output()):
            try:
                if httpx.get(server.url + "/healthz", timeout=5).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"serve did not start:\n{server.output()}")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request, tmp_path_factory):
    """A database URL for one module's server: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('desk') / 'disputedesk.db'}"
        return
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("DISPUTEDESK_TEST_DATABASE_URL is not set")
    url = create_pg_database(admin, prefix="ddsec")
    yield url
    drop_pg_database(admin, url)


@pytest.fixture(scope="module")
def desk(backend_url, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("serve"), backend_url)
    yield server
    server.stop()


def poll(check, timeout: float = 30):
    """``check()`` until it returns something true, or its last answer after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return check()


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the real form (its CSRF cookie and field), as a browser does."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf})


@pytest.fixture(scope="module")
def admin_api(desk):
    """An httpx client of the server's REST API holding an admin API token."""
    from disputedesk.services import accounts

    token = accounts.token_for_role(desk.deps(), "admin")
    with httpx.Client(base_url=desk.url, timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def emulator_dispute(server: DeskServer, api: httpx.Client, amount: int = 4200) -> dict:
    """A dispute made in the server's own emulator (a card that always disputes), once the desk
    has mirrored it from the emulator's webhooks: the inbox row of it."""
    from disputedesk.emulator.testing import stripe_client

    emulator_url = re.search(r"Stripe emulator at (http://127\.0\.0\.1:\d+)", server.output())[1]
    intent = stripe_client(emulator_url).v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "payment_method": "pm_card_createDispute",
        "confirm": True})

    def mirrored():
        rows = api.get("/api/v1/disputes").json()["data"]
        return next((d for d in rows if d.get("charge") == intent.latest_charge), None)

    found = poll(mirrored)
    assert found, "the emulator's dispute never reached the desk"
    return found
