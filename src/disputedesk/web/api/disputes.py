"""``/api/v1/disputes``: the inbox, one dispute, its evidence and files, build, stage, preview,
submit, accept, and outcomes. Thin over ``disputedesk.services.disputes``; every route is
authenticated with ``require(...)`` and acts as the caller (recorded in the audit log)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field

from disputedesk.domain.permissions import Actor
from disputedesk.errors import DisputeDeskError, ValidationError
from disputedesk.services import disputes as svc
from disputedesk.services.disputes.common import parse_duration
from disputedesk.web import params
from disputedesk.web.auth import ERROR_RESPONSES, http_error, require
from disputedesk.web.body_limits import size_text

router = APIRouter(tags=["disputes"], responses=ERROR_RESPONSES)

Reader = Annotated[Actor, Depends(require("disputes.read"))]
Writer = Annotated[Actor, Depends(require("disputes.write"))]
Submitter = Annotated[Actor, Depends(require("disputes.submit"))]
Accepter = Annotated[Actor, Depends(require("disputes.accept"))]
# Templates render into every dispute's evidence (and automation's): changing them is a setting.
TemplateAdmin = Annotated[Actor, Depends(require("settings.manage"))]
ProductType = Literal["physical_goods", "digital_goods", "services"]


def _deps(request: Request):
    return request.app.state.deps


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DisputeDeskError as exc:
        raise http_error(exc) from None


def _read_capped(file: UploadFile, limit: int, what: str) -> bytes:
    """The upload's bytes; the body cap (web/body_limits.py) already bounds them, this names
    the file when the file alone is the problem."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise http_error(ValidationError(f"the {what} is larger than {size_text(limit)}",
                                         param="file", hint="upload a smaller file"))
    return data


class EvidenceUpdate(BaseModel):
    fields: dict[str, str | None] = Field(
        default_factory=dict, description="Evidence text fields to set; null or \"\" clears one.")
    product_type: ProductType | None = None
    note: str | None = Field(None, description="Why, for the audit log.")


class BuildRequest(BaseModel):
    product_type: ProductType | None = None


class NoteRequest(BaseModel):
    note: str | None = Field(None, description="Why, for the audit log.")


class SubmitRequest(BaseModel):
    note: str | None = None
    expected_digest: str | None = Field(
        None, description="The digest from /preview: the submission is refused if anything changed.")


class AcceptRequest(BaseModel):
    confirm: bool = Field(False, description="Must be true: accepting concedes the dispute.")
    note: str | None = None


@router.get("/disputes")
def inbox(request: Request, actor: Reader,
          kind: Literal["inquiry", "chargeback"] | None = None,
          status: Annotated[list[str] | None, Query()] = None,
          reason: Annotated[list[str] | None, Query()] = None,
          brand: str | None = None, currency: str | None = None,
          due_within: str | None = Query(None, description="Seconds, or 3d / 48h / 90m."),
          limit: int = Query(50, ge=1, le=1000), offset: int = params.offset(),
          cursor: str | None = Query(None, max_length=600,
                                     description="next_cursor of the previous page")) -> dict[str, Any]:
    """The inbox as a to-do list: disputes needing a response first, soonest ``due_by`` first,
    then those under review by submission date; each row's ``todo`` says what it asks ("due in
    3d 4h", "submitted 2d ago, awaiting the issuer"). With the amount at risk per currency."""
    deps = _deps(request)
    flt = svc.InboxFilter(status=tuple(status or ()), kind=kind, reason=tuple(reason or ()),
                          brand=brand, currency=currency, due_within=_call(parse_duration, due_within))
    return _call(svc.list_inbox, deps.store, deps.clock.now(), flt, limit=limit,
                 offset=offset, cursor=cursor).to_dict()


