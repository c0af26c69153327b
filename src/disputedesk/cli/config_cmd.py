"""``disputedesk config show``: the effective settings, secrets masked."""

from __future__ import annotations

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from disputedesk.config import load_settings

config_app = typer.Typer(help="Inspect the desk's settings.", no_args_is_help=True)


def _shown(value) -> str:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return "" if value is None else str(value)


@config_app.command("show")
def show() -> None:
    """Print every setting with its effective value (secrets masked)."""
    settings = load_settings()
    table = Table("setting", "value")
    for name in type(settings).model_fields:
        table.add_row(f"DISPUTEDESK_{name.upper()}", _shown(getattr(settings, name)))
    table.add_row("(database in use)", _shown(settings.effective_database_url))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
