"""Notification channels as operators check them: a test message to each configured channel,
and the last delivery per channel (test sends, from the audit log) for `disputedesk status`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from disputedesk.errors import ValidationError
from disputedesk.notify.channels import Notification, build_notifier
from disputedesk.store import audit
from disputedesk.store.tables import audit_log

TEST_SENT = "notify.test_sent"


def test_send(deps, *, actor: str, channel: str | None = None) -> dict[str, str | None]:
    """Send a test message to every configured channel (or ``channel``); returns channel ->
    error (None: delivered). Audited, so `status` can show the last delivery per channel."""
    notifier = build_notifier(deps.settings)
    names = [c.name for c in notifier.channels]
    if channel is not None and channel not in names:
        raise ValidationError(f"no channel '{channel}' is configured", param="channel",
                              hint="configured: " + ", ".join(names) + " (see "
                                   "docs/configuration.md: DISPUTEDESK_NOTIFY_*, _SMTP_*)")
    only = {channel} if channel else None
    note = Notification(subject="disputedesk test message",
                        body=f"A test message sent by {actor} to check this channel.",
                        kind="notify.test")
    failures = notifier.send(note, only=only)
    outcome = {name: failures.get(name) for name in names if only is None or name in only}
    now = deps.clock.now()
    with deps.store.write() as conn:
        audit.append(conn, at=now, actor=actor, action=TEST_SENT, object_type="notification",
                     details={"channels": outcome})
    return outcome


def last_deliveries(conn, channels: list[str]) -> dict[str, dict[str, Any]]:
    """channel -> the last test send to it: {at, ok, error, by}; channels never tried are left out."""
    out: dict[str, dict[str, Any]] = {}
    rows = conn.execute(sa.select(audit_log.c.at, audit_log.c.actor, audit_log.c.details)
                        .where(audit_log.c.action == TEST_SENT)
                        .order_by(audit_log.c.id.desc()).limit(200))
    for at, actor, details in rows:
        for name, error in ((details or {}).get("channels") or {}).items():
            if name in channels and name not in out:
                out[name] = {"at": at, "ok": error is None, "error": error, "by": actor}
    return out
