"""``disputedesk disputes list|show|evidence|attach|build|stage|submit|accept|fetch|remind|outcomes``.

A thin edge over ``disputedesk.services.disputes``: every command builds the desk's deps, calls one
service function and renders the result with Rich (or ``--json``). The operator of a command that
changes anything is a proven desk user (cli/_common.py), recorded in the audit log.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from disputedesk.cli._show import money
from disputedesk.cli._show import when as _time
from disputedesk.cli._common import ACTOR, JSON, NOTE, actor_name
from disputedesk.cli._common import open_deps as _deps
from disputedesk.domain.disputes import accept_confirmation, submit_confirmation
from disputedesk.errors import ValidationError

disputes_app = typer.Typer(help="Disputes: the inbox, evidence, stage/submit/accept.",
                           no_args_is_help=True)

def _console() -> Console:
    console = Console()
    console.width = max(console.width, 160)  # ids are what operators copy: never wrap them
    return console




def _dump(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@disputes_app.command("list")
def list_cmd(
    kind: str = typer.Option(None, "--kind", help="inquiry or chargeback."),
    status: list[str] = typer.Option(None, "--status", help="Only these statuses (repeatable)."),
    reason: list[str] = typer.Option(None, "--reason", help="Only these reasons (repeatable)."),
    brand: str = typer.Option(None, "--brand", help="Card brand, e.g. visa."),
    currency: str = typer.Option(None, "--currency"),
    due_within: str = typer.Option(None, "--due-within", help="Due within, e.g. 3d or 48h."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JSON,
) -> None:
    """The inbox as a to-do list: those needing a response first (soonest deadline first), then
    those awaiting the issuer (by submission date)."""
    from disputedesk.services import disputes as svc
    from disputedesk.services.disputes.common import parse_duration

    flt = svc.InboxFilter(status=tuple(status or ()), kind=kind, reason=tuple(reason or ()),
                          brand=brand, currency=currency, due_within=parse_duration(due_within))
    deps = _deps()
    try:
        page = svc.list_inbox(deps.store, deps.clock.now(), flt, limit=limit, offset=offset)
    finally:
        deps.close()
    if as_json:
        _dump(page.to_dict())
        return
    table = Table("to do", "id", "kind", "status", "reason", "code", "brand", "amount",
                  "work", "score", title=f"{page.total} open dispute(s)")
    for r in page.rows:
        urgent = r.needs_response and r.time_left is not None and r.time_left < 86400
        table.add_row(f"[red]{r.todo}[/]" if urgent else r.todo, r.id, r.kind, r.status,
                      r.reason or "", r.network_reason_code or "", r.card_brand or "",
                      money(r.amount, r.currency), r.work_state or "",
                      "" if r.score is None else str(r.score))
    console = _console()
    console.print(table)
    if page.at_risk:
        console.print("At risk: " + ", ".join(money(v, c) for c, v in sorted(page.at_risk.items())))


@disputes_app.command("show")
def show_cmd(dispute_id: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """One dispute: Stripe's facts, the desk's work, reminders, submissions, outcome, audit."""
    from disputedesk.services import disputes as svc

    deps = _deps()
    try:
        info = svc.show(deps, dispute_id)
    finally:
        deps.close()
    if as_json:
        _dump(info)
        return
    console = _console()
    console.print(f"[bold]{info['id']}[/bold] {info['kind']} {info['status']} "
                  f"({info['reason']}, {money(info['amount'], info['currency'])}), charge {info['charge']}")
    console.print(f"card {info['card_brand']}, network code {info['network_reason_code']}, "
                  f"due {_time(info['due_by'])} ({info['time_left_text']})")
    work = info["work"] or {}
    console.print(f"work: {work.get('state', 'untracked')}"
                  + (f", hand-edited by {work.get('hand_edited_by')}" if work.get("hand_edited") else "")
                  + (f", score {info['draft']['score']}" if info["draft"] else ", not built yet"))
    if info["outcome"]:
        o = info["outcome"]
        cur = o.get("currency") or info["currency"]
        console.print(f"outcome: {o['result']} (net {money(o['net'], cur)}, "
                      f"dispute fee {money(o['dispute_fee'], cur)})")
    for r in info["reminders"]:
        console.print(f"reminder {r['offset_seconds'] // 3600}h before: {r['status']} "
                      f"{_time(r['sent_at'] or r['remind_at'])}")
    for a in info["audit"]:
        console.print(f"{_time(a['at'])} {a['actor']} {a['action']}"
                      + (f" - {escape(a['note'])}" if a["note"] else ""))


def _parse_sets(values: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in values:
        if "=" not in item:
            raise ValidationError(f"'{item}' is not field=value", param="set",
                                  hint="e.g. --set shipping_carrier=UPS (use @file to read a file)")
        name, value = item.split("=", 1)
        if value.startswith("@"):
            value = Path(value[1:]).read_text("utf-8")
        out[name.strip()] = value
    return out


@disputes_app.command("evidence")
def evidence_cmd(
    dispute_id: str = typer.Argument(...),
    set_: list[str] = typer.Option(None, "--set", help="field=value (or field=@file); repeatable."),
    clear: list[str] = typer.Option(None, "--clear", help="Clear a field; repeatable."),
    product_type: str = typer.Option(None, "--product-type",
                                     help="physical_goods, digital_goods or services."),
    actor: str = ACTOR, note: str = NOTE, as_json: bool = JSON,
) -> None:
    """Show the evidence (composed now), or change fields by hand with --set / --clear."""
    from disputedesk.services import disputes as svc

    who = actor_name(actor, "disputes.write")
    deps = _deps()
    try:
        if product_type:
            svc.set_product_type(deps, dispute_id, product_type, actor=who)
        changes = _parse_sets(set_ or [])
        changes.update({name: None for name in clear or []})
        view = (svc.edit_fields(deps, dispute_id, changes, actor=who, note=note) if changes
                else svc.get_evidence(deps, dispute_id))
    finally:
        deps.close()
    if as_json:
        _dump(view.to_dict())
        return
    console = _console()
    console.print(f"[bold]{view.dispute_id}[/bold] {view.reason} ({view.product_type}, "
                  f"{escape(view.product_type_source)}): completeness {view.score}/100"
                  + (f", order {view.order_id} ({view.order_source})" if view.order_id else ", no order found"))
    table = Table("field", "from", "value")
    for name, value in sorted(view.fields.items()):
        record = (view.provenance.get(name) or {}).get("record") or view.sources.get(name, "")
        table.add_row(name, escape(record), escape(value[:120]) + ("..." if len(value) > 120 else ""))
    for a in view.attachments:
        table.add_row(a["field"], "upload", f"{a['filename']} ({a['type']}, {a['size']:,} bytes, {a['pages']} p.)")
    console.print(table)
    for name, info in sorted(view.provenance.items()):
        for claim in info.get("claims") or []:
            console.print(f"  {name}: {escape(claim['text'][:100])} [dim]— {escape('; '.join(claim['sources']))}[/dim]")
    for m in view.missing:
        console.print(f"[yellow]missing {m['importance']}[/yellow] {m['field']}: {m['why']}")
    for a in view.to_add:
        console.print(f"[yellow]to add[/yellow] {escape(a['meaning'])}: {escape(a['add'])}")
    for v in view.violations:
        console.print(f"[red]over the limit[/red] {escape(v['message'])}: {escape(v['fix'])}")
    console.print(f"Visa CE 3.0: {escape(view.ce3.get('explain') or '')}")


@disputes_app.command("attach")
def attach_cmd(
    dispute_id: str = typer.Argument(...),
    field: str = typer.Argument(..., help="File field, e.g. shipping_documentation."),
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    actor: str = ACTOR, note: str = NOTE,
) -> None:
    """Attach PDF/PNG/JPEG documents to a file field (several are merged into one PDF)."""
    from disputedesk.services import disputes as svc

    who = actor_name(actor, "disputes.write")
    deps = _deps()
    try:
        for path in files:
            info = svc.attach(deps, dispute_id, field, path.name, path.read_bytes(), actor=who, note=note)
            typer.echo(f"attached {path.name} to {field}: {info['type']}, {info['size']:,} bytes, "
                       f"{info['pages']} page(s) (file {info['id']})")
    finally:
        deps.close()


@disputes_app.command("build")
def build_cmd(
    dispute_id: str = typer.Argument(...),
    product_type: str = typer.Option(None, "--product-type"),
    actor: str = ACTOR, as_json: bool = JSON,
) -> None:
    """Compose the evidence and fit the documents to Stripe's limits (with a summary PDF)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from disputedesk.services import disputes as svc

    deps = _deps()
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True,
                      disable=as_json) as progress:
            progress.add_task(f"building the evidence of {dispute_id}", total=None)
            result = svc.build(deps, dispute_id, actor=actor_name(actor, "disputes.write"),
                               product_type=product_type)
    finally:
        deps.close()
    if as_json:
        _dump(result.to_dict())
        return
    console = _console()
    view = result.view
    console.print(f"built {dispute_id}: completeness {view.score}/100, "
                  f"{len(view.fields)} text field(s), {len(result.packet)} file(s)")
    for name, f in sorted(result.packet.items()):
        console.print(f"  {name}: {f['filename']} {f['size']:,} bytes, {f['pages']} page(s)"
                      + (f" (re-encoded, level {f['level']})" if f["level"] else ""))
    for step in result.steps:
        console.print(f"  fitted: {step}")
    if view.missing:
        console.print("missing: " + ", ".join(m["field"] for m in view.missing))
    console.print(f"Visa CE 3.0: {escape(view.ce3.get('explain') or '')}")


