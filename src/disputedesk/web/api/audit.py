"""``/api/v1/audit``: the audit log (``audit.read``), newest first, with who (the person), the
door and the credential each action came through."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from disputedesk.domain.permissions import Actor
from disputedesk.store.tables import audit_log
from disputedesk.web.auth import ERROR_RESPONSES, require

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)

Reader = Annotated[Actor, Depends(require("audit.read"))]


class AuditEntry(BaseModel):
    id: int
    at: float
    actor: str
    person: str | None = None
    door: str | None = None
    credential: str | None = None
    action: str
    object_type: str | None = None
    object_id: str | None = None
    note: str | None = None
    details: dict[str, Any] | list | None = None


@router.get("/audit", response_model=list[AuditEntry])
def list_audit(request: Request, actor: Reader,
               action: Annotated[str | None, Query(max_length=100)] = None,
               person: Annotated[str | None, Query(max_length=150)] = None,
               object_id: Annotated[str | None, Query(max_length=255)] = None,
               before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    c = audit_log.c
    stmt = sa.select(audit_log)
    if action:
        stmt = stmt.where(c.action == action)
    if person:
        stmt = stmt.where(c.person == person)
    if object_id:
        stmt = stmt.where(c.object_id == object_id)
    if before is not None:
        stmt = stmt.where(c.id < before)
    with request.app.state.deps.store.read() as conn:
        return [dict(r) for r in conn.execute(stmt.order_by(c.id.desc()).limit(limit)).mappings()]
