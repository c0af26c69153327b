"""``disputedesk events list|show|replay``: the webhook inbox for operators."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from disputedesk.cli._show import when as _time
from disputedesk.cli._common import ACTOR, actor_name
from disputedesk.cli._common import open_deps as _deps
from disputedesk.errors import ValidationError

events_app = typer.Typer(help="Stored webhook events.", no_args_is_help=True)




@events_app.command("list")
def list_cmd(
    status: str = typer.Option(None, "--status",
                               help="received, processed, ignored or failed."),
    type: str = typer.Option(None, "--type", help="Event type, e.g. charge.dispute.created."),
    object_id: str = typer.Option(None, "--object", help="Only events about this object id."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List stored events, newest first."""
    from disputedesk.services.events import list_events
    from disputedesk.store.inbox import STATUSES

    if status and status not in STATUSES:
        raise ValidationError(f"unknown status '{status}'", param="status",
                              hint="one of: " + ", ".join(STATUSES))
    deps = _deps()
    try:
        rows = list_events(deps.store, status=status, type=type, object_id=object_id, limit=limit)
    finally:
        deps.close()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str))
        return
    table = Table("id", "type", "object", "status", "attempts", "received", "last error")
    for row in rows:
        table.add_row(row["id"], row["type"], row["object_id"] or "", row["status"],
                      str(row["attempts"]), _time(row["received_at"]),
                      (row["last_error"] or "")[:60])
    # Ids are the thing operators copy: never wrap them, even in a narrow terminal.
    console = Console()
    console.width = max(console.width, 160)
    console.print(table)


@events_app.command("show")
def show_cmd(event_id: str = typer.Argument(..., help="The event id (evt_...).")) -> None:
    """Show one event: its processing state and the payload as received."""
    from disputedesk.services.events import show_event

    deps = _deps()
    try:
        row = show_event(deps.store, event_id)
    finally:
        deps.close()
    payload = row.pop("payload")
    for key in ("received_at", "processed_at", "next_attempt_at"):
        row[key] = _time(row[key])
    row.pop("seq", None)
    typer.echo(json.dumps(row, indent=2, default=str))
    typer.echo(payload)


@events_app.command("replay")
def replay_cmd(
    event_id: str = typer.Argument(None, help="Replay this one event."),
    type: str = typer.Option(None, "--type", help="Replay every event of this type."),
    failed: bool = typer.Option(False, "--failed", help="Replay every failed event."),
    actor: str = ACTOR,
) -> None:
    """Queue events again: the worker re-applies them (older snapshots are still ignored)."""
    from disputedesk.services.events import replay

    deps = _deps()
    try:
        count = replay(deps.store, deps.clock, actor=actor_name(actor, "events.replay"), event_id=event_id, type=type,
                       failed=failed)
    finally:
        deps.close()
    typer.echo(f"{count} event(s) queued for the worker")


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
