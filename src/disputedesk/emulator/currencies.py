"""Currencies the emulator accepts, their minor-unit exponents and minimum charge amounts."""

from __future__ import annotations

from . import errors

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
SUPPORTED = frozenset(
    "usd eur gbp aud cad chf dkk nok sek pln czk huf ron bgn isk nzd sgd hkd mxn brl inr aed "
    "sar ils try zar thb myr php idr twd cny egp ngn kes mad qar".split()) | ZERO_DECIMAL | THREE_DECIMAL

# Stripe's minimum charge amounts (minor units) for the common currencies; others: 1 minor unit.
MINIMUM_CHARGE = {"usd": 50, "eur": 50, "gbp": 30, "aud": 50, "cad": 50, "chf": 50, "jpy": 50,
                  "dkk": 250, "nok": 300, "sek": 300, "nzd": 50, "sgd": 50, "hkd": 400,
                  "mxn": 1000, "brl": 50, "inr": 50, "pln": 200}
MAX_AMOUNT = 99_999_999


def currency(value: str | None, param: str = "currency") -> str:
    if value is None:
        raise errors.parameter_missing(param)
    code = value.lower()
    if code not in SUPPORTED:
        raise errors.invalid(f"Invalid currency: {value}. Stripe currently supports these "
                             "currencies: " + ", ".join(sorted(SUPPORTED)), param=param)
    return code


def check_step(amount: int, code: str, param: str = "amount") -> None:
    """Three-decimal currencies take amounts in multiples of 10 (Stripe's rule)."""
    if code in THREE_DECIMAL and amount % 10:
        raise errors.invalid(
            f"Invalid amount: {code} amounts must be a multiple of 10 (the last digit must be "
            "zero); three-decimal currencies are charged with two decimals.",
            param=param, code="invalid_charge_amount")


def check_charge_amount(amount: int, code: str, param: str = "amount") -> None:
    minimum = MINIMUM_CHARGE.get(code, 1)
    if amount < minimum:
        raise errors.invalid(f"Amount must be at least {minimum} {code} minor units.",
                             param=param, code="amount_too_small")
    if amount > MAX_AMOUNT:
        raise errors.invalid(f"Amount must be no more than {MAX_AMOUNT} {code} minor units.",
                             param=param, code="amount_too_large")
    check_step(amount, code, param)
