"""Read orders from the merchant's own database with one read-only query.

Two independent guards keep the query read-only:

1. :func:`.sql_guard.check_read_only` refuses, before anything runs, whatever is not a single
   SELECT/WITH statement (several statements, write keywords, data-modifying CTEs, SELECT INTO,
   locking clauses, functions with side effects).
2. Every lookup runs in a transaction that is always rolled back and that the database itself
   keeps read-only: ``SET TRANSACTION READ ONLY`` on PostgreSQL, ``PRAGMA query_only = ON`` and
   a read-only open (``mode=ro``) on SQLite. A statement timeout bounds every lookup.

Give the source a database user with SELECT rights only, as a third guard.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from disputedesk.evidence.orders.errors import (
    OrderDataError,
    OrderSourceConfigError,
    OrderSourceError,
    WriteQueryRefused,
)
from disputedesk.evidence.orders.fields import (
    ALIASES,
    AmountUnit,
    FieldProblem,
    check_mapping,
    norm_key,
    normalize_record,
)
from disputedesk.evidence.orders.model import BaseOrderSource, Order, OrderKeys
from disputedesk.evidence.orders.sql_guard import check_parameters, check_read_only

SUPPORTED = ("postgresql", "sqlite")
_KEY_FOR_PARAM = {"order_id": "order_id", "payment_intent": "payment_intent", "email": "email"}


def mask_url(url: str | sa.URL) -> str:
    """The URL with its password replaced by ***, even when SQLAlchemy cannot parse it."""
    try:
        parsed = url if isinstance(url, sa.URL) else sa.engine.make_url(url)
        return parsed.render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


class SqlOrderSource(BaseOrderSource):
    """Orders from ``query`` (named parameters :order_id, :payment_intent, :email) at ``url``.

    One result row is one order; columns are found by their common names, by a mapping
    ``{order field: column}``, or by labels that are order fields (``AS customer_email``,
    ``AS "shipping.address.city"``).
    """

    kind = "sql"

    def __init__(self, url: str | SecretStr, query: str, *, mapping: Mapping[str, str] | None = None,
                 amount_unit: AmountUnit = "auto", default_currency: str | None = None,
                 timeout: float = 10.0, max_rows: int = 50) -> None:
        raw_url = url.get_secret_value() if isinstance(url, SecretStr) else str(url)
        if timeout <= 0 or max_rows < 1:
            raise OrderSourceConfigError("timeout and max_rows must be positive", param="timeout")
        try:
            parsed = sa.engine.make_url(raw_url)
        except (sa.exc.ArgumentError, ValueError, TypeError):
            raise OrderSourceConfigError(f"'{mask_url(raw_url)}' is not a SQLAlchemy database URL",
                                         param="url", hint="e.g. postgresql+psycopg://reader@db.example/shop "
                                         "or sqlite:////srv/shop/shop.db") from None
        self._secrets = tuple(s for s in (parsed.password,) if s)
        self.masked_url = mask_url(parsed)
        self.backend = parsed.get_backend_name()
        if self.backend not in SUPPORTED:
            raise OrderSourceConfigError(
                f"order database '{self.backend}' is not supported ({self.masked_url})", param="url",
                hint="use PostgreSQL or SQLite; the desk can only enforce read-only mode on those")
        try:
            self.mapping = check_mapping(mapping)
        except ValueError as exc:
            raise OrderSourceConfigError(str(exc), param="mapping") from None
        self.parameters = check_read_only(query, self.backend)
        check_parameters(self.parameters)
        bound = set(sa.text(query).compile().params)
        if bound != set(self.parameters):
            raise OrderSourceConfigError(
                "a ':name' inside a string or comment of the order query would be read as a parameter",
                param="query", hint="remove the colon from the string or comment")
        self.query = query
        self.timeout = timeout
        self.max_rows = max_rows
        self.amount_unit = amount_unit
        self.default_currency = default_currency
        self._engine = self._make_engine(parsed)

    # --- engine ----------------------------------------------------------------------------------

    def _make_engine(self, parsed: sa.URL) -> Engine:
        if self.backend == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            try:
                return sa.create_engine(parsed, pool_size=2, max_overflow=2, pool_pre_ping=True,
                                        connect_args={"connect_timeout": max(1, math.ceil(self.timeout))})
            except (sa.exc.ArgumentError, ImportError) as exc:
                raise OrderSourceConfigError(
                    f"cannot use the database URL {self.masked_url}: {_scrub(_first_line(exc), self._secrets)}",
                    param="url", hint="check the driver name, e.g. postgresql+psycopg://") from None
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise OrderSourceConfigError("an in-memory SQLite database holds no orders", param="url",
                                         hint="point the URL at the shop's database file: sqlite:////path/shop.db")
        path = Path(database.removeprefix("file:").split("?")[0])
        if not path.is_file():
            raise OrderSourceConfigError(f"no SQLite database file at {path}", param="url",
                                         hint="check the path (sqlite:////absolute/path.db has four slashes)")
        # Open read-only: a missing or wrong file is never created, and writes fail at the file level.
        ro = sa.URL.create("sqlite", database=f"file:{quote(str(path.resolve()))}",
                           query={"mode": "ro", "uri": "true"})
        engine = sa.create_engine(ro, connect_args={"check_same_thread": False, "timeout": self.timeout})

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.execute("PRAGMA query_only = ON")

        return engine

    def close(self) -> None:
        self._engine.dispose()

    def describe(self) -> str:
        return f"SQL query on {self.masked_url}"

    # --- lookups ---------------------------------------------------------------------------------

    def find(self, keys: OrderKeys) -> list[Order]:
        params = {name: getattr(keys, _KEY_FOR_PARAM[name]) for name in self.parameters}
        if all(v is None for v in params.values()):
            return []
        rows = read_only_rows(self._engine, self.query, params, timeout=self.timeout,
                              max_rows=self.max_rows, where=self.masked_url, secrets=self._secrets)
        orders = []
        for n, row in enumerate(rows, 1):
            if self.backend == "sqlite" and self.amount_unit == "auto":
                row = self._sqlite_amount_as_text(row)
            result = normalize_record(row, mapping=self.mapping, amount_unit=self.amount_unit,
                                      default_currency=self.default_currency, require_id=False)
            if result.data is not None and not result.data.get("id"):
                if keys.order_id is None:
                    result.problems.append(FieldProblem(None, "id", "the row has no order id",
                                                        "select the order id, e.g. o.id AS order_id"))
                    result.data = None
                else:
                    result.data["id"] = keys.order_id
            if result.data is None:
                raise OrderDataError(f"row {n} of the order query cannot be read as an order",
                                     result.problems)
            orders.append(Order._from_normalized(result.data))
        return orders


    def _sqlite_amount_as_text(self, row: dict[str, Any]) -> dict[str, Any]:
        # SQLite stores NUMERIC 12.00 as the integer 12, so an integer amount may be cents or
        # dollars: hand it over as text, which "auto" reports as ambiguous unless the unit is set.
        column = self.mapping.get("amount")
        for key, value in row.items():
            is_amount = key == column if column else ALIASES.get(norm_key(key)) == "amount"
            if is_amount and isinstance(value, int) and not isinstance(value, bool):
                row = {**row, key: str(value)}
        return row


def read_only_rows(engine: Engine, sql: str, params: Mapping[str, Any], *, timeout: float,
                   max_rows: int, where: str = "the order database",
                   secrets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Run ``sql`` in a read-only transaction that is always rolled back; rows as dicts.

    This is the second guard and does not check the SQL itself: the database refuses writes.
    """
    backend = engine.dialect.name
    try:
        conn = engine.connect()
    except sa.exc.SQLAlchemyError as exc:
        raise OrderSourceError(f"cannot connect to the order database {where}: "
                               f"{_scrub(_first_line(exc), secrets)}",
                               hint="check the host, the credentials and that the database is up") from None
    try:
        trans = conn.begin()
        try:
            _enter_read_only(conn, backend, timeout)
            with _deadline(conn, backend, timeout):
                result = conn.execute(sa.text(sql), dict(params))
                rows = [dict(r) for r in result.mappings().fetchmany(max_rows + 1)]
                result.close()
        finally:
            trans.rollback()
    except sa.exc.SQLAlchemyError as exc:
        raise _translate(exc, timeout, where, secrets) from None
    finally:
        conn.close()
    if len(rows) > max_rows:
        raise OrderSourceConfigError(
            f"the order query returned more than {max_rows} rows for one lookup", param="query",
            hint="filter on :order_id, :payment_intent or :email so it returns one row per matching order")
    return rows


