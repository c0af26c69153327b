"""``/api/v1/refunds``: refund requests (list, show, create, approve, reject, cancel) and bulk
files (upload, status, result download). Every route acts as the caller (audit log)."""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from disputedesk.domain.money import MAX_AMOUNT
from disputedesk.domain.permissions import Actor
from disputedesk.errors import DisputeDeskError, ValidationError
from disputedesk.services import refunds as svc
from disputedesk.services.refunds import bulk as bulk_svc
from disputedesk.services.refunds import records
from disputedesk.services.refunds.core import public
from disputedesk.web.auth import ERROR_RESPONSES, http_error, require, require_person
from disputedesk.web.body_limits import size_text

log = logging.getLogger("disputedesk.web.refunds")

router = APIRouter(tags=["refunds"], responses=ERROR_RESPONSES)
Reader = Annotated[Actor, Depends(require("refunds.read"))]
Requester = Annotated[Actor, Depends(require("refunds.request"))]
Approver = Annotated[Actor, Depends(require("refunds.approve"))]
Canceler = Annotated[Actor, Depends(require("refunds.cancel"))]
Bulker = Annotated[Actor, Depends(require("refunds.bulk"))]
MAX_IDEMPOTENCY_KEY = 255
# Client keys other parts of the desk make: never taken as an API client's own bare key.
_INTERNAL_KEY_PREFIXES = ("form:", "automation:", "bulk-", "api:")


def _deps(request: Request):
    return request.app.state.deps


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DisputeDeskError as exc:
        raise http_error(exc) from None


class RefundCreate(BaseModel):
    target: str = Field(..., description="Charge id, PaymentIntent id or the merchant's order id.")
    target_type: str | None = Field(None, description="charge, payment_intent or order_id "
                                                      "(default: from the id's prefix).")
    amount: int | None = Field(None, description="Minor units (1250 = 12.50 EUR); omit for the "
                                                 "full amount left.", gt=0,
                                    le=MAX_AMOUNT)
    amount_text: str | None = Field(None, description='Or as people write it: "12.50 EUR", '
                                                      '"1500 JPY", "full".')
    reason: str | None = Field(None, description="duplicate, fraudulent or requested_by_customer.")
    metadata: dict[str, str] = Field(default_factory=dict)
    note: str | None = Field(None, description="Why, for the audit log.")
    live: bool = Field(False, description="Check against fresh data from Stripe.")


class Note(BaseModel):
    note: str | None = Field(None, description="Why, for the audit log.")


# Bulk routes come first: "/refunds/bulk" must not be read as a request id.

@router.post("/refunds/bulk", status_code=202)
def bulk_upload(request: Request, actor: Bulker, file: UploadFile = File(...),
                dry_run: bool = Form(False), allow_repeat: bool = Form(False)) -> dict[str, Any]:
    """Validate a bulk CSV (400 lists every problem) and start it in the background; with
    ``dry_run`` check every row against its charge and refund nothing. Rows repeating an
    earlier bulk request (same row, or same charge and amount) are ``already_done`` unless
    ``allow_repeat``."""
    deps = _deps(request)
    cap = deps.settings.max_upload_bytes
    data = file.file.read(cap + 1)
    if len(data) > cap:
        raise http_error(ValidationError(f"the bulk file is larger than {size_text(cap)}",
                                         hint="split it into several files"))
    if dry_run:
        return _call(bulk_svc.run_bulk, deps, data, actor=actor.username, dry_run=True).to_dict()
    job_id = _call(bulk_svc.prepare_job, deps, data, actor=actor.username, filename=file.filename,
                   allow_repeat=allow_repeat)
    _start(deps, job_id, actor.username)
    return {"job_id": job_id, "status": "running",
            "status_url": f"/api/v1/refunds/bulk/{job_id}"}


def _start(deps, job_id: str, actor: str) -> None:
    def run() -> None:
        try:
            bulk_svc.run_bulk(deps, actor=actor, resume=job_id)
        except Exception:  # the job stays 'running'; POST .../resume continues it
            log.exception("bulk job %s stopped", job_id)

    # The request's context goes along, so the job's audit rows name the person and the door.
    threading.Thread(target=contextvars.copy_context().run, args=(run,), name=f"bulk-{job_id}",
                     daemon=True).start()


@router.get("/refunds/bulk/{job_id}")
def bulk_status(request: Request, job_id: str, actor: Reader) -> dict[str, Any]:
    """A bulk job: its state, counts per row status, and every row."""
    found = _call(bulk_svc.job_status, _deps(request), job_id)
    report = found["report"]
    return {"job": found["job"], "counts": found["counts"],
            "rows": [r.__dict__ for r in report.results]}


