"""Notifications: one seam (:class:`Notifier`) in front of the channels the merchant configures."""

from disputedesk.notify.channels import (
    Channel,
    EmailChannel,
    LogChannel,
    Notification,
    Notifier,
    SlackWebhookChannel,
    build_notifier,
)

__all__ = [
    "Channel",
    "EmailChannel",
    "LogChannel",
    "Notification",
    "Notifier",
    "SlackWebhookChannel",
    "build_notifier",
]
