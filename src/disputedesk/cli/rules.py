"""``disputedesk rules check|show|dry-run|backtest|decisions``: the automation rules from the shell."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from disputedesk.cli._common import open_deps as _deps
from disputedesk.cli._show import money
from disputedesk.cli._show import when as _when

rules_app = typer.Typer(help="Automation rules: check, dry-run, backtest, decisions.",
                        no_args_is_help=True)



def _money_map(values: dict) -> str:
    return ", ".join(money(v, c) for c, v in sorted(values.items()) if v) or "-"


@rules_app.command("check")
def check(file: str = typer.Argument(None, help="The rules file (default: the configured one).")
          ) -> None:
    """Validate a rules file; every problem with its line. Exit 2 on any problem."""
    from disputedesk.config import load_settings
    from disputedesk.services.automation import check_file

    console = Console()
    if file is None:
        configured = load_settings().rules_file
        if configured is None:
            console.print("No rules file is configured (DISPUTEDESK_RULES_FILE); the default "
                          "rules are in force. Give a FILE to check one.")
            return
        file = str(configured)
    rules, problems = check_file(file)
    if problems:
        err = Console(stderr=True)
        for problem in problems:
            err.print(escape(str(problem)), highlight=False)
        err.print(f"[red]{len(problems)} problem(s)[/red] in {escape(str(file))}", highlight=False)
        raise typer.Exit(2)
    count = len(rules.rules) if rules else 0
    enabled = sum(r.enabled for r in rules.rules) if rules else 0
    console.print(f"{escape(str(file))}: OK, {count} rules ({enabled} enabled)", highlight=False)


@rules_app.command("show")
def show(file: str = typer.Option(None, "--file", help="A rules file instead of the active rules."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The rules in force (or FILE's), in the order they run."""
    from disputedesk.services.automation import show_rules

    deps = _deps()
    try:
        shown = show_rules(deps, file)
    finally:
        deps.close()
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    table = Table(title=f"Rules from {shown['source']}")
    for col in ("priority", "rule", "trigger", "condition", "actions", "why"):
        table.add_column(col, overflow="fold")
    for r in shown["rules"]:
        trig = r["trigger"] + (f" ({r['hours_before']} h)" if r["hours_before"] else "")
        table.add_row(str(r["priority"]), r["name"] + ("" if r["enabled"] else " (disabled)"), trig,
                      escape(r["condition"] or "always"),
                      ", ".join(a["kind"] for a in r["actions"]), escape(r["why"]))
    Console().print(table)


@rules_app.command("dry-run")
def dry_run(file: str = typer.Option(None, "--file", help="A rules file instead of the active rules."),
            all_decisions: bool = typer.Option(False, "--all", help="Also rules that did not match."),
            as_json: bool = typer.Option(False, "--json", help="Print JSON lines.")) -> None:
    """What the rules would do now over open disputes and actionable warnings (does nothing)."""
    from disputedesk.services.automation import dry_run as run

    deps = _deps()
    try:
        found = run(deps, file)
    finally:
        deps.close()
    shown = [d for d in found if all_decisions or d["matched"]]
    if as_json:
        for d in shown:
            typer.echo(json.dumps(d))
        return
    table = Table(title="Dry run: what the rules would do now (nothing was done)")
    for col in ("object", "trigger", "rule", "action", "status", "why / reason"):
        table.add_column(col, overflow="fold")
    for d in shown:
        if not d["actions"]:
            table.add_row(d["object_id"], d["trigger"], d["rule"], "-",
                          "matched" if d["matched"] else "no match",
                          escape(d["error"] or d["explanation"]))
        for a in d["actions"]:
            reason = a["reason"] or (a["params"].get("message") if a["kind"] == "notify" else "")
            if a["run_at"]:
                reason = f"{reason} (at {_when(a['run_at'])})"
            table.add_row(d["object_id"], d["trigger"], d["rule"], a["kind"], a["status"],
                          escape(reason or ""))
    console = Console()
    console.print(table)
    runs = sum(1 for d in shown for a in d["actions"] if a["status"] == "run")
    console.print(f"{len({d['object_id'] for d in found})} cases looked at, {runs} actions would run now.")


