"""``disputedesk settings show|set``: the desk's policy, stored once in the database."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from disputedesk.cli._common import ACTOR, JSON, actor_name, open_deps

settings_app = typer.Typer(help="The desk's policy (approval limits, reminders, rules owner), "
                                "the same for every process.", no_args_is_help=True)


@settings_app.command("show")
def show_cmd(as_json: bool = JSON) -> None:
    """Show every setting as stored, with who changed it last."""
    from disputedesk.services import policy
    from disputedesk.cli.users import fmt_time

    deps = open_deps()
    try:
        rows = policy.show(deps)
    finally:
        deps.close()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("setting", "value", "what it does", "changed (UTC)", "by")
    for row in rows:
        table.add_row(row["key"], row["value"] or "—", row["help"], fmt_time(row["updated_at"]),
                      row["updated_by"] or "")
    console = Console()
    console.width = max(console.width, 140)
    console.print(table)


@settings_app.command("set")
def set_cmd(key: str = typer.Argument(..., help="approval_threshold, approval_daily_limit, "
                                                "reminder_schedule or rules_owner."),
            value: str = typer.Argument(..., help='The new value ("" clears it).'),
            actor: str = ACTOR) -> None:
    """Change a setting (admins): every process enforces it from its next check; audited."""
    from disputedesk.services import policy

    who = actor_name(actor, "settings.manage")
    deps = open_deps()
    try:
        row = policy.set_value(deps, key, value, actor=who)
    finally:
        deps.close()
    typer.echo(f"{row['key']} = {row['value'] or '(empty)'}")


def register(app: typer.Typer) -> None:
    app.add_typer(settings_app, name="settings")
