"""Bulk refund files: reading and validating the CSV, the stable per-row key, the result CSV.

Pure: bytes in, plain data out. The services (later) look the targets up, run
:func:`disputedesk.domain.refunds.plan_refund` per row, and send the refunds.

Input format (docs/refunds.md has an example)
---------------------------------------------
- UTF-8 (a byte-order mark is fine), delimiter ``,`` or ``;`` (or tab), detected from the header.
- Header row, names case-insensitive (``Payment Intent`` = ``payment_intent``):
  ``charge`` | ``payment_intent`` | ``order_id``: at least one of these columns; each row fills
  exactly one of them. ``amount``: required; ``full`` or major units with or without currency
  (``12.50``, ``12.50 EUR``, ``EUR 12.50``, ``1500 JPY``, ``1.230 KWD``); without a currency the
  charge's currency is used. ``reason``: optional, ``duplicate``, ``fraudulent`` or
  ``requested_by_customer``. ``note``: optional free text for the audit log.
  ``metadata.<key>``: optional, one column per metadata key (chosen over a JSON column because it
  is what a spreadsheet edits comfortably); an empty cell sets nothing.
- Row numbers are the spreadsheet's: the header is row 1, the first refund row 2. Blank rows are
  skipped but keep their number.

Every row is validated before anything runs, and every problem is reported at once
(:class:`Problem`: row, column, what is wrong, how to fix it).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TextIO

from disputedesk.domain.refunds import (
    METADATA_KEY_MAX,
    METADATA_VALUE_MAX,
    REFUND_REASONS,
    RequestedAmount,
    parse_requested_amount,
)
from disputedesk.errors import DisputeDeskError, ValidationError

TARGET_COLUMNS: tuple[str, ...] = ("charge", "payment_intent", "order_id")
KNOWN_COLUMNS: tuple[str, ...] = (*TARGET_COLUMNS, "amount", "reason", "note")
METADATA_PREFIX = "metadata."
DEFAULT_MAX_ROWS = 10_000
NOTE_MAX = 2_000
ID_MAX = 255
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file. ``row`` is None for the whole file or the header (row 1)."""

    row: int | None
    column: str | None
    message: str
    fix: str
    code: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message} ({self.fix})"

    def to_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message,
                "fix": self.fix, "code": self.code}


class BulkFileInvalid(ValidationError):
    """The bulk file has problems; nothing was run. ``problems`` lists all of them."""

    code = "bulk_file_invalid"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        super().__init__(
            f"the bulk file has {count} problem{'s' if count != 1 else ''}; nothing was refunded",
            hint="fix every listed row and run it again",
        )

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["problems"] = [p.to_dict() for p in self.problems]
        return out


@dataclass(frozen=True)
class BulkRow:
    """One valid refund row."""

    row: int
    target_type: str          # "charge" | "payment_intent" | "order_id"
    target: str
    amount: RequestedAmount
    reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    key: str = ""             # see row_key(): the row's content, not the file's


@dataclass(frozen=True)
class BulkFile:
    rows: tuple[BulkRow, ...]
    problems: tuple[Problem, ...]
    file_hash: str            # SHA-256 of the canonical content (see canonical_hash())
    delimiter: str | None
    columns: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        if self.problems:
            raise BulkFileInvalid(self.problems)


# --- the stable per-row key --------------------------------------------------------------------------

def row_key(row: BulkRow, salt: str = "") -> str:
    """``bulk-<40 hex>``: the identity of one refund row, from the row's *own content*.

    The content is what decides the money: the target (column and id), the amount (``full``, or
    the number with its currency if one is written) and the reason. Not the file, not the row
    number, not the note or metadata: so the same row in an edited, reordered or re-saved file
    has the same key. The services store the key as the row's refund request id and client key
    (the idempotency key follows from it), so running a file again, or an edited copy of it,
    meets the requests already recorded and finishes them instead of refunding twice.
    ``salt`` (the services pass the job id for ``--allow-repeat``) makes keys of one run only.
    Within one file the keys are distinct: a target may appear on one row only.
    """
    if not row.target_type or not row.target:
        raise ValidationError("a row key needs the row's target")
    amount = "full" if row.amount.full else [
        format(row.amount.major.normalize(), "f"), (row.amount.currency or "").lower()]
    content = json.dumps(["disputedesk-bulk-row-v2", row.target_type, row.target, amount,
                          row.reason or "", salt], ensure_ascii=False, separators=(",", ":"))
    return f"bulk-{hashlib.sha256(content.encode()).hexdigest()[:40]}"


