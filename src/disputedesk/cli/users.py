"""``disputedesk users create|reset-password|list|disable|enable|set-role|roles``.

Passwords are typed at a hidden prompt (or read from stdin with ``--password-stdin``), never
given as arguments: arguments end up in shell history and ``ps``. Without a password the
command prints a one-time sign-in link instead.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from disputedesk.cli._show import when as fmt_time
from disputedesk.cli._common import ACTOR as ACTOR_OPTION
from disputedesk.cli._common import actor_name as cli_actor
from disputedesk.cli._common import bootstrap_or_person, open_deps
from disputedesk.domain.permissions import PERMISSIONS, ROLE_PERMISSIONS, ROLES

users_app = typer.Typer(help="Dashboard users and their roles.", no_args_is_help=True)

ROLE_HELP = "One of: " + ", ".join(ROLES) + "."



def _base_url(deps, base_url: str | None) -> str:
    if base_url:
        return base_url
    host = deps.settings.host if deps.settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{deps.settings.port}"


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return typer.prompt("New password", hide_input=True, confirmation_prompt=True)


def _print_link(deps, username: str, actor: str, base_url: str | None) -> None:
    from disputedesk.services import accounts

    token = accounts.create_login_link(deps, username=username, actor=actor)
    hours = accounts.LOGIN_LINK_TTL // 3600
    typer.echo(f"One-time sign-in link for {username} (valid {hours} h, works once):")
    typer.echo(accounts.login_link_url(_base_url(deps, base_url), token))


@users_app.command("create")
def create_cmd(
    username: str = typer.Argument(..., help="User name (letters, digits, . _ @ + -)."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    password: bool = typer.Option(False, "--password", help="Set a password now (prompted)."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from the first line of stdin."),
    base_url: str = typer.Option(None, "--base-url",
                                 help="Address of the dashboard for the sign-in link."),
    actor: str = ACTOR_OPTION,
) -> None:
    """Create a user (an admin's job; on a desk with no users yet, the first one). Without
    --password, prints a one-time sign-in link for them."""
    from disputedesk.services import accounts

    deps = open_deps()
    try:
        who = bootstrap_or_person(deps, "users.manage", actor)
        secret = _read_password(password_stdin) if (password or password_stdin) else None
        if secret is not None:
            accounts.check_password_rules(secret, username=username)
        user = accounts.create_user(deps, username=username, role=role, password=secret, actor=who)
        typer.echo(f"created {user['role']} {user['username']} ({user['id']})")
        if secret is None:
            _print_link(deps, user["username"], who, base_url)
    finally:
        deps.close()


@users_app.command("reset-password")
def reset_password_cmd(
    username: str = typer.Argument(...),
    link: bool = typer.Option(False, "--link",
                              help="Print a one-time sign-in link instead of prompting."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from the first line of stdin."),
    base_url: str = typer.Option(None, "--base-url",
                                 help="Address of the dashboard for the sign-in link."),
    actor: str = ACTOR_OPTION,
) -> None:
    """Set a user's password (ends their sessions), or give them a one-time sign-in link."""
    from disputedesk.services import accounts

    who = cli_actor(actor, "users.manage")
    deps = open_deps()
    try:
        accounts.get_user(deps, username)  # fail on an unknown name before prompting
        if link:
            _print_link(deps, username, who, base_url)
            return
        secret = _read_password(password_stdin)
        accounts.set_password(deps, username=username, password=secret, actor=who)
        typer.echo(f"password of {username} changed; their sessions were ended")
    finally:
        deps.close()


@users_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="One JSON object per line.")) -> None:
    """List users."""
    from disputedesk.services import accounts

    deps = open_deps()
    try:
        rows = accounts.list_users(deps)
    finally:
        deps.close()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table("id", "user", "role", "status", "last sign-in", "created")
    for row in rows:
        status = "disabled" if row["disabled"] else ("active" if row["has_password"]
                                                     else "no password yet")
        table.add_row(row["id"], row["username"], row["role"], status,
                      fmt_time(row["last_login"]), fmt_time(row["created_at"]))
    Console().print(table)


@users_app.command("disable")
def disable_cmd(username: str = typer.Argument(...), actor: str = ACTOR_OPTION) -> None:
    """Disable a user: they cannot sign in and their sessions end at once."""
    from disputedesk.services import accounts

    deps = open_deps()
    try:
        accounts.set_disabled(deps, username=username, disabled=True,
                              actor=cli_actor(actor, "users.manage"))
    finally:
        deps.close()
    typer.echo(f"{username} disabled")


@users_app.command("enable")
def enable_cmd(username: str = typer.Argument(...), actor: str = ACTOR_OPTION) -> None:
    """Enable a disabled user again."""
    from disputedesk.services import accounts

    deps = open_deps()
    try:
        accounts.set_disabled(deps, username=username, disabled=False,
                              actor=cli_actor(actor, "users.manage"))
    finally:
        deps.close()
    typer.echo(f"{username} enabled")


@users_app.command("set-role")
def set_role_cmd(username: str = typer.Argument(...),
                 role: str = typer.Argument(..., help=ROLE_HELP),
                 actor: str = ACTOR_OPTION) -> None:
    """Change a user's role."""
    from disputedesk.services import accounts

    deps = open_deps()
    try:
        user = accounts.set_role(deps, username=username, role=role,
                                 actor=cli_actor(actor, "users.manage"))
    finally:
        deps.close()
    typer.echo(f"{user['username']} is now {user['role']}")


@users_app.command("roles")
def roles_cmd() -> None:
    """Show which role may do what."""
    table = Table("permission", *ROLES, "allows")
    for permission, text in PERMISSIONS.items():
        table.add_row(permission, *("yes" if permission in ROLE_PERMISSIONS[r] else "" for r in ROLES),
                      text)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
