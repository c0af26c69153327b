"""Notification channels: a Slack-compatible incoming webhook, a generic signed JSON webhook,
e-mail over SMTP, and the log.

A :class:`Notifier` sends one :class:`Notification` to every configured channel and reports which
ones failed, so the caller (a durable job) can retry without resending to the channels that
already took it. Channel failures are the desk's :class:`NotificationError`, whose message never
contains the webhook address or the SMTP password. The log channel reaches no person: a
notifier with only the log channel is not :attr:`Notifier.delivering`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import httpx
import structlog

from disputedesk.config import Settings
from disputedesk.errors import ConfigError, DisputeDeskError

log = structlog.get_logger("disputedesk.notify")


class NotificationError(DisputeDeskError):
    code = "notification_failed"


@dataclass(frozen=True)
class Notification:
    """What to tell people: a one-line subject, a plain-text body, and an optional link."""

    subject: str
    body: str
    kind: str = "info"  # e.g. dispute.reminder, refund.failed
    link: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class Channel(Protocol):
    name: str
    delivers: bool  # reaches a person (the log does not)

    def send(self, note: Notification) -> None: ...


class LogChannel:
    name = "log"
    delivers = False

    def send(self, note: Notification) -> None:
        log.info("notification", kind=note.kind, subject=note.subject, link=note.link,
                 **note.fields)


SIGNATURE_HEADER = "Disputedesk-Signature"


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, the same scheme as Stripe's."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_webhook(secret: str, body: bytes, header: str, *, now: float | None = None,
                   tolerance: int = 300) -> bool:
    """For receivers (and tests): the signature matches and is at most ``tolerance`` s old."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign_webhook(secret, body, timestamp), header)


class WebhookChannel:
    """POSTs the notification as JSON to any URL, signed with an HMAC header.

    Body: ``{"kind", "subject", "body", "link", "fields", "sent_at"}``; header
    ``Disputedesk-Signature: t=<unix time>,v1=<hex HMAC-SHA256 over "<t>.<body>">``. Any 2xx
    answer means the receiver took it.
    """

    name = "webhook"
    delivers = True

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0,
                 client: httpx.Client | None = None, clock=time.time) -> None:
        if not secret:
            raise ConfigError("the generic webhook needs a signing secret",
                              hint="set DISPUTEDESK_NOTIFY_WEBHOOK_SECRET")
        self._url, self._secret, self._clock = url, secret, clock
        self._client = client or httpx.Client(timeout=timeout)

    def send(self, note: Notification) -> None:
        now = int(self._clock())
        body = json.dumps({"kind": note.kind, "subject": note.subject, "body": note.body,
                           "link": note.link, "fields": note.fields, "sent_at": now},
                          separators=(",", ":"), sort_keys=True).encode()
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: sign_webhook(self._secret, body, now)}
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NotificationError(f"the webhook could not be reached ({type(exc).__name__})",
                                    hint="check DISPUTEDESK_NOTIFY_WEBHOOK_URL") from exc
        if not 200 <= response.status_code < 300:
            raise NotificationError(f"the webhook answered {response.status_code}",
                                    hint="check DISPUTEDESK_NOTIFY_WEBHOOK_URL and the receiver")


class SlackWebhookChannel:
    """Posts to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat...)."""

    name = "slack"
    delivers = True

    def __init__(self, url: str, *, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        self._url = url
        self._client = client or httpx.Client(timeout=timeout)

    def send(self, note: Notification) -> None:
        text = f"*{note.subject}*\n{note.body}"
        if note.link:
            text += f"\n<{note.link}|Open in disputedesk>"
        try:
            response = self._client.post(self._url, json={"text": text})
        except httpx.HTTPError as exc:
            # The webhook URL is a secret: name the channel, never the address.
            raise NotificationError(f"the chat webhook could not be reached ({type(exc).__name__})",
                                    hint="check DISPUTEDESK_NOTIFY_SLACK_WEBHOOK_URL") from exc
        if response.status_code >= 300:
            raise NotificationError(f"the chat webhook answered {response.status_code}",
                                    hint="check DISPUTEDESK_NOTIFY_SLACK_WEBHOOK_URL")


class EmailChannel:
    name = "email"
    delivers = True

    def __init__(self, host: str, port: int, sender: str, recipients: list[str], *,
                 username: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout: float = 10.0) -> None:
        if not recipients:
            raise NotificationError("e-mail notifications need at least one recipient",
                                    hint="set DISPUTEDESK_NOTIFY_EMAIL_TO")
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self._username, self._password = username, password
        self.starttls, self.timeout = starttls, timeout

    def send(self, note: Notification) -> None:
        msg = EmailMessage()
        msg["Subject"] = note.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        body = note.body + (f"\n\n{note.link}\n" if note.link else "\n")
        msg.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotificationError(
                f"e-mail to {len(self.recipients)} recipient(s) via {self.host}:{self.port} "
                f"failed ({type(exc).__name__})", hint="check the DISPUTEDESK_SMTP_* settings"
            ) from exc


class Notifier:
    """Fans a notification out to channels; returns the names of those that failed."""

    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels

    @property
    def delivering(self) -> bool:
        """At least one channel reaches a person (the log alone does not)."""
        return any(getattr(c, "delivers", True) for c in self.channels)

    def delivering_names(self) -> list[str]:
        return [c.name for c in self.channels if getattr(c, "delivers", True)]

    def send(self, note: Notification, *, only: set[str] | None = None) -> dict[str, str]:
        failures: dict[str, str] = {}
        for channel in self.channels:
            if only is not None and channel.name not in only:
                continue
            try:
                channel.send(note)
            except NotificationError as exc:
                failures[channel.name] = str(exc)
                log.warning("notification_failed", channel=channel.name, error=str(exc))
        return failures


def build_notifier(settings: Settings) -> Notifier:
    """The channels the settings configure; the log channel is always on."""
    channels: list[Channel] = [LogChannel()]
    if settings.notify_slack_webhook_url is not None:
        channels.append(SlackWebhookChannel(settings.notify_slack_webhook_url.get_secret_value()))
    if settings.notify_webhook_url is not None:
        secret = settings.notify_webhook_secret
        channels.append(WebhookChannel(settings.notify_webhook_url.get_secret_value(),
                                       secret.get_secret_value() if secret else ""))
    if settings.smtp_host:
        recipients = [r.strip() for r in (settings.notify_email_to or "").split(",") if r.strip()]
        channels.append(EmailChannel(
            settings.smtp_host, settings.smtp_port,
            settings.notify_email_from or "disputedesk@localhost", recipients,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        ))
    return Notifier(channels)
