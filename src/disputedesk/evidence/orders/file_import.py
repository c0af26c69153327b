"""Import orders from a CSV, JSON or JSON-lines file.

Every row is parsed and validated before anything is returned, and *all* problems are reported
together (row, column, what is wrong, how to fix it), so a merchant fixes the file in one pass.
Storing the orders is the caller's business: :func:`parse_orders_file` only reads.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from disputedesk.domain.money import exponent
from disputedesk.errors import MoneyError
from disputedesk.evidence.orders.errors import OrderImportError, OrderSourceConfigError
from disputedesk.evidence.orders.fields import (
    ALIASES,
    AmountUnit,
    FieldProblem,
    check_mapping,
    looks_major,
    norm_key,
    normalize_record,
)
from disputedesk.evidence.orders.model import Order

FileFormat = Literal["csv", "json", "jsonl"]
MAX_FILE_BYTES = 50_000_000
MAX_ROWS = 200_000
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".json": "json", ".jsonl": "jsonl",
             ".ndjson": "jsonl"}


@dataclass(frozen=True)
class ImportProblem:
    """A problem with the file (``row`` None) or with one row's column."""

    row: int | None
    column: str | None
    message: str
    hint: str = ""
    unit: str = "row"   # "row" (CSV, header is row 1), "line" (JSON lines) or "item" (JSON array)

    def describe(self) -> str:
        where = [f"{self.unit} {self.row}"] if self.row is not None else ["file"]
        if self.column:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" + (f" - {self.hint}" if self.hint else "")

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "unit": self.unit, "column": self.column, "message": self.message,
                "hint": self.hint}


@dataclass
class ImportResult:
    orders: list[Order]
    problems: list[ImportProblem]
    format: str = "csv"
    rows: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, limit: int = 50) -> str:
        head = (f"{self.rows} rows read, {len(self.orders)} valid orders, "
                f"{len(self.problems)} problems")
        if self.ignored_columns:
            head += f"; columns not used: {', '.join(self.ignored_columns)}"
        lines = [head] + [p.describe() for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"... and {len(self.problems) - limit} more problems")
        return "\n".join(lines)

    def raise_for_problems(self) -> None:
        """Raise one :class:`OrderImportError` listing every problem (import all or nothing)."""
        if self.problems:
            raise OrderImportError(f"the order file has {len(self.problems)} problems; nothing imported",
                                   self.problems, hint=self.summary(limit=10))


