"""``disputedesk tokens create|list|revoke``: API tokens for scripts and integrations."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from disputedesk.cli.users import (
    ACTOR_OPTION,
    ROLE_HELP,
    cli_actor,
    fmt_time,
    open_deps,
)

tokens_app = typer.Typer(help="API tokens (Authorization: Bearer ddk_...).", no_args_is_help=True)


@tokens_app.command("create")
def create_cmd(
    name: str = typer.Option(..., "--name", help="What will use the token, e.g. 'nightly-export'."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the token and its details as JSON."),
    actor: str = ACTOR_OPTION,
) -> None:
    """Create an API token of yours (it acts as you, with at most your role). It is printed once:
    store it now, the desk keeps only its hash."""
    from disputedesk.cli._common import prove
    from disputedesk.services import accounts

    deps = open_deps()
    try:
        owner = prove(deps, "tokens.manage", actor).username
        info, secret = accounts.create_token(deps, name=name, role=role, owner=owner)
    finally:
        deps.close()
    if as_json:
        typer.echo(json.dumps({"token": info, "secret": secret}))
        return
    typer.echo(f"created {info['role']} token {info['id']} '{info['name']}'. "
               "It is shown once; store it now:", err=True)
    typer.echo(secret)


@tokens_app.command("list")
def list_cmd(
    all_: bool = typer.Option(False, "--all", help="Include revoked tokens."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List API tokens (their prefixes only; a token cannot be shown again)."""
    from disputedesk.services import accounts

    deps = open_deps()
    try:
        rows = accounts.list_tokens(deps, include_revoked=all_)
    finally:
        deps.close()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table("id", "name", "prefix", "role", "owner", "kind", "created",
                  "last used", "revoked")
    for row in rows:
        table.add_row(row["id"], row["name"], row["prefix"] + "…", row["role"], row["owner"] or "",
                      row["kind"],
                      fmt_time(row["created_at"]), fmt_time(row["last_used_at"]),
                      fmt_time(row["revoked_at"]))
    console = Console()
    console.width = max(console.width, 140)
    console.print(table)


@tokens_app.command("revoke")
def revoke_cmd(token_id: str = typer.Argument(..., help="The token's id (tok_...)."),
               actor: str = ACTOR_OPTION) -> None:
    """Revoke an API token: requests with it are refused from now on."""
    from disputedesk.services import accounts

    deps = open_deps()
    try:
        info = accounts.revoke_token(deps, token_id, actor=cli_actor(actor, "tokens.manage"))
    finally:
        deps.close()
    typer.echo(f"revoked {info['id']} '{info['name']}'")


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")
