"""Who is calling, and may they: ``Depends(require("refunds.approve"))`` on every route.

A request is authenticated by an API token (``Authorization: Bearer ddk_...``) or by the
dashboard's session cookie (``dd_session``). An ``Authorization`` header always wins: when it is
present but wrong, the request is refused even if it also carries a good cookie.

- anonymous -> 401 (JSON error; ``require(..., page=True)`` redirects browsers to /login instead)
- the role lacks the permission -> 403
- a session-authenticated request that changes state (not GET/HEAD/OPTIONS) must carry the
  session's CSRF token in the ``X-CSRF-Token`` header or the ``csrf_token`` form field -> else 403.
  Bearer-token requests need none: browsers never attach that header on their own.

Error bodies are ``{"detail": {"type", "code", "message", ...}}`` (``DisputeDeskError.to_dict``).
``http_error(exc)`` turns any desk error into the matching HTTPException for other routes.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from disputedesk import errors
from disputedesk.domain.permissions import Actor, check_permission, roles_with
from disputedesk.services import accounts
from disputedesk.store import audit
from disputedesk.web.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE

__all__ = ["ERROR_RESPONSES", "ERROR_STATUS", "Actor", "ErrorBody", "csrf_token_for", "current_actor", "http_error", "require",
           "require_csrf", "require_person", "require_signed_in"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# One table: desk error class -> HTTP status (most specific first).
ERROR_STATUS: list[tuple[type[errors.DisputeDeskError], int]] = [
    (errors.AuthenticationFailed, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.ValidationError, 400),  # 422 stays FastAPI's: a body that does not fit the schema
    (errors.StripeError, 502),
    (errors.StoreError, 503),
    (errors.ConfigError, 503),
    (errors.DisputeDeskError, 400),
]

class ErrorDetail(BaseModel):
    type: str = Field(..., description="The desk's error class, e.g. PermissionDenied.")
    code: str = Field(..., description="Stable machine-readable code, e.g. permission_denied.")
    message: str
    param: str | None = None
    object_id: str | None = None
    hint: str | None = None


class ErrorBody(BaseModel):
    # A plain string when the framework itself refuses (e.g. a body that is not JSON).
    detail: ErrorDetail | str


# For ``APIRouter(responses=ERROR_RESPONSES)``: documents the desk's error bodies in OpenAPI.
ERROR_RESPONSES: dict[int | str, dict] = {
    400: {"model": ErrorBody, "description": "The request was refused: see detail.message."},
    401: {"model": ErrorBody, "description": "No or wrong credentials."},
    403: {"model": ErrorBody, "description": "The role may not do this, or the CSRF token is "
                                             "missing."},
    404: {"model": ErrorBody, "description": "No such object."},
    409: {"model": ErrorBody, "description": "The action clashes with the object's state."},
}

_bearer = HTTPBearer(auto_error=False, scheme_name="apiToken",
                     description="API token created by an admin: `Authorization: Bearer ddk_...`")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                       description="Dashboard session cookie (state-changing requests also need "
                                   "the X-CSRF-Token header)")

# Declared so the OpenAPI document shows both ways in; _authenticate reads the request itself.
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
SessionCookie = Annotated[str | None, Security(_cookie)]

_STATE_KEY = "dd_auth"  # request.state cache: (actor, csrf_secret) or None


def http_error(exc: errors.DisputeDeskError, *, headers: dict[str, str] | None = None) -> HTTPException:
    status = next(code for cls, code in ERROR_STATUS if isinstance(exc, cls))
    if isinstance(exc, errors.AuthenticationFailed):
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after), **(headers or {})}
    return HTTPException(status_code=status, detail=exc.to_dict(), headers=headers)


async def _authenticate(request: Request) -> tuple[Actor, str | None] | None:
    if hasattr(request.state, _STATE_KEY):
        return getattr(request.state, _STATE_KEY)
    deps = request.app.state.deps
    result: tuple[Actor, str | None] | None = None
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise http_error(errors.AuthenticationFailed(
                "the Authorization header must be 'Bearer <API token>'", code="invalid_token"))
        actor = await run_in_threadpool(accounts.authenticate_token, deps, credentials.strip())
        if actor is None:
            raise http_error(errors.AuthenticationFailed(
                "the API token is not valid (unknown, revoked, or its user is disabled)", code="invalid_token",
                hint="ask an admin for a new token"))
        result = (actor, None)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            found = await run_in_threadpool(accounts.session_actor, deps, cookie)
            if found is not None:
                result = found
    setattr(request.state, _STATE_KEY, result)
    if result is not None:
        # Every audit row written for this request names the person and the door.
        who = result[0]
        audit.enter_door(audit.Door(
            door="rest" if request.url.path.startswith("/api/") else "dashboard",
            credential=who.credential or "session", person=who.username))
    return result


async def current_actor(request: Request) -> Actor | None:
    """The caller, or None when anonymous (for pages that show who is signed in)."""
    found = await _authenticate(request)
    return found[0] if found else None


async def csrf_token_for(request: Request) -> str | None:
    """The CSRF token to put in a page's forms (``<input name="csrf_token">``), if signed in."""
    found = await _authenticate(request)
    return found[1] if found else None


