"""``disputedesk refund TARGET`` and ``disputedesk refunds list|show|approve|reject|cancel|heal|bulk``.

The operator is a proven desk user (cli/_common.py: a personal token or a password), recorded
in the audit log with the door and credential.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from disputedesk.cli._show import money
from disputedesk.cli._show import when as _time
from disputedesk.cli._common import ACTOR, JSON, NOTE, actor_name
from disputedesk.cli._common import open_deps as _deps
from disputedesk.errors import ValidationError

refunds_app = typer.Typer(help="Refund requests: list, show, approve, reject, cancel, bulk.",
                          no_args_is_help=True)

def _console() -> Console:
    console = Console()
    console.width = max(console.width, 160)
    return console




def _dump(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def parse_metadata(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"cannot read the metadata '{item}'", param="metadata",
                                  hint="write it as key=value, e.g. --metadata ticket=T-1001")
        out[key.strip()] = value
    return out


def _print_request(row: dict, console: Console) -> None:
    console.print(f"request [bold]{row['id']}[/bold]: {money(row['amount'], row['currency'])} on {row['charge']}"
                  f" -> [bold]{row['status']}[/bold]"
                  + (f"  refund {row['refund_id']}" if row.get("refund_id") else ""))
    if row.get("error"):
        console.print(f"  [red]{escape(row['error'])}[/red]")


def refund_cmd(
    target: str = typer.Argument(..., help="Charge id (ch_), PaymentIntent id (pi_) or order id."),
    amount: str = typer.Option(None, "--amount", "-a",
                               help='"full" (everything left) or major units, e.g. "12.50 EUR", '
                                    '"1500 JPY"; asked when left out (full is never assumed).'),
    reason: str = typer.Option(None, "--reason",
                               help="duplicate, fraudulent or requested_by_customer."),
    metadata: list[str] = typer.Option(None, "--metadata", "-m", help="key=value (repeatable)."),
    note: str = NOTE,
    by: str = typer.Option(None, "--by", help="What TARGET is: charge, payment_intent or "
                                              "order_id (default: from its prefix)."),
    key: str = typer.Option(None, "--key", help="Client key: the same key never refunds twice."),
    live: bool = typer.Option(False, "--live", help="Check against fresh data from Stripe."),
    yes: bool = typer.Option(False, "--yes", "-y",
                             help="Do not ask before refunding (what will happen is still "
                                  "printed). Without a terminal the desk does not ask either."),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Refund a charge (full or partial). Checked first, recorded before Stripe is called.

    Says what will happen before doing it ("Refund 12.50 EUR of 40.00 EUR on ch_...; 27.50 EUR
    will remain.") and, at a terminal, asks.
    """
    from disputedesk.services.refunds import request_refund

    interactive = _interactive() and not as_json
    deps = _deps()
    try:
        amount = _confirm_refund(deps, target, amount, by=by, reason=reason, live=live,
                                 key=key, ask=interactive and not yes, quiet=as_json)
        outcome = request_refund(deps, target, amount=amount, reason=reason,
                                 metadata=parse_metadata(metadata), note=note, target_type=by,
                                 client_key=key, live=live or None,
                                 actor=actor_name(actor, "refunds.request"))
    finally:
        deps.close()
    if as_json:
        _dump(outcome.to_dict())
        return
    console = _console()
    for warning in outcome.warnings:
        console.print(f"[yellow]warning ({warning['code']}):[/yellow] {escape(warning['message'])}")
    _print_request(outcome.to_dict()["request"], console)
    if outcome.status == "awaiting_approval":
        console.print(f"  {escape(outcome.approval or '')}")
        console.print("  another user approves it with: disputedesk refunds approve "
                      f"{outcome.request['id']}")
    if outcome.existing:
        console.print("  (this key was used before: this is the request recorded then)")


def _interactive() -> bool:
    """A person at a terminal (asked before acting), not a script."""
    return sys.stdin.isatty()


