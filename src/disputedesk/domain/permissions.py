"""Roles and what they may do: the one permission table of the desk (pure, no I/O).

Roles are ordered; each includes everything the role below it may do:

    viewer    reads disputes, refunds, events, rules and the audit log
    agent     + works disputes (evidence, stage, submit, accept), requests and cancels refunds,
              replays events
    approver  + approves refunds and runs bulk refunds
    admin     + manages users, API tokens, rules and settings

Every web route and API endpoint names one permission (``require("refunds.approve")``); the
role test matrix reads this table, so a new permission only needs a line here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ROLES: tuple[str, ...] = ("viewer", "agent", "approver", "admin")

# permission -> what it allows (shown in docs and `disputedesk users roles`).
PERMISSIONS: dict[str, str] = {
    "disputes.read": "see disputes, their evidence and history",
    "disputes.write": "edit evidence, upload files, stage evidence",
    "disputes.submit": "submit evidence to Stripe",
    "disputes.accept": "accept (concede) a dispute",
    "refunds.read": "see refunds and the approval queue",
    "refunds.request": "issue a refund (it may need approval)",
    "refunds.approve": "approve or reject another person's refund request",
    "refunds.cancel": "cancel a pending refund or refund request",
    "refunds.bulk": "upload and run a bulk refund file",
    "events.read": "see stored webhook events",
    "events.replay": "replay a stored webhook event",
    "rules.read": "see the automation rules, decisions and backtests",
    "rules.write": "change the automation rules",
    "audit.read": "read the audit log",
    "users.manage": "create, change and disable users",
    "tokens.manage": "create, list and revoke API tokens",
    "settings.manage": "change the desk's settings",
}

_VIEWER = frozenset({"disputes.read", "refunds.read", "events.read", "rules.read", "audit.read"})
_AGENT = _VIEWER | {"disputes.write", "disputes.submit", "disputes.accept",
                    "refunds.request", "refunds.cancel", "events.replay"}
_APPROVER = _AGENT | {"refunds.approve", "refunds.bulk"}
_ADMIN = frozenset(PERMISSIONS)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "agent": frozenset(_AGENT),
    "approver": frozenset(_APPROVER),
    "admin": _ADMIN,
}


class UnknownPermission(ValueError):
    """A programming error: a route names a permission that is not in the table."""


def check_permission(permission: str) -> str:
    if permission not in PERMISSIONS:
        raise UnknownPermission(f"unknown permission '{permission}'; known: "
                                + ", ".join(sorted(PERMISSIONS)))
    return permission


def is_role(role: str) -> bool:
    return role in ROLES


def allows(role: str, permission: str) -> bool:
    """True when ``role`` has ``permission`` (an unknown role has none)."""
    check_permission(permission)
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def roles_with(permission: str) -> list[str]:
    """The roles that have ``permission``, lowest first (for error messages and docs)."""
    check_permission(permission)
    return [role for role in ROLES if permission in ROLE_PERMISSIONS[role]]


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user (``via="session"``) or an API token (``via="token"``).

    ``id`` is ``usr_<n>`` or ``tok_<n>``; ``username`` is the name the audit log records (a
    token's is ``token:<name>``).
    """

    id: str
    username: str
    role: str
    via: Literal["token", "session", "cli"]

    def can(self, permission: str) -> bool:
        return allows(self.role, permission)
