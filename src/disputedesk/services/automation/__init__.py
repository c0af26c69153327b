"""Automation: the rules engine run in the worker, explainably and at most once per action.

Library functions (``deps`` is ``wiring.Deps``):

- :func:`active_rules` / :func:`show_rules` - the rule set in force (``settings.rules_file`` or
  the default rules);
- :func:`check_file` - validate a rules file (every problem, with its line);
- :func:`dry_run` - what the rules would do now over open disputes and actionable warnings;
- :func:`run_backtest` - replay the mirror's history through a rule set;
- :func:`decisions` / :func:`actions` - the recorded decisions and action keys of an object;
- :func:`run_evaluation` - evaluate one trigger on one object now and act (what the job does).

``install(deps)`` subscribes to ``charge.dispute.created|updated``,
``radar.early_fraud_warning.created`` and ``refund.failed`` (the listener only queues the job)
and registers the jobs ``automation.evaluate`` and ``automation.scan`` (periodic). See
docs/automation.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from disputedesk.rules import Problem, RuleSet, RulesFileError, load_rules, parse_rules
from disputedesk.services.automation import records
from disputedesk.services.automation.port import (
    ActionPort,
    DeskActions,
    refund_request_id,
)
from disputedesk.services.automation.preview import dry_run as _dry_run
from disputedesk.services.automation.preview import history, run_backtest
from disputedesk.services.automation.rulesets import active_rules as _active_rules
from disputedesk.services.automation.rulesets import describe, load, rules_path
from disputedesk.services.automation.runner import (
    CRASH_POINTS,
    EVALUATE_JOB,
    EVENTS,
    SCAN_INTERVAL_SECONDS,
    SCAN_JOB,
    ActionDeferred,
    evaluate_job,
    on_event,
    on_events,
    run_evaluation,
    scan_job,
    schedule_deadlines,
)


def active_rules(deps) -> RuleSet:
    return _active_rules(deps.settings)


def show_rules(deps, path: str | Path | None = None) -> dict[str, Any]:
    rules = load(path, deps.settings)
    return {"source": rules.source, "file": str(path or rules_path(deps.settings) or "") or None,
            "fees": {c: {"dispute": f.dispute, "countered": f.countered}
                     for c, f in sorted(rules.fees.items())},
            "rules": describe(rules)}


def check_file(path: str | Path | None = None, *, text: str | None = None,
               filename: str = "rules.toml") -> tuple[RuleSet | None, list[Problem]]:
    """Validate a rules file (or its text); returns the rule set or every problem found."""
    try:
        rules = parse_rules(text, filename=filename) if text is not None else load_rules(path)  # type: ignore[arg-type]
    except RulesFileError as exc:
        return None, list(exc.problems)
    return rules, []


def dry_run(deps, path: str | Path | None = None, *, limit: int = 1000) -> list[dict[str, Any]]:
    return _dry_run(deps, load(path, deps.settings), limit=limit)


def decisions(deps, object_id: str | None = None, *, rule: str | None = None,
              matched: bool | None = None, limit: int = 100) -> list[dict]:
    with deps.store.read() as conn:
        return records.list_decisions(conn, object_id=object_id, rule=rule, matched=matched,
                                      limit=limit)


def actions(deps, object_id: str | None = None, *, status: str | None = None,
            limit: int = 200) -> list[dict]:
    with deps.store.read() as conn:
        return records.list_actions(conn, object_id=object_id, status=status, limit=limit)


def install(deps) -> None:
    deps.event_listeners.on_batch(list(EVENTS), on_events)
    deps.jobs.register(EVALUATE_JOB, evaluate_job)
    deps.jobs.register(SCAN_JOB, scan_job)
    deps.jobs.every(SCAN_JOB, SCAN_INTERVAL_SECONDS)


__all__ = [
    "CRASH_POINTS",
    "EVALUATE_JOB",
    "SCAN_JOB",
    "ActionDeferred",
    "ActionPort",
    "DeskActions",
    "actions",
    "active_rules",
    "check_file",
    "decisions",
    "dry_run",
    "history",
    "install",
    "refund_request_id",
    "run_backtest",
    "run_evaluation",
    "schedule_deadlines",
    "show_rules",
]
