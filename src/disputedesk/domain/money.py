"""Money: integer minor units and the one table of currency exponents.

Every amount in the desk is an ``int`` in the currency's smallest unit, exactly as Stripe sends it.
People type amounts in major units ("12.50 EUR", "1500 JPY", "1.234 KWD"); :func:`parse_money`
turns those into minor units with the currency's exponent and :func:`format_money` turns them back.
Floats never touch money: parsing goes through :class:`decimal.Decimal`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from disputedesk.errors import MoneyError

# The most digits any Stripe amount has: twelve (IDR; USD allows eight). Input past it is refused
# here rather than reaching the database or Stripe; Stripe applies its own per-currency limit.
MAX_AMOUNT = 999_999_999_999

# Stripe's zero-decimal currencies: the amount is whole units.
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
# Stripe's three-decimal currencies: three minor digits, and Stripe wants multiples of 10.
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
# Two-decimal on the wire, but Stripe only takes whole units (the minor amount divisible by 100).
WHOLE_UNITS_ONLY = frozenset({"isk"})


def exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` (ISO code, any case)."""
    code = _code(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def _code(currency: str) -> str:
    code = (currency or "").strip().lower()
    if not re.fullmatch(r"[a-z]{3}", code):
        raise MoneyError(
            f"'{currency}' is not a currency code",
            param="currency",
            hint="use a three-letter ISO code such as usd, eur or jpy",
        )
    return code


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units with its currency (lowercase ISO code)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise MoneyError("amounts are whole numbers of minor units", param="amount")
        object.__setattr__(self, "currency", _code(self.currency))

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(
                f"cannot combine {self.currency.upper()} with {other.currency.upper()}",
                param="currency",
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)


# Commas only as thousands separators ("1,000.50"): "12,50" must not silently become 1250.
_MONEY_RE = re.compile(
    r"^\s*(?:(?P<cur1>[A-Za-z]{3})\s+)?"
    r"(?P<num>[-+]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|[-+]?\.[0-9]+)"
    r"\s*(?P<cur2>[A-Za-z]{3})?\s*$"
)
_DECIMAL_COMMA_RE = re.compile(r"[0-9],[0-9]{1,2}(?![0-9])")


def to_minor(major: Decimal | str | int, currency: str) -> int:
    """Convert a major-unit amount to minor units, refusing digits the currency cannot hold."""
    try:
        value = Decimal(str(major).replace(",", ""))
    except InvalidOperation as exc:
        raise MoneyError(f"'{major}' is not a number", param="amount") from exc
    exp = exponent(currency)
    scaled = value.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise MoneyError(
            f"{major} has more decimals than {currency.upper()} allows ({exp})",
            param="amount",
            hint=f"{currency.upper()} amounts have {exp} decimal places",
        )
    if _code(currency) in WHOLE_UNITS_ONLY and value != value.to_integral_value():
        raise MoneyError(
            f"{major} {currency.upper()} is not a whole amount",
            param="amount",
            hint=f"Stripe takes {currency.upper()} in whole units only",
        )
    return int(scaled)


def to_major(amount: int, currency: str) -> Decimal:
    """Minor units to an exact :class:`Decimal` in major units."""
    exp = exponent(currency)
    return Decimal(amount).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def parse_money(text: str, default_currency: str | None = None) -> Money:
    """Read an amount as people write it: "12.50 EUR", "EUR 12.50", "1500 JPY", "1.234 KWD".

    The currency may be omitted when ``default_currency`` is given (e.g. the charge's currency).
    """
    match = _MONEY_RE.match(text or "")
    if not match and _DECIMAL_COMMA_RE.search(text or ""):
        raise MoneyError(
            f"'{text}' uses a comma as the decimal separator",
            param="amount",
            hint="write the decimals with a dot, as in 12.50 EUR",
        )
    if not match:
        raise MoneyError(
            f"cannot read the amount '{text}'",
            param="amount",
            hint='write it like "12.50 EUR", "1500 JPY" or "1.234 KWD"',
        )
    cur1, cur2 = match["cur1"], match["cur2"]
    if cur1 and cur2:
        raise MoneyError(f"'{text}' names two currencies", param="amount")
    currency = cur1 or cur2 or default_currency
    if not currency:
        raise MoneyError(
            f"'{text}' has no currency", param="amount", hint='add it, as in "12.50 EUR"'
        )
    minor = to_minor(match["num"][:40], currency) if len(match["num"]) <= 40 else MAX_AMOUNT + 1
    if minor > MAX_AMOUNT:
        raise MoneyError(f"the amount '{text[:40]}' has more than {len(str(MAX_AMOUNT))} digits",
                         param="amount", hint="no Stripe amount is that large")
    if minor <= 0:
        raise MoneyError(f"the amount must be positive, got '{text}'", param="amount")
    return Money(minor, currency)


def format_money(amount: int, currency: str) -> str:
    """``1250, "eur"`` -> ``"12.50 EUR"``; ``1500, "jpy"`` -> ``"1500 JPY"``."""
    return f"{to_major(amount, currency)} {_code(currency).upper()}"


def people_locale() -> str:
    """The locale amounts are shown in: ``DISPUTEDESK_LOCALE``, else the environment's
    (``LC_ALL``, ``LC_MONETARY``, ``LANG``), else ``en_US``."""
    import os

    from babel import default_locale

    chosen = os.environ.get("DISPUTEDESK_LOCALE") or default_locale("LC_MONETARY") or ""
    if not chosen or chosen.startswith(("C", "POSIX", "en_US_POSIX")):
        return "en_US"
    return chosen


def format_amount(amount: int, currency: str, locale: str | None = None) -> str:
    """An amount as people read it, in their locale, always with the ISO code: ``1250, "eur"``
    -> ``"12.50 EUR"`` (en), ``"12,50 EUR"`` (de); ``150000, "jpy"`` -> ``"150,000 JPY"``.

    Babel's ``format_currency`` places the locale's separators; the number of decimals comes
    from the desk's exponent table (Stripe's zero- and three-decimal rules), not from CLDR's.
    Evidence text and other words sent to Stripe use :func:`format_money` (no locale)."""
    from babel.core import Locale, UnknownLocaleError
    from babel.numbers import format_currency

    exp = exponent(currency)
    pattern = "#,##0" + ("." + "0" * exp if exp else "") + " ¤¤"
    try:
        where = Locale.parse(locale or people_locale())
    except (UnknownLocaleError, ValueError, TypeError):
        where = Locale.parse("en_US")
    return format_currency(to_major(amount, currency), _code(currency).upper(), format=pattern,
                           locale=where, currency_digits=False)
