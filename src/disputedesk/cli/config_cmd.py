"""``disputedesk config show``: the effective settings, secrets masked."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from disputedesk.config import load_settings, shown

config_app = typer.Typer(help="Inspect the desk's settings.", no_args_is_help=True)


@config_app.command("show")
def show() -> None:
    """Print every setting with its effective value (secrets and passwords in URLs masked)."""
    settings = load_settings()
    table = Table("setting", "value")
    for column in table.columns:
        column.overflow = "fold"  # long names and values wrap rather than being cut off
    for name in type(settings).model_fields:
        table.add_row(f"DISPUTEDESK_{name.upper()}", shown(getattr(settings, name)))
    table.add_row("(database in use)", shown(settings.effective_database_url))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
