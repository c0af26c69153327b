"""The ``disputedesk`` command: a thin Typer edge over the services.

Each module in this package that defines ``register(app)`` adds its commands; this file only
assembles them and maps the desk's errors to exit codes and one readable line.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.console import Console
from rich.markup import escape

from disputedesk import errors

app = typer.Typer(
    name="disputedesk",
    help="Refunds and disputes desk for Stripe merchants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# One table: error class -> exit code (most specific first).
EXIT_CODES: list[tuple[type[errors.DisputeDeskError], int]] = [
    (errors.ConfigError, 3),
    (errors.ValidationError, 2),
    (errors.NotFound, 4),
    (errors.Conflict, 5),
    (errors.PermissionDenied, 6),
    (errors.AuthenticationFailed, 6),
    (errors.StripeError, 7),
    (errors.DisputeDeskError, 1),
]


def exit_code_for(exc: errors.DisputeDeskError) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return 1


def _register_all() -> None:
    package = importlib.import_module("disputedesk.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in {"main"} or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"disputedesk.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Refunds and disputes desk for Stripe merchants."""
    from disputedesk.store import audit

    # The door a command proves (cli/_common.prove) lasts for this command only.
    audit.set_process_door(None)
    ctx.call_on_close(lambda: audit.set_process_door(None))


# Commands that never open the desk's database (every other one says which it opens on --help).
NO_DATABASE = frozenset({"version", "emulator", "config show", "rules check", "users roles"})


def _data_epilog() -> str:
    """One line for --help: the data folder and database this command would use right now."""
    from disputedesk.config import load_settings
    from disputedesk.services.status import masked_database_url

    try:
        settings = load_settings()
    except errors.ConfigError as exc:
        return f"Data: the settings are invalid ({exc.message})."
    return (f"Data: {settings.data_dir} (DISPUTEDESK_DATA_DIR); database "
            f"{masked_database_url(settings.effective_database_url)}.")


def with_data_epilogs(command, epilog: str, path: str = ""):
    """Add ``epilog`` to the help of every command that opens the database."""
    subcommands = getattr(command, "commands", None)  # a group (typer vendors its own click)
    if isinstance(subcommands, dict):
        for name, sub in subcommands.items():
            with_data_epilogs(sub, epilog, f"{path} {name}".strip())
    elif path not in NO_DATABASE:
        command.epilog = epilog
    return command


def main() -> None:
    """Entry point: a desk error becomes one line on stderr and an exit code, never a traceback."""
    try:
        if "--help" in sys.argv[1:]:
            with_data_epilogs(typer.main.get_command(app), _data_epilog())()
            return
        app()  # standalone: Typer handles usage errors and --help itself
    except errors.DisputeDeskError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(exit_code_for(exc))


if __name__ == "__main__":
    main()
