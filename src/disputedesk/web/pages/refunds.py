"""Refund pages: list and search, issue a refund (full or partial) with the checks' messages,
the approval queue, bulk upload with live progress and the result file. Every action calls
``disputedesk.services.refunds`` as the signed-in user (audit log)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from disputedesk.domain.bulk import bulk_confirmation, totals_by_currency
from disputedesk.domain.refunds import RequestState, refund_confirmation
from disputedesk.errors import DisputeDeskError, NotFound
from disputedesk.services import refunds as svc
from disputedesk.services.refunds import bulk as bulk_svc
from disputedesk.store.refunds_tables import bulk_jobs
from disputedesk.web.auth import require_person
from disputedesk.web.body_limits import size_text
from disputedesk.web.pages.common import (
    FormState,
    PageContext,
    PageError,
    error_text,
    fmt_money,
    page,
    redirect,
    render,
)

log = logging.getLogger("disputedesk.web.pages.refunds")
router = APIRouter(include_in_schema=False)
REASONS = ("requested_by_customer", "duplicate", "fraudulent")
STATUSES = tuple(s.value for s in RequestState)


@router.get("/refunds", response_class=HTMLResponse)
def refunds_list(ctx: PageContext = Depends(page("refunds.read")), status: str | None = None,
                 charge: str | None = None, requested_by: str | None = None,
                 email: str | None = None, order_id: str | None = None,
                 last4: str | None = None, origin: str | None = None) -> Response:
    from disputedesk.services.reports.refund_list import ORIGINS, list_mirror_refunds

    deps = ctx.deps
    origin = origin if origin in ORIGINS else None
    status = status if status in STATUSES else None
    rows = svc.list_requests(deps, status=status, charge=(charge or "").strip() or None,
                             requested_by=(requested_by or "").strip() or None, limit=200)
    found: list[dict] | None = None
    search_error = None
    if email or order_id or last4:
        try:
            found = svc.search_charges(deps, email=(email or "").strip() or None,
                                       order_id=(order_id or "").strip() or None,
                                       last4=(last4 or "").strip() or None, limit=50)
        except DisputeDeskError as exc:
            search_error = error_text(exc)
    return render(ctx, "refunds.html", "refunds", rows=rows, statuses=STATUSES,
                  filters={"status": status or "", "charge": charge or "",
                           "requested_by": requested_by or ""},
                  search={"email": email or "", "order_id": order_id or "", "last4": last4 or ""},
                  found=found, search_error=search_error, origins=ORIGINS, origin=origin or "",
                  mirror_refunds=list_mirror_refunds(deps, origin=origin, limit=200))


REFUND_FORM = "refund"
# Which field of the refund form an error is about (the exception's ``param``); others are
# about the charge itself and point at the charge box.
_REFUND_FIELDS = {"amount": "amount", "currency": "amount", "reason": "reason", "note": "note",
                  "mode": "mode"}


def _refund_form(ctx: PageContext, target: str, form: FormState | None = None,
                 status_code: int = 200) -> Response:
    info = None
    if target:
        try:
            info = svc.show_charge(ctx.deps, target)
        except DisputeDeskError as exc:
            form = FormState(REFUND_FORM, {"target": error_text(exc)}, {"target": target})
            status_code = 404 if isinstance(exc, NotFound) else 422
    return render(ctx, "refund_new.html", "refunds", status_code=status_code, form=form,
                  target=target, info=info, reasons=REASONS, form_key=secrets.token_urlsafe(16))


@router.get("/refunds/new", response_class=HTMLResponse)
def refund_form(ctx: PageContext = Depends(page("refunds.request")),
                target: str | None = None) -> Response:
    return _refund_form(ctx, (target or "").strip())


def _refused(ctx: PageContext, target: str, values: dict[str, str],
             errors: dict[str, str]) -> Response:
    """The refund form again, the message next to its field, everything typed kept."""
    return _refund_form(ctx, target, FormState(REFUND_FORM, errors, values), status_code=422)


def _error_field(exc: DisputeDeskError) -> str:
    return _REFUND_FIELDS.get(getattr(exc, "param", None) or "", "target")


def _amount_choice(mode: str, amount: str) -> tuple[str | None, dict[str, str]]:
    """"full" only when chosen; an amount typed is a partial refund; nothing is never "full"."""
    if mode == "full" and amount:
        return None, {"amount": "You chose to refund everything left and also typed an amount: "
                                "clear the amount, or choose \u201cpart of it\u201d."}
    if mode == "full":
        return "full", {}
    if not amount:
        return None, {"amount": "Type the amount to refund (e.g. 12.50), or choose "
                                "\u201ceverything left\u201d."}
    return amount, {}


@router.post("/refunds/new")
def refund_review(target: str = Form(...), mode: str = Form(""), amount: str = Form(""),
                  reason: str = Form(""), note: str = Form(""), form_key: str = Form(""),
                  ctx: PageContext = Depends(page("refunds.request"))) -> Response:
    """Step one: check the refund and say exactly what it will do; nothing is recorded yet."""
    target, amount = target.strip(), amount.strip()
    values = {"target": target, "mode": mode, "amount": amount, "reason": reason,
              "note": note}
    chosen, errors = _amount_choice(mode, amount)
    if errors:
        return _refused(ctx, target, values, errors)
    try:
        plan = svc.preview_refund(ctx.deps, target, amount=chosen,
                                  reason=reason if reason in REASONS else None)
    except DisputeDeskError as exc:
        return _refused(ctx, target, values, {_error_field(exc): error_text(exc)})
    return render(ctx, "refund_review.html", "refunds", plan=plan,
                  sentence=refund_confirmation(plan), values=values, chosen=chosen,
                  form_key=form_key or secrets.token_urlsafe(16),
                  warnings=[w.message for w in plan.warnings])


@router.post("/refunds/new/confirm")
def refund_create(target: str = Form(...), amount: str = Form(""), mode: str = Form(""),
                  reason: str = Form(""), note: str = Form(""), form_key: str = Form(""),
                  ctx: PageContext = Depends(page("refunds.request"))) -> Response:
    """Step two: the person confirmed the sentence; record the request and send it."""
    target, amount = target.strip(), amount.strip()
    values = {"target": target, "mode": mode, "amount": amount, "reason": reason, "note": note}
    chosen, errors = _amount_choice(mode, amount)
    if errors:
        return _refused(ctx, target, values, errors)
    try:
        outcome = svc.request_refund(
            ctx.deps, target, actor=ctx.actor.username, amount=chosen,
            reason=reason if reason in REASONS else None, note=note.strip() or None,
            # One form, one request: pressing the button twice never refunds twice.
            client_key=f"form:{form_key}" if form_key else None)
    except DisputeDeskError as exc:
        return _refused(ctx, target, values, {_error_field(exc): error_text(exc)})
    row = outcome.to_dict()["request"]
    shown = fmt_money(row["amount"], row["currency"])
    if row["status"] == "awaiting_approval":
        text = (f"Refund of {shown} recorded; it needs approval by another "
                f"person ({outcome.approval}).")
        kind = "warn"
    elif row["status"] in ("failed", "canceled"):
        text = f"The refund {row['status']}: {row.get('error') or 'see below'}."
        kind = "error"
    else:
        text = f"Refund of {shown} sent to Stripe ({row['status']})."
        kind = "ok"
    if outcome.warnings:
        text += " Warnings: " + "; ".join(w["message"] for w in outcome.warnings)
    return redirect(f"/refunds/{row['id']}", flash=text, kind=kind)


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value.strip(), safe="")


@router.get("/refunds/approvals", response_class=HTMLResponse)
def approvals(ctx: PageContext = Depends(page("refunds.read"))) -> Response:
    rows = svc.list_requests(ctx.deps, status="awaiting_approval", limit=500)
    return render(ctx, "approvals.html", "approvals", rows=rows)


# --- bulk ---------------------------------------------------------------------------------------

@router.get("/refunds/bulk", response_class=HTMLResponse)
def bulk_page(ctx: PageContext = Depends(page("refunds.read"))) -> Response:
    with ctx.deps.store.read() as conn:
        jobs = [dict(r) for r in conn.execute(
            sa.select(bulk_jobs.c.id, bulk_jobs.c.filename, bulk_jobs.c.status,
                      bulk_jobs.c.total_rows, bulk_jobs.c.created_by, bulk_jobs.c.created)
            .order_by(bulk_jobs.c.created.desc()).limit(50)).mappings()]
    return render(ctx, "bulk.html", "bulk", jobs=jobs)


BULK_FORM = "bulk"


@router.post("/refunds/bulk")
def bulk_upload(file: UploadFile = File(...), allow_repeat: bool = Form(False),
                ctx: PageContext = Depends(page("refunds.bulk"))) -> Response:
    """Upload: the file is checked and recorded, nothing is refunded; the job's page shows each
    row's outcome and the totals, and waits for an explicit confirm."""
    cap = ctx.deps.settings.max_upload_bytes
    data = file.file.read(cap + 1)
    if len(data) > cap:
        return redirect("/refunds/bulk", form=FormState(BULK_FORM, {
            "file": f"The file is over {size_text(cap)}: split it into smaller files."}))
    try:
        job_id = bulk_svc.prepare_job(ctx.deps, data, actor=ctx.actor.username,
                                      filename=(file.filename or "bulk.csv")[:200],
                                      allow_repeat=allow_repeat)
    except DisputeDeskError as exc:
        problems = getattr(exc, "problems", None) or []
        text = error_text(exc)
        if problems:
            text += " — " + "; ".join(str(p) for p in problems[:10])
        return redirect("/refunds/bulk", form=FormState(BULK_FORM, {"file": text}))
    return redirect(f"/refunds/bulk/{job_id}",
                    flash="File checked: nothing has been refunded. Review the rows, then "
                          "confirm.", kind="info")


