"""``disputedesk charges show|search``: look before refunding."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from disputedesk.cli._show import money as _money
from disputedesk.cli._show import when as _time
from disputedesk.cli._common import open_deps as _deps

charges_app = typer.Typer(help="Look at charges before refunding.", no_args_is_help=True)


def _console() -> Console:
    console = Console()
    console.width = max(console.width, 160)  # ids are what operators copy: never wrap them
    return console




def render_charge(view: dict, console: Console) -> None:
    charge = view["charge"]
    currency = charge.get("currency")
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    billing = charge.get("billing_details") or {}
    console.print(f"[bold]{charge['id']}[/bold]  {_money(charge.get('amount'), currency)}  "
                  f"status {charge.get('status')}  created {_time(charge.get('created'))}  "
                  f"(from {view['source']})")
    console.print(f"  customer e-mail: {escape(str(billing.get('email') or charge.get('receipt_email') or '-'))}"
                  f"  card: {card.get('brand', '-')} ****{card.get('last4', '----')}"
                  f"  payment intent: {charge.get('payment_intent') or '-'}")
    if charge.get("metadata"):
        console.print("  metadata: " + escape(json.dumps(charge["metadata"])))
    balance = view["balance"]
    console.print(f"  [bold]left to refund: {_money(balance['left'], balance['currency'])}[/bold]  "
                  f"({escape(balance['summary'])})")
    if view["refunds"]:
        table = Table("refund", "amount", "status", "reason", "created", "failure",
                      title="Refunds")
        for r in view["refunds"]:
            table.add_row(r["id"], _money(r.get("amount"), currency), r.get("status") or "",
                          r.get("reason") or "", _time(r.get("created")),
                          r.get("failure_reason") or "")
        console.print(table)
    if view["disputes"]:
        table = Table("dispute", "amount", "status", "reason", "refundable", "due",
                      title="Disputes")
        for d in view["disputes"]:
            table.add_row(d["id"], _money(d.get("amount"), currency), d.get("status") or "",
                          d.get("reason") or "", str(d.get("is_charge_refundable")),
                          _time((d.get("evidence_details") or {}).get("due_by")))
        console.print(table)
    if view["early_fraud_warnings"]:
        table = Table("early fraud warning", "fraud type", "actionable", "created",
                      title="Early fraud warnings")
        for w in view["early_fraud_warnings"]:
            table.add_row(w["id"], w.get("fraud_type") or "", str(w.get("actionable")),
                          _time(w.get("created")))
        console.print(table)
    if view["requests"]:
        table = Table("request", "amount", "status", "by", "refund", title="Desk refund requests")
        for q in view["requests"]:
            table.add_row(q["id"], _money(q["amount"], q["currency"]), q["status"],
                          q["requested_by"], q["refund_id"] or "")
        console.print(table)


@charges_app.command("show")
def show_cmd(
    charge: str = typer.Argument(..., help="Charge id, PaymentIntent id or order id."),
    live: bool = typer.Option(False, "--live", help="Fetch it fresh from Stripe (and update the "
                                                    "desk's mirror)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A charge with its refunds, disputes, early fraud warnings and the amount left to refund."""
    from disputedesk.services.refunds import show_charge

    deps = _deps()
    try:
        view = show_charge(deps, charge, live=live)
    finally:
        deps.close()
    if as_json:
        typer.echo(json.dumps(view, indent=2, default=str))
        return
    render_charge(view, _console())


@charges_app.command("search")
def search_cmd(
    email: str = typer.Option(None, "--email", help="Customer e-mail (billing or receipt)."),
    order: str = typer.Option(None, "--order", help="Order id (charge metadata, setting "
                                                    "order_metadata_key)."),
    last4: str = typer.Option(None, "--last4", help="Last four digits of the card."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Find charges in the desk's mirror (criteria combine with AND), newest first."""
    from disputedesk.services.refunds import search_charges

    deps = _deps()
    try:
        found = search_charges(deps, email=email, order_id=order, last4=last4, limit=limit)
    finally:
        deps.close()
    if as_json:
        typer.echo(json.dumps(found, indent=2, default=str))
        return
    table = Table("charge", "created", "amount", "status", "refunded", "disputed",
                  "e-mail", "last4", "order")
    for c in found:
        table.add_row(c["id"], _time(c["created"]), _money(c["amount"], c["currency"]), c["status"] or "",
                      _money(c["amount_refunded"], c["currency"]), str(c["disputed"]),
                      c["email"] or "", c["last4"] or "", c["order_id"] or "")
    console = _console()
    console.print(table)
    console.print(f"{len(found)} charge(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(charges_app, name="charges")
