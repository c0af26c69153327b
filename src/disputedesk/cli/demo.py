"""``disputedesk demo``: the whole desk on the embedded default, seeded with a year of data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        host: str = typer.Option("127.0.0.1", help="Address the desk listens on."),
        port: int = typer.Option(8000, help="Port the desk listens on."),
        data_dir: Path = typer.Option(Path("disputedesk-demo"), "--data-dir",
                                      help="Folder for the demo's SQLite file (started afresh)."),
        seed: int = typer.Option(42, help="Seed of the emulator's data set (same seed, same data)."),
        customers: int = typer.Option(300, min=1, help="Customers in the seeded year."),
        charges: int = typer.Option(3000, min=1, help="Charges in the seeded year."),
    ) -> None:
        """Start the desk with SQLite and the built-in Stripe emulator seeded with a year of data.

        Prints a one-time login link for the admin. Nothing leaves this machine.
        """
        from disputedesk import embedded
        from disputedesk.cli.serve import serve_forever
        from disputedesk.config import load_settings
        from disputedesk.services import accounts
        from disputedesk.services import sync as sync_service
        from disputedesk.wiring import build_deps

        console = Console()
        from disputedesk.log_setup import configure_logging

        configure_logging("WARNING")
        data_dir.mkdir(parents=True, exist_ok=True)
        # The emulator keeps its state in memory, so the demo's database starts afresh with it.
        for leftover in data_dir.glob("disputedesk.db*"):
            leftover.unlink()
        with console.status("starting the Stripe emulator and seeding a year of data..."):
            stripe = embedded.start_embedded_stripe(seed=seed, seed_data=True,
                                                    customers=customers, charges=charges)
        seeded = stripe.seeded or {}
        console.print(f"Stripe emulator at {stripe.base_url} "
                      f"({', '.join(f'{v} {k}' for k, v in seeded.items() if isinstance(v, int))})")
        desk_url = f"http://{host}:{port}"
        settings = load_settings(host=host, port=port, data_dir=data_dir, database_url=None)
        settings = embedded.settings_for(settings, stripe)
        settings = embedded.register_webhooks(settings, desk_url)
        deps = build_deps(settings)
        with Progress(TextColumn("mirroring {task.description}"), BarColumn(),
                      TextColumn("{task.completed:,}"), TimeElapsedColumn(),
                      console=console) as bar:
            tasks: dict[str, int] = {}

            def progress(what: str, n: int) -> None:
                if what not in tasks:
                    tasks[what] = bar.add_task(what, total=None)
                bar.advance(tasks[what], n)

            sync_service.sync(deps, progress=progress)
        link = accounts.ensure_first_admin(deps, desk_url)
        console.print(f"\n[bold]disputedesk is running at {desk_url}[/bold]")
        if link:
            console.print(f"Sign in as [bold]admin[/bold] with this one-time link:\n  {link}")
        console.print("Press Ctrl-C to stop.\n")
        try:
            serve_forever(deps, worker_threads=1)
        finally:
            stripe.stop()
