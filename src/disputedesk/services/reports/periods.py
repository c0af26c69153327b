"""Report periods: whole calendar months in the merchant's zone, and which accounts.

``since`` is ``12mo`` (the last 12 months, this one included), ``YYYY-MM`` or a date
``YYYY-MM-DD`` (its month); ``until`` the same without ``Nmo`` (default: this month). Months are
the unit because the card networks' programs count by calendar month and the facts are kept by
month; a date is taken as the month it falls in, and the report says which months it covers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from disputedesk.errors import ValidationError

MAX_MONTHS = 120
DEFAULT_SINCE = "12mo"
_REL = re.compile(r"^\s*(\d{1,3})\s*mo\s*$")
_MONTH = re.compile(r"^\s*(\d{4})-(\d{2})(?:-(\d{2}))?\s*$")
_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,250}$")


@dataclass(frozen=True)
class Period:
    months: tuple[int, ...]  # YYYYMM, oldest first

    @property
    def first(self) -> int:
        return self.months[0]

    @property
    def last(self) -> int:
        return self.months[-1]


def label(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def add_months(month: int, n: int) -> int:
    index = (month // 100) * 12 + (month % 100 - 1) + n
    return (index // 12) * 100 + index % 12 + 1


def month_bounds(month: int, zone: ZoneInfo) -> tuple[float, float]:
    """UTC epoch seconds of the month's first instant and of the next month's, in ``zone``."""
    start = dt.datetime(month // 100, month % 100, 1, tzinfo=zone)
    nxt = add_months(month, 1)
    end = dt.datetime(nxt // 100, nxt % 100, 1, tzinfo=zone)
    return start.timestamp(), end.timestamp()


def current_month(now: float, zone: ZoneInfo) -> int:
    local = dt.datetime.fromtimestamp(now, dt.timezone.utc).astimezone(zone)
    return local.year * 100 + local.month


def _month(text: str, param: str) -> int:
    match = _MONTH.match(text)
    if not match:
        raise ValidationError(f"{param} '{text}' is not a month", param=param,
                              hint="write it as 12mo, 2026-03 or 2026-03-15")
    year, month, day = int(match[1]), int(match[2]), match[3]
    try:
        dt.date(year, month, int(day) if day else 1)
    except ValueError:
        raise ValidationError(f"{param} '{text}' is not a real date", param=param,
                              hint="write it as 2026-03 or 2026-03-15") from None
    return year * 100 + month


def parse_period(since: str | None, until: str | None, *, now: float, zone: ZoneInfo) -> Period:
    this = current_month(now, zone)
    last = _month(until, "until") if until else this
    since = since or DEFAULT_SINCE
    rel = _REL.match(since)
    if rel:
        n = int(rel[1])
        if not 1 <= n <= MAX_MONTHS:
            raise ValidationError(f"since '{since}' must be between 1mo and {MAX_MONTHS}mo",
                                  param="since")
        first = add_months(this, 1 - n)
        if until:
            first = add_months(last, 1 - n)
    else:
        first = _month(since, "since")
    if first > last:
        raise ValidationError(f"since ({label(first)}) is after until ({label(last)})",
                              param="since", hint="give a since before until")
    months = []
    month = first
    while month <= last:
        months.append(month)
        if len(months) > MAX_MONTHS:
            raise ValidationError(f"a report covers at most {MAX_MONTHS} months", param="since",
                                  hint="give a later since or an earlier until")
        month = add_months(month, 1)
    return Period(tuple(months))


def parse_account(account: str | None) -> str | None:
    """None: every account (the platform as a whole); "platform": its own; else acct_..."""
    if account is None or account.strip() in ("", "all"):
        return None
    account = account.strip()
    if account == "platform":
        return ""
    if not _ACCOUNT.match(account):
        raise ValidationError(f"account '{account[:60]}' is not an account", param="account",
                              hint="use all, platform or a connected account id (acct_...)")
    return account


def account_label(account: str | None) -> str:
    return "all accounts" if account is None else "platform" if account == "" else account
