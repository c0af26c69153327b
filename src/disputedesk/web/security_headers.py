"""Security headers on every page and API answer (the webhook fast lane does not pass here).

``Strict-Transport-Security`` is sent when the desk's ``public_url`` is https: a browser that
once reached the desk over https then refuses plain http to it (and a click through a
certificate warning) for a year. Over plain http the header would be ignored, and sending it
for a desk that is not https everywhere would lock its users out, so it follows the setting.

The dashboard loads only its own files, so the policy allows nothing from elsewhere; inline
``style`` attributes (progress bars) are the one inline thing it uses. ``frame-ancestors 'none'``
and ``X-Frame-Options`` stop another site from framing a page to trick a click on "Approve".
"""

from __future__ import annotations

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


HSTS = (b"strict-transport-security", b"max-age=31536000")


def hsts_wanted(settings) -> bool:
    return (settings.public_url or "").strip().lower().startswith("https://")


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers to each HTTP response start."""

    def __init__(self, app, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = [*HEADERS, HSTS] if hsts else HEADERS

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
