"""``/api/v1/users`` (admins: ``users.manage``) and ``/api/v1/me`` (anyone signed in)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from disputedesk.domain.permissions import ROLE_PERMISSIONS, Actor
from disputedesk.errors import DisputeDeskError
from disputedesk.services import accounts
from disputedesk.web.auth import ERROR_RESPONSES, http_error, require, require_signed_in

router = APIRouter(tags=["users"], responses=ERROR_RESPONSES)

Role = Literal["viewer", "agent", "approver", "admin"]
Admin = Annotated[Actor, Depends(require("users.manage"))]
SignedIn = Annotated[Actor, Depends(require_signed_in)]
Username = Annotated[str, Path(min_length=1, max_length=accounts.USERNAME_MAX_LENGTH)]


class User(BaseModel):
    id: str
    username: str
    role: Role
    disabled: bool
    has_password: bool
    created_at: float
    created_by: str | None = None
    last_login: float | None = None


class UserCreated(User):
    login_link: str | None = Field(
        None, description="One-time sign-in link (only when no password was given); shown once.")


class UserCreate(BaseModel):
    username: str = Field(..., min_length=1, max_length=accounts.USERNAME_MAX_LENGTH)
    role: Role
    password: str | None = Field(
        None, max_length=accounts.PASSWORD_MAX_LENGTH,
        description=f"At least {accounts.PASSWORD_MIN_LENGTH} characters; omit to get a "
                    "one-time sign-in link instead.")


class UserChange(BaseModel):
    role: Role | None = None
    disabled: bool | None = None


class PasswordReset(BaseModel):
    password: str = Field(..., max_length=accounts.PASSWORD_MAX_LENGTH)


class LoginLink(BaseModel):
    url: str = Field(..., description="One-time sign-in link; shown once.")
    expires_at: float


class Me(BaseModel):
    id: str
    username: str
    role: Role
    via: str
    permissions: list[str]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/me", response_model=Me)
def me(actor: SignedIn) -> Me:
    return Me(id=actor.id, username=actor.username, role=actor.role, via=actor.via,
              permissions=sorted(ROLE_PERMISSIONS.get(actor.role, ())))


@router.get("/users", response_model=list[User])
def list_users(request: Request, actor: Admin) -> list[dict]:
    return accounts.list_users(request.app.state.deps)


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(request: Request, actor: Admin, body: UserCreate) -> dict:
    deps = request.app.state.deps
    try:
        user = accounts.create_user(deps, username=body.username, role=body.role,
                                    password=body.password, actor=actor.username)
        if body.password is None:
            token = accounts.create_login_link(deps, username=user["username"],
                                               actor=actor.username)
            user["login_link"] = accounts.login_link_url(_base_url(request), token)
    except DisputeDeskError as exc:
        raise http_error(exc) from None
    return user


@router.get("/users/{username}", response_model=User)
def get_user(request: Request, actor: Admin, username: Username) -> dict:
    try:
        return accounts.get_user(request.app.state.deps, username)
    except DisputeDeskError as exc:
        raise http_error(exc) from None


@router.patch("/users/{username}", response_model=User)
def change_user(request: Request, actor: Admin, username: Username, body: UserChange) -> dict:
    deps = request.app.state.deps
    try:
        user = accounts.get_user(deps, username)
        if body.role is not None and body.role != user["role"]:
            user = accounts.set_role(deps, username=username, role=body.role, actor=actor.username)
        if body.disabled is not None and body.disabled != user["disabled"]:
            user = accounts.set_disabled(deps, username=username, disabled=body.disabled,
                                         actor=actor.username)
    except DisputeDeskError as exc:
        raise http_error(exc) from None
    return user


@router.post("/users/{username}/password", response_model=User)
def reset_password(request: Request, actor: Admin, username: Username,
                   body: PasswordReset) -> dict:
    try:
        return accounts.set_password(request.app.state.deps, username=username,
                                     password=body.password, actor=actor.username)
    except DisputeDeskError as exc:
        raise http_error(exc) from None


@router.post("/users/{username}/login-link", response_model=LoginLink, status_code=201)
def new_login_link(request: Request, actor: Admin, username: Username) -> LoginLink:
    deps = request.app.state.deps
    try:
        token = accounts.create_login_link(deps, username=username, actor=actor.username)
    except DisputeDeskError as exc:
        raise http_error(exc) from None
    return LoginLink(url=accounts.login_link_url(_base_url(request), token),
                     expires_at=deps.clock.now() + accounts.LOGIN_LINK_TTL)
