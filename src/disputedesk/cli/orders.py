"""``disputedesk orders import FILE``: the merchant's orders into the desk, for dispute evidence."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from disputedesk.cli._common import ACTOR

orders_app = typer.Typer(help="The merchant's orders (evidence for disputes).", no_args_is_help=True)


@orders_app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV, JSON or JSON-lines file of orders."),
    format: str = typer.Option(None, "--format", help="csv, json or jsonl (default: from the name)."),
    default_currency: str = typer.Option(None, "--currency", help="Currency of rows without one."),
    partial: bool = typer.Option(False, "--partial",
                                 help="Import the valid rows even when others have problems."),
    actor: str = ACTOR,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import orders; reports every problem at once and which open disputes now have an order."""
    from disputedesk.cli._common import actor_name
    from disputedesk.cli._common import open_deps as _deps
    from disputedesk.services.disputes import import_orders

    deps = _deps()
    try:
        report = import_orders(deps, file, actor=actor_name(actor, "disputes.write"), format=format,
                               default_currency=default_currency, partial=partial,
                               filename=file.name)
    finally:
        deps.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(f"{report.imported} orders imported ({report.created} new, {report.updated} updated) "
               f"from {report.rows} rows")
    for problem in report.problems[:50]:
        typer.echo(f"skipped row {problem['row']}: {problem['message']}", err=True)
    typer.echo(f"open disputes with an order: {len(report.disputes_matched)}; "
               f"without: {len(report.disputes_unmatched)}")
    for dispute_id in report.disputes_unmatched[:20]:
        typer.echo(f"  no order for {dispute_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(orders_app, name="orders")
