"""How the CLI shows money and time to people: one formatter each, used by every command.

Amounts: :func:`disputedesk.domain.money.format_amount` (Babel, the reader's locale, always the
currency; minor units only in ``--json``). Times: the reader's zone with the zone named
(:func:`disputedesk.domain.times.format_time`).
"""

from __future__ import annotations

from typing import Any

from disputedesk.domain.money import format_amount
from disputedesk.domain.times import format_time


def money(amount: Any, currency: str | None) -> str:
    if amount is None:
        return ""
    try:
        return format_amount(int(amount), currency or "usd")
    except Exception:  # an odd currency in a mirrored document must not break a table
        return f"{amount} {str(currency or '').upper()} (minor units)"


def when(value: Any, seconds: bool = False) -> str:
    if value in (None, "", 0):
        return ""
    return format_time(float(value), seconds=seconds)