def _enter_read_only(conn: Connection, backend: str, timeout: float) -> None:
    if backend == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
    elif backend == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")
    else:  # pragma: no cover - refused when the source is built
        raise OrderSourceConfigError(f"cannot make a {backend} transaction read-only")


class _deadline:
    """SQLite has no statement timeout: a progress handler interrupts the query at the deadline."""

    def __init__(self, conn: Connection, backend: str, timeout: float) -> None:
        self.raw = conn.connection.driver_connection if backend == "sqlite" else None
        self.timeout = timeout

    def __enter__(self) -> None:
        if self.raw is not None:
            end = time.monotonic() + self.timeout
            self.raw.set_progress_handler(lambda: 1 if time.monotonic() > end else 0, 1000)

    def __exit__(self, *exc: object) -> None:
        if self.raw is not None:
            self.raw.set_progress_handler(None, 0)


def _translate(exc: sa.exc.SQLAlchemyError, timeout: float, where: str, secrets: tuple[str, ...]) -> Exception:
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or ""
    text = _scrub(_first_line(exc), secrets)
    lowered = text.lower()
    if sqlstate == "25006" or "readonly database" in lowered or "read-only transaction" in lowered:
        return WriteQueryRefused(f"the order database refused a write: {text}", param="query",
                                 hint="the order query must only read (one SELECT)")
    if sqlstate in ("57014", "55P03") or (isinstance(orig, sqlite3.OperationalError) and lowered == "interrupted"):
        return OrderSourceError(f"the order query took longer than {timeout:g} s on {where}",
                                hint="add an index on the looked-up columns or raise the timeout")
    if isinstance(exc, (sa.exc.ProgrammingError, sa.exc.DataError)) or sqlstate.startswith(("42", "22")) \
            or (isinstance(orig, sqlite3.OperationalError) and ("no such" in lowered or "syntax" in lowered)):
        return OrderSourceConfigError(f"the order query failed on {where}: {text}", param="query",
                                      hint="check the table and column names and the SQL syntax")
    return OrderSourceError(f"the order database {where} failed: {text}",
                            hint="check that the database is reachable and try again")
