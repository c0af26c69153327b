"""Shared fixtures for every test suite (generic: other features build on them).

``database_url`` runs a test on SQLite and, when ``DISPUTEDESK_TEST_DATABASE_URL`` is set, again on
PostgreSQL; both come migrated and empty. ``deps`` is ``wiring.build_deps`` over that database
with a ``ManualClock`` and a ``FakeStripe`` gateway. Nothing is shared between xdist workers:
SQLite files live in tmp dirs, each worker gets its own PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
import sqlalchemy as sa

from disputedesk.config import Settings
from disputedesk.store import make_engine, migrate
from disputedesk.testing import (
    TEST_WEBHOOK_SECRET,
    FakeStripe,
    ManualClock,
    create_pg_database,
    drop_pg_database,
    postgres_admin_url,
)
from disputedesk.wiring import build_deps

PG_ENV = "DISPUTEDESK_TEST_DATABASE_URL"

# No test writes into the real user data folder: the desk's default data folder (and that of
# every CLI subprocess, which inherits the environment) is a throw-away folder.
os.environ["DISPUTEDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="disputedesk-tests-")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(os.environ["DISPUTEDESK_DATA_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return str(path)


@pytest.fixture(scope="session")
def _pg_session_database():
    admin = postgres_admin_url()
    if admin is None:
        yield None
        return
    url = create_pg_database(admin)
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    drop_pg_database(admin, url)


def _truncate_all(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'alembic_version'")]
        if tables:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                                 + " RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, _sqlite_template, _pg_session_database) -> str:
    """A migrated, empty database: a SQLite file, or PostgreSQL when configured."""
    if request.param == "sqlite":
        path = tmp_path / "disputedesk.db"
        shutil.copyfile(_sqlite_template, path)
        return f"sqlite:///{path}"
    if _pg_session_database is None:
        pytest.skip(f"{PG_ENV} is not set")
    _truncate_all(_pg_session_database)
    return _pg_session_database


@pytest.fixture
def sqlite_url(tmp_path, _sqlite_template) -> str:
    """A migrated, empty SQLite database (for tests that are about SQLite only)."""
    path = tmp_path / "disputedesk.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request, tmp_path):
    """A database with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip(f"{PG_ENV} is not set")
    url = create_pg_database(admin)
    yield url
    drop_pg_database(admin, url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_760_000_000)


@pytest.fixture
def fake_stripe() -> FakeStripe:
    return FakeStripe()


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path,
                    webhook_secrets=[TEST_WEBHOOK_SECRET])


@pytest.fixture
def deps(settings, clock, fake_stripe):
    """The desk's dependencies over ``database_url``, with a manual clock and fake Stripe."""
    built = build_deps(settings, clock=clock, gateway_factory=lambda _s: fake_stripe,
                       migrate=False)
    yield built
    built.close()
