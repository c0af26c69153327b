"""``disputedesk demo``: the whole desk on the embedded default, seeded with a year of data.

The demo lives in the desk's data folder like every other command (so ``disputedesk disputes
list`` in another shell sees the same desk), and keeps what you did across restarts: the
emulator's state is saved beside the database. ``--fresh`` starts over from the seed.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from disputedesk.errors import ConfigError


def _database_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("disputedesk.db*"))


def _holds_nothing(data_dir: Path) -> bool:
    """No database, or one with no charge, user or refund request (e.g. made by `status`)."""
    import sqlite3

    path = data_dir / "disputedesk.db"
    if not path.exists():
        return True
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return not any(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                           for table in ("charges", "users", "refund_requests"))
    except sqlite3.Error:
        return False  # unreadable: not ours to replace


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        host: str = typer.Option(None, help="Address the desk listens on [DISPUTEDESK_HOST, "
                                            "default 127.0.0.1]."),
        port: int = typer.Option(None, help="Port the desk listens on [DISPUTEDESK_PORT, "
                                            "default 8000]."),
        data_dir: Path = typer.Option(None, "--data-dir",
                                      help="Data folder [DISPUTEDESK_DATA_DIR; default: the "
                                           "desk's data folder, see `disputedesk status`]."),
        fresh: bool = typer.Option(False, "--fresh",
                                   help="Forget the demo's data and seed it again."),
        seed: int = typer.Option(42, help="Seed of the emulator's data set (same seed, same data)."),
        customers: int = typer.Option(300, min=1, envvar="DISPUTEDESK_DEMO_CUSTOMERS",
                                      help="Customers in the seeded year."),
        charges: int = typer.Option(3000, min=1, envvar="DISPUTEDESK_DEMO_CHARGES",
                                    help="Charges in the seeded year."),
    ) -> None:
        """Start the desk with SQLite and the built-in Stripe emulator seeded with a year of data.

        What you do is kept across restarts (--fresh starts over). Prints a one-time sign-in
        link for the admin on the first start. Nothing leaves this machine.
        """
        from disputedesk import embedded
        from disputedesk.cli.serve import serve_forever
        from disputedesk.config import load_settings
        from disputedesk.log_setup import configure_logging
        from disputedesk.services import accounts
        from disputedesk.services import sync as sync_service
        from disputedesk.wiring import build_deps

        console = Console()
        configure_logging("WARNING")
        settings = load_settings(host=host, port=port, data_dir=data_dir)
        if settings.database_url is not None:
            raise ConfigError("the demo runs on SQLite in the data folder, but "
                              "DISPUTEDESK_DATABASE_URL is set",
                              hint="unset it for the demo, or use `disputedesk serve --emulator`")
        host, port = settings.host, settings.port
        folder = settings.data_dir
        folder.mkdir(parents=True, exist_ok=True)
        state_file = folder / embedded.STATE_FILE
        if embedded.running_demo(settings) is not None:
            raise ConfigError(f"a demo already runs on the data folder {folder}",
                              hint="stop it first, or give another --data-dir")
        if not state_file.exists() and not fresh and not _holds_nothing(folder):
            raise ConfigError(f"the data folder {folder} holds a desk that is not a demo's",
                              hint="give the demo another --data-dir, or --fresh to replace "
                                   "that desk with the demo")
        if fresh or not state_file.exists():
            # The database mirrors the emulator: they start over together.
            for leftover in [*_database_files(folder), state_file]:
                leftover.unlink(missing_ok=True)
        with console.status("starting the Stripe emulator..."):
            stripe = embedded.start_embedded_stripe(seed=seed, seed_data=True,
                                                    customers=customers, charges=charges,
                                                    state_file=state_file)
        try:
            if stripe.restored:
                console.print(f"Stripe emulator at {stripe.base_url} "
                              "(the demo's data as you left it; --fresh starts over)")
            else:
                seeded = stripe.seeded or {}
                console.print(f"Stripe emulator at {stripe.base_url} (seeded: "
                              f"{', '.join(f'{v} {k}' for k, v in seeded.items() if isinstance(v, int))})")
                stripe.save()
            console.print(f"Data folder: {escape(str(folder))}")
            desk_url = f"http://{host}:{port}"
            settings = embedded.settings_for(settings, stripe)
            embedded.forget_webhook_endpoints(stripe, desk_url)
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

                sync_service.sync(deps, progress=progress,
                                  backfill_objects=not stripe.restored)
            link = accounts.ensure_first_admin(deps, desk_url)
            running = embedded.mark_running(settings, stripe, desk_url)
            stripe.keep_saving()
            console.print(f"\n[bold]disputedesk is running at {desk_url}[/bold]")
            if link:
                console.print(f"Sign in as [bold]admin[/bold] with this one-time link:\n  {link}")
            else:
                console.print("Sign in as before; a new one-time link for admin: "
                              "disputedesk users reset-password admin --link "
                              f"--base-url {desk_url}")
            console.print("Other commands in another shell use this same desk "
                          "(try: disputedesk status). Press Ctrl-C to stop.\n")
            try:
                serve_forever(deps, worker_threads=1)
            finally:
                running.unlink(missing_ok=True)
        finally:
            stripe.stop()
