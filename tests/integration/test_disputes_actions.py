"""Answering disputes against the emulator: Connect accounts, who is audited, and what an unknown
result (a 409, a crash after Stripe accepted) leaves behind."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
import stripe

from disputedesk import errors
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import disputes as svc
from disputedesk.services.disputes.evidence_work import dispute_account
from disputedesk.services.events import initial_status, process_batch
from disputedesk.store import audit, inbox
from disputedesk.store.disputes_tables import submissions
from disputedesk.stripe_api.gateway import StripeGateway
from disputedesk.testing import desk_on_emulator

CONNECTED = "acct_1ConnectedShop00001"


@pytest.fixture
def emulator():
    with running_emulator(seed=11) as server:
        yield server


@pytest.fixture
def desk(emulator, database_url, tmp_path):
    with desk_on_emulator(emulator, database_url, tmp_path) as deps:
        yield deps


def pull(desk, account: str | None = None) -> None:
    """Stripe's events (GET /v1/events, as the account) into the inbox; the worker applies them."""
    now = desk.clock.now()
    rows = []
    for event in desk.gateway().list_objects("event", {"limit": 100}, account=account):
        obj = event["data"]["object"]
        rows.append({
            "id": event["id"], "type": event["type"], "created": event["created"],
            "account": event.get("account"), "livemode": bool(event.get("livemode")),
            "api_version": event.get("api_version"), "object_type": obj.get("object"),
            "object_id": obj.get("id"), "payload": json.dumps(event),
            "status": initial_status(event["type"], obj.get("object"), desk.event_listeners),
            "attempts": 0, "last_error": None, "next_attempt_at": now, "received_at": now,
            "processed_at": None})
    with desk.store.write() as conn:
        inbox.insert_events(conn, rows[::-1])
    while process_batch(desk.store, desk.clock, limit=500, listeners=desk.event_listeners).claimed:
        pass


def open_dispute(emulator, desk, account: str | None = None) -> str:
    client = emulator.stripe_client(stripe_account=account)
    pi = client.v1.payment_intents.create(params={
        "amount": 4200, "currency": "usd", "payment_method": "pm_card_createDispute",
        "confirm": True})
    emulator.advance(2)
    desk.clock.set(emulator.emulator.clock.now())
    pull(desk, account)
    (dispute,) = client.v1.disputes.list(params={"charge": pi.latest_charge}).data
    return dispute.id


def audit_entries(desk, dispute_id: str) -> list[dict]:
    with desk.store.read() as conn:
        return audit.for_object(conn, "dispute", dispute_id)


def submission_rows(desk, dispute_id: str) -> list[dict]:
    with desk.store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(submissions).where(
            submissions.c.dispute_id == dispute_id).order_by(submissions.c.id)).mappings()]


# --- Connect ----------------------------------------------------------------------------------

def test_a_connected_accounts_dispute_is_staged_and_submitted_on_that_account(emulator, desk):
    dispute_id = open_dispute(emulator, desk, CONNECTED)
    with desk.store.read() as conn:
        assert dispute_account(conn, dispute_id) == CONNECTED
    platform = emulator.stripe_client()
    with pytest.raises(stripe.InvalidRequestError):
        platform.v1.disputes.retrieve(dispute_id)  # the platform does not hold it
    svc.edit_fields(desk, dispute_id, {"uncategorized_text": "winning_evidence"}, actor="ana")
    staged = svc.stage(desk, dispute_id, actor="ana")
    assert staged.status == "done"
    sub = svc.submit(desk, dispute_id, actor="ana")
    assert sub.status == "done" and sub.dispute_status == "under_review"
    on_account = emulator.stripe_client(stripe_account=CONNECTED).v1.disputes.retrieve(dispute_id)
    assert on_account.evidence_details.submission_count == 1
    assert on_account.evidence.uncategorized_text == "winning_evidence"
    # The summary PDF was uploaded to the connected account, where the dispute can use it.
    file_id = sub.params["evidence"]["uncategorized_file"]
    assert on_account.evidence.uncategorized_file == file_id
    emulator.stripe_client(stripe_account=CONNECTED).v1.files.retrieve(file_id)
    with pytest.raises(stripe.InvalidRequestError):
        platform.v1.files.retrieve(file_id)
    with desk.store.read() as conn:  # Stripe's answer was mirrored without losing the account
        assert dispute_account(conn, dispute_id) == CONNECTED


def test_a_connected_accounts_dispute_is_accepted_on_that_account(emulator, desk):
    dispute_id = open_dispute(emulator, desk, CONNECTED)
    sub = svc.accept(desk, dispute_id, actor="ana", confirm=True)
    assert sub.dispute_status == "lost"
    on_account = emulator.stripe_client(stripe_account=CONNECTED).v1.disputes.retrieve(dispute_id)
    assert on_account.status == "lost"


# --- who is audited ---------------------------------------------------------------------------

