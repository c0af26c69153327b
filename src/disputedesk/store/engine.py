"""Engines and the ``Store``: the one place that knows how to open read and write transactions.

SQLite (the default) runs in WAL mode with a busy timeout and foreign keys on; the desk creates its
file with mode 0600 (and any folder it creates for it 0700). It allows one
writer at a time, so every write transaction starts with ``BEGIN IMMEDIATE`` (take the write lock
up front instead of failing to upgrade a read lock later) and, inside one process, writers queue
on a lock instead of spinning on SQLITE_BUSY. PostgreSQL needs neither: row locks and
``SKIP LOCKED`` let many writers work at once.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from disputedesk.errors import ConfigError, StoreError

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_AUTOCHECKPOINT_PAGES = 20_000
CHECKPOINT_INTERVAL_SECONDS = 0.5
_WRITE_OPTION = "disputedesk_write"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine for ``url`` with the desk's connection settings."""
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:
        raise ConfigError(f"'{_mask(url)}' is not a database URL",
                          param="database_url",
                          hint="use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_size=pool_size, max_overflow=pool_size,
                                pool_pre_ping=True)
    raise ConfigError(f"database '{backend}' is not supported", param="database_url",
                      hint="use SQLite or PostgreSQL")


def _mask(url: str) -> str:
    from disputedesk.config import redact_url

    return redact_url(url)


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by this user only (0700); an existing folder
    is left as it is (it may be shared on purpose, like the working folder)."""
    if path.exists():
        return
    private_dir(path.parent)
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode passes through the umask


def _private_file(path: Path) -> None:
    """Create the SQLite file empty with mode 0600 before SQLite opens it: it holds every
    customer's e-mail, card details Stripe shares and the audit log. SQLite gives its -wal and
    -shm files the database file's mode."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return
    os.chmod(path, 0o600)


def _sqlite_engine(parsed: sa.URL) -> Engine:
    memory = parsed.database in (None, "", ":memory:")
    if not memory and not parsed.database.startswith("file:"):
        _private_file(Path(parsed.database))
    engine = sa.create_engine(parsed, connect_args={"check_same_thread": False,
                                                    "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed transaction survives a crash of the process (SIGKILL, OOM);
        # only an OS crash or power loss can lose the last commits. FULL would fsync on every
        # commit and cost ~3x the webhook throughput (docs/deployment.md: use PostgreSQL when
        # power-loss durability matters).
        cur.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints are run by the store's checkpointer thread, off the writers' path; this
        # automatic one is only the safety net if that thread falls behind.
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Store:
    """Owns the engine; hands out read and write transactions (``with store.write() as conn``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.is_sqlite = self.dialect == "sqlite"
        # One writer per process on SQLite; PostgreSQL writers run concurrently.
        self._write_lock: contextlib.AbstractContextManager = (
            threading.Lock() if self.is_sqlite else contextlib.nullcontext())
        self._checkpointer: threading.Thread | None = None
        self._closed = threading.Event()

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(make_engine(url))

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on error."""
        if self.is_sqlite and self._checkpointer is None:
            self._start_checkpointer()
        with self._write_lock:
            with self.engine.connect() as conn:
                conn.execution_options(**{_WRITE_OPTION: True})
                with conn.begin():
                    yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on both databases)."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def ping(self) -> None:
        """Raise :class:`StoreError` when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except Exception as exc:
            raise StoreError(f"database unreachable: {type(exc).__name__}") from exc

    def _start_checkpointer(self) -> None:
        """SQLite: copy the WAL back into the database file from a background thread.

        Left to SQLite, the checkpoint runs inside whichever commit crosses the threshold and
        stalls that writer (and every webhook waiting on it). A PASSIVE checkpoint never blocks
        readers or writers, and sqlite3 releases the GIL while it runs.
        """
        thread = threading.Thread(target=self._checkpoint_loop, name="sqlite-checkpointer",
                                  daemon=True)
        self._checkpointer = thread
        thread.start()

    def _checkpoint_loop(self) -> None:
        while not self._closed.wait(CHECKPOINT_INTERVAL_SECONDS):
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception:
                continue

    def dispose(self) -> None:
        self._closed.set()
        if self._checkpointer is not None:
            self._checkpointer.join(5)
        self.engine.dispose()
