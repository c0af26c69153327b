"""The values a condition computes with, and the data (fees, conversion rates) that go with them.

Conditions see a small set of types: ``bool``, ``number`` (int or exact ``Decimal``, never float),
``str``, ``money`` (:class:`~disputedesk.domain.money.Money`, integer minor units), ``duration``
(:class:`Duration`, whole seconds), ``list`` and the absence of a value (``None``). The operator
table here is shared by the static checker (types known from the schema) and the evaluator (types
of actual values), so ``rules check`` and evaluation refuse the same things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Mapping

from disputedesk.domain.money import Money, exponent, parse_money, to_major, to_minor
from disputedesk.errors import MoneyError, ValidationError

# Results beyond this magnitude are refused: conditions compare amounts and scores, nothing bigger.
MAX_MAGNITUDE = 10**24

BOOL, NUMBER, STR, MONEY, DURATION, LIST, NONE, ANY, GROUP = (
    "bool", "number", "str", "money", "duration", "list", "none", "any", "group")


@dataclass(frozen=True, order=True)
class Duration:
    """A span of time in whole seconds (``hours(48)``, ``charge.age``)."""

    seconds: int

    def __str__(self) -> str:
        sign, rest = ("-" if self.seconds < 0 else ""), abs(self.seconds)
        days, rest = divmod(rest, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if v]
        return sign + (" ".join(parts) or "0s")


_DURATION_RE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# The longest duration the desk reads anywhere (a century): past any deadline or history, and
# well inside what clocks, floats and the database's 64-bit columns hold.
MAX_DURATION = 100 * 365 * 86400


def parse_duration(text: str) -> int:
    """``"180d"`` -> seconds. Units: s, m, h, d, w (for ``rules backtest --since 180d``)."""
    match = _DURATION_RE.match(text or "")
    if not match:
        raise ValidationError(f"cannot read the duration '{(text or '')[:40]}'", param="since",
                              hint="write it like 180d, 12h or 4w")
    if len(match[1]) > 20 or int(match[1]) * _UNIT_SECONDS[match[2]] > MAX_DURATION:
        raise ValidationError(f"the duration '{text[:40]}' is longer than "
                              f"{MAX_DURATION // 86400} days", param="since",
                              hint="write it like 180d, 12h or 4w")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


@dataclass(frozen=True)
class Fees:
    """Stripe's fees on one dispute, in minor units of one currency.

    ``dispute``: the dispute received fee, charged on every chargeback and never returned.
    ``countered``: charged when you counter (submit evidence), returned only on a full win.
    """

    dispute: int
    countered: int


# Stripe's US pricing for disputes opened after 17 June 2025: $15 received + $15 countered.
DEFAULT_FEES: Mapping[str, Fees] = {"usd": Fees(dispute=1500, countered=1500)}


@dataclass(frozen=True)
class Conversion:
    """Rates to compare money across currencies: 1 major unit of ``c`` = ``rates[c]`` of ``base``.

    Without a rate for both currencies, comparing them is an error (never a silent guess).
    """

    base: str = ""
    rates: Mapping[str, Decimal] = field(default_factory=dict)

    def rate(self, currency: str) -> Decimal | None:
        if self.base and currency == self.base:
            return Decimal(1)
        return self.rates.get(currency)

    def in_base(self, money: Money) -> Decimal:
        rate = self.rate(money.currency)
        if rate is None:
            raise MoneyError(f"no conversion rate for {money.currency.upper()}", param="currency")
        return to_major(money.amount, money.currency) * rate

    def convert(self, money: Money, currency: str) -> Money:
        """``money`` in ``currency``, rounded half-even to a minor unit."""
        if money.currency == currency:
            return money
        target = self.rate(currency)
        if target is None or self.rate(money.currency) is None:
            raise MoneyError(f"no conversion rate between {money.currency.upper()} and "
                             f"{currency.upper()}", param="currency")
        major = self.in_base(money) / target
        return Money(_round(major.scaleb(exponent(currency))), currency)


class TypeProblem(Exception):
    """An operation on the wrong types; the caller adds the column."""


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def type_of(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, Decimal)):
        return NUMBER
    if isinstance(value, str):
        return STR
    if isinstance(value, Money):
        return MONEY
    if isinstance(value, Duration):
        return DURATION
    if isinstance(value, tuple):
        return LIST
    if isinstance(value, Mapping):
        return GROUP
    raise TypeProblem(f"unsupported value {type(value).__name__}")


def to_number(value: Any) -> int | Decimal:
    """Numbers from facts or literals: floats become exact decimals of their shortest repr."""
    if isinstance(value, float):
        try:
            return Decimal(repr(value))
        except InvalidOperation as exc:  # nan / inf
            raise TypeProblem(f"{value!r} is not a usable number") from exc
    return value


def check_magnitude(value: Any) -> Any:
    amount = value.amount if isinstance(value, Money) else (
        value.seconds if isinstance(value, Duration) else value)
    if isinstance(amount, (int, Decimal)) and not isinstance(amount, bool) and abs(amount) > MAX_MAGNITUDE:
        raise TypeProblem("number too large")
    return value


# ---- the operator table (static types) ---------------------------------------------------------

_ORDERED = {NUMBER, MONEY, DURATION, STR}


def compare_type(op: str, left: str, right: str) -> str:
    """Result type of ``left op right`` for ``==, !=, <, <=, >, >=, in, not in``; raises TypeProblem."""
    if ANY in (left, right):
        return BOOL
    if op in ("in", "not in"):
        if right == LIST or right == GROUP:
            return BOOL
        if right == STR:
            if left not in (STR, NONE):
                raise TypeProblem(f"`in` a text needs a text on the left, not {left}")
            return BOOL
        if right == NONE:
            return BOOL  # fails at evaluation with "has no value"
        raise TypeProblem(f"`{op}` needs a list or a text on the right, not {right}")
    if NONE in (left, right):
        if op in ("==", "!="):
            return BOOL
        return BOOL  # ordering against a missing value fails at evaluation, naming the value
    if left != right:
        raise TypeProblem(f"cannot compare {left} with {right}" + _hint(left, right))
    if op not in ("==", "!=") and left not in _ORDERED:
        raise TypeProblem(f"{left} values cannot be ordered with {op}")
    return BOOL


def _hint(left: str, right: str) -> str:
    kinds = {left, right}
    if kinds == {MONEY, NUMBER}:
        return ' (write amounts with money(...), e.g. money("15 USD"))'
    if kinds == {DURATION, NUMBER}:
        return " (write spans with hours(...) or days(...))"
    return ""


def arith_type(op: str, left: str, right: str) -> str:
    """Result type of ``left op right`` for ``+ - * /``; raises TypeProblem."""
    if ANY in (left, right) or NONE in (left, right):
        # unknown now; evaluation decides (a missing value fails there, naming it)
        known = right if left in (ANY, NONE) else left
        return known if known in (NUMBER, MONEY, DURATION) and op in "+-" else ANY
    pair = (left, right)
    if op in "+-":
        if left == right and left in (NUMBER, MONEY, DURATION):
            return left
    elif op == "*":
        if pair == (NUMBER, NUMBER):
            return NUMBER
        if pair in ((MONEY, NUMBER), (NUMBER, MONEY)):
            return MONEY
        if pair in ((DURATION, NUMBER), (NUMBER, DURATION)):
            return DURATION
    elif op == "/":
        if right == NUMBER and left in (NUMBER, MONEY, DURATION):
            return left
        if pair in ((MONEY, MONEY), (DURATION, DURATION)):
            return NUMBER
    raise TypeProblem(f"cannot compute {left} {op} {right}" + _hint(left, right))


# ---- the operations on values ------------------------------------------------------------------

def compare(op: str, left: Any, right: Any, conversion: Conversion) -> bool:
    compare_type(op, type_of(left), type_of(right))
    if op in ("in", "not in"):
        if right is None:
            raise TypeProblem("the right side has no value")
        if isinstance(right, Mapping):
            found = left in right
        elif isinstance(right, str):
            if left is None:
                raise TypeProblem("the left side has no value")
            found = left in right
        else:
            found = any(_equal(left, item, conversion) for item in right)
        return found if op == "in" else not found
    if op in ("==", "!="):
        equal = _equal(left, right, conversion)
        return equal if op == "==" else not equal
    if left is None or right is None:
        raise TypeProblem("has no value")
    if isinstance(left, Money):
        left, right = _comparable(left, right, conversion)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _equal(left: Any, right: Any, conversion: Conversion) -> bool:
    if type_of(left) != type_of(right):
        if NONE in (type_of(left), type_of(right)):
            return False
        raise TypeProblem(f"cannot compare {type_of(left)} with {type_of(right)}")
    if isinstance(left, Money):
        a, b = _comparable(left, right, conversion)
        return a == b
    return left == right


def _comparable(left: Money, right: Money, conversion: Conversion) -> tuple[Any, Any]:
    if left.currency == right.currency:
        return left.amount, right.amount
    try:
        return conversion.in_base(left), conversion.in_base(right)
    except MoneyError as exc:
        raise TypeProblem(
            f"cannot compare {left} with {right}: {exc.message}; add both currencies under "
            "[conversion.rates] in the rules file, or compare in the same currency") from None


def arith(op: str, left: Any, right: Any, conversion: Conversion) -> Any:
    if left is None or right is None:
        raise TypeProblem("has no value")
    arith_type(op, type_of(left), type_of(right))
    if isinstance(left, Money) and isinstance(right, Money):
        if left.currency != right.currency:
            try:
                right = conversion.convert(right, left.currency)
            except MoneyError as exc:
                raise TypeProblem(f"cannot combine {left} with {right}: {exc.message}; add both "
                                  "currencies under [conversion.rates]") from None
        if op == "+":
            return check_magnitude(Money(left.amount + right.amount, left.currency))
        if op == "-":
            return check_magnitude(Money(left.amount - right.amount, left.currency))
        if right.amount == 0:
            raise TypeProblem("division by zero")
        return _exact(Decimal(left.amount) / Decimal(right.amount))
    if isinstance(left, Duration) and isinstance(right, Duration):
        if op == "+":
            return check_magnitude(Duration(left.seconds + right.seconds))
        if op == "-":
            return Duration(left.seconds - right.seconds)
        if right.seconds == 0:
            raise TypeProblem("division by zero")
        return _exact(Decimal(left.seconds) / Decimal(right.seconds))
    if isinstance(left, (Money, Duration)) or isinstance(right, (Money, Duration)):
        scaled, number = (left, right) if isinstance(left, (Money, Duration)) else (right, left)
        raw = scaled.amount if isinstance(scaled, Money) else scaled.seconds
        check_magnitude(number)
        if op == "*":
            value = _round(Decimal(raw) * Decimal(number))
        else:
            if number == 0:
                raise TypeProblem("division by zero")
            value = _round(Decimal(raw) / Decimal(number))
        out = Money(value, scaled.currency) if isinstance(scaled, Money) else Duration(value)
        return check_magnitude(out)
    # plain numbers
    check_magnitude(left)
    check_magnitude(right)
    if op == "+":
        return check_magnitude(left + right)
    if op == "-":
        return check_magnitude(left - right)
    if op == "*":
        product = left * right
        return check_magnitude(_exact(product) if isinstance(product, Decimal) else product)
    if right == 0:
        raise TypeProblem("division by zero")
    return check_magnitude(_exact(Decimal(left) / Decimal(right)))


def _exact(value: Decimal) -> int | Decimal:
    """Integral decimals become ints so that ``4 / 2 == 2`` reads naturally in explanations."""
    if value == value.to_integral_value():
        return int(value)
    return value.normalize()


_LITERAL_RE = re.compile(r"^\s*(?:([A-Za-z]{3})\s+)?([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([A-Za-z]{3})?\s*$")


def parse_money_literal(text: str) -> Money:
    """``money("15 USD")``, ``money("USD 0")``: the currency is required (a rule has no default
    currency); zero is allowed, negatives are written ``-money(...)``."""
    match = _LITERAL_RE.match(text or "")
    if not match or bool(match[1]) == bool(match[3]):
        return parse_money(text)  # raises the desk's usual, precise MoneyError
    return Money(to_minor(match[2], match[1] or match[3]), match[1] or match[3])


def display(value: Any) -> str:
    """How a value appears in explanations and notification messages."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Money, Duration)):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(display(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {display(v)}" for k, v in value.items()) + "}"
    return str(value)


def to_record(value: Any) -> Any:
    """A JSON-friendly copy of a value for the decision record (money as "12.50 USD")."""
    if isinstance(value, (Money, Duration)):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [to_record(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_record(v) for k, v in value.items()}
    return value