def test_a_build_triggered_by_submit_is_audited_as_the_submitter(emulator, desk):
    dispute_id = open_dispute(emulator, desk)
    svc.edit_fields(desk, dispute_id, {"uncategorized_text": "winning_evidence"}, actor="ana")
    svc.submit(desk, dispute_id, actor="bob", note="ready")
    builds = [a["actor"] for a in audit_entries(desk, dispute_id)
              if a["action"] == "disputes.evidence.build"]
    assert builds == ["bob"]


def test_starting_a_submission_is_audited_in_the_transaction_that_writes_its_row(
        emulator, desk, monkeypatch):
    class Crash(BaseException):
        """The process dies: nothing after the Stripe call runs."""

    dispute_id = open_dispute(emulator, desk)
    svc.edit_fields(desk, dispute_id, {"uncategorized_text": "winning_evidence"}, actor="ana")
    real = StripeGateway.update_dispute

    def accepted_then_crash(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise Crash()

    monkeypatch.setattr(StripeGateway, "update_dispute", accepted_then_crash)
    with pytest.raises(Crash):
        svc.submit(desk, dispute_id, actor="ana", note="looks complete")
    (started,) = [a for a in audit_entries(desk, dispute_id)
                  if a["action"] == "disputes.submit.started"]
    (row,) = [r for r in submission_rows(desk, dispute_id) if r["kind"] == "submit"]
    assert (started["actor"], started["note"]) == ("ana", "looks complete")
    assert started["details"]["idempotency_key"] == row["idempotency_key"]
    assert row["status"] == "pending"
    # The next submit resends that same request with the same key, and records the result.
    monkeypatch.setattr(StripeGateway, "update_dispute", real)
    again = svc.submit(desk, dispute_id, actor="bob")
    assert again.idempotency_key == row["idempotency_key"] and again.status == "done"


def test_starting_an_acceptance_is_audited_with_who_and_why(emulator, desk):
    dispute_id = open_dispute(emulator, desk)
    svc.accept(desk, dispute_id, actor="ana", confirm=True, note="customer was right")
    (started,) = [a for a in audit_entries(desk, dispute_id)
                  if a["action"] == "disputes.accept.started"]
    assert (started["actor"], started["note"]) == ("ana", "customer was right")


# --- a 409 is an unknown result, not a refusal ------------------------------------------------

@pytest.mark.parametrize("error", [
    errors.StripeConflict("Stripe is busy with a conflicting request", http_status=409,
                          stripe_code="idempotency_key_in_use"),
    errors.StripeInvalidRequest("There is currently another in-progress request using this "
                                "Idempotent Key", http_status=409,
                                stripe_code="idempotency_key_in_use"),
    errors.StripeIdempotencyError("Keys for idempotent requests can only be used with the same "
                                  "parameters", http_status=400, stripe_code="idempotency_error"),
], ids=["StripeConflict", "a 409 as another class", "StripeIdempotencyError"])
def test_a_conflict_keeps_the_submission_pending_and_the_retry_uses_the_same_key(
        emulator, desk, monkeypatch, error):
    dispute_id = open_dispute(emulator, desk)
    svc.edit_fields(desk, dispute_id, {"uncategorized_text": "winning_evidence"}, actor="ana")
    real = StripeGateway.update_dispute
    calls: list[str] = []

    def busy(self, dispute, params, *, idempotency_key, account=None):
        calls.append(idempotency_key)
        raise error

    monkeypatch.setattr(StripeGateway, "update_dispute", busy)
    with pytest.raises(type(error)):
        svc.submit(desk, dispute_id, actor="ana")
    (row,) = submission_rows(desk, dispute_id)
    assert row["status"] == "pending" and row["once_key"] is not None  # not freed
    (failed,) = [a for a in audit_entries(desk, dispute_id)
                 if a["action"] == "disputes.submit.failed"]
    assert failed["details"]["retryable"] is True
    monkeypatch.setattr(StripeGateway, "update_dispute", real)
    done = svc.submit(desk, dispute_id, actor="ana")
    assert done.status == "done" and done.idempotency_key == calls[0] == row["idempotency_key"]
    assert len(submission_rows(desk, dispute_id)) == 1


def test_a_definite_refusal_frees_the_final_action_for_another_try(emulator, desk, monkeypatch):
    dispute_id = open_dispute(emulator, desk)
    svc.edit_fields(desk, dispute_id, {"uncategorized_text": "winning_evidence"}, actor="ana")
    real = StripeGateway.update_dispute

    def refused(self, *args, **kwargs):
        raise errors.StripeInvalidRequest("Invalid evidence", http_status=400)

    monkeypatch.setattr(StripeGateway, "update_dispute", refused)
    with pytest.raises(errors.StripeInvalidRequest):
        svc.submit(desk, dispute_id, actor="ana")
    (row,) = submission_rows(desk, dispute_id)
    assert row["status"] == "failed" and row["once_key"] is None
    monkeypatch.setattr(StripeGateway, "update_dispute", real)
    assert svc.submit(desk, dispute_id, actor="ana").status == "done"
