"""Stripe's search query language: parse a query into clauses, and test objects against it.

The language, as Stripe documents it (``/v1/charges/search`` and friends):

- a clause is ``field`` ``operator`` ``value``: ``status:'succeeded'``, ``amount>1000``,
  ``metadata['order_id']:'6735'``, ``email~'amy'``;
- operators: ``:`` exact match (case-insensitive for text), ``~`` substring match (string
  fields only, at least 3 characters), ``>`` ``<`` ``>=`` ``<=`` (numeric fields only); a
  leading ``-`` negates a clause; the value ``null`` (unquoted, with ``:``) matches a field
  that is absent or null;
- values are quoted with ``'`` or ``"`` (a backslash escapes the quote), or bare (numbers,
  ``null``, ``true``/``false``, ids, ``4242``);
- clauses are joined by whitespace or ``AND`` (all must hold) or ``OR`` (any may hold),
  keywords case-insensitive; ``AND`` and ``OR`` cannot be mixed in one query and there are no
  parentheses to group them; at most 10 clauses.

:func:`parse` raises :class:`QueryError` (the resource turns it into Stripe's 400 with
``param: query``); :meth:`Query.matches` evaluates a parsed query on one stored object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

MAX_CLAUSES = 10
MAX_QUERY_LENGTH = 5000
MIN_SUBSTRING = 3
OPERATORS = (">=", "<=", ":", "~", ">", "<")
NULL = None  # the parsed value of a bare ``null``

# field kinds: token (exact only), string (exact and substring), numeric, boolean
KINDS = ("token", "string", "numeric", "boolean")


class QueryError(ValueError):
    """A query Stripe would refuse; the message says what is wrong."""


@dataclass(frozen=True)
class Clause:
    field: str                 # "status", "payment_method_details.card.last4", "metadata"
    op: str                    # one of OPERATORS
    value: Any                 # str, int/float (numeric), bool, or None for ``null``
    negated: bool = False
    key: str | None = None     # the metadata key for ``metadata['key']``


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    joiner: str = "AND"        # "AND" or "OR"
    fields: Mapping[str, str] | None = None

    def matches(self, obj: Mapping[str, Any]) -> bool:
        results = (_clause_matches(c, obj) for c in self.clauses)
        return all(results) if self.joiner == "AND" else any(results)


_PARSE_HELP = ("Try using the format `metadata[\"key\"]:\"value\"` to query for metadata or "
               "`key:\"value\"` to query for other fields.")


def _fail(message: str) -> QueryError:
    return QueryError(message)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def eof(self) -> bool:
        return self.i >= len(self.text)

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def skip_space(self) -> bool:
        start = self.i
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1
        return self.i > start

    def quoted(self) -> str:
        quote = self.text[self.i]
        self.i += 1
        out = []
        while self.i < len(self.text):
            ch = self.text[self.i]
            if ch == "\\" and self.i + 1 < len(self.text):
                out.append(self.text[self.i + 1])
                self.i += 2
                continue
            if ch == quote:
                self.i += 1
                return "".join(out)
            out.append(ch)
            self.i += 1
        raise _fail(f"We were unable to parse your search query: a value starting with {quote} "
                    f"is never closed. {_PARSE_HELP}")

    def word(self, stop: str) -> str:
        start = self.i
        while self.i < len(self.text) and not self.text[self.i].isspace() \
                and self.text[self.i] not in stop:
            self.i += 1
        return self.text[start:self.i]


def _keyword(scanner: _Scanner) -> str | None:
    """``AND``/``OR`` (any case) followed by whitespace or the end, consumed; else None."""
    for kw in ("AND", "OR"):
        end = scanner.i + len(kw)
        if scanner.text[scanner.i:end].upper() == kw and (
                end == len(scanner.text) or scanner.text[end].isspace()):
            scanner.i = end
            return kw
    return None


def parse(text: str, fields: Mapping[str, str], resource: str) -> Query:
    """Parse ``text`` against ``fields`` (field -> kind; ``metadata`` always allowed)."""
    if not isinstance(text, str) or not text.strip():
        raise _fail("The search query must not be empty. " + _PARSE_HELP)
    if len(text) > MAX_QUERY_LENGTH:
        raise _fail(f"The search query is longer than {MAX_QUERY_LENGTH} characters.")
    s = _Scanner(text)
    clauses: list[Clause] = []
    joiners: set[str] = set()
    s.skip_space()
    while True:
        clauses.append(_clause(s, fields, resource))
        if len(clauses) > MAX_CLAUSES:
            raise _fail(f"A search query can have at most {MAX_CLAUSES} clauses.")
        spaced = s.skip_space()
        if s.eof():
            break
        if not spaced:
            raise _fail(f"We were unable to parse your search query near position {s.i + 1} "
                        f"(`{text[s.i:s.i + 20]}`). {_PARSE_HELP}")
        kw = _keyword(s)
        if kw is not None:
            joiners.add(kw)
            if not s.skip_space() or s.eof():
                raise _fail(f"The search query ends after `{kw}`: a clause must follow it.")
        else:
            joiners.add("AND")  # whitespace alone joins with AND
        if len(joiners) > 1:
            raise _fail("You cannot combine `AND` and `OR` in the same search query (clauses "
                        "separated by whitespace alone are joined with `AND`).")
    return Query(tuple(clauses), joiners.pop() if joiners else "AND", fields)


def _clause(s: _Scanner, fields: Mapping[str, str], resource: str) -> Clause:
    if s.peek() in ("(", ")"):
        raise _fail("Parentheses are not supported in search queries: Stripe's query language "
                    "has no grouping. " + _PARSE_HELP)
    negated = False
    if s.peek() == "-":
        negated = True
        s.i += 1
    start = s.i
    name = s.word(":~<>[\"'()")
    key = None
    if not name:
        raise _fail(f"We were unable to parse your search query near position {start + 1} "
                    f"(`{s.text[start:start + 20]}`). {_PARSE_HELP}")
    if name == "metadata":
        if s.peek() != "[":
            raise _fail("Query metadata as `metadata[\"key\"]:\"value\"`. " + _PARSE_HELP)
        s.i += 1
        if s.peek() not in ("'", '"'):
            raise _fail("A metadata key must be quoted: `metadata[\"key\"]:\"value\"`.")
        key = s.quoted()
        if s.peek() != "]":
            raise _fail("A metadata key must be followed by `]`: `metadata[\"key\"]:\"value\"`.")
        s.i += 1
        kind = "token"
    else:
        if s.peek() == "[":
            raise _fail(f"Field `{name}` does not take a key in brackets; only `metadata` "
                        "does. " + _PARSE_HELP)
        if name not in fields:
            raise _fail(f"Field `{name}` is an unsupported search field for resource "
                        f"`{resource}`. See https://docs.stripe.com/search#query-fields-for-"
                        f"{resource.replace('_', '-')} for a list of supported fields.")
        kind = fields[name]
    op = next((o for o in OPERATORS if s.text.startswith(o, s.i)), None)
    if op is None:
        raise _fail(f"Field `{name}` must be followed by an operator (`:`, `~`, `>`, `<`, `>=` "
                    f"or `<=`). {_PARSE_HELP}")
    s.i += len(op)
    if s.eof() or s.peek().isspace():
        raise _fail(f"Field `{name}` has no value after `{op}`. {_PARSE_HELP}")
    if s.peek() in ("'", '"'):
        raw, quoted = s.quoted(), True
    else:
        raw, quoted = s.word("()'\""), False
        if s.peek() in ("'", '"', "(", ")"):
            raise _fail(f"We were unable to parse the value of `{name}` near position "
                        f"{s.i + 1}. {_PARSE_HELP}")
    value = _value(name, kind, op, raw, quoted)
    return Clause(name, op, value, negated, key)


def _value(name: str, kind: str, op: str, raw: str, quoted: bool) -> Any:
    if not quoted and raw == "null":
        if op != ":":
            raise _fail(f"`null` can only be used with `:` (field `{name}`).")
        return NULL
    if op == "~":
        if kind != "string":
            raise _fail(f"Field `{name}` does not support substring matching with `~`; use "
                        "`:` for an exact match.")
        if len(raw) < MIN_SUBSTRING:
            raise _fail(f"A substring match (`~`) needs at least {MIN_SUBSTRING} characters; "
                        f"`{raw}` has {len(raw)}.")
        return raw
    if op in (">", "<", ">=", "<="):
        if kind != "numeric":
            raise _fail(f"Field `{name}` is not numeric: `{op}` works on numeric fields only.")
    if kind == "numeric":
        try:
            return int(raw)
        except ValueError:
            try:
                number = float(raw)
            except ValueError:
                raise _fail(f"Field `{name}` is numeric; `{raw}` is not a number.") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise _fail(f"Field `{name}` is numeric; `{raw}` is not a number.")
            return number
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise _fail(f"Field `{name}` is true or false; `{raw}` is neither.")
        return raw.lower() == "true"
    return raw


def _lookup(obj: Mapping[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    if isinstance(value, Mapping) and "id" in value:  # an expanded object: compare its id
        value = value["id"]
    return value


def _clause_matches(c: Clause, obj: Mapping[str, Any]) -> bool:
    if c.field == "metadata":
        metadata = obj.get("metadata") or {}
        actual = metadata.get(c.key) if isinstance(metadata, Mapping) else None
    else:
        actual = _lookup(obj, c.field)
    result = _compare(actual, c.op, c.value)
    return not result if c.negated else result


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if wanted is NULL:
        return actual is None or actual == ""
    if actual is None:
        return False
    if isinstance(wanted, bool):
        return actual is wanted
    if isinstance(wanted, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        return {":": actual == wanted, ">": actual > wanted, "<": actual < wanted,
                ">=": actual >= wanted, "<=": actual <= wanted}[op]
    text = str(actual).lower() if not isinstance(actual, bool) else str(actual).lower()
    if op == "~":
        return wanted.lower() in text
    return text == wanted.lower()
