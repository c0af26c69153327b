"""Reports: disputes, monitoring programs, refunds, closed disputes (docs/reports.md).

Library functions read the report facts (services/reports/facts.py), which the worker keeps in
step with the mirror; ``install(deps)`` subscribes the batch listener and registers the periodic
catch-up job ``reports.catch_up``. Every function takes ``since``/``until`` (whole calendar
months in the merchant's zone, ``settings.report_zone``) and ``account`` (None or "all": the
platform as a whole with every connected account; "platform": its own; or an ``acct_...``).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from disputedesk.services.reports import closed as _closed
from disputedesk.services.reports import disputes as _disputes
from disputedesk.services.reports import monitoring as _monitoring
from disputedesk.services.reports import refunds as _refunds
from disputedesk.services.reports import upkeep
from disputedesk.services.reports.closed import ClosedFilter
from disputedesk.services.reports.model import Report, Table, to_csv
from disputedesk.services.reports.periods import Period, parse_account, parse_period

KINDS = ("disputes", "monitoring", "refunds")

__all__ = ["KINDS", "ClosedFilter", "Report", "Table", "closed_disputes", "install", "rebuild",
           "catch_up", "report", "to_csv"]


def _zone(deps, conn) -> str:
    # The months are those of the zone the facts were built in (the catch-up job rebuilds them
    # when the setting changes); before the first build, the setting's.
    return upkeep.built_zone(conn) or deps.settings.report_zone


def _period(deps, conn, since, until) -> tuple[Period, str]:
    zone = _zone(deps, conn)
    return parse_period(since, until, now=deps.clock.now(), zone=ZoneInfo(zone)), zone


def report(deps, kind: str, *, since: str | None = None, until: str | None = None,
           account: str | None = None) -> Report:
    """The ``kind`` report (disputes|monitoring|refunds) over the period, for the account(s)."""
    from disputedesk.errors import ValidationError

    if kind not in KINDS:
        raise ValidationError(f"there is no '{kind}' report", param="report",
                              hint="one of: " + ", ".join(KINDS))
    acct = parse_account(account)
    with deps.store.read() as conn:
        period, zone = _period(deps, conn, since, until)
        if kind == "disputes":
            out = _disputes.build(conn, period, acct, zone)
        elif kind == "monitoring":
            out = _monitoring.build(conn, period, acct, zone, deps.clock.now())
        else:
            out = _refunds.build(conn, period, acct, zone)
        built = upkeep.built_zone(conn)
    if built is None:
        out.notices.insert(0, "The report figures are being built from the mirror for the "
                              "first time; they fill in within a minute.")
    elif built != deps.settings.report_zone:
        out.notices.insert(0, f"Months are in {built}; they are being rebuilt for "
                              f"{deps.settings.report_zone}.")
    return out


def closed_disputes(deps, flt: ClosedFilter, *, since: str | None = None,
                    until: str | None = None, account: str | None = None) -> dict:
    acct = parse_account(account)
    with deps.store.read() as conn:
        period, zone = _period(deps, conn, since, until)
        out = _closed.closed_disputes(conn, period, acct, flt)
    out["zone"] = zone
    return out


def rebuild(deps, progress=None) -> dict[str, int]:
    return upkeep.rebuild(deps, progress=progress)


def catch_up(deps, progress=None) -> dict[str, int]:
    return upkeep.catch_up(deps, progress=progress)


def install(deps) -> None:
    deps.event_listeners.on_batch(upkeep.EVENT_TYPES, upkeep.make_listener(deps.settings))
    deps.jobs.register(upkeep.CATCH_UP_JOB, upkeep.catch_up_job)
    deps.jobs.every(upkeep.CATCH_UP_JOB, upkeep.CATCH_UP_INTERVAL)
