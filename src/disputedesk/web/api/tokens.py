"""``/api/v1/tokens``: API tokens, for admins (``tokens.manage``).

A token belongs to the person who creates it and acts as them, with at most their role. The
token itself (``ddk_...``) is in the creation response only; the desk keeps its SHA-256.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from disputedesk.domain.permissions import Actor
from disputedesk.errors import DisputeDeskError
from disputedesk.services import accounts
from disputedesk.web.auth import ERROR_RESPONSES, http_error, require

router = APIRouter(tags=["tokens"], responses=ERROR_RESPONSES)

TokenAdmin = Annotated[Actor, Depends(require("tokens.manage"))]
Role = Literal["viewer", "agent", "approver", "admin"]


class Token(BaseModel):
    id: str
    name: str
    prefix: str = Field(..., description="The first characters of the token, to recognise it.")
    role: Role
    owner: str | None = Field(None, description="The desk user the token acts for.")
    kind: Literal["api", "login"] = Field(
        "api", description="api: made for a script; login: minted by `disputedesk login`.")
    created_by: str
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None
    revoked_by: str | None = None
    active: bool


class TokenCreated(BaseModel):
    token: Token
    secret: str = Field(..., description="The API token (ddk_...). Shown once; store it now.")


class TokenCreate(BaseModel):
    name: str = Field(..., min_length=1, max_length=100, description="What uses the token.")
    role: Role


@router.get("/tokens", response_model=list[Token])
def list_tokens(request: Request, actor: TokenAdmin,
                include_revoked: bool = True) -> list[dict]:
    return accounts.list_tokens(request.app.state.deps, include_revoked=include_revoked)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(request: Request, actor: TokenAdmin, body: TokenCreate) -> TokenCreated:
    try:
        info, secret = accounts.create_token(request.app.state.deps, name=body.name,
                                             role=body.role, owner=actor.username)
    except DisputeDeskError as exc:
        raise http_error(exc) from None
    return TokenCreated(token=Token(**info), secret=secret)


@router.delete("/tokens/{token_id}", response_model=Token)
def revoke_token(request: Request, actor: TokenAdmin,
                 token_id: Annotated[str, Path(max_length=40)]) -> dict:
    try:
        return accounts.revoke_token(request.app.state.deps, token_id, actor=actor.username)
    except DisputeDeskError as exc:
        raise http_error(exc) from None
