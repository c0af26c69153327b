"""``disputedesk status``: which desk this is (data folder, database, Stripe) and how it is doing."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from disputedesk.cli._common import ACTOR, JSON, actor_name


def _ago(seconds: float) -> str:
    from disputedesk.domain.disputes import format_time_left

    return format_time_left(int(seconds)).replace("overdue by ", "")


def register(app: typer.Typer) -> None:
    register_notify(app)

    @app.command("status")
    def status(as_json: bool = JSON) -> None:
        """The desk's data folder, database, Stripe target, worker and webhook health, and the
        work waiting for people."""
        from disputedesk.cli._common import open_deps
        from disputedesk.domain.times import format_time
        from disputedesk.embedded import running_demo
        from disputedesk.services.status import desk_status

        deps = open_deps()
        try:
            info = desk_status(deps, demo=running_demo(deps.settings))
        finally:
            deps.close()
        if as_json:
            typer.echo(json.dumps(info, indent=2, default=str))
            return
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        stripe = info["stripe"]
        table.add_row("data folder", escape(info["data_dir"]))
        table.add_row("database", escape(info["database"]))
        table.add_row("stripe", f"{stripe['target']}: {escape(stripe['detail'])}"
                      + (f", account {stripe['account']}" if stripe["account"] else ""))
        if info["demo"]:
            table.add_row("demo", f"running at {info['demo']['desk_url']} "
                                  f"(process {info['demo']['pid']})")
        worker = info["worker"]
        table.add_row("worker", "[green]keeping up[/green]" if worker["ok"] else
                      f"[red]behind[/red]: events waiting {_ago(worker['event_lag_seconds'])}, "
                      f"jobs waiting {_ago(worker['job_lag_seconds'])} (is `disputedesk serve` or "
                      "`disputedesk worker` running?)")
        hooks = info["webhooks"]
        counts = hooks["events"]
        table.add_row("webhooks", f"{hooks['secrets_configured']} signing secret(s); last received "
                      f"{format_time(hooks['last_received_at']) or 'never'}; "
                      + ", ".join(f"{k} {v}" for k, v in counts.items()))
        table.add_row("jobs", ", ".join(f"{k} {v}" for k, v in sorted(info["jobs"].items()))
                      or "none")
        pending = info["pending"]
        refunds = ", ".join(f"{k.replace('_', ' ')} {v}"
                            for k, v in sorted(pending["refunds"].items())) or "none"
        table.add_row("refunds", refunds)
        bulk = ", ".join(f"{k} {v}" for k, v in sorted(pending["bulk_jobs"].items())) or "none"
        table.add_row("bulk jobs", bulk)
        table.add_row("disputes", f"{pending['disputes_needing_response']} need a response"
                      + (f", soonest due {format_time(pending['soonest_due_by'])}"
                         if pending["soonest_due_by"] else ""))
        notes = info["notifications"]
        table.add_row("reminders", f"last sent {format_time(notes['last_reminder_sent_at']) or 'never'}"
                      + (f"; [red]{notes['reminders_failing']} failing[/red]"
                         if notes["reminders_failing"] else ""))
        for name in notes["channels"]:
            last = notes["last_test_send"].get(name)
            shown = ("no test sent yet (disputedesk notify test)" if last is None else
                     f"last test {format_time(last['at'])} by {escape(last['by'])}: "
                     + ("[green]delivered[/green]" if last["ok"] else
                        f"[red]failed[/red] ({escape(last['error'] or '')})"))
            table.add_row(f"channel {name}", shown)
        if notes["channels"] == ["log"]:
            table.add_row("", "only the log: no chat or e-mail channel is configured "
                              "(DISPUTEDESK_NOTIFY_SLACK_WEBHOOK_URL, DISPUTEDESK_SMTP_HOST)")
        console = Console()
        console.width = max(console.width, 120)
        console.print(table)


notify_app = typer.Typer(help="Notification channels: send a test message.", no_args_is_help=True)


@notify_app.command("test")
def notify_test(channel: str = typer.Option(None, "--channel",
                                            help="Only this channel: log, slack or email."),
                actor: str = ACTOR) -> None:
    """Send a test message to each configured channel and say which delivered it."""
    from disputedesk.cli._common import open_deps
    from disputedesk.services.channels import test_send

    deps = open_deps()
    try:
        outcome = test_send(deps, actor=actor_name(actor, "settings.manage"), channel=channel)
    finally:
        deps.close()
    for name, error in outcome.items():
        typer.echo(f"{name}: " + ("delivered" if error is None else f"failed: {error}"))
    if any(error is not None for error in outcome.values()):
        raise typer.Exit(1)


def register_notify(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
