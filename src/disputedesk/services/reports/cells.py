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
               account: str | None, *, by_account: bool = False) -> list[dict[str, Any]]:
    """The cells of the period, summed over accounts unless ``by_account``."""
    keys = [table.c.month, table.c.dim, table.c.key, table.c.currency]
    if by_account:
        keys.insert(0, table.c.account)
    query = (sa.select(*keys, *[sa.func.sum(table.c[m]).label(m) for m in measures])
             .where(*where_period(table, period, account)).group_by(*keys))
    return [{k: (int(v) if k in measures else v) for k, v in row.items()}
            for row in conn.execute(query).mappings()]


def total(rows: list[dict], measures: tuple[str, ...], key) -> dict[Any, dict[str, int]]:
    """Sum ``rows`` by ``key(row)``: {key: {measure: sum}}."""
    out: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(measures, 0))
    for row in rows:
        acc = out[key(row)]
        for m in measures:
            acc[m] += row[m]
    return out
