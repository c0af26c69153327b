"""Notification channels against a real local SMTP server and a real local HTTP receiver."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.notify import EmailChannel, Notification, SlackWebhookChannel, build_notifier
from disputedesk.notify.channels import NotificationError


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.content.decode("utf8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting, so port 0 won't do
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, inbox
    finally:
        controller.stop()


@pytest.fixture
def http_receiver():
    received: list[dict] = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/secret-token", received, status
    finally:
        server.shutdown()


NOTE = Notification(subject="Evidence due in 24 h: du_123", body="Dispute du_123 needs evidence.",
                    kind="dispute.reminder", link="http://127.0.0.1:8000/disputes/du_123")


def test_email_channel_delivers_through_a_real_smtp_server(smtp_server):
    host, port, inbox = smtp_server
    EmailChannel(host, port, "desk@example.com", ["ops@example.com"]).send(NOTE)
    assert len(inbox.messages) == 1
    sender, rcpts, content = inbox.messages[0]
    assert sender == "desk@example.com" and rcpts == ["ops@example.com"]
    assert "Evidence due in 24 h: du_123" in content and "/disputes/du_123" in content


def test_slack_channel_posts_text_to_the_incoming_webhook(http_receiver):
    url, received, _ = http_receiver
    SlackWebhookChannel(url).send(NOTE)
    assert len(received) == 1 and "du_123" in received[0]["text"]


def test_slack_channel_failure_names_the_status_but_not_the_secret_url(http_receiver):
    url, _, status = http_receiver
    status["code"] = 500
    with pytest.raises(NotificationError) as info:
        SlackWebhookChannel(url).send(NOTE)
    assert "500" in str(info.value) and "secret-token" not in str(info.value)


def test_notifier_reports_failed_channels_and_still_sends_to_the_others(smtp_server):
    host, port, inbox = smtp_server
    settings = Settings(smtp_host=host, smtp_port=port, notify_email_to="a@example.com",
                        notify_slack_webhook_url=SecretStr("http://127.0.0.1:9/closed"))
    failures = build_notifier(settings).send(NOTE)
    assert set(failures) == {"slack"}
    assert len(inbox.messages) == 1


def test_email_channel_refuses_to_be_built_without_recipients():
    with pytest.raises(NotificationError):
        EmailChannel("127.0.0.1", 25, "desk@example.com", [])