@rules_app.command("backtest")
def backtest(since: str = typer.Option("180d", help="How far back: 180d, 12w, 36h."),
             file: str = typer.Option(None, "--file", help="A rules file instead of the active rules."),
             as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Replay the mirror's history through the rules; per rule: cases touched, money, fees."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from disputedesk.rules import backtest as run_backtest
    from disputedesk.rules import parse_duration
    from disputedesk.services.automation import history
    from disputedesk.services.automation.rulesets import load

    deps = _deps()
    console = Console()
    try:
        rules = load(file, deps.settings)
        now = int(deps.clock.now())
        start = now - parse_duration(since)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("reading the mirror's history", total=None)
            cases = history(deps, since=start, now=now)
            bar.update(task, description=f"replaying {len(cases):,} cases")
            report = run_backtest(rules, cases, start, now)
        if file is None:  # a run of the rules in force: the rules page shows the last one
            from disputedesk.cli._common import os_user
            from disputedesk.services.automation.backtests import record

            # Read-only: recorded under the OS user's name, marked as not a desk user.
            record(deps, report.to_dict(), window=since, actor=f"cli:{os_user()}", took=None,
                   rules_source=rules.source)
    finally:
        deps.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    table = Table(title=f"Backtest {_when(start)} - {_when(now)}: {report.disputes_seen} disputes, "
                        f"{report.warnings_seen} early fraud warnings")
    for col in ("rule", "disputes", "warnings", "refunded", "accepted", "contested",
                "dispute fees", "countered fees", "fees avoided", "errors"):
        table.add_column(col, overflow="fold")
    for r in [*report.rules, report.totals]:
        table.add_row(r.rule, str(r.disputes), str(r.warnings), _money_map(r.refunded),
                      _money_map(r.accepted), _money_map(r.contested), _money_map(r.dispute_fees),
                      _money_map(r.countered_fees), _money_map(r.dispute_fees_avoided), str(r.errors))
    console.print(table)
    if report.missing_fee_currencies:
        console.print("No fees known for " + ", ".join(report.missing_fee_currencies)
                      + " (counted as 0); add [fees.<currency>] tables to the rules file.")


@rules_app.command("decisions")
def decisions(dispute: str = typer.Option(None, "--dispute", help="A dispute id (du_...)."),
              object_id: str = typer.Option(None, "--object", help="Any object id: a warning, a "
                                            "charge, a refund."),
              rule: str = typer.Option(None, help="Only this rule."),
              matched_only: bool = typer.Option(False, "--matched", help="Only rules that matched."),
              limit: int = typer.Option(50, help="At most this many (the newest)."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON lines.")) -> None:
    """The decisions the worker recorded: rule, inputs, outcome of each action."""
    from disputedesk.services.automation import decisions as load_decisions

    deps = _deps()
    try:
        rows = load_decisions(deps, dispute or object_id, rule=rule,
                              matched=True if matched_only else None, limit=limit)
    finally:
        deps.close()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str))
        return
    table = Table(title="Recorded decisions" + (f" for {dispute or object_id}" if dispute or object_id else ""))
    for col in ("at", "object", "trigger", "rule", "matched", "inputs", "actions -> outcome"):
        table.add_column(col, overflow="fold")
    for row in rows:
        outcome = row["outcome"] or {}
        acts = "; ".join(
            f"{a['kind']}: {a['status']}" + (f" -> {outcome[a['key']]['status']}" if a["key"] in outcome else "")
            + (f" ({a['reason']})" if a["reason"] else "")
            for a in row["actions"]) or "-"
        inputs = ", ".join(f"{k}={v}" for k, v in (row["inputs"] or {}).items())
        table.add_row(_when(row["at"]), row["object_id"], row["trigger"], row["rule"],
                      "error" if row["error"] else ("yes" if row["matched"] else "no"),
                      escape(row["error"] or inputs), escape(acts))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