def _job(deps, job_id: str) -> dict[str, Any]:
    try:
        return bulk_svc.job_status(deps, job_id)
    except NotFound:
        raise PageError(404, f"There is no bulk job '{job_id}'.") from None


@router.get("/refunds/bulk/{job_id}", response_class=HTMLResponse)
def bulk_job(job_id: str, ctx: PageContext = Depends(page("refunds.read"))) -> Response:
    found = _job(ctx.deps, job_id)
    job = found["job"]
    review = None
    if job["status"] == bulk_svc.CHECKED:
        # The dry run, now: what each row would do, the count and total per currency.
        checked = bulk_svc.check_job(ctx.deps, job_id)
        review = {"report": checked, "planned": {p.row: p for p in checked.planned},
                  "totals": totals_by_currency(checked.planned),
                  "sentence": bulk_confirmation(checked.planned, len(checked.problems))}
    return render(ctx, "bulk_job.html", "bulk", job=job, counts=found["counts"],
                  rows=found["report"].results, total=found["report"].total, review=review)


@router.post("/refunds/bulk/{job_id}/confirm")
def bulk_confirm(job_id: str, sentence: str = Form(""),
                 ctx: PageContext = Depends(page("refunds.bulk"))) -> Response:
    try:
        bulk_svc.confirm_job(ctx.deps, job_id, actor=ctx.actor.username, sentence=sentence[:500])
    except DisputeDeskError as exc:
        return redirect(f"/refunds/bulk/{job_id}", flash=error_text(exc), kind="error")
    return redirect(f"/refunds/bulk/{job_id}",
                    flash="Confirmed: the worker is refunding the rows (you can stop it).")