@router.get("/disputes/outcomes")
def outcomes(request: Request, actor: Reader,
             result: Literal["won", "lost", "warning_closed", "prevented"] | None = None,
             limit: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
    """Closed disputes with the money moved, and totals per currency."""
    return _call(svc.list_outcomes, _deps(request), result=result, limit=limit)


@router.post("/disputes/orders/import")
def import_orders(request: Request, actor: Writer, file: UploadFile = File(...),
                  format: Literal["csv", "json", "jsonl"] | None = Form(None),
                  partial: bool = Form(False)) -> dict[str, Any]:
    """Import the merchant's orders (CSV/JSON/JSON lines) for evidence; reports matches."""
    data = _read_capped(file, _deps(request).settings.max_import_bytes, "order file")
    return _call(svc.import_orders, _deps(request), data, actor=actor.username, format=format,
                 partial=partial, filename=file.filename).to_dict()


class TemplateUpdate(BaseModel):
    source: str = Field(..., description="Jinja2 text; every sentence inside "
                                         "{% claim \"fact\", ... %}...{% endclaim %} naming the facts it "
                                         "states (docs/evidence.md).")


TemplateName = Literal["refund_policy_disclosure", "cancellation_policy_disclosure",
                       "refund_refusal_explanation", "cancellation_rebuttal", "rebuttal_letter"]


@router.get("/disputes/templates")
def list_templates(request: Request, actor: Reader) -> dict[str, Any]:
    """The text templates used when composing evidence, and whether each was edited."""
    deps = _deps(request)
    return {"data": [_call(svc.get_text_template, deps, n) for n in svc.text_template_names()]}


@router.get("/disputes/templates/{name}")
def get_template(request: Request, actor: Reader, name: TemplateName) -> dict[str, Any]:
    return _call(svc.get_text_template, _deps(request), name)


@router.put("/disputes/templates/{name}")
def put_template(request: Request, actor: TemplateAdmin, name: TemplateName,
                 body: TemplateUpdate) -> dict[str, Any]:
    """Replace a template with the merchant's version (refused, with its line, if it does not
    compile; audited)."""
    deps = _deps(request)
    _call(svc.set_text_template, deps, name, body.source, actor=actor.username)
    return _call(svc.get_text_template, deps, name)


@router.delete("/disputes/templates/{name}")
def reset_template(request: Request, actor: TemplateAdmin, name: TemplateName) -> dict[str, Any]:
    """Go back to the shipped default (audited)."""
    deps = _deps(request)
    _call(svc.reset_text_template, deps, name, actor=actor.username)
    return _call(svc.get_text_template, deps, name)


@router.get("/disputes/{dispute_id}")
def show(request: Request, actor: Reader, dispute_id: str) -> dict[str, Any]:
    return _call(svc.show, _deps(request), dispute_id)


@router.get("/disputes/{dispute_id}/evidence")
def get_evidence(request: Request, actor: Reader, dispute_id: str) -> dict[str, Any]:
    """The evidence composed now, its sources, completeness, missing fields, CE 3.0, limits."""
    return _call(svc.get_evidence, _deps(request), dispute_id).to_dict()


@router.put("/disputes/{dispute_id}/evidence")
def put_evidence(request: Request, actor: Writer, dispute_id: str,
                 body: EvidenceUpdate) -> dict[str, Any]:
    """Edit fields by hand (kept with who and when; marks the dispute hand-edited)."""
    deps = _deps(request)
    if body.product_type:
        _call(svc.set_product_type, deps, dispute_id, body.product_type, actor=actor.username)
    if body.fields:
        return _call(svc.edit_fields, deps, dispute_id, body.fields, actor=actor.username,
                     note=body.note).to_dict()
    return _call(svc.get_evidence, deps, dispute_id).to_dict()


@router.post("/disputes/{dispute_id}/files", status_code=201)
def upload_file(request: Request, actor: Writer, dispute_id: str,
                field: str = Form(..., description="Evidence file field, e.g. receipt."),
                file: UploadFile = File(...), note: str | None = Form(None)) -> dict[str, Any]:
    """Attach a PDF, PNG or JPEG to a file field (several per field are merged at build)."""
    data = _read_capped(file, _deps(request).settings.max_upload_bytes, "file")
    return _call(svc.attach, _deps(request), dispute_id, field, file.filename or "upload", data,
                 actor=actor.username, note=note)


@router.delete("/disputes/{dispute_id}/files/{file_id}", status_code=204)
def delete_file(request: Request, actor: Writer, dispute_id: str, file_id: params.RowId) -> None:
    _call(svc.detach, _deps(request), dispute_id, file_id, actor=actor.username)


@router.post("/disputes/{dispute_id}/build")
def build(request: Request, actor: Writer, dispute_id: str,
          body: BuildRequest | None = None) -> dict[str, Any]:
    """Compose the draft and fit the files to Stripe's limits (400 naming what cannot fit)."""
    return _call(svc.build, _deps(request), dispute_id, actor=actor.username,
                 product_type=body.product_type if body else None).to_dict()


@router.post("/disputes/{dispute_id}/stage")
def stage(request: Request, actor: Writer, dispute_id: str,
          body: NoteRequest | None = None) -> dict[str, Any]:
    """Send the built evidence with submit=false (as often as needed)."""
    return _call(svc.stage, _deps(request), dispute_id, actor=actor.username,
                 note=body.note if body else None).to_dict()


@router.post("/disputes/{dispute_id}/preview")
def preview(request: Request, actor: Submitter, dispute_id: str) -> dict[str, Any]:
    """Exactly the params /submit will send (files are uploaded so their ids are real).

    Needs ``disputes.submit``: it uploads files to Stripe and may rebuild a stale draft."""
    return _call(svc.preview, _deps(request), dispute_id, actor=actor.username).to_dict()


@router.post("/disputes/{dispute_id}/submit")
def submit(request: Request, actor: Submitter, dispute_id: str,
           body: SubmitRequest | None = None) -> dict[str, Any]:
    """Submit once, before due_by (409 when already submitted or past due)."""
    return _call(svc.submit, _deps(request), dispute_id, actor=actor.username,
                 note=body.note if body else None,
                 expected_digest=body.expected_digest if body else None).to_dict()


@router.post("/disputes/{dispute_id}/accept")
def accept(request: Request, actor: Accepter, dispute_id: str, body: AcceptRequest) -> dict[str, Any]:
    """Accept (close) the dispute; needs ``confirm: true``."""
    return _call(svc.accept, _deps(request), dispute_id, actor=actor.username,
                 confirm=body.confirm, note=body.note).to_dict()
