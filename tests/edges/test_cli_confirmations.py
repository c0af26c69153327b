"""Every CLI confirmation says what will happen, with amounts people read (JPY, USD, KWD), and an
amount left out is asked for, never taken as "full"."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from disputedesk.emulator.testing import running_emulator
from disputedesk.errors import ValidationError
from disputedesk.services.refunds.testing import pay
from disputedesk.testing import cli_token


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=61) as server:
        yield server


@pytest.fixture
def cli(sqlite_url, tmp_path, emulator):
    from disputedesk.cli.main import app

    env = {"DISPUTEDESK_DATABASE_URL": sqlite_url, "DISPUTEDESK_DATA_DIR": str(tmp_path),
           "DISPUTEDESK_STRIPE_API_KEY": "sk_test_cli",
           "DISPUTEDESK_STRIPE_API_BASE": emulator.base_url, "DISPUTEDESK_STRIPE_RATE_LIMIT": "500",
           "DISPUTEDESK_TOKEN": cli_token(sqlite_url, "alice", "agent"),
           "DISPUTEDESK_LOCALE": "en_US", "COLUMNS": "200"}
    runner = CliRunner()
    return lambda *args, input=None, **extra: runner.invoke(app, list(args), input=input,
                                                            env={**env, **extra})


@pytest.fixture
def at_a_terminal(monkeypatch):
    monkeypatch.setattr("disputedesk.cli.refunds._interactive", lambda: True)


@pytest.mark.parametrize(("paid", "currency", "amount", "sentence"), [
    (5000, "usd", "12.50 USD", "Refund 12.50 USD of 50.00 USD on {ch}; 37.50 USD will remain."),
    (5000, "jpy", "1500 JPY", "Refund 1,500 JPY of 5,000 JPY on {ch}; 3,500 JPY will remain."),
    (5000, "kwd", "1.250 KWD", "Refund 1.250 KWD of 5.000 KWD on {ch}; 3.750 KWD will remain."),
    (250000, "jpy", "full", "Refund all 250,000 JPY left on {ch}; nothing will remain."),
])
def test_the_refund_confirmation_names_amount_what_is_left_and_the_charge(
        cli, emulator, at_a_terminal, paid, currency, amount, sentence):
    charge = pay(emulator.stripe_client(), paid, currency)
    declined = cli("refund", charge, "--amount", amount, input="n\n")
    assert sentence.format(ch=charge) + " Go ahead?" in declined.output
    assert declined.exit_code == 1 and "Nothing was refunded." in declined.output
    assert json.loads(cli("refunds", "list", "--charge", charge, "--json").output) == []
    done = cli("refund", charge, "--amount", amount, input="y\n")
    assert done.exit_code == 0, done.output
    assert len(emulator.stripe_client().v1.refunds.list(params={"charge": charge}).data) == 1


def test_without_a_terminal_the_sentence_is_printed_and_the_refund_made(cli, emulator):
    charge = pay(emulator.stripe_client(), 5000, "usd")
    result = cli("refund", charge, "--amount", "12.50")
    assert result.exit_code == 0, result.output
    assert f"Refund 12.50 USD of 50.00 USD on {charge}; 37.50 USD will remain." in result.output


def test_an_amount_left_out_is_asked_for_never_assumed_full(cli, emulator, at_a_terminal):
    charge = pay(emulator.stripe_client(), 5000, "usd")
    asked = cli("refund", charge, input="10\ny\n")
    assert "Amount to refund (up to 50.00 USD" in asked.output, asked.output
    assert "Refund 10.00 USD of 50.00 USD" in asked.output and asked.exit_code == 0
    assert [r.amount for r in emulator.stripe_client().v1.refunds.list(
        params={"charge": charge}).data] == [1000]


def test_a_script_that_leaves_the_amount_out_is_refused(cli, emulator):
    charge = pay(emulator.stripe_client(), 5000, "usd")
    result = cli("refund", charge)
    assert isinstance(result.exception, ValidationError)  # exit code 2 through main()
    assert "say how much to refund" in str(result.exception)
    assert emulator.stripe_client().v1.refunds.list(params={"charge": charge}).data == []


def test_amounts_follow_the_readers_locale(cli, emulator):
    charge = pay(emulator.stripe_client(), 123456, "eur")
    result = cli("refund", charge, "--amount", "12.50 EUR", DISPUTEDESK_LOCALE="de_DE")
    assert f"Refund 12,50 EUR of 1.234,56 EUR on {charge}; 1.222,06 EUR will remain." \
        in result.output, result.output
    listed = cli("refunds", "list", "--charge", charge, DISPUTEDESK_LOCALE="de_DE")
    assert "12,50 EUR" in listed.output
    raw = json.loads(cli("refunds", "list", "--charge", charge, "--json").output)
    assert raw[0]["amount"] == 1250 and raw[0]["currency"] == "eur"  # minor units in --json