def _csrf_refused(message: str) -> HTTPException:
    return http_error(errors.PermissionDenied(message, code="csrf_failed",
                                              hint="reload the page and try again"))


async def _check_csrf(request: Request, expected: str) -> None:
    supplied = request.headers.get(CSRF_HEADER)
    if not supplied:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    if not supplied:
        raise _csrf_refused(f"this form is missing its CSRF token ({CSRF_FIELD} field or "
                            f"{CSRF_HEADER} header)")
    if not hmac.compare_digest(supplied.encode("utf-8"), expected.encode("utf-8")):
        raise _csrf_refused("the CSRF token does not match this session")


async def _resolve(request: Request, permission: str | None, page: bool) -> Actor:
    found = await _authenticate(request)
    if found is None:
        if page:
            target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
            raise HTTPException(status_code=303, headers={"Location": f"/login?next={target}"})
        raise http_error(errors.AuthenticationFailed(
            "sign in or send an API token (Authorization: Bearer ddk_...)",
            code="not_authenticated"))
    actor, csrf_secret = found
    if permission is not None and not actor.can(permission):
        raise http_error(errors.PermissionDenied(
            f"the role '{actor.role}' may not {permission}", code="permission_denied",
            hint="roles allowed: " + ", ".join(roles_with(permission))))
    if actor.via == "session" and request.method not in SAFE_METHODS and csrf_secret:
        await _check_csrf(request, csrf_secret)
    return actor


def require(permission: str, *, page: bool = False) -> Callable:
    """A dependency that returns the :class:`Actor` allowed ``permission``, or refuses.

    ``page=True`` (dashboard pages): an anonymous browser is redirected to /login?next=... .
    """
    check_permission(permission)  # a typo fails at import time, not at request time

    async def dependency(request: Request,
                         _token: BearerCredentials = None,
                         _session: SessionCookie = None) -> Actor:
        return await _resolve(request, permission, page)

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the role matrix
    return dependency


async def require_signed_in(request: Request,
                            _token: BearerCredentials = None,
                            _session: SessionCookie = None) -> Actor:
    """Any authenticated caller, whatever the role (e.g. ``/api/v1/me``)."""
    return await _resolve(request, None, False)


def require_person(actor: Actor, action: str, command: str) -> None:
    """Refuse (403 ``person_required``) a decision made with an API token made for a script.

    Every token acts as its owner, so maker-checker compares people whatever the door; deciding
    approvals also needs proof that the person is at the keyboard: a dashboard session, a CLI
    password, or a token minted by ``disputedesk login`` (which checked the password).
    """
    if not actor.signed_in:
        raise http_error(errors.PermissionDenied(
            f"{action} need a signed-in person: use the dashboard or `{command}`",
            code="person_required",
            hint="API tokens made for scripts may request and list refunds, not decide them"))


async def require_csrf(request: Request) -> None:
    """For state-changing form routes: the session's CSRF token must come with the request.

    API-token requests pass (no cookie is involved); anonymous requests are refused.
    """
    found = await _authenticate(request)
    if found is None:
        raise _csrf_refused("no session: sign in first")
    actor, csrf_secret = found
    if actor.via == "token":
        return
    await _check_csrf(request, csrf_secret or "")
