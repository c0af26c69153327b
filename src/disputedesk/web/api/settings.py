"""``/api/v1/settings``: the desk's policy, stored once (services/policy.py).

Anyone who may read refunds sees it (it is what their refunds are held to); only admins
(``settings.manage``) change it. Every change is audited with the old and the new value.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from disputedesk.domain.permissions import Actor
from disputedesk.errors import DisputeDeskError
from disputedesk.services import policy
from disputedesk.web.auth import ERROR_RESPONSES, http_error, require

router = APIRouter(tags=["settings"], responses=ERROR_RESPONSES)

Reader = Annotated[Actor, Depends(require("refunds.read"))]
Admin = Annotated[Actor, Depends(require("settings.manage"))]


class Setting(BaseModel):
    key: str
    value: str
    help: str
    updated_at: float | None = None
    updated_by: str | None = None


class SettingChange(BaseModel):
    value: str = Field(..., max_length=policy.VALUE_MAX,
                       description='The new value, e.g. "100.00 USD, 10000 JPY"; "" clears it.')


@router.get("/settings", response_model=list[Setting])
def list_settings(request: Request, actor: Reader) -> list[dict]:
    return policy.show(request.app.state.deps)


@router.put("/settings/{key}", response_model=Setting)
def change_setting(request: Request, actor: Admin,
                   key: Annotated[str, Path(max_length=64)], body: SettingChange) -> dict:
    try:
        return policy.set_value(request.app.state.deps, key, body.value, actor=actor.username)
    except DisputeDeskError as exc:
        raise http_error(exc) from None
