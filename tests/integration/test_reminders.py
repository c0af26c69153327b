"""Dispute reminders with the clocks advanced (the desk's ManualClock and the emulator's), sent
through a real local SMTP server (aiosmtpd) and a local Slack-compatible HTTP receiver."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.services import disputes as svc
from disputedesk.services.disputes import reminders
from disputedesk.services.events import initial_status, process_batch
from disputedesk.store import inbox
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps

HOUR, DAY = 3600, 86400


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content.decode("utf8", "replace"))
        return "250 OK"


@pytest.fixture
def smtp_server():
    mailbox = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting, so port 0 won't do
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


def _receiver(path: str):
    """A real HTTP receiver on loopback; each POST kept as (body, signature header)."""
    received: list[tuple[bytes, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("Disputedesk-Signature", "")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", received
    finally:
        server.shutdown()


@pytest.fixture
def chat_receiver():
    yield from _receiver("/hooks/T000/B000/secret")


@pytest.fixture
def emulator():
    with running_emulator(seed=7) as server:
        yield server


@pytest.fixture
def settings(emulator, database_url, tmp_path, smtp_server, chat_receiver):
    return Settings(database_url=database_url, data_dir=tmp_path,
                    stripe_api_key=SecretStr("sk_test_reminders"), stripe_api_base=emulator.base_url,
                    stripe_rate_limit=1000, smtp_host="127.0.0.1", smtp_port=smtp_server[0],
                    notify_email_from="desk@example.com", notify_email_to="ops@example.com",
                    notify_slack_webhook_url=SecretStr(chat_receiver[0]))


@pytest.fixture
def desk(emulator, settings):
    deps = build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()), migrate=False)
    yield deps
    deps.close()


def restart(deps, settings):
    """A new process on the same database: fresh deps, same clock reading."""
    clock = ManualClock(deps.clock.now())
    deps.close()
    return build_deps(settings, clock=clock, migrate=False)


def pull(desk) -> None:
    now = desk.clock.now()
    rows = []
    for event in desk.gateway().list_objects("event", {"limit": 100}):
        obj = event["data"]["object"]
        rows.append({
            "id": event["id"], "type": event["type"], "created": event["created"],
            "account": None, "livemode": False, "api_version": event.get("api_version"),
            "object_type": obj.get("object"), "object_id": obj.get("id"),
            "payload": json.dumps(event),
            "status": initial_status(event["type"], obj.get("object"), desk.event_listeners),
            "attempts": 0, "last_error": None, "next_attempt_at": now, "received_at": now,
            "processed_at": None})
    with desk.store.write() as conn:
        inbox.insert_events(conn, rows[::-1])
    while process_batch(desk.store, desk.clock, limit=500, listeners=desk.event_listeners).claimed:
        pass


def open_dispute(emulator, desk) -> dict:
    client = emulator.stripe_client()
    pi = client.v1.payment_intents.create(params={
        "amount": 9900, "currency": "usd", "payment_method": "pm_card_createDispute",
        "confirm": True})
    emulator.advance(2)
    desk.clock.set(emulator.emulator.clock.now())
    pull(desk)
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    return dispute.to_dict()


def move_to(emulator, desk, when: float) -> None:
    """Both clocks to ``when`` (the emulator's only moves forward)."""
    ahead = when - emulator.emulator.clock.now()
    if ahead > 0:
        emulator.advance(ahead)
    desk.clock.set(when)


def test_each_reminder_is_sent_once_by_email_and_chat_and_never_twice_across_a_restart(
        emulator, desk, settings, smtp_server, chat_receiver):
    _, mailbox = smtp_server
    _, chat = chat_receiver
    dispute = open_dispute(emulator, desk)
    due = dispute["evidence_details"]["due_by"]
    planned = svc.list_reminders(desk, dispute["id"])
    assert [r["offset_seconds"] for r in planned] == [7 * DAY, 72 * HOUR, 24 * HOUR, 6 * HOUR]

    assert svc.send_due_reminders(desk).sent == []  # nothing due yet
    move_to(emulator, desk, due - 7 * DAY + 60)
    assert svc.send_due_reminders(desk).sent == [(dispute["id"], 7 * DAY)]
    assert svc.send_due_reminders(desk).sent == []
    assert len(mailbox.messages) == 1 and len(chat) == 1
    assert dispute["id"] in mailbox.messages[0] and "Evidence due in 6d 23h" in json.loads(chat[0][0])["text"]

    desk = restart(desk, settings)
    assert svc.send_due_reminders(desk).sent == []
    move_to(emulator, desk, due - 72 * HOUR + 1)
    pull(desk)  # replayed and new events must not plan a second row
    assert svc.send_due_reminders(desk).sent == [(dispute["id"], 72 * HOUR)]
    desk = restart(desk, settings)
    assert svc.send_due_reminders(desk).sent == []
    assert len(mailbox.messages) == 2 and len(chat) == 2
    statuses = {r["offset_seconds"]: r["status"] for r in svc.list_reminders(desk, dispute["id"])}
    assert statuses == {7 * DAY: "sent", 72 * HOUR: "sent", 24 * HOUR: "pending", 6 * HOUR: "pending"}
    desk.close()


def test_no_reminder_is_sent_after_the_evidence_is_submitted(emulator, desk, smtp_server):
    _, mailbox = smtp_server
    dispute = open_dispute(emulator, desk)
    due = dispute["evidence_details"]["due_by"]
    svc.edit_fields(desk, dispute["id"], {"uncategorized_text": "Delivered, signed for."},
                    actor="ana")
    svc.submit(desk, dispute["id"], actor="ana")
    pull(desk)
    for offset in (7 * DAY, 72 * HOUR, 24 * HOUR, 6 * HOUR):
        move_to(emulator, desk, due - offset + 1)
        assert svc.send_due_reminders(desk).sent == []
    assert mailbox.messages == []
    assert {r["status"] for r in svc.list_reminders(desk, dispute["id"])} == {"canceled"}


def test_an_accepted_dispute_gets_no_more_reminders(emulator, desk, smtp_server):
    _, mailbox = smtp_server
    dispute = open_dispute(emulator, desk)
    due = dispute["evidence_details"]["due_by"]
    move_to(emulator, desk, due - 7 * DAY + 1)
    assert len(svc.send_due_reminders(desk).sent) == 1
    svc.accept(desk, dispute["id"], actor="ana", confirm=True)
    move_to(emulator, desk, due - 24 * HOUR + 1)
    assert svc.send_due_reminders(desk).sent == []
    assert len(mailbox.messages) == 1


def test_when_several_are_due_at_once_only_the_most_urgent_is_sent(emulator, desk, chat_receiver):
    _, chat = chat_receiver
    dispute = open_dispute(emulator, desk)
    due = dispute["evidence_details"]["due_by"]
    move_to(emulator, desk, due - 20 * HOUR)  # the desk was away: 7d, 72h and 24h all due
    run = svc.send_due_reminders(desk)
    assert run.sent == [(dispute["id"], 24 * HOUR)] and run.skipped == 2
    assert len(chat) == 1


def test_a_reminder_claimed_by_a_process_that_died_is_not_sent_again(emulator, desk, settings,
                                                                     smtp_server):
    _, mailbox = smtp_server
    dispute = open_dispute(emulator, desk)
    due = dispute["evidence_details"]["due_by"]
    move_to(emulator, desk, due - 7 * DAY + 1)
    with desk.store.write() as conn:  # the claim commits, then the process dies before sending
        (claimed,) = reminders._claim(conn, desk.clock.now(), reminders.ReminderRun())
    desk = restart(desk, settings)
    desk.clock.advance(reminders.SENDING_LEASE_SECONDS + 1)
    run = svc.send_due_reminders(desk)
    assert run.sent == [] and run.unknown == 1
    assert mailbox.messages == []
    (row,) = [r for r in svc.list_reminders(desk, dispute["id"]) if r["id"] == claimed.row_id]
    assert row["status"] == "unknown"
    desk.close()


def test_a_failed_channel_is_retried_alone(emulator, desk, smtp_server, chat_receiver):
    port, mailbox = smtp_server
    _, chat = chat_receiver
    dispute = open_dispute(emulator, desk)
    due = dispute["evidence_details"]["due_by"]
    desk.settings.smtp_port = 9  # nothing listens there: e-mail fails, chat works
    desk.notifier = None
    move_to(emulator, desk, due - 7 * DAY + 1)
    run = svc.send_due_reminders(desk)
    assert run.sent == [] and run.retrying == 1 and len(chat) == 1
    desk.settings.smtp_port = port
    desk.notifier = None
    desk.clock.advance(3600)
    assert svc.send_due_reminders(desk).sent == [(dispute["id"], 7 * DAY)]
    assert len(mailbox.messages) == 1 and len(chat) == 1  # chat was not sent twice


def test_the_reminder_schedule_is_read_from_the_settings():
    from disputedesk.errors import ValidationError
    from disputedesk.services.disputes.common import parse_schedule

    assert parse_schedule("7d,72h,24h,6h") == [604800, 259200, 86400, 21600]
    assert parse_schedule("30m, 2h") == [7200, 1800]
    with pytest.raises(ValidationError, match="3 weeks"):
        parse_schedule("3 weeks")


@pytest.fixture
def signed_receiver():
    yield from _receiver("/desk-hooks")


def test_a_reminder_reaches_the_generic_webhook_as_signed_json(emulator, database_url, tmp_path,
                                                               signed_receiver):
    from disputedesk.notify import verify_webhook

    url, received = signed_receiver
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_reminders"), stripe_api_base=emulator.base_url,
                        stripe_rate_limit=1000, notify_webhook_url=SecretStr(url),
                        notify_webhook_secret=SecretStr("whsec_desk_hooks"))
    desk = build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()), migrate=False)
    try:
        assert svc.reminder_delivery(desk) == {"delivering": True, "channels": ["webhook"], "why": ""}
        dispute = open_dispute(emulator, desk)
        move_to(emulator, desk, dispute["evidence_details"]["due_by"] - 7 * DAY + 60)
        assert svc.send_due_reminders(desk).sent == [(dispute["id"], 7 * DAY)]
        ((body, signature),) = received
        assert verify_webhook("whsec_desk_hooks", body, signature)  # signed at wall-clock time
        assert not verify_webhook("another secret", body, signature)
        payload = json.loads(body)
        assert payload["kind"] == "dispute.reminder" and payload["fields"]["dispute"] == dispute["id"]
    finally:
        desk.close()


def test_with_no_channel_a_reminder_is_undelivered_never_sent_and_the_page_says_so(
        emulator, database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_reminders"), stripe_api_base=emulator.base_url,
                        stripe_rate_limit=1000)
    desk = build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()), migrate=False)
    try:
        status = svc.reminder_delivery(desk)
        assert status["delivering"] is False and "DISPUTEDESK_NOTIFY_WEBHOOK_URL" in status["why"]
        dispute = open_dispute(emulator, desk)
        move_to(emulator, desk, dispute["evidence_details"]["due_by"] - 7 * DAY + 60)
        run = svc.send_due_reminders(desk)
        assert run.sent == [] and run.undelivered == 1
        statuses = {r["offset_seconds"]: r["status"] for r in svc.list_reminders(desk, dispute["id"])}
        assert statuses[7 * DAY] == "undelivered"
    finally:
        desk.close()