@disputes_app.command("stage")
def stage_cmd(dispute_id: str = typer.Argument(...), actor: str = ACTOR, note: str = NOTE) -> None:
    """Send the built evidence to Stripe without submitting it (submit=false)."""
    from disputedesk.services import disputes as svc

    deps = _deps()
    try:
        sub = svc.stage(deps, dispute_id, actor=actor_name(actor, "disputes.write"), note=note)
    finally:
        deps.close()
    typer.echo(f"staged on Stripe: {', '.join(sorted(sub.params['evidence']))} "
               f"(key {sub.idempotency_key})")


@disputes_app.command("submit")
def submit_cmd(
    dispute_id: str = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", help="Submit without asking (after the preview)."),
    actor: str = ACTOR, note: str = NOTE,
) -> None:
    """Preview exactly what will be sent, then submit it once (Stripe takes one submission)."""
    from disputedesk.services import disputes as svc

    who = actor_name(actor, "disputes.submit")
    deps = _deps()
    try:
        pv = svc.preview(deps, dispute_id, actor=who)
        typer.echo(json.dumps(pv.params, indent=2))
        for warning in pv.warnings:
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"completeness {pv.score}/100; digest {pv.digest}")
        facts = svc.show(deps, dispute_id)
        sentence = submit_confirmation(dispute_id, facts["amount"], facts["currency"],
                                       facts["reason"])
        if yes:
            typer.echo(sentence)
        elif not typer.confirm(f"{sentence} Go ahead?", default=False):
            typer.echo("Nothing was submitted.")
            raise typer.Exit(1)
        sub = svc.submit(deps, dispute_id, actor=who, note=note,
                         expected_digest=pv.digest)
    finally:
        deps.close()
    typer.echo(f"submitted: dispute {dispute_id} is now {sub.dispute_status}")


