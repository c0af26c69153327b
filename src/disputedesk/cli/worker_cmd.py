"""``disputedesk worker``: workers only (any number of these share a PostgreSQL database)."""

from __future__ import annotations

import logging
import signal

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        concurrency: int = typer.Option(1, "--concurrency", "-c", min=1,
                                        help="Worker threads in this process."),
    ) -> None:
        """Apply stored events and run due jobs until stopped (Ctrl-C or SIGTERM)."""
        from disputedesk.config import load_settings
        from disputedesk.log_setup import configure_logging
        from disputedesk.wiring import build_deps
        from disputedesk.worker import WorkerPool

        configure_logging("INFO")
        deps = build_deps(load_settings())
        if deps.store.is_sqlite and concurrency > 1:
            logging.getLogger("disputedesk.worker").warning(
                "SQLite has one writer: extra worker threads only wait; use PostgreSQL to scale")
        pool = WorkerPool(deps, concurrency)
        signal.signal(signal.SIGTERM, lambda *_: pool.request_stop())
        pool.start()
        try:
            pool.wait()
        except KeyboardInterrupt:
            pass
        finally:
            pool.stop()
            deps.close()
