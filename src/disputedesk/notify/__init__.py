"""Notifications: one seam (:class:`Notifier`) in front of the channels the merchant configures."""

from disputedesk.notify.channels import (
    Channel,
    EmailChannel,
    LogChannel,
    Notification,
    Notifier,
    SlackWebhookChannel,
    WebhookChannel,
    build_notifier,
    sign_webhook,
    verify_webhook,
)

__all__ = [
    "Channel",
    "EmailChannel",
    "LogChannel",
    "Notification",
    "Notifier",
    "SlackWebhookChannel",
    "WebhookChannel",
    "build_notifier",
    "sign_webhook",
    "verify_webhook",
]
