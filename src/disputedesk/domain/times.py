"""Showing times to people: UTC epoch seconds inside, the reader's zone outside, zone named.

The CLI shows times in the zone of the machine it runs on (``TZ`` if set), as the dashboard does
in the browser's; every rendered time carries its zone's name so nobody guesses.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def local_zone() -> dt.tzinfo:
    """The zone of the person at this terminal: ``TZ`` when it names a zone, else the system's."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


def format_time(value: float | int | None, zone: dt.tzinfo | None = None, *,
                seconds: bool = False) -> str:
    """``1765161000`` -> ``"2025-12-08 02:30 CET"`` in ``zone`` (default: :func:`local_zone`)."""
    if value in (None, ""):
        return ""
    moment = dt.datetime.fromtimestamp(float(value), zone or local_zone())
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")