@router.get("/refunds/bulk/{job_id}/result.csv", response_class=PlainTextResponse)
def bulk_result(request: Request, job_id: str, actor: Reader) -> PlainTextResponse:
    """The result file: row, refund_id, status, error."""
    found = _call(bulk_svc.job_status, _deps(request), job_id)
    return PlainTextResponse(found["report"].result_csv(), media_type="text/csv",
                             headers={"Content-Disposition":
                                      f'attachment; filename="{job_id}.result.csv"'})


@router.post("/refunds/bulk/{job_id}/resume", status_code=202)
def bulk_resume(request: Request, job_id: str, actor: Bulker) -> dict[str, Any]:
    """Continue an interrupted job: rows already done are not refunded again."""
    deps = _deps(request)
    _call(bulk_svc.load_job, deps, job_id)
    _start(deps, job_id, actor.username)
    return {"job_id": job_id, "status": "running"}


@router.get("/refunds")
def list_(request: Request, actor: Reader, status: str | None = None, charge: str | None = None,
          requested_by: str | None = None, limit: int = Query(100, ge=1, le=1000)
          ) -> dict[str, Any]:
    rows = _call(svc.list_requests, _deps(request), status=status, charge=charge,
                 requested_by=requested_by, limit=limit)
    return {"object": "list", "data": rows}


@router.post("/refunds", status_code=201)
def create(request: Request, body: RefundCreate, actor: Requester,
           idempotency_key: str | None = Header(None, alias="Idempotency-Key",
                                                description="The same key never refunds twice; "
                                                            "reused with other parameters: 409.")
           ) -> dict[str, Any]:
    """Request a refund: checked, recorded, sent if no approval is needed."""
    if body.amount is not None and body.amount_text is not None:
        raise http_error(ValidationError("give amount or amount_text, not both", param="amount"))
    amount: Any = body.amount if body.amount is not None else body.amount_text
    outcome = _call(svc.request_refund, _deps(request), body.target, actor=actor.username,
                    amount=amount, target_type=body.target_type, reason=body.reason,
                    metadata=body.metadata, note=body.note,
                    client_key=_client_key(_deps(request), actor.username, idempotency_key),
                    key_name=idempotency_key, strict_key=True, live=body.live or None)
    return outcome.to_dict()


def _client_key(deps, username: str, key: str | None) -> str | None:
    """The API's keys live in their own namespace per caller (``api:<actor>:<key>``), apart
    from the dashboard's ``form:``, automation's and bulk row keys, and from other callers.
    A request this caller recorded before keys were scoped keeps its bare key, so a client
    retrying across the upgrade still gets its request back."""
    if key is None or not key.strip():
        return None
    with deps.store.read() as conn:
        legacy = records.by_source_key(conn, key)
    if (legacy is not None and legacy["requested_by"] == username
            and legacy["bulk_job_id"] is None and not key.startswith(_INTERNAL_KEY_PREFIXES)):
        return key
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise http_error(ValidationError(
            f"the Idempotency-Key has {len(key)} characters", param="Idempotency-Key",
            hint=f"at most {MAX_IDEMPOTENCY_KEY}, as at Stripe"))
    scoped = f"api:{username}:{key}"
    if len(scoped) > 255:  # the column's width; a long user name must not break the key
        scoped = "api:" + hashlib.sha256(f"{username}:{key}".encode()).hexdigest()
    return scoped


@router.get("/refunds/{request_id}")
def show(request: Request, request_id: str, actor: Reader) -> dict[str, Any]:
    """One request with its approvals and audit trail."""
    return _call(svc.show_request, _deps(request), request_id)


@router.post("/refunds/{request_id}/approve")
def approve(request: Request, request_id: str, actor: Approver, body: Note | None = None
            ) -> dict[str, Any]:
    """Approve another user's request; it is re-checked and sent. A person only: through an
    API token, 403 ``person_required``."""
    require_person(actor, "approvals", "disputedesk refunds approve")
    return public(_call(svc.approve_request, _deps(request), request_id, actor=actor.username,
                        note=body.note if body else None))


@router.post("/refunds/{request_id}/reject")
def reject(request: Request, request_id: str, actor: Approver, body: Note | None = None
           ) -> dict[str, Any]:
    """Reject another user's request. A person only: through an API token, 403
    ``person_required``."""
    require_person(actor, "rejections", "disputedesk refunds reject")
    return public(_call(svc.reject_request, _deps(request), request_id, actor=actor.username,
                        note=body.note if body else None))


@router.post("/refunds/{request_id}/cancel")
def cancel(request: Request, request_id: str, actor: Canceler, body: Note | None = None
           ) -> dict[str, Any]:
    """Withdraw a request not yet sent, or cancel a refund in requires_action at Stripe."""
    return public(_call(svc.cancel_request, _deps(request), request_id, actor=actor.username,
                        note=body.note if body else None))
