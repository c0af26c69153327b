"""`disputedesk serve --emulator` and `disputedesk demo` work on a fresh folder with no settings."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from disputedesk.emulator.testing import stripe_client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEDESK_")}
    env["DISPUTEDESK_DATA_DIR"] = str(tmp_path)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Process:
    def __init__(self, args: list[str], tmp_path: Path) -> None:
        self.log = tmp_path / "out.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "disputedesk.cli.main", *args],
                                     cwd=tmp_path, env=_clean_env(tmp_path),
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            match = re.search(pattern, text)
            if match:
                return match
            if self.proc.poll() is not None:
                pytest.fail(f"the process ended early:\n{text}")
            time.sleep(0.2)
        pytest.fail(f"'{pattern}' never appeared:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _poll(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    return check()


def test_serve_with_the_emulator_mirrors_a_new_dispute_with_no_configuration(tmp_path):
    port = _free_port()
    proc = Process(["serve", "--emulator", "--port", str(port)], tmp_path)
    try:
        emulator_url = proc.wait_for(r"Stripe emulator at (http://127\.0\.0\.1:\d+)")[1]
        proc.wait_for(r"one-time link")
        proc.wait_for(r"Uvicorn running|Application startup complete")
        client = stripe_client(emulator_url)
        pi = client.v1.payment_intents.create(params={
            "amount": 4200, "currency": "usd", "payment_method": "pm_card_createDispute",
            "confirm": True})
        db = tmp_path / "disputedesk.db"

        def mirrored():
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT id, status FROM disputes WHERE charge = ?",
                                    (pi.latest_charge,)).fetchall()

        rows = _poll(mirrored)
        assert rows and rows[0][1] == "needs_response"
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    finally:
        proc.stop()


def test_demo_seeds_a_year_mirrors_it_and_prints_a_working_login_link(tmp_path):
    port = _free_port()
    proc = Process(["demo", "--port", str(port), "--data-dir", str(tmp_path / "demo"),
                    "--charges", "300", "--customers", "40"], tmp_path)
    try:
        link = proc.wait_for(r"(http://127\.0\.0\.1:\d+/login/link/\S+)", timeout=120)[1]
        proc.wait_for(r"Uvicorn running|Application startup complete")
        with sqlite3.connect(tmp_path / "demo" / "disputedesk.db") as conn:
            charges = conn.execute("SELECT count(*) FROM charges").fetchone()[0]
            disputes = conn.execute("SELECT count(*) FROM disputes").fetchone()[0]
        assert charges == 300 and disputes > 0
        with httpx.Client(follow_redirects=False) as http:
            page = http.get(link)
            assert page.status_code == 200 and "Continue" in page.text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
            first = http.post(link, data={"csrf_token": csrf})
            assert first.status_code == 303 and "dd_session" in first.cookies
            http.cookies.clear()
            page = http.get(link)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
            assert http.post(link, data={"csrf_token": csrf}).status_code == 401  # one-time
    finally:
        proc.stop()


def _cli(tmp_path: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    """A command in another process with nothing but the data folder set, as a user's shell
    (and, to move money, the person's token, as `disputedesk login` would store it)."""
    env = _clean_env(tmp_path)
    if token:
        env["DISPUTEDESK_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "disputedesk.cli.main", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_cli_beside_the_demo_is_the_same_desk_and_the_demo_keeps_its_data(tmp_path):
    port = _free_port()
    args = ["demo", "--port", str(port), "--charges", "200", "--customers", "30"]
    proc = Process(args, tmp_path)
    try:
        proc.wait_for(r"Uvicorn running|Application startup complete", timeout=120)
        inbox = json.loads(_ok(_cli(tmp_path, "disputes", "list", "--json")))
        assert inbox["total"] > 0  # the demo's disputes, not an empty other desk
        assert "open dispute(s)" in _ok(_cli(tmp_path, "disputes", "list"))
        status = _ok(_cli(tmp_path, "status"))
        assert str(tmp_path) in status and "emulator" in status and f":{port}" in status
        # A refund from this shell goes to the demo's emulator and into the demo's database.
        with sqlite3.connect(tmp_path / "disputedesk.db") as conn:
            charge = conn.execute(
                "SELECT id FROM charges WHERE status = 'succeeded' AND currency = 'usd' AND NOT "
                "disputed AND amount_refunded = 0 AND amount > 500 LIMIT 1").fetchone()[0]
        from disputedesk.testing import cli_token

        token = cli_token(f"sqlite:///{tmp_path / 'disputedesk.db'}", "tester", "agent")
        refund = json.loads(_ok(_cli(tmp_path, "refund", charge, "--amount", "1.00 USD", "--json",
                                     token=token)))
        assert refund["request"]["refund_id"].startswith("re_")
        assert "1 request(s)" in _ok(_cli(tmp_path, "refunds", "list"))
    finally:
        proc.stop()
    assert not (tmp_path / "demo-running.json").exists()
    # Restarted: what was done is still there, on both sides (the desk and its Stripe).
    proc = Process(args, tmp_path)
    try:
        proc.wait_for(r"as you left it", timeout=120)
        proc.wait_for(r"Uvicorn running|Application startup complete")
        listed = json.loads(_ok(_cli(tmp_path, "refunds", "list", "--json")))
        assert [r["id"] for r in listed] == [refund["request"]["id"]]
        view = json.loads(_ok(_cli(tmp_path, "charges", "show", charge, "--live", "--json")))
        assert refund["request"]["refund_id"] in [r["id"] for r in view["refunds"]]
    finally:
        proc.stop()
    # --fresh starts over from the seed.
    proc = Process([*args, "--fresh"], tmp_path)
    try:
        proc.wait_for(r"Uvicorn running|Application startup complete", timeout=120)
        assert "0 request(s)" in _ok(_cli(tmp_path, "refunds", "list"))
    finally:
        proc.stop()
