"""What every command group shares: who is acting, common options, and building the desk."""

from __future__ import annotations

import getpass
import os

import typer

ACTOR = typer.Option(None, "--actor", envvar="DISPUTEDESK_ACTOR",
                     help="Who is acting, for the audit log (default: your OS user name).")
JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
NOTE = typer.Option(None, "--note", help="Why: kept in the audit log.")


def actor_name(actor: str | None) -> str:
    """The operator recorded in the audit log: --actor, DISPUTEDESK_ACTOR, else the OS user."""
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container
        return os.environ.get("USER") or "cli"


def open_deps():
    """The desk's parts from the settings (the one composition root, via wiring)."""
    from disputedesk.config import load_settings
    from disputedesk.embedded import with_running_demo
    from disputedesk.wiring import build_deps

    return build_deps(with_running_demo(load_settings()))