@router.post("/refunds/bulk/{job_id}/stop")
def bulk_stop(job_id: str, ctx: PageContext = Depends(page("refunds.bulk"))) -> Response:
    try:
        status = bulk_svc.stop_job(ctx.deps, job_id, actor=ctx.actor.username)
    except DisputeDeskError as exc:
        return redirect(f"/refunds/bulk/{job_id}", flash=error_text(exc), kind="error")
    text = ("Canceled: nothing was refunded." if status == "canceled" else
            "Stopping: the rows in flight finish, then you can resume.")
    return redirect(f"/refunds/bulk/{job_id}", flash=text, kind="warn")


@router.get("/refunds/bulk/{job_id}/status.json")
def bulk_status(job_id: str, ctx: PageContext = Depends(page("refunds.read"))) -> Response:
    found = _job(ctx.deps, job_id)
    results = found["report"].results
    finished = sum(1 for r in results if r.status != bulk_svc.NOT_STARTED)
    return JSONResponse({"job": {k: found["job"][k] for k in ("id", "status", "total_rows")},
                         "counts": found["counts"], "finished": finished,
                         "total": found["report"].total,
                         "rows": [{"row": r.row, "refund_id": r.refund_id, "status": r.status,
                                   "error": r.error} for r in results[:500]]},
                        headers={"Cache-Control": "no-store"})