def _confirm_refund(deps, target: str, amount: str | None, *, by: str | None,
                    reason: str | None, live: bool, key: str | None, ask: bool,
                    quiet: bool) -> str:
    """Settle the amount (asked at a terminal when left out: never assumed "full"), print what
    the refund will do, and at a terminal ask before doing it. Returns the amount to request."""
    from disputedesk.domain.refunds import refund_confirmation
    from disputedesk.errors import DisputeDeskError
    from disputedesk.services.refunds import preview_refund, show_charge

    if amount is None or not amount.strip():
        if not ask:
            raise ValidationError("say how much to refund", param="amount",
                                  hint='--amount "12.50 EUR", or --amount full for everything left')
        left = show_charge(deps, target)["balance"]
        amount = typer.prompt(f"Amount to refund (up to {money(left['left'], left['currency'])};"
                              ' "full" for all of it)')
    try:
        plan = preview_refund(deps, target, amount=amount, target_type=by, reason=reason,
                              live=live or None)
    except DisputeDeskError:
        if key:  # the key may name a request made before: request_refund returns that one
            return amount
        raise
    sentence = refund_confirmation(plan)
    if ask:
        if not typer.confirm(f"{sentence} Go ahead?", default=False):
            typer.echo("Nothing was refunded.")
            raise typer.Exit(1)
    elif not quiet:
        typer.echo(sentence)
    return amount


@refunds_app.command("list")
def list_cmd(
    status: str = typer.Option(None, "--status", help="Only requests in this state."),
    charge: str = typer.Option(None, "--charge", help="Only requests on this charge."),
    requested_by: str = typer.Option(None, "--by", help="Only requests of this operator."),
    job: str = typer.Option(None, "--job", help="Only requests of this bulk job."),
    limit: int = typer.Option(100, "--limit", min=1, max=100_000),
    as_json: bool = JSON,
) -> None:
    """Refund requests, newest first."""
    from disputedesk.services.refunds import list_requests

    deps = _deps()
    try:
        rows = list_requests(deps, status=status, charge=charge, requested_by=requested_by,
                             bulk_job_id=job, limit=limit)
    finally:
        deps.close()
    if as_json:
        _dump(rows)
        return
    table = Table("request", "created", "charge", "amount", "status", "by", "approved by",
                  "refund", "error")
    for r in rows:
        table.add_row(r["id"], _time(r["created"]), r["charge"], money(r["amount"], r["currency"]), r["status"],
                      r["requested_by"], r["approved_by"] or "", r["refund_id"] or "",
                      (r["error"] or "")[:60])
    console = _console()
    console.print(table)
    console.print(f"{len(rows)} request(s)")


