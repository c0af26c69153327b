"""The web app: ``create_app(deps)`` returns the FastAPI application.

Feature routers are added with ``app.include_router(...)`` as usual. ``POST /webhooks/stripe`` is
answered before FastAPI's routing and middleware even run (``DeskApp.__call__``): it is the
throughput-critical path and needs none of it.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from disputedesk.web import api, health, pages, pages_auth
from disputedesk.web.body_limits import BodyLimits, Caps
from disputedesk.web.security_headers import SecurityHeaders, hsts_wanted
from disputedesk.web.webhooks import WEBHOOK_PATH, InboxWriter, WebhookReceiver


class DeskApp(FastAPI):
    """FastAPI with a fast lane for the webhook route."""

    webhook: WebhookReceiver

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == WEBHOOK_PATH:
            await self.webhook(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(deps) -> DeskApp:
    writer = InboxWriter(deps.store)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        await writer.aclose()

    app = DeskApp(title="disputedesk", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=f"{api.API_PREFIX}/openapi.json")
    app.state.deps = deps
    app.state.inbox_writer = writer
    app.webhook = WebhookReceiver(deps, writer)
    app.include_router(health.router)
    pages_auth.install(app)  # /login, /logout, one-time links, and /static
    pages.install(app)  # the dashboard's pages and HTML error pages
    # Added last runs first: security headers wrap everything, then the body caps, which act
    # before any route, dependency or authentication reads the body.
    app.add_middleware(BodyLimits, caps=Caps.from_settings(deps.settings))
    app.add_middleware(SecurityHeaders, hsts=hsts_wanted(deps.settings))
    for router in api.routers():
        app.include_router(router, prefix=api.API_PREFIX)
    return app
