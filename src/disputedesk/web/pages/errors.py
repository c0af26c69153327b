"""Error pages for browsers: a plain sentence and a way back, never a traceback or a secret.

API paths (``/api/...``) and clients that do not ask for HTML keep FastAPI's JSON errors.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from disputedesk.web.auth import csrf_token_for, current_actor
from disputedesk.web.pages.common import SECTIONS, PageError, templates

log = logging.getLogger("disputedesk.web.pages")

TITLES = {400: "That request did not work", 401: "Please sign in", 403: "Not allowed",
          404: "Not found", 405: "Not allowed", 409: "That clashes with the current state",
          413: "Too large", 422: "That request did not work", 429: "Too many attempts",
          500: "Something went wrong", 502: "Stripe did not answer as expected",
          503: "The desk is not ready"}


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/webhooks/", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def _message(detail: object, status: int) -> str:
    if isinstance(detail, dict):
        text = str(detail.get("message") or "")
        hint = detail.get("hint")
        if text:
            return text[:1].upper() + text[1:] + (f" ({hint})" if hint else "")
    if status == 404:
        return "There is nothing at this address."
    if isinstance(detail, str) and detail and status < 500:
        return detail
    return TITLES.get(status, "Something went wrong") + "."


async def error_page(request: Request, status: int, message: str,
                     headers: dict[str, str] | None = None) -> HTMLResponse:
    try:
        actor = await current_actor(request)
        csrf = await csrf_token_for(request) if actor else None
    except Exception:  # a broken credential must not turn an error page into another error
        actor, csrf = None, None
    nav = [(k, label, path) for k, label, path, perm in SECTIONS if actor and actor.can(perm)]
    response = templates.TemplateResponse(
        request, "error.html",
        {"actor": actor, "csrf_token": csrf, "nav": nav, "section": None, "status": status,
         "title": TITLES.get(status, "Error"), "message": message, "messages": []},
        status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return await error_page(request, exc.status, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code < 400 or not wants_html(request):
            return await http_exception_handler(request, exc)
        return await error_page(request, exc.status_code, _message(exc.detail, exc.status_code),
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if not wants_html(request):
            return await request_validation_exception_handler(request, exc)
        fields = ", ".join(sorted({str(e.get("loc", ["", "?"])[-1]) for e in exc.errors()}))
        return await error_page(request, 400, f"Some of the values sent are not valid ({fields}).")

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_html(request):
            return await error_page(request, 500, "Something went wrong on the desk's side. "
                                                  "The error was logged; please try again.")
        return PlainTextResponse("Internal Server Error", status_code=500)