@refunds_app.command("show")
def show_cmd(request_id: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """One request with its approvals and audit trail (who, when, what, why)."""
    from disputedesk.services.refunds import show_request

    deps = _deps()
    try:
        view = show_request(deps, request_id)
    finally:
        deps.close()
    if as_json:
        _dump(view)
        return
    console = _console()
    row = view["request"]
    _print_request(row, console)
    console.print(f"  requested by {row['requested_by']} at {_time(row['created'])}; "
                  f"idempotency key {row['idempotency_key']}")
    if row.get("approval_reason"):
        console.print(f"  approval: {escape(row['approval_reason'])}")
    table = Table("at", "actor", "action", "note", title="Audit trail")
    for entry in view["audit"]:
        table.add_row(_time(entry["at"]), entry["actor"], entry["action"],
                      escape(entry["note"] or ""))
    console.print(table)


@refunds_app.command("approve")
def approve_cmd(request_id: str = typer.Argument(...), note: str = NOTE, actor: str = ACTOR,
                as_json: bool = JSON) -> None:
    """Approve another user's request; it is re-checked and sent to Stripe."""
    from disputedesk.services.refunds import approve_request
    from disputedesk.services.refunds.core import public

    deps = _deps()
    try:
        row = approve_request(deps, request_id, actor=actor_name(actor, "refunds.approve"),
                              note=note)
    finally:
        deps.close()
    _dump(public(row)) if as_json else _print_request(public(row), _console())


@refunds_app.command("reject")
def reject_cmd(request_id: str = typer.Argument(...), note: str = NOTE, actor: str = ACTOR,
               as_json: bool = JSON) -> None:
    """Reject another user's request (final; nothing is sent)."""
    from disputedesk.services.refunds import reject_request
    from disputedesk.services.refunds.core import public

    deps = _deps()
    try:
        row = reject_request(deps, request_id, actor=actor_name(actor, "refunds.approve"),
                             note=note)
    finally:
        deps.close()
    _dump(public(row)) if as_json else _print_request(public(row), _console())


@refunds_app.command("cancel")
def cancel_cmd(request_id: str = typer.Argument(...), note: str = NOTE, actor: str = ACTOR,
               as_json: bool = JSON) -> None:
    """Withdraw a request not yet sent, or cancel a refund in requires_action at Stripe."""
    from disputedesk.services.refunds import cancel_request
    from disputedesk.services.refunds.core import public

    deps = _deps()
    try:
        row = cancel_request(deps, request_id, actor=actor_name(actor, "refunds.cancel"),
                             note=note)
    finally:
        deps.close()
    _dump(public(row)) if as_json else _print_request(public(row), _console())


@refunds_app.command("heal")
def heal_cmd(actor: str = ACTOR) -> None:
    """Finish what a crash interrupted: send approved requests, replay stuck ones (same key)."""
    from disputedesk.services.refunds import heal

    deps = _deps()
    try:
        counts = heal(deps, actor=actor_name(actor, "refunds.request"))
    finally:
        deps.close()
    typer.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@refunds_app.command("bulk")
def bulk_cmd(
    file: Path = typer.Argument(None, exists=True, dir_okay=False, readable=True,
                                help="CSV: charge|payment_intent|order_id, amount, reason, note, "
                                     "metadata.<key> (docs/refunds.md)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row against its charge; "
                                                          "refund nothing."),
    resume: str = typer.Option(None, "--resume", help="Continue an interrupted job by its id."),
    out: Path = typer.Option(None, "--out", help="Result CSV (default: FILE.result.csv)."),
    concurrency: int = typer.Option(None, "--concurrency", min=1, max=64,
                                    help="Parallel requests (the rate limit still applies)."),
    allow_repeat: bool = typer.Option(
        False, "--allow-repeat",
        help="Refund rows that repeat an earlier bulk request (the same row, or the same charge "
             "and amount) again; without it they are reported already_done."),
    actor: str = ACTOR,
) -> None:
    """Refund every row of a CSV: validated first, then concurrent, interruptible, resumable."""
    from disputedesk.domain.bulk import BulkFileInvalid
    from disputedesk.services.refunds import run_bulk

    if (file is None) == (resume is None):
        raise ValidationError("give a FILE, or --resume JOB", hint="e.g. disputedesk refunds "
                                                                   "bulk refunds.csv")
    console = _console()
    deps = _deps()
    stop = threading.Event()
    try:
        data = file.read_bytes() if file is not None else None
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"),
                      TimeRemainingColumn(), console=console, transient=False) as bar:
            task = bar.add_task("checking" if dry_run else "refunding", total=None, failed=0)

            def progress(state) -> None:
                bar.update(task, total=state.total, completed=state.done, failed=state.failed)

            previous = signal.getsignal(signal.SIGINT)

            def interrupt(_signum, _frame) -> None:  # first Ctrl-C: finish rows in flight
                if stop.is_set():
                    raise KeyboardInterrupt
                stop.set()
                bar.console.print("[yellow]stopping: finishing the rows in flight...[/yellow]")

            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, interrupt)
            try:
                report = run_bulk(deps, data, actor=actor_name(actor, "refunds.bulk"),
                                  filename=file.name if file else None, dry_run=dry_run,
                                  resume=resume, concurrency=concurrency, stop=stop,
                                  progress=progress, allow_repeat=allow_repeat)
            finally:
                if threading.current_thread() is threading.main_thread():
                    signal.signal(signal.SIGINT, previous)
    except BulkFileInvalid as exc:
        for problem in exc.problems:
            console.print(f"[red]{escape(str(problem))}[/red]")
        raise
    finally:
        deps.close()
    if dry_run:
        for problem in report.problems:
            console.print(f"[red]{escape(str(problem))}[/red]")
        from disputedesk.domain.bulk import bulk_confirmation

        console.print(f"{report.total} row(s) checked, {len(report.problems)} problem(s); "
                      "nothing was refunded")
        console.print(f"Without --dry-run: {bulk_confirmation(report.planned, len(report.problems))}")
        if report.problems:
            raise typer.Exit(2)
        return
    target = out or (file.with_name(file.name + ".result.csv") if file is not None
                     else Path(f"{report.job_id}.result.csv"))
    with open(target, "w", newline="", encoding="utf-8") as handle:
        handle.write(report.result_csv())
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(report.counts.items()))
    console.print(f"job {report.job_id}: {counts}")
    console.print(f"result written to {target}")
    if report.interrupted:
        console.print(f"[yellow]interrupted: resume with: disputedesk refunds bulk --resume "
                      f"{report.job_id}[/yellow]")
        raise typer.Exit(130)


def register(app: typer.Typer) -> None:
    app.command("refund")(refund_cmd)
    app.add_typer(refunds_app, name="refunds")
