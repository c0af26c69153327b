"""What every command group shares: who is acting (proven, never just named), common options,
and building the desk.

The CLI is a door like the dashboard and the API. A command that moves money, decides an
approval, works or closes a dispute, or changes rules, users or settings runs as a desk user who
has the role, proven by

1. ``DISPUTEDESK_TOKEN`` (a personal token of that user), else
2. the token ``disputedesk login`` stored (``DISPUTEDESK_TOKEN_FILE``, default
   ``~/.config/disputedesk/token``, mode 0600), else
3. ``--actor NAME``: the user's password, asked at a hidden prompt (never an argument).

Unknown users, wrong passwords, revoked tokens and missing roles are refused before anything is
done or recorded (exit code 6). Read-only commands stay open to whoever can read the database.
"""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path

import typer

from disputedesk import errors

ACTOR = typer.Option(None, "--actor",
                     help="Act as this desk user: asks for their password (else the token from "
                          "`disputedesk login` or DISPUTEDESK_TOKEN is used).")
JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
NOTE = typer.Option(None, "--note", help="Why: kept in the audit log.")

TOKEN_ENV = "DISPUTEDESK_TOKEN"
TOKEN_FILE_ENV = "DISPUTEDESK_TOKEN_FILE"
# Deciding approvals needs the person at the keyboard: a password, or a `login` token.
_NEEDS_SIGN_IN = frozenset({"refunds.approve"})


def token_file() -> Path:
    explicit = os.environ.get(TOKEN_FILE_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "disputedesk" / "token"


def stored_token() -> str | None:
    path = token_file()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container
        return os.environ.get("USER") or "unknown"


def cli_address() -> str:
    """Where a CLI sign-in comes from, for the sign-in limits (not one bucket for every shell)."""
    return f"cli:{os_user()}@{socket.gethostname()}"[:64]


def prove(deps, permission: str, user: str | None = None):
    """The :class:`Actor` this command runs as, or a refusal; sets the audit door (cli)."""
    from disputedesk.domain.permissions import roles_with
    from disputedesk.services import accounts
    from disputedesk.store import audit

    if user:
        password = typer.prompt(f"Password for {user}", hide_input=True, err=True)
        who = accounts.check_cli_password(deps, username=user, password=password,
                                          ip=cli_address())
    else:
        token = os.environ.get(TOKEN_ENV) or stored_token()
        if not token:
            raise errors.AuthenticationFailed(
                "this command needs a desk user with the role, and none is signed in",
                code="not_authenticated",
                hint="run `disputedesk login`, set DISPUTEDESK_TOKEN to your personal token, or "
                     "pass --actor YOUR_NAME to be asked for your password")
        who = accounts.authenticate_token(deps, token, via="cli")
        if who is None:
            source = TOKEN_ENV if os.environ.get(TOKEN_ENV) else str(token_file())
            raise errors.AuthenticationFailed(
                f"the token in {source} is not valid: unknown, revoked, or its user is disabled",
                code="invalid_token", hint="run `disputedesk login` again")
    if not who.can(permission):
        raise errors.PermissionDenied(
            f"{who.username} is {who.role} here, and {permission} needs the role "
            + " or ".join(roles_with(permission)), code="permission_denied",
            hint="ask an admin for the role (`disputedesk users set-role`)")
    if permission in _NEEDS_SIGN_IN and not who.signed_in:
        raise errors.PermissionDenied(
            f"approvals need the person: {who.credential} is an API token made for a script",
            code="person_required",
            hint="run `disputedesk login` (asks for your password) or pass --actor YOUR_NAME")
    audit.set_process_door(audit.Door(door="cli", credential=who.credential, person=who.username))
    return who


def actor_name(actor: str | None, permission: str) -> str:
    """The desk user this command acts as (proven; see the module's docstring)."""
    deps = open_deps()
    try:
        return prove(deps, permission, actor).username
    finally:
        deps.close()


def bootstrap_or_person(deps, permission: str, actor: str | None) -> str:
    """Like :func:`actor_name`, except on a desk with no users at all: then the first user may be
    created by whoever runs the command (the database's owner), recorded as ``bootstrap``."""
    from disputedesk.services import accounts
    from disputedesk.store import audit

    if accounts.list_users(deps):
        return prove(deps, permission, actor).username
    audit.set_process_door(audit.Door(door="cli", credential="bootstrap", person=None))
    return f"bootstrap:{os_user()}"


def open_deps():
    """The desk's parts from the settings (the one composition root, via wiring)."""
    from disputedesk.config import load_settings
    from disputedesk.embedded import with_running_demo
    from disputedesk.wiring import build_deps

    return build_deps(with_running_demo(load_settings()))
