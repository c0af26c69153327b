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


def lower_role(a: str, b: str) -> str:
    """The narrower of two roles (a token acts with at most its owner's role)."""
    return a if ROLES.index(a) <= ROLES.index(b) else b


@dataclass(frozen=True)
class Actor:
    """Who is acting: always a desk user (a person), through a door.

    ``via``: ``session`` (the dashboard), ``token`` (an API token over REST) or ``cli``.
    ``id`` is ``usr_<n>`` for a session or a password, ``tok_<n>`` for a token; ``username`` is
    the person (a token's owner), the name the audit log and maker-checker use; ``role`` is what
    this credential may do now (a token: the lower of its own role and its owner's current role).
    ``credential``: ``tok_<n>``, ``password`` or None (a session). ``signed_in``: the person
    proved their password for this credential (a session, a CLI password, a ``disputedesk login``
    token), which deciding approvals needs; an API token made for a script did not.
    """

    id: str
    username: str
    role: str
    via: Literal["token", "session", "cli"]
    credential: str | None = None
    signed_in: bool = True

    def can(self, permission: str) -> bool:
        return allows(self.role, permission)
