"""The dashboard: server-rendered pages (Jinja2) over the same services as the API.

``install(app)`` mounts every page router and the HTML error pages (create_app calls it). Pages
are not in the OpenAPI document. Assets are in web/static (no CDN: works air-gapped).
"""

from __future__ import annotations

from fastapi import FastAPI

from disputedesk.web.pages import disputes, errors, ops, refunds, reports, settings

ROUTERS = (disputes.router, refunds.router, ops.router, settings.router, reports.router)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app)
