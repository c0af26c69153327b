"""`disputedesk status` and `--help` say which desk a command opens."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from disputedesk.cli.main import app
from disputedesk.services.status import masked_database_url


def test_the_default_data_folder_is_the_one_the_tests_set_not_the_real_home(tmp_path, monkeypatch):
    from disputedesk.config import Settings, default_data_dir

    monkeypatch.delenv("DISPUTEDESK_DATA_DIR")
    assert Settings().data_dir == default_data_dir()
    assert default_data_dir().name == "disputedesk"
    monkeypatch.setenv("DISPUTEDESK_DATA_DIR", str(tmp_path))
    assert Settings().data_dir == tmp_path
    assert Settings().effective_database_url == f"sqlite:///{tmp_path / 'disputedesk.db'}"


def test_status_names_the_data_folder_database_and_stripe_target(tmp_path, monkeypatch):
    monkeypatch.setenv("DISPUTEDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DISPUTEDESK_STRIPE_API_KEY", "sk_live_notreallyasecret")
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["data_dir"] == str(tmp_path)
    assert info["database"] == f"sqlite:///{tmp_path / 'disputedesk.db'}"
    assert info["stripe"]["target"] == "live"
    assert info["worker"]["ok"] and info["pending"]["disputes_needing_response"] == 0
    assert "notreallyasecret" not in result.output
    text = CliRunner().invoke(app, ["status"], env={"COLUMNS": "200"}).output
    assert "data folder" in text and str(tmp_path) in text and "Stripe (live)" in text


def test_the_database_password_is_masked():
    shown = masked_database_url("postgresql+psycopg://desk:hunter2@db.internal:5432/desk")
    assert "hunter2" not in shown and shown == "postgresql+psycopg://desk:***@db.internal:5432/desk"


def test_every_command_that_opens_the_database_says_which_on_help(tmp_path):
    env = {"DISPUTEDESK_DATA_DIR": str(tmp_path), "COLUMNS": "200", "PATH": "/usr/bin:/bin"}

    def helptext(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "disputedesk.cli.main", *args, "--help"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    for command in (["disputes", "list"], ["refunds", "list"], ["refund"], ["serve"], ["status"],
                    ["events", "replay"]):
        assert f"Data: {tmp_path}" in helptext(*command), command
    assert "Data:" not in helptext("version")


def test_a_test_message_per_channel_and_the_last_delivery_in_status(tmp_path, monkeypatch):
    import http.server
    import threading

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("DISPUTEDESK_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("DISPUTEDESK_NOTIFY_SLACK_WEBHOOK_URL",
                           f"http://127.0.0.1:{server.server_port}/hook")
        from disputedesk.config import Settings
        from disputedesk.testing import cli_token

        from disputedesk.store import make_engine, migrate

        url = Settings().effective_database_url
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        monkeypatch.setenv("DISPUTEDESK_TOKEN", cli_token(url, "dana", "admin"))
        sent = CliRunner().invoke(app, ["notify", "test"])
        assert sent.exit_code == 0, sent.output
        assert "log: delivered" in sent.output and "slack: delivered" in sent.output
        assert b"disputedesk test message" in received[0]
        info = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)
        last = info["notifications"]["last_test_send"]
        assert last["slack"]["ok"] and last["slack"]["by"] == "dana"
    finally:
        server.shutdown()
        server.server_close()
    # The chat endpoint gone: the test says so, exits 1, and status shows the failure.
    failed = CliRunner().invoke(app, ["notify", "test", "--channel", "slack"])
    assert failed.exit_code == 1 and "slack: failed" in failed.output
    assert f":{server.server_port}/hook" not in failed.output  # the address is a secret
    info = json.loads(CliRunner().invoke(app, ["status", "--json"]).output)
    assert not info["notifications"]["last_test_send"]["slack"]["ok"]
    assert info["notifications"]["last_test_send"]["log"]["ok"]  # from the first test
    unknown = CliRunner().invoke(app, ["notify", "test", "--channel", "pager"])
    assert "no channel 'pager' is configured" in str(unknown.exception)
