"""Refund pages: list and search, issue a refund (full or partial) with the checks' messages,
the approval queue, bulk upload with live progress and the result file. Every action calls
``disputedesk.services.refunds`` as the signed-in user (audit log)."""

from __future__ import annotations

import contextvars
import logging
import secrets
import threading
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from disputedesk.domain.refunds import RequestState
from disputedesk.errors import DisputeDeskError, NotFound
from disputedesk.services import refunds as svc
from disputedesk.services.refunds import bulk as bulk_svc
from disputedesk.store.refunds_tables import bulk_jobs
from disputedesk.web.auth import require_person
from disputedesk.web.body_limits import size_text
from disputedesk.web.pages.common import PageContext, PageError, error_text, page, redirect, render

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


@router.get("/refunds/new", response_class=HTMLResponse)
def refund_form(ctx: PageContext = Depends(page("refunds.request")),
                target: str | None = None) -> Response:
    info = None
    error = None
    target = (target or "").strip()
    if target:
        try:
            info = svc.show_charge(ctx.deps, target)
        except DisputeDeskError as exc:
            error = error_text(exc)
    return render(ctx, "refund_new.html", "refunds", target=target, info=info, error=error,
                  reasons=REASONS, form_key=secrets.token_urlsafe(16))


@router.post("/refunds/new")
def refund_create(target: str = Form(...), amount: str = Form(""), reason: str = Form(""),
                  note: str = Form(""), form_key: str = Form(""),
                  ctx: PageContext = Depends(page("refunds.request"))) -> Response:
    amount_text = amount.strip() or None  # empty: the full amount left
    try:
        outcome = svc.request_refund(
            ctx.deps, target.strip(), actor=ctx.actor.username, amount=amount_text,
            reason=reason if reason in REASONS else None, note=note.strip() or None,
            # One form, one request: pressing the button twice never refunds twice.
            client_key=f"form:{form_key}" if form_key else None)
    except DisputeDeskError as exc:
        return redirect(f"/refunds/new?target={_q(target)}", flash=error_text(exc), kind="error")
    row = outcome.to_dict()["request"]
    if row["status"] == "awaiting_approval":
        text = (f"Refund of {row['amount_display']} recorded; it needs approval by another "
                f"person ({outcome.approval}).")
        kind = "warn"
    elif row["status"] in ("failed", "canceled"):
        text = f"The refund {row['status']}: {row.get('error') or 'see below'}."
        kind = "error"
    else:
        text = f"Refund of {row['amount_display']} sent to Stripe ({row['status']})."
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


def _start(deps, job_id: str, actor: str) -> None:
    def run() -> None:
        try:
            bulk_svc.run_bulk(deps, actor=actor, resume=job_id)
        except Exception:  # the job stays 'running'; the page offers to resume it
            log.exception("bulk job %s stopped", job_id)

    # The request's context goes along, so the job's audit rows name the person and the door.
    threading.Thread(target=contextvars.copy_context().run, args=(run,), name=f"bulk-{job_id}",
                     daemon=True).start()


@router.post("/refunds/bulk")
def bulk_upload(file: UploadFile = File(...), allow_repeat: bool = Form(False),
                ctx: PageContext = Depends(page("refunds.bulk"))) -> Response:
    cap = ctx.deps.settings.max_upload_bytes
    data = file.file.read(cap + 1)
    if len(data) > cap:
        return redirect("/refunds/bulk", flash=f"The file is over {size_text(cap)}: split it.",
                        kind="error")
    try:
        job_id = bulk_svc.prepare_job(ctx.deps, data, actor=ctx.actor.username,
                                      filename=(file.filename or "bulk.csv")[:200],
                                      allow_repeat=allow_repeat)
    except DisputeDeskError as exc:
        problems = getattr(exc, "problems", None) or []
        text = error_text(exc)
        if problems:
            text += " — " + "; ".join(str(p) for p in problems[:10])
        return redirect("/refunds/bulk", flash=text, kind="error")
    _start(ctx.deps, job_id, ctx.actor.username)
    return redirect(f"/refunds/bulk/{job_id}", flash="Bulk file accepted; refunding now.")


def _job(deps, job_id: str) -> dict[str, Any]:
    try:
        return bulk_svc.job_status(deps, job_id)
    except NotFound:
        raise PageError(404, f"There is no bulk job '{job_id}'.") from None


@router.get("/refunds/bulk/{job_id}", response_class=HTMLResponse)
def bulk_job(job_id: str, ctx: PageContext = Depends(page("refunds.read"))) -> Response:
    found = _job(ctx.deps, job_id)
    return render(ctx, "bulk_job.html", "bulk", job=found["job"], counts=found["counts"],
                  rows=found["report"].results, total=found["report"].total)


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
def bulk_resume(job_id: str, ctx: PageContext = Depends(page("refunds.bulk"))) -> Response:
    try:
        bulk_svc.load_job(ctx.deps, job_id)
    except DisputeDeskError as exc:
        return redirect("/refunds/bulk", flash=error_text(exc), kind="error")
    _start(ctx.deps, job_id, ctx.actor.username)
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
