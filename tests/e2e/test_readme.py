"""The README is true: every command in its code blocks runs against the emulator, as written.

Like the doc tests of datasette and click: the blocks are extracted from README.md, and each
`disputedesk ...` line runs through the CLI's app with the user's environment (no settings but
the data folder and the Stripe address). A nonzero exit, an unknown option or a traceback fails the test.
`ch_123`, `du_123` and `du_456` (the README says they stand for the reader's ids) are replaced
by real objects on the emulator; the files the commands name are created in the working folder.
Servers (`demo`, `serve`, `worker`, `emulator`) are started, checked and stopped, on a free
port given through their settings (DISPUTEDESK_PORT, DISPUTEDESK_EMULATOR_PORT); the demo seeds
a smaller year (DISPUTEDESK_DEMO_CHARGES) to keep the suite fast."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from disputedesk.emulator.testing import running_emulator
from disputedesk.services.refunds.testing import pay

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SERVERS = {"demo", "serve", "worker", "emulator"}
# Lines that are not `disputedesk` commands, and why this test does not run them here.
NOT_RUN = {
    "scripts/test": "it runs this very suite",
    "scripts/demo": "it (re)installs the virtualenv, then runs `disputedesk demo`, run below",
}


def code_blocks(text: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)]


def readme_commands() -> list[list[str]]:
    commands = []
    for language, body in code_blocks(README.read_text(encoding="utf-8")):
        if language != "sh":
            continue
        for line in body.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def test_the_readme_has_commands_and_each_is_run_or_said_why_not():
    commands = readme_commands()
    assert len(commands) > 20
    assert all(c[0] == "disputedesk" or c[0] in NOT_RUN for c in commands), commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fail_on(text: str, words: list[str]) -> None:
    for bad in ("Traceback", "No such option", "No such command", "Got unexpected extra"):
        assert bad not in text, f"`{shlex.join(words)}`:\n{text}"


def _wait_healthy(proc: subprocess.Popen, log: Path, url: str | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"it ended early:\n{log.read_text(errors='replace')}")
        if url is None:
            return
        try:
            if httpx.get(url, timeout=2, headers={"Authorization": "Bearer sk_test_readme"}
                         ).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} never answered:\n{log.read_text(errors='replace')}")


def _run_server(words: list[str], env: dict[str, str], cwd: Path) -> None:
    port = _free_port()
    env = dict(env, DISPUTEDESK_PORT=str(port), DISPUTEDESK_EMULATOR_PORT=str(port))
    if words[1] == "demo":  # on a folder of its own, with a smaller year than the default
        env.update(DISPUTEDESK_DATA_DIR=str(cwd / "demo-data"), DISPUTEDESK_DEMO_CHARGES="300",
                   DISPUTEDESK_DEMO_CUSTOMERS="40")
    url = {"demo": f"http://127.0.0.1:{port}/healthz", "serve": f"http://127.0.0.1:{port}/healthz",
           "emulator": f"http://127.0.0.1:{port}/v1/charges", "worker": None}[words[1]]
    log = cwd / f"{words[1]}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "disputedesk.cli.main", *words[1:]],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(proc, log, url, timeout=240)
        if url is None:  # a worker has no port: it must still be working a moment later
            time.sleep(2)
            _wait_healthy(proc, log, None, timeout=1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"`{shlex.join(words)}` did not stop on Ctrl-C")
    _fail_on(log.read_text(errors="replace"), words)


@contextlib.contextmanager
def _cwd(path: Path):
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=71) as server:
        yield server


def _dispute(emulator) -> str:
    client = emulator.stripe_client()
    charge = pay(client, 4200, "usd", "pm_card_createDispute")
    emulator.advance(2)  # the test card's dispute opens a moment after the payment
    return client.v1.disputes.list(params={"charge": charge}).data[0].id


def test_every_command_in_the_readme_runs_against_the_emulator(emulator, tmp_path):
    from fpdf import FPDF

    client = emulator.stripe_client()
    charge = pay(client, 5000, "eur")
    ids = {"ch_123": charge, "du_123": _dispute(emulator), "du_456": _dispute(emulator)}
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Receipt for order A-1001")
    (tmp_path / "invoice.pdf").write_bytes(bytes(pdf.output()))
    (tmp_path / "refunds.csv").write_text(f"charge,amount,reason\n{charge},1.00,duplicate\n")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEDESK_")}
    env.update(DISPUTEDESK_DATA_DIR=str(tmp_path / "data"), DISPUTEDESK_STRIPE_API_KEY=
               "sk_test_readme", DISPUTEDESK_STRIPE_API_BASE=emulator.base_url,
               DISPUTEDESK_STRIPE_RATE_LIMIT="500", COLUMNS="200", PYTHONUNBUFFERED="1",
               # "serve: against Stripe (set the key and secrets)", as the README says
               DISPUTEDESK_WEBHOOK_SECRETS="whsec_readme_test")
    from typer.testing import CliRunner

    from disputedesk.cli.main import app

    from disputedesk.testing import cli_token

    # The reader signed in (`disputedesk login`): commands that change things act as a person.
    from disputedesk.store import make_engine, migrate

    (tmp_path / "data").mkdir()
    url = f"sqlite:///{tmp_path / 'data' / 'disputedesk.db'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    from disputedesk.config import Settings
    from disputedesk.services import accounts
    from disputedesk.wiring import build_deps

    password = "a long readme passphrase 42"
    desk = build_deps(Settings(database_url=url), gateway_factory=None, migrate=False)
    try:
        accounts.create_user(desk, username="reader", role="admin", password=password,
                             actor="test")
    finally:
        desk.close()
    env["DISPUTEDESK_TOKEN"] = cli_token(url, "reader", "admin")
    env["DISPUTEDESK_TOKEN_FILE"] = str(tmp_path / "token")  # `login` stores it here
    answers = {"login": f"reader\n{password}\n"}  # what the reader types at the prompts
    runner = CliRunner()
    ran = 0
    for words in readme_commands():
        if words[0] in NOT_RUN:
            continue
        words = [ids.get(w, w) for w in words]
        if words[1] in SERVERS:
            _run_server(words, env, tmp_path)
        else:
            # In this process (as click's and datasette's doc tests do): the same app, the
            # same parsing; a process per command would only add seconds of start-up.
            with _cwd(tmp_path):
                done = runner.invoke(app, words[1:], env=env,
                                     input=answers.get(words[1], "y\n"))
            assert done.exit_code == 0 and done.exception is None, (
                f"`{shlex.join(words)}` exited {done.exit_code}: {done.exception!r}\n"
                f"{done.output}")
            _fail_on(done.output, words)
        ran += 1
    assert ran == len([c for c in readme_commands() if c[0] not in NOT_RUN])
    # What they did is there: the refund of the README's line, the submitted dispute.
    refunds = client.v1.refunds.list(params={"charge": charge}).data
    assert [r.amount for r in refunds] == [1250]
    assert client.v1.disputes.retrieve(ids["du_123"]).status == "under_review"
    assert client.v1.disputes.retrieve(ids["du_456"]).status == "lost"


def test_the_python_example_in_the_readme_runs_against_the_emulator(emulator):
    blocks = [body for language, body in code_blocks(README.read_text(encoding="utf-8"))
              if language == "python"]
    assert blocks
    for body in blocks:
        code = body.replace("http://127.0.0.1:12111", emulator.base_url)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr


def test_the_example_rules_file_passes_rules_check():
    done = subprocess.run([sys.executable, "-m", "disputedesk.cli.main", "rules", "check",
                           str(ROOT / "examples" / "rules.toml")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK, 3 rules" in done.stdout
