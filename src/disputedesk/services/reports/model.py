"""What a report is: titled tables of rows, a period of calendar months, notices.

Every door shows the same object: the REST API returns ``to_dict()``, the CLI draws each table
with Rich, the page draws charts over some tables and every table beneath them, and ``to_csv``
exports any one. Money cells hold integer minor units and every row with money has its
``currency``: one row never mixes currencies, and nothing adds two currencies together.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from disputedesk.domain.money import format_money, to_major
from disputedesk.errors import NotFound

# Column kinds: text, count, money (minor units; the row's currency), percent (a fraction, or
# None when there is nothing to divide by), hours, month (YYYY-MM).
KINDS = ("text", "count", "money", "percent", "hours", "month")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "count"


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "note": self.note,
                "columns": [{"key": c.key, "label": c.label, "kind": c.kind}
                            for c in self.columns],
                "rows": self.rows}


@dataclass
class Report:
    kind: str
    title: str
    since: str
    until: str
    zone: str
    account: str | None
    tables: list[Table]
    notices: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise NotFound(f"the {self.kind} report has no table '{key}'", param="table",
                       hint="one of: " + ", ".join(t.key for t in self.tables))

    def to_dict(self) -> dict[str, Any]:
        return {"report": self.kind, "title": self.title, "since": self.since,
                "until": self.until, "zone": self.zone, "account": self.account,
                "notices": self.notices, "summary": self.summary,
                "tables": [t.to_dict() for t in self.tables]}


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def cell_text(column: Column, row: dict[str, Any]) -> str:
    """A cell as people read it: money with its currency, percentages with two decimals."""
    value = row.get(column.key)
    if value is None:
        return "—" if column.kind in ("percent", "hours") else ""
    if column.kind == "money":
        return format_money(int(value), row["currency"])
    if column.kind == "percent":
        return f"{value * 100:.2f}%"
    if column.kind == "hours":
        return f"{value:.1f} h"
    return str(value)


def csv_value(column: Column, row: dict[str, Any]) -> str:
    """A cell for a spreadsheet: money in major units (its currency is the row's ``currency``
    column), percentages as percent numbers, nothing else changed."""
    value = row.get(column.key)
    if value is None:
        return ""
    if column.kind == "money":
        return str(to_major(int(value), row["currency"]))
    if column.kind == "percent":
        return f"{value * 100:.4f}"
    if column.kind == "hours":
        return f"{value:.2f}"
    return str(value)


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.label + (" (%)" if c.kind == "percent" else "") for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_value(c, row) for c in table.columns])
    return out.getvalue()
