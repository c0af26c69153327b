"""Dispute pages: the inbox, one dispute (facts, history, evidence editor, files, CE 3.0, rules'
decisions) and the forms that build, stage, preview, submit and accept. Every action calls
``disputedesk.services.disputes`` as the signed-in user (audit log)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from disputedesk.domain import disputes as d
from disputedesk.errors import DisputeDeskError, NotFound
from disputedesk.evidence import limits
from disputedesk.evidence.templates import template_for
from disputedesk.services import automation
from disputedesk.services import disputes as svc
from disputedesk.services.disputes.evidence_work import customer_history
from disputedesk.store import mirror as repo
from disputedesk.store.disputes_tables import OPEN_STATUS_LIST
from disputedesk.web import params
from disputedesk.web.pages.common import (
    FormState,
    PageContext,
    PageError,
    error_text,
    page,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)
PRODUCT_TYPES = ("physical_goods", "digital_goods", "services")


@router.get("/")
def home(ctx: PageContext = Depends(page("disputes.read"))) -> Response:
    return RedirectResponse("/disputes", status_code=303)


PAGE_SIZES = (25, 50, 100, 200)


def _filters(status: str | None, reason: str | None, kind: str | None, brand: str | None,
             currency: str | None) -> tuple[svc.InboxFilter, dict[str, str]]:
    """The inbox filters from the query string; a value that is not one of ours is dropped."""
    clean = {
        "status": status if status in OPEN_STATUS_LIST else None,
        "reason": reason if reason in d.REASONS else None,
        "kind": kind if kind in ("inquiry", "chargeback") else None,
        "brand": (brand or "").strip().lower()[:32] or None,
        "currency": (currency or "").strip().lower()[:3] or None,
    }
    flt = svc.InboxFilter(status=(clean["status"],) if clean["status"] else (), kind=clean["kind"],
                          reason=(clean["reason"],) if clean["reason"] else (),
                          brand=clean["brand"], currency=clean["currency"])
    return flt, {k: v for k, v in clean.items() if v}


@router.get("/disputes", response_class=HTMLResponse)
def inbox(ctx: PageContext = Depends(page("disputes.read")), status: str | None = None,
          reason: str | None = None, kind: str | None = None, brand: str | None = None,
          currency: str | None = None, limit: int = 50, after: str | None = None) -> Response:
    """The to-do list: the same query, order and words as the CLI and the REST API."""
    deps = ctx.deps
    flt, query = _filters(status, reason, kind, brand, currency)
    limit = limit if limit in PAGE_SIZES else 50
    result = svc.list_inbox(deps.store, deps.clock.now(), flt, limit=limit, cursor=after)
    return render(ctx, "inbox.html", "disputes", page=result, filters=query, query=query,
                  limit=limit, page_sizes=PAGE_SIZES, statuses=OPEN_STATUS_LIST,
                  reasons=d.REASONS, first_page=after is None)


def _charge_and_history(deps, dispute: dict) -> tuple[dict | None, list[dict]]:
    charge_id = dispute.get("charge")
    charge_id = charge_id if isinstance(charge_id, str) else (charge_id or {}).get("id")
    if not charge_id:
        return None, []
    with deps.store.read() as conn:
        charge = repo.get_object(conn, "charge", charge_id)
        history = customer_history(conn, charge)[:50] if charge else []
        refunds = []
        if charge:
            from disputedesk.store.tables import refunds as refunds_table

            refunds = list(conn.execute(sa.select(refunds_table.c.data).where(
                refunds_table.c.charge == charge_id)).scalars())
    if charge is not None:
        charge = dict(charge, _refunds=refunds)
    return charge, history


@router.get("/disputes/{dispute_id}", response_class=HTMLResponse)
def dispute_page(dispute_id: str, ctx: PageContext = Depends(page("disputes.read"))) -> Response:
    deps = ctx.deps
    try:
        info = svc.show(deps, dispute_id)
    except NotFound:
        raise PageError(404, f"The desk holds no dispute '{dispute_id}'.",
                        "open it from the inbox, or wait for the next sync") from None
    with deps.store.read() as conn:
        dispute = repo.get_object(conn, "dispute", dispute_id) or {}
    charge, history = _charge_and_history(deps, dispute)
    evidence = None
    evidence_error = None
    try:
        evidence = svc.get_evidence(deps, dispute_id)
    except DisputeDeskError as exc:
        evidence_error = error_text(exc)
    product_type = evidence.product_type if evidence else "physical_goods"
    template = template_for(info["reason"] or "general", product_type)
    decisions = automation.decisions(deps, dispute_id, limit=50)
    brand = info.get("card_brand")
    files = evidence.attachments if evidence else []
    packet = ((evidence.draft or {}).get("packet") or {}) if evidence else {}
    budget = {
        "bytes_used": sum(int(p.get("size") or 0) for p in packet.values()),
        "pages_used": sum(int(p.get("pages") or 0) for p in packet.values()),
        "uploaded_bytes": sum(int(f.get("size") or 0) for f in files),
        "uploaded_pages": sum(int(f.get("pages") or 0) for f in files),
        "max_bytes": limits.TOTAL_FILES_MAX_BYTES, "max_pages": limits.page_limit(brand),
        "file_max": limits.FILE_MAX_BYTES,
    }
    text_fields = sorted(limits.TEXT_FIELDS,
                         key=lambda f: (template.item(f) is None, f))
    open_for_work = d.needs_response(dispute)
    return render(ctx, "dispute.html", "disputes", info=info, dispute=dispute, charge=charge,
                  history=history, evidence=evidence, evidence_error=evidence_error,
                  template=template, decisions=decisions, budget=budget,
                  text_fields=text_fields, file_fields=sorted(limits.FILE_FIELDS),
                  text_limit=limits.text_limit, size_text=limits.size_text,
                  product_types=PRODUCT_TYPES, open_for_work=open_for_work,
                  time_left=info.get("time_left"),
                  reminders_delivery=svc.reminder_delivery(deps) if open_for_work else None)


def _back(dispute_id: str, anchor: str = "") -> str:
    return f"/disputes/{dispute_id}{anchor}"


def _do(dispute_id: str, anchor: str, ok: str, fn, *args: Any, **kwargs: Any) -> Response:
    try:
        fn(*args, **kwargs)
    except DisputeDeskError as exc:
        return redirect(_back(dispute_id, anchor), flash=error_text(exc), kind="error")
    return redirect(_back(dispute_id, anchor), flash=ok)


@router.post("/disputes/{dispute_id}/evidence")
async def save_fields(dispute_id: str, request: Request,
                      ctx: PageContext = Depends(page("disputes.write"))) -> Response:
    form = await request.form()
    note = str(form.get("note") or "").strip() or None
    product_type = str(form.get("product_type") or "")
    deps = ctx.deps
    try:
        view = await _in_thread(svc.get_evidence, deps, dispute_id)
        current = view.fields
    except DisputeDeskError as exc:
        return redirect(_back(dispute_id), flash=error_text(exc), kind="error")
    changed: dict[str, str | None] = {}
    for name in limits.TEXT_FIELDS:
        key = f"field.{name}"
        if key not in form:
            continue
        value = str(form.get(key) or "").replace("\r\n", "\n")
        if value.strip() != (current.get(name) or "").strip():
            changed[name] = value if value.strip() else None
    try:
        # Only a change is a person's choice; the inferred type stays inferred.
        if product_type in PRODUCT_TYPES and product_type != view.product_type:
            await _in_thread(svc.set_product_type, deps, dispute_id, product_type,
                             actor=ctx.actor.username)
        if changed:
            await _in_thread(svc.edit_fields, deps, dispute_id, changed,
                             actor=ctx.actor.username, note=note)
    except DisputeDeskError as exc:
        return redirect(_back(dispute_id, "#evidence"), flash=error_text(exc), kind="error")
    text = (f"Saved {len(changed)} field{'s' if len(changed) != 1 else ''}: "
            + ", ".join(sorted(changed))) if changed else "Nothing changed."
    return redirect(_back(dispute_id, "#evidence"), flash=text, kind="ok" if changed else "info")


async def _in_thread(fn, *args: Any, **kwargs: Any):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args, **kwargs)


@router.post("/disputes/{dispute_id}/files")
def upload(dispute_id: str, field: str = Form(...), file: UploadFile = File(...),
           ctx: PageContext = Depends(page("disputes.write"))) -> Response:
    cap = ctx.deps.settings.max_upload_bytes
    data = file.file.read(cap + 1)
    if len(data) > cap:
        return redirect(_back(dispute_id, "#files"), kind="error",
                        flash=f"The file is over {limits.size_text(cap)}; Stripe takes at most "
                              f"{limits.size_text(limits.FILE_MAX_BYTES)} per file.")
    if not data:
        return redirect(_back(dispute_id, "#files"), flash="Choose a file to upload.",
                        kind="error")
    name = (file.filename or "upload").rsplit("/", 1)[-1][:200]
    return _do(dispute_id, "#files", f"Attached {name} to {field}.", svc.attach, ctx.deps,
               dispute_id, field, name, data, actor=ctx.actor.username)


@router.post("/disputes/{dispute_id}/files/{file_id}/remove")
def remove_file(dispute_id: str, file_id: params.RowId,
                ctx: PageContext = Depends(page("disputes.write"))) -> Response:
    return _do(dispute_id, "#files", "File removed.", svc.detach, ctx.deps, dispute_id, file_id,
               actor=ctx.actor.username)


@router.post("/disputes/{dispute_id}/build")
def build(dispute_id: str, ctx: PageContext = Depends(page("disputes.write"))) -> Response:
    return _do(dispute_id, "#answer", "Evidence built and fitted to Stripe's limits.", svc.build,
               ctx.deps, dispute_id, actor=ctx.actor.username)


@router.post("/disputes/{dispute_id}/stage")
def stage(dispute_id: str, ctx: PageContext = Depends(page("disputes.write"))) -> Response:
    return _do(dispute_id, "#answer", "Evidence staged on Stripe (not submitted).", svc.stage,
               ctx.deps, dispute_id, actor=ctx.actor.username)


@router.post("/disputes/{dispute_id}/preview", response_class=HTMLResponse)
def preview(dispute_id: str, ctx: PageContext = Depends(page("disputes.submit"))) -> Response:
    """Exactly what submit will send (the packet's files are uploaded first: real ids)."""
    try:
        pv = svc.preview(ctx.deps, dispute_id, actor=ctx.actor.username)
    except DisputeDeskError as exc:
        return redirect(_back(dispute_id, "#answer"), flash=error_text(exc), kind="error")
    return render(ctx, "dispute_preview.html", "disputes", dispute_id=dispute_id, preview=pv,
                  changes={c["field"]: c for c in pv.diff})


@router.post("/disputes/{dispute_id}/submit")
def submit(dispute_id: str, expected_digest: str = Form(""),
           ctx: PageContext = Depends(page("disputes.submit"))) -> Response:
    if not expected_digest:
        return redirect(_back(dispute_id, "#answer"), kind="error",
                        flash="Preview the evidence first: submit sends what you reviewed.")
    return _do(dispute_id, "#answer", "Evidence submitted to Stripe. The issuer decides next.",
               svc.submit, ctx.deps, dispute_id, actor=ctx.actor.username,
               expected_digest=expected_digest)


ACCEPT_FORM = "accept"


@router.post("/disputes/{dispute_id}/accept")
def accept(dispute_id: str, confirm: str = Form(""), confirm_id: str = Form(""),
           note: str = Form(""), ctx: PageContext = Depends(page("disputes.accept"))) -> Response:
    errors = {}
    if confirm != "yes":
        errors["confirm"] = "Tick the box: accepting concedes the dispute and cannot be undone."
    if confirm_id.strip() != dispute_id:
        errors["confirm_id"] = (f"Type the dispute id, {dispute_id}, to confirm"
                                + (f" (you typed {confirm_id.strip()[:40]})."
                                   if confirm_id.strip() else "."))
    if not errors:
        try:
            svc.accept(ctx.deps, dispute_id, actor=ctx.actor.username, confirm=True,
                       note=note.strip() or None)
        except DisputeDeskError as exc:
            field = "note" if getattr(exc, "param", None) == "note" else "confirm"
            errors[field] = error_text(exc)
        else:
            return redirect(_back(dispute_id, "#answer"),
                            flash="Dispute accepted: it is closed as lost.")
    # Back to the form, each message next to its field, the note and the id as typed; no
    # #fragment: the summary at the top links to the fields and app.js focuses the first one.
    return redirect(_back(dispute_id), form=FormState(
        ACCEPT_FORM, errors, {"note": note, "confirm_id": confirm_id,
                              "confirm": "yes" if confirm == "yes" else ""}))
