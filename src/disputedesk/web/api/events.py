"""``/api/v1/events``: the webhook inbox (what arrived, what failed and why) and replays."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from disputedesk.domain.permissions import Actor
from disputedesk.errors import DisputeDeskError, PayloadError
from disputedesk.services import events as svc
from disputedesk.web.auth import ERROR_RESPONSES, http_error, require

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

Reader = Annotated[Actor, Depends(require("events.read"))]
Replayer = Annotated[Actor, Depends(require("events.replay"))]
Status = Literal["received", "processed", "ignored", "failed", "unparseable"]


class ReplayRequest(BaseModel):
    event_id: str | None = Field(None, description="Replay this one event.")
    type: str | None = Field(None, description="Replay every stored event of this type.")
    failed: bool = Field(False, description="Replay every event parked as failed.")


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DisputeDeskError as exc:
        raise http_error(exc) from None


@router.get("/events")
def list_events(request: Request, actor: Reader, status: Status | None = None,
                type: str | None = Query(None, max_length=128),
                object_id: str | None = Query(None, max_length=255),
                limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Stored events, newest first, with their status, attempts and last error."""
    deps = request.app.state.deps
    rows = svc.list_events(deps.store, status=status, type=type, object_id=object_id, limit=limit)
    return {"data": rows}


@router.get("/events/{event_id}")
def show_event(request: Request, actor: Reader, event_id: str) -> dict[str, Any]:
    """One stored event with its body as received."""
    row = dict(_call(svc.show_event, request.app.state.deps.store, event_id))
    try:
        row["payload"] = svc.load_payload(row["payload"])
    except PayloadError:
        pass  # an unparseable event: its body is shown as the text that came
    return row


@router.post("/events/replay")
def replay(request: Request, actor: Replayer, body: ReplayRequest) -> dict[str, int]:
    """Queue events for the worker again (one id, a type, or the failed ones); audited."""
    deps = request.app.state.deps
    count = _call(svc.replay, deps.store, deps.clock, actor=actor.username,
                  event_id=body.event_id, type=body.type, failed=body.failed)
    return {"replayed": count}