@router.get("/refunds/bulk/{job_id}/result.csv")
def bulk_result(job_id: str, ctx: PageContext = Depends(page("refunds.read"))) -> Response:
    found = _job(ctx.deps, job_id)
    return PlainTextResponse(found["report"].result_csv(), media_type="text/csv",
                             headers={"Content-Disposition":
                                      f'attachment; filename="{job_id}.result.csv"'})


@router.post("/refunds/bulk/{job_id}/resume")
def bulk_resume(job_id: str, sentence: str = Form(""),
                ctx: PageContext = Depends(page("refunds.bulk"))) -> Response:
    try:
        bulk_svc.confirm_job(ctx.deps, job_id, actor=ctx.actor.username,
                             sentence=("resume: " + sentence)[:500])
    except DisputeDeskError as exc:
        return redirect(f"/refunds/bulk/{job_id}", flash=error_text(exc), kind="error")
    return redirect(f"/refunds/bulk/{job_id}", flash="Resumed: rows already done are skipped.")


# --- one request ------------------------------------------------------------------------------------

@router.get("/refunds/{request_id}", response_class=HTMLResponse)
def refund_page(request_id: str, ctx: PageContext = Depends(page("refunds.read"))) -> Response:
    try:
        found = svc.show_request(ctx.deps, request_id)
    except NotFound:
        raise PageError(404, f"There is no refund request '{request_id}'.") from None
    return render(ctx, "refund.html", "refunds", req=found["request"],
                  approvals=found["approvals"], trail=found["audit"])


def _act(request_id: str, ok: str, fn, *args: Any, back: str | None = None, **kw: Any) -> Response:
    target = back or f"/refunds/{request_id}"
    try:
        row = fn(*args, **kw)
    except DisputeDeskError as exc:
        return redirect(target, flash=error_text(exc), kind="error")
    status = row.get("status") if isinstance(row, dict) else None
    return redirect(target, flash=ok + (f" Status: {status}." if status else ""))


@router.post("/refunds/{request_id}/approve")
def approve(request_id: str, note: str = Form(""), back: str = Form(""),
            ctx: PageContext = Depends(page("refunds.approve"))) -> Response:
    require_person(ctx.actor, "approvals", "disputedesk refunds approve")  # a bearer token too
    return _act(request_id, "Approved and sent to Stripe.", svc.approve_request, ctx.deps,
                request_id, actor=ctx.actor.username, note=note.strip() or None,
                back="/refunds/approvals" if back == "queue" else None)


@router.post("/refunds/{request_id}/reject")
def reject(request_id: str, note: str = Form(""), back: str = Form(""),
           ctx: PageContext = Depends(page("refunds.approve"))) -> Response:
    require_person(ctx.actor, "rejections", "disputedesk refunds reject")  # a bearer token too
    return _act(request_id, "Rejected: nothing was refunded.", svc.reject_request, ctx.deps,
                request_id, actor=ctx.actor.username, note=note.strip() or None,
                back="/refunds/approvals" if back == "queue" else None)


@router.post("/refunds/{request_id}/cancel")
def cancel(request_id: str, note: str = Form(""),
           ctx: PageContext = Depends(page("refunds.cancel"))) -> Response:
    return _act(request_id, "Canceled.", svc.cancel_request, ctx.deps, request_id,
                actor=ctx.actor.username, note=note.strip() or None)
