"""``disputedesk sync``: backfill the mirror from Stripe, then catch up from the Events API."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from disputedesk.errors import ValidationError

_RELATIVE = re.compile(r"^(\d+)\s*([dhm])$")


def parse_since(text: str | None, now: float) -> int | None:
    """``30d``, ``12h``, ``90m``, an ISO date/time (UTC unless it says otherwise) or epoch seconds."""
    if not text:
        return None
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        n, unit = int(match[1]), match[2]
        return int(now - n * {"d": 86400, "h": 3600, "m": 60}[unit])
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"cannot read --since '{text}'", param="since",
                              hint="use 30d, 12h, 2026-01-31, 2026-01-31T12:00 or epoch seconds"
                              ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync_command(
        since: str = typer.Option(None, help="Only objects/events since: 30d, 12h, a date, epoch."),
        objects: str = typer.Option(None, help="Comma-separated: payment_intents, charges, "
                                    "refunds, disputes, early_fraud_warnings (default all)."),
        backfill: bool = typer.Option(True, help="Walk the list endpoints."),
        events: bool = typer.Option(True, help="Catch up from /v1/events."),
    ) -> None:
        """Bring the mirror up to date with Stripe (safe to run while webhooks arrive)."""
        from disputedesk.config import load_settings
        from disputedesk.services import sync as sync_service
        from disputedesk.wiring import build_deps

        deps = build_deps(load_settings())
        console = Console()
        try:
            names = sync_service.parse_objects(objects.split(",") if objects else None)
            since_ts = parse_since(since, deps.clock.now())
            with Progress(TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.completed:,}"), TimeElapsedColumn(),
                          console=console, transient=False) as bar:
                tasks: dict[str, int] = {}

                def progress(what: str, n: int) -> None:
                    if what not in tasks:
                        tasks[what] = bar.add_task(what, total=None)
                    bar.advance(tasks[what], n)

                report = sync_service.sync(deps, objects=names, since=since_ts, events=events,
                                           backfill_objects=backfill, progress=progress)
        finally:
            deps.close()
        for name, count in report.objects.items():
            console.print(f"{name}: {count:,} mirrored")
        if events:
            console.print(f"events: {report.events_seen:,} read, {report.events_stored:,} new "
                          "(the worker applies them)")
