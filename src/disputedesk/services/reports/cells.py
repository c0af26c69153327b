"""Reading the monthly cells (store/reports_tables.py) for a period and an account."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.services.reports.periods import Period


def where_period(table: sa.Table, period: Period, account: str | None) -> list:
    conds = [table.c.month >= period.first, table.c.month <= period.last]
    if account is not None:
        conds.append(table.c.account == account)
    return conds


def read_cells(conn: Connection, table: sa.Table, measures: tuple[str, ...], period: Period,
               account: str | None) -> list[dict[str, Any]]:
    """The cells of the period, one row per account, month, dim, key and currency."""
    keys = [table.c.account, table.c.month, table.c.dim, table.c.key, table.c.currency]
    query = (sa.select(*keys, *[sa.func.sum(table.c[m]).label(m) for m in measures])
             .where(*where_period(table, period, account)).group_by(*keys))
    names = [k.name for k in keys] + list(measures)
    return [dict(zip(names, row)) for row in conn.execute(query)]


def total(rows: list[dict], measures: tuple[str, ...], key) -> dict[Any, dict[str, int]]:
    """Sum ``rows`` by ``key(row)``: {key: {measure: sum}}."""
    out: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(measures, 0))
    for row in rows:
        acc = out[key(row)]
        for m in measures:
            acc[m] += int(row[m])
    return out