def canonical_hash(rows: Iterable[BulkRow]) -> str:
    """SHA-256 over the parsed rows (row number, target, amount as a number, reason, metadata,
    note): the identity of the *file* (a bulk job), so that formatting changes a spreadsheet
    makes on save ("12.50" -> "12.5") do not make it another job. Row keys do not use it."""
    digest = hashlib.sha256(b"disputedesk-bulk-v1\n")
    for r in rows:
        amount = "full" if r.amount.full else [
            format(r.amount.major.normalize(), "f"), r.amount.currency or ""]
        line = json.dumps([r.row, r.target_type, r.target, amount, r.reason or "",
                           sorted(r.metadata.items()), r.note or ""],
                          ensure_ascii=False, separators=(",", ":"))
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


# --- reading ----------------------------------------------------------------------------------------

def _decode(data: bytes | str) -> tuple[str | None, Problem | None]:
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, Problem(None, None, "the file is UTF-16 encoded",
                             'save it as "CSV UTF-8 (comma delimited)"', "encoding")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, Problem(None, None,
                             f"the file is not UTF-8 (byte {exc.start + 1}, on line {line})",
                             'save it as "CSV UTF-8 (comma delimited)"', "encoding")


def _normalize_column(name: str) -> str:
    stripped = name.strip()
    if stripped.lower().startswith(METADATA_PREFIX):
        return METADATA_PREFIX + stripped[len(METADATA_PREFIX):].strip()
    return "_".join(stripped.lower().replace("-", " ").split())