@disputes_app.command("accept")
def accept_cmd(
    dispute_id: str = typer.Argument(...),
    yes: bool = typer.Option(False, "--yes", help="Confirm: accepting concedes the dispute."),
    actor: str = ACTOR, note: str = NOTE,
) -> None:
    """Accept (close) a dispute: the money stays with the cardholder. Asks at a terminal; a
    script says --yes."""
    from disputedesk.services import disputes as svc

    deps = _deps()
    try:
        facts = svc.show(deps, dispute_id)
        sentence = accept_confirmation(dispute_id, facts["amount"], facts["currency"])
        if not yes and sys.stdin.isatty():  # at a terminal: ask; a script must say --yes
            yes = typer.confirm(f"{sentence} Go ahead?", default=False)
            if not yes:
                typer.echo("Nothing was accepted.")
                raise typer.Exit(1)
        elif yes:
            typer.echo(sentence)
        sub = svc.accept(deps, dispute_id, actor=actor_name(actor, "disputes.accept"),
                         confirm=yes, note=note)
    finally:
        deps.close()
    typer.echo(f"accepted: dispute {dispute_id} is now {sub.dispute_status}")


@disputes_app.command("fetch")
def fetch_cmd(dispute_id: str = typer.Argument(...)) -> None:
    """Fetch a dispute, its charge and the customer's charges from Stripe into the desk."""
    from disputedesk.services import disputes as svc

    deps = _deps()
    try:
        dispute = svc.fetch_dispute(deps, dispute_id)
    finally:
        deps.close()
    typer.echo(f"fetched {dispute['id']} ({dispute['status']})")


@disputes_app.command("remind")
def remind_cmd() -> None:
    """Send the reminders that are due now (the worker does this every minute)."""
    from disputedesk.services import disputes as svc

    deps = _deps()
    try:
        run = svc.send_due_reminders(deps)
    finally:
        deps.close()
    typer.echo(f"{len(run.sent)} sent, {run.skipped} skipped, {run.canceled} canceled, "
               f"{run.retrying} to retry, {run.failed} failed, {run.undelivered} not delivered")


