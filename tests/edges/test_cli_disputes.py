"""``disputedesk disputes ...`` and ``disputedesk orders import`` through the CLI runner, against
the emulator."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from PIL import Image
from typer.testing import CliRunner

from disputedesk.cli.main import app, exit_code_for
from disputedesk.testing import cli_token
from disputedesk.emulator.testing import running_emulator
from disputedesk.errors import DisputeDeskError


@pytest.fixture
def emulator():
    with running_emulator(seed=21) as server:
        yield server


@pytest.fixture
def cli(emulator, sqlite_url, tmp_path):
    runner = CliRunner()
    env = {"DISPUTEDESK_DATABASE_URL": sqlite_url, "DISPUTEDESK_DATA_DIR": str(tmp_path),
           "DISPUTEDESK_STRIPE_API_KEY": "sk_test_cli", "DISPUTEDESK_STRIPE_API_BASE": emulator.base_url,
           "DISPUTEDESK_TOKEN": cli_token(sqlite_url, "ana", "agent")}

    def invoke(*args, **kw):
        result = runner.invoke(app, [str(a) for a in args], env=env, **kw)
        if isinstance(result.exception, DisputeDeskError):  # what main() prints and exits with
            return SimpleNamespace(exit_code=exit_code_for(result.exception),
                                   output=result.output + f"error: {result.exception}")
        return result

    return invoke


def open_dispute(emulator, cli, pm="pm_card_createDispute", order_id="ord_1") -> str:
    client = emulator.stripe_client()
    pi = client.v1.payment_intents.create(params={
        "amount": 2500, "currency": "usd", "payment_method": pm, "confirm": True,
        "metadata": {"order_id": order_id}})
    emulator.advance(2)
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    result = cli("disputes", "fetch", dispute.id)
    assert result.exit_code == 0, result.output
    return dispute.id


def test_list_and_show_describe_the_open_dispute(emulator, cli):
    dispute_id = open_dispute(emulator, cli)
    listed = cli("disputes", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)["data"]
    assert (row["id"], row["kind"], row["reason"], row["card_brand"]) == (
        dispute_id, "chargeback", "fraudulent", "visa")
    table = cli("disputes", "list")
    assert dispute_id in table.output and "fraudulent" in table.output
    shown = cli("disputes", "show", dispute_id)
    assert shown.exit_code == 0 and "needs_response" in shown.output


def test_evidence_edits_attachments_build_stage_and_submit_once(emulator, cli, tmp_path):
    dispute_id = open_dispute(emulator, cli)
    edited = cli("disputes", "evidence", dispute_id, "--set", "uncategorized_text=winning_evidence",
                 "--set", "shipping_carrier=UPS", "--json")
    assert edited.exit_code == 0, edited.output
    view = json.loads(edited.output)
    assert view["sources"]["shipping_carrier"] == "manual" and view["hand_edited"] is True
    png = tmp_path / "label.png"
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(buf, "PNG")
    png.write_bytes(buf.getvalue())
    attached = cli("disputes", "attach", dispute_id, "shipping_documentation", png)
    assert attached.exit_code == 0 and "png" in attached.output
    built = cli("disputes", "build", dispute_id, "--json")
    assert built.exit_code == 0, built.output
    # The receipt document comes from the charge's receipt record (the emulator sets receipt_email).
    assert set(json.loads(built.output)["packet"]) == {"shipping_documentation", "uncategorized_file",
                                                         "receipt"}
    assert cli("disputes", "stage", dispute_id).exit_code == 0
    declined = cli("disputes", "submit", dispute_id, input="n\n")
    assert declined.exit_code == 1 and '"submit": true' in declined.output
    submitted = cli("disputes", "submit", dispute_id, "--yes", "--note", "all there")
    assert submitted.exit_code == 0, submitted.output
    assert "under_review" in submitted.output and '"shipping_documentation": "file_' in submitted.output
    again = cli("disputes", "submit", dispute_id, "--yes")
    assert again.exit_code == 5 and "already submitted" in again.output


def test_accept_without_yes_is_refused_and_with_yes_closes(emulator, cli):
    dispute_id = open_dispute(emulator, cli)
    refused = cli("disputes", "accept", dispute_id)
    assert refused.exit_code == 2 and "concedes" in refused.output
    accepted = cli("disputes", "accept", dispute_id, "--yes", "--note", "customer was right")
    assert accepted.exit_code == 0 and "lost" in accepted.output


def test_an_unknown_dispute_is_a_clear_not_found(cli):
    result = cli("disputes", "show", "du_missing")
    assert result.exit_code == 4 and "du_missing" in result.output


def test_orders_import_reports_the_disputes_it_matches(emulator, cli, tmp_path):
    dispute_id = open_dispute(emulator, cli, order_id="ord_500")
    path = tmp_path / "orders.csv"
    path.write_text("order_id,email,total,currency,carrier,tracking_number\n"
                    "ord_500,jenny@example.com,25.00,usd,FedEx,449044304137821\n")
    result = cli("orders", "import", path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["created"] == 1
    assert report["disputes_matched"] == [{"dispute": dispute_id, "order": "ord_500"}]
    view = json.loads(cli("disputes", "evidence", dispute_id, "--json").output)
    assert view["fields"]["shipping_carrier"] == "FedEx" and view["order_id"] == "ord_500"


def test_the_merchants_text_template_is_set_shown_used_and_reset(emulator, cli, tmp_path):
    dispute_id = open_dispute(emulator, cli)
    listed = cli("disputes", "templates", "list")
    assert listed.exit_code == 0 and "refund_policy_disclosure" in listed.output
    assert "default" in listed.output
    source = tmp_path / "letter.j2"
    source.write_text('{% claim "dispute" %}Dear bank, {{ merchant.name or "the merchant" }} disputes '
                      'this claim.{% endclaim %}')
    assert cli("disputes", "templates", "set", "rebuttal_letter", source).exit_code == 0
    assert "merchant.name" in cli("disputes", "templates", "show", "rebuttal_letter").output
    view = json.loads(cli("disputes", "evidence", dispute_id, "--json").output)
    assert view["fields"]["uncategorized_text"].startswith(
        "Dear bank, the merchant disputes this claim.")
    broken = tmp_path / "broken.j2"
    broken.write_text("{% if %}")
    refused = cli("disputes", "templates", "set", "rebuttal_letter", broken)
    assert refused.exit_code == 2 and "line 1" in refused.output
    loose = tmp_path / "loose.j2"
    loose.write_text("The order was delivered.")
    refused = cli("disputes", "templates", "set", "rebuttal_letter", loose)
    assert refused.exit_code == 2 and "outside a claim" in refused.output
    assert cli("disputes", "templates", "reset", "rebuttal_letter").exit_code == 0
    assert "default" in cli("disputes", "templates", "list").output


def test_status_says_reminders_are_not_delivered_without_a_channel(emulator, cli):
    open_dispute(emulator, cli)
    out = cli("disputes", "status")
    assert out.exit_code == 0, out.output
    assert "reminders: NOT being delivered" in out.output and "DISPUTEDESK_NOTIFY_WEBHOOK_URL" in out.output
    assert "1 open dispute(s): 1 need a response" in out.output


def test_the_evidence_view_names_each_fields_record_and_what_to_add(emulator, cli):
    dispute_id = open_dispute(emulator, cli, pm="pm_card_createDisputeProductNotReceived")
    out = cli("disputes", "evidence", dispute_id)
    assert out.exit_code == 0, out.output
    assert "charge ch_" in out.output  # a field's record
    assert "to add" in out.output and "delivery confirmation" in out.output
