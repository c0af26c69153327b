"""``disputedesk serve``: the web app (webhooks, API, health) and a worker in one process."""

from __future__ import annotations

import contextlib
import sys

import typer

SERVE_SWITCH_INTERVAL = 0.0005


def _server_class():
    import uvicorn

    class DeskServer(uvicorn.Server):
        """uvicorn re-raises the stop signal after its graceful shutdown, which would end the
        process before the workers finish their batch; the desk stops them and exits 0 instead."""

        @contextlib.contextmanager
        def capture_signals(self):
            with super().capture_signals():
                try:
                    yield
                finally:
                    captured = getattr(self, "_captured_signals", None)
                    if isinstance(captured, list):
                        captured.clear()

    return DeskServer


def serve_forever(deps, *, worker_threads: int = 1, access_log: bool = False) -> None:
    """Run uvicorn on ``deps.settings.host:port`` with ``worker_threads`` workers beside it."""
    import uvicorn

    from disputedesk.web.app import create_app
    from disputedesk.worker import WorkerPool

    settings = deps.settings
    app = create_app(deps)
    # The workers yield to the receiver of this process while webhooks arrive (worker.py).
    pool = WorkerPool(deps, worker_threads, ingest=app.webhook.load) if worker_threads else None
    if pool is not None:
        # The worker threads are CPU-bound; with the default 5 ms GIL switch interval every
        # webhook would wait up to 5 ms per hand-over. 0.5 ms keeps the receiver responsive.
        sys.setswitchinterval(SERVE_SWITCH_INTERVAL)
    server = _server_class()(uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info",
        access_log=access_log, log_config=None))  # uvicorn logs through the desk's scrubber
    if pool is not None:
        pool.start()
    try:
        server.run()
    finally:
        if pool is not None:
            pool.stop()
        deps.close()


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option(None, "--host", help="Address to listen on [DISPUTEDESK_HOST]."),
        port: int = typer.Option(None, "--port", help="Port to listen on [DISPUTEDESK_PORT]."),
        worker_threads: int = typer.Option(
            1, "--worker-threads", min=0,
            help="Worker threads beside the web app (0: run workers elsewhere)."),
        access_log: bool = typer.Option(False, "--access-log", help="Log every request."),
        emulator: bool = typer.Option(
            False, "--emulator",
            help="Also start the built-in Stripe emulator, point the desk at it and register "
                 "the webhook endpoint (works with no Stripe account and no configuration)."),
    ) -> None:
        """Run the web app and a worker in one process (migrations applied on start)."""
        from disputedesk.config import load_settings
        from disputedesk.log_setup import configure_logging
        from disputedesk.services import accounts
        from disputedesk.wiring import build_deps

        configure_logging("INFO")
        settings = load_settings(host=host, port=port)
        desk_url = f"http://{settings.host}:{settings.port}"
        stripe = None
        if emulator:
            from disputedesk import embedded

            stripe = embedded.start_embedded_stripe()
            settings = embedded.register_webhooks(embedded.settings_for(settings, stripe),
                                                  desk_url)
            typer.echo(f"Stripe emulator at {stripe.base_url}; webhooks go to {desk_url}")
        deps = build_deps(settings)
        link = accounts.ensure_first_admin(deps, desk_url)
        if link:
            typer.echo(f"First start: sign in as admin with this one-time link:\n  {link}")
        try:
            serve_forever(deps, worker_threads=worker_threads, access_log=access_log)
        finally:
            if stripe is not None:
                stripe.stop()
