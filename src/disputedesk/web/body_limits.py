"""Request body caps, enforced before anything reads the body (sign-in, authentication, parsing).

A pure ASGI middleware, outermost but for the security headers. Every request gets a cap from
its path: evidence files and bulk refund files ``max_upload_bytes``, the order import
``max_import_bytes``, everything else (JSON API, dashboard forms, the sign-in form)
``max_body_bytes``. A ``Content-Length`` over the cap is answered 413 at once, without reading a
byte of the body and before authentication; a body sent without a length (chunked) is counted as
it streams in, and the read that crosses the cap raises a 413 instead of handing the bytes on. So
the desk never holds more than the cap of any body, whatever is sent. The webhook route has its
own cap (``webhook_max_body_bytes``), enforced the same way in its fast lane.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

from disputedesk.errors import RequestTooLarge

# Multipart uploads that may be larger than a form (POST only).
_UPLOAD_PATHS = re.compile(r"^(?:/api/v1)?/disputes/[^/]+/files/?$|^(?:/api/v1)?/refunds/bulk/?$")
_IMPORT_PATHS = re.compile(r"^/api/v1/disputes/orders/import/?$")


def size_text(size: int) -> str:
    """``1_048_576`` -> ``"1 MiB (1,048,576 bytes)"``: the exact figure and a readable one."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            value = size / factor
            shown = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
            return f"{shown} {unit} ({size:,} bytes)"
    return f"{size:,} bytes"


def too_large(limit: int, what: str) -> RequestTooLarge:
    return RequestTooLarge(
        f"the request body is larger than {size_text(limit)}, the limit for {what}",
        param="body", hint="send a smaller body; an administrator can raise the limit "
                           "(docs/configuration.md, DISPUTEDESK_MAX_*_BYTES)")


@dataclass(frozen=True)
class Caps:
    body: int
    upload: int
    imports: int

    @classmethod
    def from_settings(cls, settings) -> Caps:
        return cls(body=settings.max_body_bytes, upload=settings.max_upload_bytes,
                   imports=settings.max_import_bytes)

    def for_request(self, method: str, path: str) -> tuple[int, str]:
        """(cap in bytes, what it is for) for one request."""
        if method == "POST":
            if _UPLOAD_PATHS.match(path):
                return self.upload, "file uploads"
            if _IMPORT_PATHS.match(path):
                return self.imports, "order imports"
        return self.body, "API requests and forms"


def _content_length(scope) -> int | None:
    """The declared length; -1 when the header is there but unreadable (refused: 400)."""
    values = [v for k, v in scope.get("headers", []) if k == b"content-length"]
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].isdigit() or len(values[0]) > 19:
        return -1
    return int(values[0])


def _wants_html(scope) -> bool:
    path = scope.get("path", "")
    if path.startswith(("/api/", "/webhooks/", "/static/")):
        return False
    accept = b"".join(v for k, v in scope.get("headers", []) if k == b"accept")
    return b"text/html" in accept


async def _respond(scope, send, status: int, detail: dict) -> None:
    """An answer given before the app ran: the desk's error page or its JSON error body."""
    if _wants_html(scope):
        from disputedesk.web.pages.common import templates
        from disputedesk.web.pages.errors import TITLES

        message = detail["message"][:1].upper() + detail["message"][1:] + "."
        response = templates.TemplateResponse(
            Request(scope), "error.html",
            {"actor": None, "csrf_token": None, "nav": [], "section": None, "status": status,
             "title": TITLES.get(status, "Error"), "message": message, "messages": []},
            status_code=status)
        body, content_type = response.body, b"text/html; charset=utf-8"
    else:
        body, content_type = json.dumps({"detail": detail}).encode(), b"application/json"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimits:
    """Pure ASGI middleware: see the module docstring."""

    def __init__(self, app, *, caps: Caps) -> None:
        self.app = app
        self.caps = caps

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, what = self.caps.for_request(scope["method"], scope["path"])
        length = _content_length(scope)
        if length == -1:
            await _respond(scope, send, 400, {
                "type": "ValidationError", "code": "invalid_content_length", "param": "body",
                "message": "the Content-Length header is not a single whole number"})
            return
        if length is not None and length > limit:
            await _respond(scope, send, 413, too_large(limit, what).to_dict())
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the app's body read: FastAPI passes HTTPExceptions on, so the
                    # caller gets the desk's 413 page or JSON body instead of the bytes.
                    raise HTTPException(413, detail=too_large(limit, what).to_dict(),
                                        headers={"Connection": "close"})
            return message

        await self.app(scope, limited_receive, send)
