"""Safe by default, tried on the real commands: `config show` with passwords in URLs and every
secret set, `serve` against Stripe with no webhook secret, `serve` behind a plain-http address,
HSTS for an https desk, and the SQLite file and data folder created private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import httpx
import pytest

from conftest import clean_env, start_server

SECRETS = {
    "DISPUTEDESK_DATABASE_URL": ("postgresql+psycopg://desk:Pw-in-the-URL-9f3k@db.example:5432/desk",
                                 "Pw-in-the-URL-9f3k"),
    "DISPUTEDESK_STRIPE_API_KEY": ("sk_live_stripe_key_abc123xyz", "stripe_key_abc123xyz"),
    "DISPUTEDESK_STRIPE_API_BASE": ("https://proxyuser:Proxy-Pw-77q@stripe-proxy.example",
                                    "Proxy-Pw-77q"),
    "DISPUTEDESK_WEBHOOK_SECRETS": ("whsec_first_one_111,whsec_second_one_222", "_one_"),
    "DISPUTEDESK_SMTP_PASSWORD": ("smtp-Password-555", "smtp-Password-555"),
    "DISPUTEDESK_METRICS_TOKEN": ("metrics-Token-666", "metrics-Token-666"),
    "DISPUTEDESK_NOTIFY_SLACK_WEBHOOK_URL": ("https://hooks.slack.example/services/T0/B0/SlackSecret88",
                                             "SlackSecret88"),
    "DISPUTEDESK_SECRET_KEY": ("session-Signing-Key-777", "Signing-Key-777"),
}


def _cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "disputedesk.cli.main", *args], cwd=tmp_path,
                          env=clean_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("columns", ["400", "40"])
def test_config_show_with_a_password_in_the_database_url_prints_no_secret(tmp_path, columns):
    result = _cli(tmp_path, "config", "show", COLUMNS=columns,
                  **{name: value for name, (value, _) in SECRETS.items()})
    assert result.returncode == 0, result.stderr
    squeezed = "".join((result.stdout + result.stderr).split())  # a folded line is still caught
    for name, (_value, secret) in SECRETS.items():
        assert secret not in squeezed, f"{name} leaked"
    if columns == "400":  # who and where stay readable
        assert "desk:********@db.example" in result.stdout
        assert "DISPUTEDESK_SMTP_PASSWORD" in result.stdout


def test_config_show_masks_a_password_given_as_a_url_parameter(tmp_path):
    result = _cli(tmp_path, "config", "show", COLUMNS="400",
                  DISPUTEDESK_DATABASE_URL="postgresql://desk@db.example/desk?password=Qp-Secret-31")
    assert result.returncode == 0 and "Qp-Secret-31" not in result.stdout
    assert "password=********" in result.stdout


def test_serve_against_stripe_without_a_webhook_secret_refuses_to_start(tmp_path):
    result = _cli(tmp_path, "serve", "--port", "9", COLUMNS="300",
                  DISPUTEDESK_STRIPE_API_KEY="sk_test_no_secret")
    assert result.returncode == 3
    assert "no webhook signing secret" in result.stderr
    assert "DISPUTEDESK_WEBHOOK_SECRETS=whsec_" in result.stderr and "--emulator" in result.stderr
    assert not (tmp_path / "disputedesk.db").exists()  # refused before anything was created


@pytest.fixture(scope="module")
def https_desk(tmp_path_factory):
    """A desk whose data folder does not exist yet and whose public address is https."""
    work = tmp_path_factory.mktemp("https")
    server = start_server(work, None, DISPUTEDESK_DATA_DIR=str(work / "new" / "data"),
                          DISPUTEDESK_PUBLIC_URL="https://desk.example.com")
    yield server
    server.stop()


def test_the_sqlite_file_and_data_folder_are_created_private(https_desk):
    folder = https_desk.data_dir
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder.parent).st_mode) == 0o700  # created by the desk too
    files = [p for p in folder.iterdir() if p.name.startswith("disputedesk.db")]
    assert any(p.name == "disputedesk.db" for p in files)
    for path in files:  # the database and its -wal / -shm files
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path.name


def test_an_https_desk_sends_hsts_on_pages_and_api_answers(https_desk):
    for path in ("/login", "/api/v1/me", "/healthz"):
        response = httpx.get(https_desk.url + path)
        assert response.headers.get("strict-transport-security") == "max-age=31536000", path
    assert "https://desk.example.com/login/link/" in https_desk.output()  # the first-admin link


def test_a_plain_http_public_address_gets_a_warning_and_no_hsts(tmp_path):
    server = start_server(tmp_path, None, DISPUTEDESK_PUBLIC_URL="http://desk.example.com")
    try:
        assert "warning: DISPUTEDESK_PUBLIC_URL is plain http" in server.output()
        assert "strict-transport-security" not in httpx.get(server.url + "/login").headers
    finally:
        server.stop()
