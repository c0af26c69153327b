"""Backtests of the active rules, kept so the rules page shows the last one after a restart."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from disputedesk.rules import parse_duration
from disputedesk.services.automation.preview import run_backtest
from disputedesk.services.automation.rulesets import active_rules
from disputedesk.store.automation_tables import backtests


def run_and_record(deps, *, window: str, actor: str) -> dict[str, Any]:
    """Backtest the active rules over ``window`` (e.g. "180d"), store the report, return it."""
    rules = active_rules(deps.settings)
    now = int(deps.clock.now())
    started = time.monotonic()
    report = run_backtest(deps, rules, since=now - parse_duration(window), now=now).to_dict()
    took = round(time.monotonic() - started, 2)
    return record(deps, report, window=window, actor=actor, took=took,
                  rules_source=rules.source)


def record(deps, report: dict[str, Any], *, window: str, actor: str, took: float | None,
           rules_source: str | None) -> dict[str, Any]:
    """Keep a backtest report of the active rules; returns it as the rules page shows it."""
    ran_at = deps.clock.now()
    with deps.store.write() as conn:
        conn.execute(backtests.insert().values(
            ran_at=ran_at, ran_by=actor, window=window, took=took, report=report,
            rules_source=rules_source))
    return {**report, "took": took, "ran_by": actor, "ran_at": ran_at, "window": window}


def last_backtest(deps) -> dict[str, Any] | None:
    with deps.store.read() as conn:
        row = conn.execute(sa.select(backtests).order_by(backtests.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    return {**row.report, "took": row.took, "ran_by": row.ran_by, "ran_at": row.ran_at,
            "window": row.window}