def _sniff_delimiter(text: str) -> str:
    """The delimiter that turns the header into the most known column names (then: the most
    frequent), so ``charge;amount`` and ``charge,amount`` both work."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        names = next(csv.reader([header], delimiter=delimiter), [])
        known = sum(1 for n in names if _normalize_column(n) in KNOWN_COLUMNS
                    or _normalize_column(n).startswith(METADATA_PREFIX))
        score = (known, header.count(delimiter))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _check_header(raw: list[str]) -> tuple[list[str | None], list[Problem]]:
    """Column names by position and the header's problems. ``""`` marks a column without a name
    (allowed while its cells are empty), ``None`` a column already reported as a problem."""
    problems: list[Problem] = []
    columns: list[str | None] = []
    seen: set[str] = set()
    for index, original in enumerate(raw, start=1):
        name = _normalize_column(original)
        if not name:
            columns.append("")  # e.g. a trailing empty column; its cells must stay empty
            continue
        if name in seen:
            problems.append(Problem(1, original.strip(), f"column '{original.strip()}' appears twice",
                                    "keep one of them", "duplicate_column"))
            columns.append(None)
            continue
        seen.add(name)
        if name.startswith(METADATA_PREFIX):
            key = name[len(METADATA_PREFIX):]
            bad = None
            if not key:
                bad = "has no key after 'metadata.'"
            elif len(key) > METADATA_KEY_MAX:
                bad = f"has a key longer than {METADATA_KEY_MAX} characters"
            elif "[" in key or "]" in key:
                bad = "has square brackets in its key"
            elif key.startswith("disputedesk_"):
                bad = "uses a key reserved for disputedesk (disputedesk_...)"
            if bad:
                problems.append(Problem(1, original.strip(), f"column '{original.strip()}' {bad}",
                                        "name it metadata.<key>, e.g. metadata.ticket",
                                        "bad_metadata_column"))
                columns.append(None)
                continue
        elif name == "metadata":
            problems.append(Problem(1, original.strip(),
                                    "metadata is given as one column per key, not one column",
                                    "use columns named metadata.<key>, e.g. metadata.ticket",
                                    "unknown_column"))
            columns.append(None)
            continue
        elif name not in KNOWN_COLUMNS:
            close = difflib.get_close_matches(name, KNOWN_COLUMNS, n=1)
            fix = (f"did you mean '{close[0]}'?" if close else
                   "known columns: " + ", ".join(KNOWN_COLUMNS) + ", metadata.<key>")
            problems.append(Problem(1, original.strip(), f"unknown column '{original.strip()}'",
                                    fix, "unknown_column"))
            columns.append(None)
            continue
        columns.append(name)
    if not any(c in TARGET_COLUMNS for c in columns):
        problems.append(Problem(1, None, "no charge, payment_intent or order_id column",
                                "add one of these columns to say which payment to refund",
                                "missing_column"))
    if "amount" not in columns:
        problems.append(Problem(1, "amount", "no amount column",
                                'add an amount column: "full" or an amount such as 12.50',
                                "missing_column"))
    return columns, problems


def _check_id(row: int, column: str, value: str) -> Problem | None:
    if len(value) > ID_MAX or any(ch.isspace() for ch in value):
        return Problem(row, column, f"'{value[:60]}' is not a valid {column} id",
                       "ids have no spaces and at most 255 characters", "invalid_id")
    if column == "charge" and value.startswith("pi_"):
        return Problem(row, column, f"'{value}' is a PaymentIntent id, not a charge id",
                       "move it to the payment_intent column", "wrong_id_column")
    if column == "payment_intent" and value.startswith(("ch_", "py_")):
        return Problem(row, column, f"'{value}' is a charge id, not a PaymentIntent id",
                       "move it to the charge column", "wrong_id_column")
    return None


def _parse_row(number: int, cells: Mapping[str, str], problems: list[Problem],
               seen_targets: dict[tuple[str, str], int]) -> BulkRow | None:
    before = len(problems)
    filled = [c for c in TARGET_COLUMNS if cells.get(c)]
    target_type = target = None
    if not filled:
        problems.append(Problem(number, "charge|payment_intent|order_id",
                                "no payment to refund", "fill exactly one of charge, "
                                "payment_intent or order_id", "missing_target"))
    elif len(filled) > 1:
        problems.append(Problem(number, "|".join(filled),
                                f"{' and '.join(filled)} are both filled",
                                "fill exactly one of them per row", "several_targets"))
    else:
        target_type, target = filled[0], cells[filled[0]]
        if target_type != "order_id" and (bad := _check_id(number, target_type, target)):
            problems.append(bad)
        first = seen_targets.setdefault((target_type, target), number)
        if first != number:
            problems.append(Problem(number, target_type,
                                    f"{target_type} {target} is also on row {first}",
                                    "one row per payment: put the total to refund on one row",
                                    "duplicate_target"))

    amount = None
    try:
        amount = parse_requested_amount(cells.get("amount", ""))
    except DisputeDeskError as exc:
        problems.append(Problem(number, "amount", exc.message,
                                exc.hint or 'write "full" or an amount such as 12.50',
                                exc.code))

    reason = cells.get("reason") or None
    if reason is not None:
        reason = "_".join(reason.lower().replace("-", " ").split())
        if reason not in REFUND_REASONS:
            problems.append(Problem(number, "reason", f"'{cells['reason']}' is not a refund reason",
                                    "use " + ", ".join(REFUND_REASONS) + " or leave it empty",
                                    "invalid_reason"))

    note = cells.get("note") or None
    if note is not None and len(note) > NOTE_MAX:
        problems.append(Problem(number, "note", f"the note has {len(note)} characters",
                                f"shorten it to at most {NOTE_MAX}", "note_too_long"))

    metadata: dict[str, str] = {}
    for column, value in cells.items():
        if column.startswith(METADATA_PREFIX) and value:
            if len(value) > METADATA_VALUE_MAX:
                problems.append(Problem(number, column, f"the value has {len(value)} characters",
                                        f"Stripe keeps at most {METADATA_VALUE_MAX} per key",
                                        "metadata_too_long"))
            metadata[column[len(METADATA_PREFIX):]] = value

    if len(problems) > before or target is None or amount is None:
        return None
    return BulkRow(row=number, target_type=target_type, target=target, amount=amount,
                   reason=reason, metadata=metadata, note=note)


def parse_bulk_csv(data: bytes | str, *, max_rows: int = DEFAULT_MAX_ROWS) -> BulkFile:
    """Read and validate a bulk refund file. Never raises for bad content: every problem is in
    ``.problems`` (call :meth:`BulkFile.raise_for_problems` to stop on them)."""
    text, problem = _decode(data)
    if problem:
        return BulkFile((), (problem,), "", None, ())
    if "\x00" in text:
        return BulkFile((), (Problem(None, None, "the file contains NUL characters",
                                     "export it again as a CSV text file", "encoding"),), "", None, ())
    if not text.strip():
        return BulkFile((), (Problem(None, None, "the file is empty",
                                     "add a header row and one row per refund", "empty_file"),),
                        "", None, ())

    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems: list[Problem] = []
    rows: list[BulkRow] = []
    seen_targets: dict[tuple[str, str], int] = {}
    columns: list[str | None] = []
    data_rows = 0
    number = 0
    try:
        for number, record in enumerate(reader, start=1):
            if number == 1:
                columns, header_problems = _check_header(record)
                problems.extend(header_problems)
                continue
            if not any(cell.strip() for cell in record):
                continue  # blank row
            data_rows += 1
            if data_rows > max_rows:
                continue  # counted, reported once below
            if len(record) > len(columns):
                extra = record[len(columns):]
                if any(cell.strip() for cell in extra):
                    problems.append(Problem(
                        number, None,
                        f"the row has {len(record)} values but the header has {len(columns)} "
                        "columns",
                        f"a value probably contains '{delimiter}': put that value in double "
                        "quotes", "too_many_values"))
                    continue
            cells: dict[str, str] = {}
            for index, value in enumerate(record[: len(columns)]):
                name = columns[index]
                if name == "" and value.strip():
                    problems.append(Problem(number, f"column {index + 1}",
                                            "a value in a column without a name",
                                            "give the column a name or delete the value",
                                            "unnamed_column"))
                elif name:
                    cells[name] = value.strip()
            parsed = _parse_row(number, cells, problems, seen_targets)
            if parsed is None:
                continue
            rows.append(parsed)
    except csv.Error as exc:
        # Physical lines differ from rows once a quoted value spans lines: name the line.
        problems.append(Problem(None, None,
                                f"the CSV cannot be read after line {reader.line_num}: {exc}",
                                "check for a double quote that is opened and never closed; "
                                "the rows after it were not checked", "malformed_csv"))
        malformed = True
    else:
        malformed = False

    if data_rows == 0 and not malformed:
        problems.append(Problem(None, None, "the file has a header but no refund rows",
                                "add one row per refund", "empty_file"))
    if data_rows > max_rows:
        problems.append(Problem(None, None,
                                f"the file has {data_rows} refund rows; at most {max_rows} "
                                "are allowed in one file",
                                "split it into several files", "too_many_rows"))

    file_hash = canonical_hash(rows)
    keyed = tuple(with_key(r) for r in rows)
    named = tuple(c for c in columns if c)
    return BulkFile(keyed, tuple(problems), file_hash, delimiter, named)


def with_key(row: BulkRow, salt: str = "") -> BulkRow:
    """The row with its key (:func:`row_key`) set."""
    return BulkRow(row=row.row, target_type=row.target_type, target=row.target,
                   amount=row.amount, reason=row.reason, metadata=row.metadata, note=row.note,
                   key=row_key(row, salt))


# --- the result file ---------------------------------------------------------------------------------

RESULT_COLUMNS: tuple[str, ...] = ("row", "refund_id", "status", "error")
# Cells starting with these are run as formulas by spreadsheets (CSV injection): prefix a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class BulkResult:
    """The outcome of one row: ``status`` is the request's state (succeeded, pending,
    awaiting_approval, failed, ...) or ``skipped``/``invalid``; ``error`` says why when it failed."""

    row: int
    refund_id: str | None
    status: str
    error: str | None = None


def _cell(value: str | None) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_result_csv(results: Iterable[BulkResult], out: TextIO) -> int:
    """Write the result CSV (comma, header ``row,refund_id,status,error``); returns rows written.

    ``out`` should be opened with ``newline=""``. Text that a spreadsheet would run as a formula
    gets a leading ``'``.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RESULT_COLUMNS)
    count = 0
    for result in sorted(results, key=lambda r: r.row):
        writer.writerow([result.row, _cell(result.refund_id), _cell(result.status),
                         _cell(result.error)])
        count += 1
    return count


