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


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_live(settings) -> None:
    """Against Stripe itself the webhook route must verify signatures: refuse to start without a
    signing secret rather than serve a route that could only refuse every event (or, worse,
    tempt someone to turn verification off)."""
    from disputedesk.errors import ConfigError

    if not settings.webhook_secrets:
        raise ConfigError(
            "no webhook signing secret is set, so the desk could not verify Stripe's webhooks",
            param="webhook_secrets",
            hint="set DISPUTEDESK_WEBHOOK_SECRETS=whsec_... (Stripe Dashboard > Developers > "
                 "Webhooks > your endpoint > Signing secret), or run `disputedesk serve "
                 "--emulator` to try the desk without Stripe")


def plain_http_warnings(settings) -> list[str]:
    """What to warn about before serving: people's passwords, session cookies and API tokens
    would cross a network unencrypted."""
    from urllib.parse import urlsplit

    public = (settings.public_url or "").strip()
    if public:
        parts = urlsplit(public)
        if parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK:
            return [f"DISPUTEDESK_PUBLIC_URL is plain http ({public}): passwords, session cookies "
                    "and API tokens would cross the network unencrypted. Put a TLS proxy in "
                    "front of the desk and set an https:// address."]
        return []
    if settings.host not in _LOOPBACK:
        return [f"the desk listens on {settings.host} over plain http and DISPUTEDESK_PUBLIC_URL "
                "is not set: put a TLS proxy in front of it and set DISPUTEDESK_PUBLIC_URL="
                "https://... (which also turns on HSTS)."]
    return []


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
        if not emulator:
            check_live(settings)
        for warning in plain_http_warnings(settings):
            typer.echo(f"warning: {warning}", err=True)
        stripe = None
        if emulator:
            from disputedesk import embedded

            stripe = embedded.start_embedded_stripe()
            settings = embedded.register_webhooks(embedded.settings_for(settings, stripe),
                                                  desk_url)
            typer.echo(f"Stripe emulator at {stripe.base_url}; webhooks go to {desk_url}")
        deps = build_deps(settings)
        link = accounts.ensure_first_admin(deps, settings.public_url or desk_url)
        if link:
            typer.echo(f"First start: sign in as admin with this one-time link:\n  {link}")
        try:
            serve_forever(deps, worker_threads=worker_threads, access_log=access_log)
        finally:
            if stripe is not None:
                stripe.stop()
