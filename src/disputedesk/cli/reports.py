"""``disputedesk reports disputes|monitoring|refunds|closed|rebuild``.

Each report prints Rich tables (money with its currency), or ``--json`` (the API's document),
or ``--csv`` (one table, ``--table``; or every table into ``--out DIR``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

from disputedesk.cli._common import JSON
from disputedesk.cli._common import open_deps as _deps
from disputedesk.errors import ValidationError

reports_app = typer.Typer(help="Reports: disputes, monitoring programs, refunds.",
                          no_args_is_help=True)

SINCE = typer.Option(None, "--since", help="12mo (default), 2026-01 or 2026-01-15.")
UNTIL = typer.Option(None, "--until", help="2026-06 or a date (default: this month).")
ACCOUNT = typer.Option(None, "--account", help="all (default), platform, or acct_...")
CSV = typer.Option(False, "--csv", help="Print one table as CSV (see --table), or with --out "
                                        "write every table.")
TABLE = typer.Option(None, "--table", help="The table to print (default: every table; for "
                                           "--csv the first).")
OUT = typer.Option(None, "--out", help="With --csv: a directory to write every table into.")


def _console() -> Console:
    console = Console()
    console.width = max(console.width, 160)
    return console


def _print_report(report, table_key: str | None) -> None:
    from disputedesk.services.reports.model import cell_text

    console = _console()
    console.print(f"[bold]{report.title}[/] {report.since} to {report.until} "
                  f"(months in {report.zone}), {report.account}")
    for notice in report.notices:
        console.print(f"[yellow]! {notice}[/]")
    tables = [report.table(table_key)] if table_key else report.tables
    for table in tables:
        rich = RichTable(title=f"{table.title} [dim]({table.key})[/]", title_justify="left")
        for column in table.columns:
            rich.add_column(column.label, justify="left" if column.kind in ("text", "month")
                            else "right")
        for row in table.rows:
            rich.add_row(*[cell_text(c, row) for c in table.columns])
        if not table.rows:
            rich.add_row(*["" for _ in table.columns])
        console.print(rich)
        if table.note:
            console.print(f"[dim]{table.note}[/]")


def _run(kind: str, since, until, account, as_json: bool, as_csv: bool, table: str | None,
         out: Path | None) -> None:
    from disputedesk.services import reports

    if as_json and as_csv:
        raise ValidationError("choose one of --json and --csv")
    if out is not None and not as_csv:
        raise ValidationError("--out writes CSV files: add --csv")
    deps = _deps()
    try:
        report = reports.report(deps, kind, since=since, until=until, account=account)
    finally:
        deps.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    elif as_csv and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for t in report.tables:
            path = out / f"{kind}-{t.key}.csv"
            path.write_text(reports.to_csv(t), encoding="utf-8")
            typer.echo(str(path))
    elif as_csv:
        typer.echo(reports.to_csv(report.table(table) if table else report.tables[0]), nl=False)
    else:
        _print_report(report, table)


@reports_app.command("disputes")
def disputes_cmd(since: str = SINCE, until: str = UNTIL, account: str = ACCOUNT,
                 as_json: bool = JSON, as_csv: bool = CSV, table: str = TABLE,
                 out: Path = OUT) -> None:
    """Disputes by month, outcomes, win rate, money, breakdowns, rules, time to submission."""
    _run("disputes", since, until, account, as_json, as_csv, table, out)


@reports_app.command("monitoring")
def monitoring_cmd(since: str = SINCE, until: str = UNTIL, account: str = ACCOUNT,
                   as_json: bool = JSON, as_csv: bool = CSV, table: str = TABLE,
                   out: Path = OUT) -> None:
    """Visa VAMP and Mastercard ECP ratios against their thresholds, headroom, projection."""
    _run("monitoring", since, until, account, as_json, as_csv, table, out)


@reports_app.command("refunds")
def refunds_cmd(since: str = SINCE, until: str = UNTIL, account: str = ACCOUNT,
                as_json: bool = JSON, as_csv: bool = CSV, table: str = TABLE,
                out: Path = OUT) -> None:
    """Refunds by month, reason and origin, refund rate, failed and pending, fraud warnings."""
    _run("refunds", since, until, account, as_json, as_csv, table, out)


@reports_app.command("rebuild")
def rebuild_cmd() -> None:
    """Recompute every report fact from the mirror (after changing DISPUTEDESK_REPORT_TIMEZONE
    the worker does this by itself)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from disputedesk.services import reports

    deps = _deps()
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                      console=_console()) as progress:
            task = progress.add_task("rebuilding the report facts", total=None)

            def seen(object_type: str, n: int) -> None:
                progress.update(task, description=f"rebuilding: {n:,} {object_type} objects")

            done = reports.rebuild(deps, progress=seen)
    finally:
        deps.close()
    typer.echo("rebuilt: " + ", ".join(f"{n:,} {t}" for t, n in done.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(reports_app, name="reports")
