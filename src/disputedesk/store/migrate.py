"""Alembic, driven from code: the migrations ship inside the package and run on start.

``migrate(engine)`` upgrades to the newest revision (idempotent, cheap when current);
``is_current(engine)`` tells ``/readyz`` whether the schema matches this code.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from disputedesk.errors import StoreError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def head_revisions() -> set[str]:
    """The newest revision of every branch.

    Each feature (refunds, disputes, automation, accounts) keeps its tables in its own branch off
    the initial schema, so features can evolve their tables independently; ``heads`` upgrades all.
    """
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions()


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Upgrade the database to ``revision`` (default: the newest)."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"database migration failed: {exc}",
                         hint="check DISPUTEDESK_DATABASE_URL and that the database is writable") from exc


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)
