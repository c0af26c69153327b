"""``disputedesk login|logout|whoami``: sign the CLI in as a desk user.

``login`` asks for the user name and password (hidden prompt), checks them like the dashboard's
sign-in (same limits), and stores a personal token of that user in ``~/.config/disputedesk/token``
(or ``DISPUTEDESK_TOKEN_FILE``) with mode 0600; later commands act as that user with their role.
``logout`` revokes the token and deletes the file.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

import typer

from disputedesk.cli._common import (
    TOKEN_ENV,
    cli_address,
    open_deps,
    os_user,
    prove,
    stored_token,
    token_file,
)


def _write_private(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 (never world-readable, not even for an instant), replaced atomically.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def login_cmd(user: str = typer.Option(None, "--user", help="Your desk user name (asked if "
                                                                "not given)."),
              ) -> None:
    """Sign in: asks for your password and stores a personal token (0600) for later commands."""
    from disputedesk.services import accounts

    name = user or typer.prompt("Desk user", err=True)
    password = typer.prompt("Password", hide_input=True, err=True)
    deps = open_deps()
    try:
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        label = f"cli login {os_user()}@{socket.gethostname()} {when}"[:100]
        info, secret = accounts.mint_login_token(deps, username=name, password=password,
                                                 name=label, ip=cli_address())
    finally:
        deps.close()
    path = token_file()
    _write_private(path, secret)
    typer.echo(f"signed in as {info['owner']} ({info['role']}); token {info['id']} stored in "
               f"{path}")


def logout_cmd() -> None:
    """Revoke the stored token and delete it."""
    from disputedesk.services import accounts

    path = token_file()
    secret = stored_token()
    if secret is None:
        typer.echo("not signed in")
        return
    deps = open_deps()
    try:
        who = accounts.authenticate_token(deps, secret, via="cli")
        if who is not None:
            accounts.revoke_token(deps, who.credential, actor=who.username)
    finally:
        deps.close()
    path.unlink(missing_ok=True)
    typer.echo("signed out; the token was revoked")


def whoami_cmd() -> None:
    """Who the CLI acts as (from DISPUTEDESK_TOKEN or the stored token), and with which role."""
    deps = open_deps()
    try:
        who = prove(deps, "refunds.read")
    finally:
        deps.close()
    source = TOKEN_ENV if os.environ.get(TOKEN_ENV) else str(token_file())
    typer.echo(f"{who.username} ({who.role}) through {who.credential} from {source}")


def register(app: typer.Typer) -> None:
    app.command("login")(login_cmd)
    app.command("logout")(logout_cmd)
    app.command("whoami")(whoami_cmd)
