"""The dashboard's cookies: the session cookie and the sign-in form's CSRF cookie.

Both are HttpOnly and SameSite=Lax; they are Secure when ``settings.cookie_secure`` says so or,
when that is unset, when the request came over https (behind a TLS proxy, run uvicorn with
``--proxy-headers`` so the scheme is seen).
"""

from __future__ import annotations

from fastapi import Request, Response

from disputedesk.services.accounts import SESSION_MAX_AGE

SESSION_COOKIE = "dd_session"
LOGIN_CSRF_COOKIE = "dd_login_csrf"  # double-submit token of the sign-in form (no session yet)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def cookie_secure(request: Request) -> bool:
    configured = getattr(request.app.state.deps.settings, "cookie_secure", None)
    if configured is not None:
        return bool(configured)
    return request.url.scheme == "https"


def _set(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=cookie_secure(request))


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    _set(response, request, SESSION_COOKIE, token, SESSION_MAX_AGE)


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=cookie_secure(request))


def set_login_csrf_cookie(response: Response, request: Request, value: str) -> None:
    _set(response, request, LOGIN_CSRF_COOKIE, value, 3600)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
