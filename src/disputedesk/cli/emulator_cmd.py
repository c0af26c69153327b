"""``disputedesk emulator``: serve the Stripe emulator (the only bridge from the CLI to it).

``--seed N`` makes ids deterministic and, unless ``--no-seed-data`` is given, also loads the
realistic year of history (customers, charges, refunds, disputes of every reason, inquiries,
early fraud warnings) that ``POST /_emulator/seed`` builds. Without ``--seed`` the emulator
starts empty (``--seed-data`` loads the data set with seed 0).
"""

from __future__ import annotations

from typing import Any, Optional

import typer

DEFAULT_SEED_CUSTOMERS = 50
DEFAULT_SEED_CHARGES = 500


def seed_summary(counts: dict[str, Any], seed: int) -> str:
    """One line naming what the seed created."""
    parts = [("customers", "customer", "customers"), ("charges", "charge", "charges"),
             ("refunds", "refund", "refunds"), ("disputes", "dispute", "disputes"),
             ("inquiries", "inquiry", "inquiries"),
             ("early_fraud_warnings", "early fraud warning", "early fraud warnings")]
    named = ", ".join(f"{counts[key]} {one if counts[key] == 1 else many}"
                      for key, one, many in parts)
    return f"seeded (seed {seed}): {named} over the past year"


def build_emulator(*, seed: Optional[int], seed_data: Optional[bool], customers: int,
                   charges: int, rate_limit: float, error_rate: float, latency_ms: int,
                   webhooks: list[str]) -> tuple[Any, dict[str, Any] | None]:
    """Validate the options, build the emulator and load seed data when asked.

    Returns the emulator and the seed's counts (None when no data was loaded).
    """
    from disputedesk.emulator import Emulator, FaultConfig
    from disputedesk.errors import ConfigError

    if not 0 <= error_rate <= 1:
        raise ConfigError("--error-rate must be between 0 and 1.", param="error_rate")
    if rate_limit < 0 or latency_ms < 0:
        raise ConfigError("--rate-limit and --latency-ms must be >= 0.")
    if customers < 0 or charges < 0:
        raise ConfigError("--customers and --charges must be >= 0.")
    if charges > 200_000 or customers > 100_000:
        raise ConfigError("--charges is at most 200000 and --customers at most 100000.")
    if seed is not None and seed < 0:
        raise ConfigError("--seed must be >= 0.", param="seed")
    for url in webhooks:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"--webhook {url!r} must be an http:// or https:// URL.",
                              param="webhook")
    seed_value = seed or 0
    em = Emulator(seed=seed_value, faults=FaultConfig(
        rate_limit=rate_limit, error_rate=error_rate, latency_ms=latency_ms, seed=seed_value))
    load = seed is not None if seed_data is None else seed_data
    counts = None
    if load and charges > 0:
        from disputedesk.emulator import seed as seed_module

        with em.lock:
            counts = seed_module.run(em, {"customers": customers, "charges": charges,
                                          "seed": seed_value})
    return em, counts


def register(app: typer.Typer) -> None:
    @app.command()
    def emulator(
        host: str = typer.Option("127.0.0.1", envvar="DISPUTEDESK_EMULATOR_HOST",
                                 help="Address to listen on."),
        port: int = typer.Option(12111, envvar="DISPUTEDESK_EMULATOR_PORT",
                                 help="Port to listen on (0 picks a free one)."),
        seed: Optional[int] = typer.Option(
            None, envvar="DISPUTEDESK_EMULATOR_SEED",
            help="Seed for ids and fault injection; also loads seed data (see --seed-data)."),
        seed_data: Optional[bool] = typer.Option(
            None, "--seed-data/--no-seed-data",
            help="Load a realistic year of data at start [default: on when --seed is given]."),
        customers: int = typer.Option(DEFAULT_SEED_CUSTOMERS, "--customers",
                                      help="Customers in the seed data."),
        charges: int = typer.Option(DEFAULT_SEED_CHARGES, "--charges",
                                    help="Charges in the seed data."),
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

        from disputedesk.emulator import create_app
        from disputedesk.errors import ConfigError

        em, counts = build_emulator(seed=seed, seed_data=seed_data, customers=customers,
                                    charges=charges, rate_limit=rate_limit,
                                    error_rate=error_rate, latency_ms=latency_ms,
                                    webhooks=list(webhook or []))
        # IPPROTO_TCP so asyncio sets TCP_NODELAY (else ~40 ms Nagle delay per response)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror}. Pick another "
                              "--port.", param="port") from exc
        # listen now: clients that read the printed address may connect before uvicorn runs
        sock.listen(2048)
        bound_port = sock.getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        base = f"http://{shown_host}:{bound_port}"
        # File.url of objects made outside a request (seed data) points at this server
        em.settings["files_base_url"] = base
        typer.echo(f"Stripe emulator listening on {base}")
        if counts is not None:
            typer.echo(seed_summary(counts, em.seed))
        for url in webhook or []:
            endpoint = em.add_webhook_endpoint(url)
            typer.echo(f"webhook {endpoint['id']} -> {url} secret "
                       f"{em.webhooks_secret(endpoint)}")
        server = uvicorn.Server(uvicorn.Config(create_app(em), log_level="warning",
                                               access_log=False))
        server.run(sockets=[sock])
