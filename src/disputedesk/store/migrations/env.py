"""Alembic environment: runs with the engine the desk hands over (see store/migrate.py)."""

from __future__ import annotations

from alembic import context

from disputedesk.store.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no engine or sqlalchemy.url given to the migrations")
        from disputedesk.store.engine import make_engine

        engine = make_engine(url)
    with engine.connect() as connection:
        # The store's write option makes SQLite take the write lock for the whole upgrade.
        connection.execution_options(disputedesk_write=True)
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          transaction_per_migration=False)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run `disputedesk db upgrade`")
run_migrations_online()
