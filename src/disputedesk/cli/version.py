"""``disputedesk version``."""

from __future__ import annotations

import typer

from disputedesk import __version__


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the desk's version."""
        typer.echo(__version__)