def parse_orders_file(
    path_or_bytes: str | Path | bytes,
    format: FileFormat | None = None,
    *,
    mapping: Mapping[str, str] | None = None,
    amount_unit: AmountUnit = "auto",
    default_currency: str | None = None,
    max_rows: int = MAX_ROWS,
) -> ImportResult:
    """Read every order in a CSV / JSON / JSON-lines file and report all problems at once.

    ``format`` is taken from the file suffix (or the content) when not given. ``mapping`` is
    ``{order field: column}`` for columns the common names do not cover. Orders are returned for
    the valid rows even when others have problems; import all or nothing with
    ``result.raise_for_problems()``.
    """
    try:
        fields_map = check_mapping(mapping)
    except ValueError as exc:
        raise OrderSourceConfigError(str(exc), param="mapping") from None
    data, name = _read(path_or_bytes)
    fmt = _format(format, name, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ImportResult([], [ImportProblem(None, None,
                             f"the file is not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x})",
                             "save or export it as UTF-8 (\"CSV UTF-8\" in Excel)")], fmt)
    if not text.strip():
        return ImportResult([], [ImportProblem(None, None, "the file is empty", "export the orders again")], fmt)
    if fmt == "csv":
        records, problems, unit = _csv_records(text, fields_map)
    elif fmt == "json":
        records, problems, unit = _json_records(text)
    else:
        records, problems, unit = _jsonl_records(text)
    if len(records) > max_rows:
        problems.append(ImportProblem(None, None, f"the file has {len(records):,} orders, more than "
                                      f"{max_rows:,}", "split it into smaller files", unit))
        return ImportResult([], problems, fmt, len(records))
    return _validate(records, problems, unit, fmt, fields_map, amount_unit, default_currency)


def _read(path_or_bytes: str | Path | bytes) -> tuple[bytes, str | None]:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
        name = None
    else:
        path = Path(path_or_bytes)
        if not path.is_file():
            raise OrderSourceConfigError(f"no order file at {path}", param="path",
                                         hint="check the path; give a CSV, JSON or JSON-lines file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise OrderSourceConfigError(f"{path.name} is larger than {MAX_FILE_BYTES:,} bytes",
                                         param="path", hint="split it into smaller files")
        data, name = path.read_bytes(), path.name
    if len(data) > MAX_FILE_BYTES:
        raise OrderSourceConfigError(f"the order file is larger than {MAX_FILE_BYTES:,} bytes",
                                     hint="split it into smaller files")
    return data, name


def _format(format: str | None, name: str | None, data: bytes) -> str:
    if format:
        fmt = {"ndjson": "jsonl", "tsv": "csv"}.get(format.lower(), format.lower())
        if fmt not in ("csv", "json", "jsonl"):
            raise OrderSourceConfigError(f"unknown order file format '{format}'", param="format",
                                         hint="use csv, json or jsonl")
        return fmt
    if name and Path(name).suffix.lower() in _SUFFIXES:
        return _SUFFIXES[Path(name).suffix.lower()]
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"[":
        return "json"
    if head == b"{":
        # JSON lines when the first line is a whole object on its own and more lines follow.
        lines = [ln for ln in data.splitlines() if ln.strip()]
        if len(lines) > 1:
            try:
                json.loads(lines[0].decode("utf-8-sig"))
                return "jsonl"
            except (UnicodeDecodeError, json.JSONDecodeError):
                pass
        return "json"
    return "csv"


def _csv_records(text: str, fields_map: Mapping[str, str]):
    problems: list[ImportProblem] = []
    first_line = text.lstrip("\r\n").splitlines()[0]
    delimiter = max(",;\t|", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        problems.append(ImportProblem(reader.line_num, None, f"the CSV cannot be read: {exc}",
                                      "check the quotes on that line", "line"))
        return [], problems, "row"
    while rows and not any(c.strip() for c in rows[0]):
        rows.pop(0)
    header = [c.strip() for c in rows[0]]
    seen: dict[str, int] = {}
    for n, column in enumerate(header, 1):
        if not column:
            if any(len(r) >= n and r[n - 1].strip() for r in rows[1:]):
                problems.append(ImportProblem(1, None, f"column {n} has no name but holds values",
                                              "give it a header or delete it"))
            continue
        if column in seen:
            problems.append(ImportProblem(1, column, f"the column name appears twice (columns {seen[column]} and {n})",
                                          "rename or delete one of them"))
        seen.setdefault(column, n)
    for target, source in fields_map.items():
        if source not in seen:
            problems.append(ImportProblem(None, source, f"the mapping reads {target} from '{source}', "
                                          "but the file has no such column",
                                          f"columns are: {', '.join(header)}"))
    if "id" not in fields_map and not any(ALIASES.get(norm_key(c)) == "id" for c in header):
        problems.append(ImportProblem(1, None, "no order id column",
                                      "add a column named id, order_id or order_number, or map one"))
    records: list[tuple[int, dict[str, Any]]] = []
    for n, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            problems.append(ImportProblem(n, None, f"the row has {len(row)} cells but the header has "
                                          f"{len(header)}", "check for an unquoted delimiter in a cell"))
            continue
        records.append((n, {h: c for h, c in zip(header, row) if h}))
    return records, problems, "row"


def _json_records(text: str):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [ImportProblem(exc.lineno, None, f"the JSON cannot be read: {exc.msg} "
                                  f"(line {exc.lineno}, column {exc.colno})",
                                  "fix the JSON syntax there", "line")], "item"
    if isinstance(data, Mapping):
        for key in ("orders", "data", "items", "results"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list):
        return [], [ImportProblem(None, None, "the JSON is not a list of orders",
                                  'give [{"id": ...}, ...] or {"orders": [...]}')], "item"
    records, problems = [], []
    for n, item in enumerate(data, 1):
        if isinstance(item, Mapping):
            records.append((n, dict(item)))
        else:
            problems.append(ImportProblem(n, None, f"the entry is {type(item).__name__}, not an object",
                                          "each order is a JSON object", "item"))
    return records, problems, "item"


def _jsonl_records(text: str):
    records, problems = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(ImportProblem(n, None, f"the line is not JSON: {exc.msg} at column {exc.colno}",
                                          "put one JSON object on each line", "line"))
            continue
        if not isinstance(item, Mapping):
            problems.append(ImportProblem(n, None, f"the line holds {type(item).__name__}, not an object",
                                          "put one JSON object on each line", "line"))
            continue
        records.append((n, item))
    return records, problems, "line"


def _amount_unit_for_file(records: list[tuple[int, dict[str, Any]]], fields_map: Mapping[str, str],
                          requested: AmountUnit, default_currency: str | None,
                          ) -> tuple[AmountUnit, ImportProblem | None]:
    """Decide "auto" once for the whole amount column, instead of row by row.

    A column where any amount has a decimal point or a currency is in major units. A column of
    bare whole numbers in text is ambiguous (cents or units?) and is reported once.
    """
    if requested != "auto":
        return requested, None
    column = fields_map.get("amount")
    texts: list[str] = []
    for _, record in records:
        for key, value in record.items():
            is_amount = key == column if column else ALIASES.get(norm_key(key)) == "amount"
            if is_amount and value not in (None, ""):
                if not isinstance(value, str):
                    return "auto", None   # typed JSON values: ints are minor, decimals major
                column = key
                texts.append(value)
    if not texts:
        return "auto", None
    if any(looks_major(v) for v in texts):
        return "major", None
    currencies = {str(r.get(k) or "").strip().lower() for _, r in records for k in r
                  if ALIASES.get(norm_key(k)) == "currency"} - {""}
    if not currencies and default_currency:
        currencies = {default_currency.lower()}
    if currencies and all(_zero_decimal(c) for c in currencies):
        return "minor", None
    return "minor", ImportProblem(
        None, column, f"the amounts are whole numbers only (e.g. '{texts[0]}'): "
        "they could be cents or whole units",
        'set amount_unit to "minor" (cents) or "major" (whole units), or write them as 45.00')


def _zero_decimal(currency: str) -> bool:
    try:
        return exponent(currency) == 0
    except MoneyError:
        return False   # reported on the row by the currency check


def _validate(records, problems, unit, fmt, fields_map, amount_unit, default_currency) -> ImportResult:
    unit_for_file, unit_problem = _amount_unit_for_file(records, fields_map, amount_unit, default_currency)
    if unit_problem:
        problems.append(unit_problem)
    orders: list[Order] = []
    ignored: list[str] = []
    first_row_of: dict[str, int] = {}
    for row, record in records:
        result = normalize_record(record, mapping=fields_map, amount_unit=unit_for_file,
                                  default_currency=default_currency,
                                  require_id=not any(p.message == "no order id column" for p in problems))
        for name in result.ignored:
            if name not in ignored:
                ignored.append(name)
        for fp in result.problems:
            problems.append(_row_problem(row, fp, unit))
        if result.data is None:
            continue
        order_id = result.data.get("id")
        if order_id in first_row_of:
            problems.append(ImportProblem(row, None, f"order id '{order_id}' is also on {unit} "
                                          f"{first_row_of[order_id]}", "keep one row per order", unit))
            continue
        if order_id:
            first_row_of[order_id] = row
            orders.append(Order._from_normalized(result.data))
    problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    return ImportResult(orders, problems, fmt, len(records), ignored)


def _row_problem(row: int, fp: FieldProblem, unit: str) -> ImportProblem:
    return ImportProblem(row, fp.column, fp.message, fp.hint, unit)


def iter_problem_dicts(problems: Iterable[ImportProblem]) -> list[dict[str, Any]]:
    return [p.to_dict() for p in problems]