def result_csv(results: Iterable[BulkResult]) -> str:
    buffer = io.StringIO(newline="")
    write_result_csv(results, buffer)
    return buffer.getvalue()


def read_result_csv(data: str) -> list[BulkResult]:
    """Read a result CSV back (e.g. to resume or to report); refuses a file of another shape."""
    reader = csv.reader(io.StringIO(data.removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != RESULT_COLUMNS:
        raise ValidationError("this is not a disputedesk result file",
                              hint="its header must be " + ",".join(RESULT_COLUMNS))
    out: list[BulkResult] = []
    for record in reader:
        if not record:
            continue
        if len(record) != len(RESULT_COLUMNS) or not record[0].isdigit():
            raise ValidationError(f"result line {reader.line_num} is malformed",
                                  hint="the result file was edited; write it again")
        out.append(BulkResult(row=int(record[0]), refund_id=record[1] or None,
                              status=record[2], error=record[3] or None))
    return out


@dataclass(frozen=True)
class PlannedRow:
    """What a checked row would refund (a dry run's outcome for a valid row)."""

    row: int
    charge: str
    amount: int
    currency: str
    full: bool


def totals_by_currency(planned: Iterable[PlannedRow]) -> dict[str, tuple[int, int]]:
    """currency -> (rows, total in minor units)."""
    out: dict[str, tuple[int, int]] = {}
    for p in planned:
        rows, total = out.get(p.currency, (0, 0))
        out[p.currency] = (rows + 1, total + p.amount)
    return out


def bulk_confirmation(planned: Iterable[PlannedRow], problems: int,
                      locale: str | None = None) -> str:
    """The sentence people confirm before a bulk run: how many rows, how much per currency,
    and how many will not be refunded."""
    from disputedesk.domain.money import format_amount

    totals = totals_by_currency(planned)
    count = sum(rows for rows, _ in totals.values())
    parts = [f"{format_amount(total, cur, locale)} ({rows} row{'' if rows == 1 else 's'})"
             for cur, (rows, total) in sorted(totals.items())]
    text = (f"Refund {count} row{'' if count == 1 else 's'}: {', '.join(parts)}." if count
            else "No row can be refunded.")
    if problems:
        text += (f" {problems} row{' has a problem' if problems == 1 else 's have problems'} "
                 "and will not be refunded.")
    return text
