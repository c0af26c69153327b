"""``disputedesk emulator``: serve the Stripe emulator (the only bridge from the CLI to it)."""

from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def emulator(
        host: str = typer.Option("127.0.0.1", envvar="DISPUTEDESK_EMULATOR_HOST",
                                 help="Address to listen on."),
        port: int = typer.Option(12111, envvar="DISPUTEDESK_EMULATOR_PORT",
                                 help="Port to listen on (0 picks a free one)."),
        seed: int = typer.Option(0, envvar="DISPUTEDESK_EMULATOR_SEED",
                                 help="Seed for ids and fault injection."),
        webhook: Optional[list[str]] = typer.Option(
            None, "--webhook", help="Register a webhook endpoint for all events (repeatable)."),
        rate_limit: float = typer.Option(0.0, envvar="DISPUTEDESK_EMULATOR_RATE_LIMIT",
                                         help="Requests per second before 429s (0: off)."),
        error_rate: float = typer.Option(0.0, envvar="DISPUTEDESK_EMULATOR_ERROR_RATE",
                                         help="Share of requests answered with 500 (0-1)."),
        latency_ms: int = typer.Option(0, envvar="DISPUTEDESK_EMULATOR_LATENCY_MS",
                                       help="Latency added to every API request."),
    ) -> None:
        """Serve the Stripe emulator (any sk_test_ key works) and print its address."""
        import socket

        import uvicorn

        from disputedesk.emulator import Emulator, FaultConfig, create_app
        from disputedesk.errors import ConfigError

        if not 0 <= error_rate <= 1:
            raise ConfigError("--error-rate must be between 0 and 1.", param="error_rate")
        if rate_limit < 0 or latency_ms < 0:
            raise ConfigError("--rate-limit and --latency-ms must be >= 0.")
        for url in webhook or []:
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"--webhook {url!r} must be an http:// or https:// URL.",
                                  param="webhook")
        em = Emulator(seed=seed, faults=FaultConfig(rate_limit=rate_limit, error_rate=error_rate,
                                                    latency_ms=latency_ms, seed=seed))
        # IPPROTO_TCP so asyncio sets TCP_NODELAY (else ~40 ms Nagle delay per response)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror}. Pick another "
                              "--port.", param="port") from exc
        bound_port = sock.getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        typer.echo(f"Stripe emulator listening on http://{shown_host}:{bound_port}")
        for url in webhook or []:
            endpoint = em.add_webhook_endpoint(url)
            typer.echo(f"webhook {endpoint['id']} -> {url} secret "
                       f"{em.webhooks_secret(endpoint)}")
        server = uvicorn.Server(uvicorn.Config(create_app(em), log_level="warning",
                                               access_log=False))
        server.run(sockets=[sock])
