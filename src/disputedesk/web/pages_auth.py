"""Sign-in pages: /login, /logout, /login/link/{token}, /account/password.

The sign-in form has no session to hang a CSRF secret on, so it uses a double-submit token: a
random value in the ``dd_login_csrf`` cookie that the form must echo. Every other form carries
the session's CSRF token (``require_csrf``). Responses that start or end a session are never
cached, and the link page sends no Referer (the token is in its URL).

``install(app)`` adds these routes and serves ``/static`` from the package.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from disputedesk.errors import AuthenticationFailed, ValidationError
from disputedesk.services import accounts
from disputedesk.web.auth import csrf_token_for, current_actor, require_csrf
from disputedesk.web.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    clear_session_cookie,
    client_ip,
    set_login_csrf_cookie,
    set_session_cookie,
)

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

router = APIRouter(include_in_schema=False)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect a fresh session to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(_NO_STORE)
    return response


def _login_page(request: Request, *, next_url: str, error: str | None = None,
                username: str = "", status_code: int = 200) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or accounts.new_secret()
    response = _render(request, "login.html",
                       {"login_csrf": token, "next_url": next_url, "error": error,
                        "username": username, "actor": None},
                       status_code)
    set_login_csrf_cookie(response, request, token)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    if await current_actor(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login_submit(request: Request, username: str = Form(""), password: str = Form(""),
                       csrf_token: str = Form(""), next: str = Form("/")) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not csrf_token or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        return _login_page(request, next_url=safe_next(next), username=username, status_code=403,
                           error="The sign-in form expired. Please try again.")
    deps = request.app.state.deps
    try:
        info = await run_in_threadpool(accounts.login, deps, username=username,
                                       password=password, ip=client_ip(request))
    except accounts.LoginLocked as exc:
        response = _login_page(request, next_url=safe_next(next), username=username,
                               status_code=429, error=exc.message[0].upper() + exc.message[1:] + ".")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthenticationFailed:
        return _login_page(request, next_url=safe_next(next), username=username,
                           status_code=401, error="Wrong user name or password.")
    target = "/account/password" if info.must_set_password else safe_next(next)
    response = RedirectResponse(target, status_code=303, headers=_NO_STORE)
    set_session_cookie(response, request, info.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)])
async def logout(request: Request) -> Response:
    await run_in_threadpool(accounts.logout, request.app.state.deps,
                            request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303, headers=_NO_STORE)
    clear_session_cookie(response, request)
    return response


@router.get("/login/link/{token}", response_class=HTMLResponse)
async def login_link_page(request: Request, token: str) -> Response:
    """Only a page with a button: a GET must not spend the link, or a chat tool's link preview
    (or any prefetch) would sign in in the person's place and leave them a dead link."""
    login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or accounts.new_secret()
    response = _render(request, "login_link.html",
                       {"login_csrf": login_csrf, "actor": None})
    response.headers["Referrer-Policy"] = "no-referrer"
    set_login_csrf_cookie(response, request, login_csrf)
    return response


@router.post("/login/link/{token}", response_class=HTMLResponse)
async def login_link(request: Request, token: str, csrf_token: str = Form("")) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not csrf_token or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        # Someone else's page posting a link would sign this browser into their account.
        return _render(request, "auth_message.html",
                       {"heading": "This sign-in expired", "actor": None,
                        "text": "Open the link again and press Continue."}, status_code=403)
    try:
        info = await run_in_threadpool(accounts.consume_login_link, request.app.state.deps,
                                       token, ip=client_ip(request))
    except AuthenticationFailed as exc:
        response = _render(request, "auth_message.html",
                           {"heading": "This link does not work", "actor": None,
                            "text": exc.message[0].upper() + exc.message[1:] + ". "
                                    + (exc.hint or "").capitalize() + "."},
                           status_code=401)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
    response = RedirectResponse("/account/password", status_code=303,
                                headers={**_NO_STORE, "Referrer-Policy": "no-referrer"})
    set_session_cookie(response, request, info.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


async def _password_page(request: Request, *, error: str | None = None,
                         status_code: int = 200) -> Response:
    actor = await current_actor(request)
    if actor is None or actor.via != "session":
        return RedirectResponse("/login?next=/account/password", status_code=303)
    has_password = await run_in_threadpool(accounts.user_has_password, request.app.state.deps,
                                           actor.username)
    return _render(request, "set_password.html",
                   {"actor": actor, "csrf_token": await csrf_token_for(request),
                    "has_password": has_password, "error": error,
                    "min_length": accounts.PASSWORD_MIN_LENGTH}, status_code)


@router.get("/account/password", response_class=HTMLResponse)
async def password_form(request: Request) -> Response:
    return await _password_page(request)


@router.post("/account/password", response_class=HTMLResponse,
             dependencies=[Depends(require_csrf)])
async def password_submit(request: Request, password: str = Form(""),
                          password_again: str = Form(""),
                          current_password: str = Form("")) -> Response:
    actor = await current_actor(request)
    if actor is None or actor.via != "session":
        return RedirectResponse("/login", status_code=303)
    deps = request.app.state.deps
    if password != password_again:
        return await _password_page(request, error="The two passwords differ.", status_code=422)
    if await run_in_threadpool(accounts.user_has_password, deps, actor.username):
        ok = await run_in_threadpool(accounts.check_user_password, deps, actor.username,
                                     current_password)
        if not ok:
            return await _password_page(request, error="The current password is wrong.",
                                        status_code=422)
    try:
        # The session in use stays; any other session of this user ends.
        await run_in_threadpool(accounts.set_password, deps, username=actor.username,
                                password=password, actor=actor.username,
                                keep_session=request.cookies.get(SESSION_COOKIE))
    except ValidationError as exc:
        return await _password_page(request, error=exc.message[0].upper() + exc.message[1:] + ".",
                                    status_code=422)
    return RedirectResponse("/", status_code=303, headers=_NO_STORE)


def install(app: FastAPI) -> None:
    """Add the sign-in pages and ``/static`` to ``app`` (create_app calls this)."""
    app.include_router(router)
    if not any(getattr(r, "name", None) == "static" for r in app.routes):
        app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
