"""``disputedesk db upgrade|current``: the database schema."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Database schema (migrations run on start anyway).",
                     no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument(
        "heads", help="Target revision (default: the newest of every branch).")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from disputedesk.config import load_settings
    from disputedesk.store import make_engine, migrate
    from disputedesk.store.migrate import current_revisions

    settings = load_settings()
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    try:
        migrate(engine, revision)
        typer.echo(f"database at revision {', '.join(sorted(current_revisions(engine)))}")
    finally:
        engine.dispose()


@db_app.command("current")
def current() -> None:
    """Show the database's revision and whether it is the newest."""
    from disputedesk.config import load_settings
    from disputedesk.store import make_engine
    from disputedesk.store.migrate import current_revisions, head_revisions

    engine = make_engine(load_settings().effective_database_url)
    try:
        rev, head = current_revisions(engine), head_revisions()
        typer.echo(f"current {', '.join(sorted(rev)) or '(none)'}; newest {', '.join(sorted(head))}"
                   + ("" if rev == head else "; run `disputedesk db upgrade`"))
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