@disputes_app.command("status")
def status_cmd(as_json: bool = JSON) -> None:
    """Whether reminders reach anyone, and the inbox's counts (needing a response / under review)."""
    from disputedesk.services import disputes as svc

    deps = _deps()
    try:
        delivery = svc.reminder_delivery(deps)
        page = svc.list_inbox(deps.store, deps.clock.now(), limit=1000)
    finally:
        deps.close()
    needs = sum(1 for r in page.rows if r.needs_response)
    info = {"reminders": delivery, "open": page.total, "needs_response": needs,
            "under_review": len(page.rows) - needs}
    if as_json:
        _dump(info)
        return
    if delivery["delivering"]:
        typer.echo("reminders: delivered by " + ", ".join(delivery["channels"]))
    else:
        typer.echo("reminders: NOT being delivered: " + delivery["why"])
    typer.echo(f"{page.total} open dispute(s): {needs} need a response"
               + (" (first few shown)" if page.total > len(page.rows) else ""))


@disputes_app.command("outcomes")
def outcomes_cmd(
    result: str = typer.Option(None, "--result", help="won, lost, warning_closed or prevented."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000), as_json: bool = JSON,
) -> None:
    """Closed disputes with the money they moved."""
    from disputedesk.services import disputes as svc

    deps = _deps()
    try:
        data = svc.list_outcomes(deps, result=result, limit=limit)
    finally:
        deps.close()
    if as_json:
        _dump(data)
        return
    table = Table("dispute", "result", "amount", "withdrawn", "reinstated", "dispute fee",
                  "countered fee", "net", "notes")
    for o in data["data"]:
        cur = o["currency"] or "usd"
        countered = money(o["countered_fee"], cur) if o["countered_fee"] else (
            "none booked" if o["countered"] else "—")
        if o["countered_fee_returned"]:
            countered += f" (returned {money(o['countered_fee_returned'], cur)})"
        table.add_row(o["dispute_id"], o["result"], money(o["amount"], cur),
                      money(o["withdrawn"], cur), money(o["reinstated"], cur),
                      money(o["dispute_fee"], cur), countered, money(o["net"], cur),
                      "; ".join(o.get("notes") or []))
    _console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(disputes_app, name="disputes")


templates_app = typer.Typer(help="The merchant's text templates (policy disclosures, rebuttal "
                            "letter) used when composing evidence.", no_args_is_help=True)


@templates_app.command("list")
def templates_list() -> None:
    """List the text templates and whether the merchant has edited each."""
    from disputedesk.services import disputes

    deps = _deps()
    try:
        table = Table("template", "source", "edited by", "edited at")
        for name in disputes.text_template_names():
            t = disputes.get_text_template(deps, name)
            table.add_row(name, "merchant" if t["custom"] else "default",
                          t["updated_by"] or "", _time(t["updated_at"]))
        _console().print(table)
    finally:
        deps.close()


@templates_app.command("show")
def templates_show(name: str = typer.Argument(..., help="Template name (see `templates list`).")
                   ) -> None:
    """Print the template in force (Jinja2 source)."""
    from disputedesk.services import disputes

    deps = _deps()
    try:
        typer.echo(disputes.get_text_template(deps, name)["source"], nl=False)
    finally:
        deps.close()


@templates_app.command("set")
def templates_set(
    name: str = typer.Argument(..., help="Template name (see `templates list`)."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="Jinja2 text file with the merchant's version."),
    actor: str = ACTOR,
) -> None:
    """Replace a template with the merchant's version (checked to compile first; audited)."""
    from disputedesk.services import disputes

    deps = _deps()
    try:
        disputes.set_text_template(deps, name, file.read_text(encoding="utf-8"),
                                   actor=actor_name(actor, "disputes.write"))
        typer.echo(f"template {name} updated; disputes composed from now on use it")
    finally:
        deps.close()


@templates_app.command("reset")
def templates_reset(name: str = typer.Argument(...), actor: str = ACTOR) -> None:
    """Go back to the shipped default of a template (audited)."""
    from disputedesk.services import disputes

    deps = _deps()
    try:
        disputes.reset_text_template(deps, name, actor=actor_name(actor, "disputes.write"))
        typer.echo(f"template {name} is the default again")
    finally:
        deps.close()


disputes_app.add_typer(templates_app, name="templates")
