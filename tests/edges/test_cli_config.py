"""`disputedesk config show` prints settings without their secrets."""

from __future__ import annotations

from typer.testing import CliRunner

from disputedesk.cli.main import app


def test_config_show_masks_secrets(monkeypatch):
    monkeypatch.setenv("DISPUTEDESK_STRIPE_API_KEY", "sk_test_supersecretvalue")
    monkeypatch.setenv("DISPUTEDESK_WEBHOOK_SECRETS", "whsec_one,whsec_two")
    result = CliRunner().invoke(app, ["config", "show"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "DISPUTEDESK_STRIPE_API_KEY" in result.output
    assert "supersecret" not in result.output and "whsec_one" not in result.output
    assert "********" in result.output
