"""``/healthz`` (the process answers), ``/readyz`` (database reachable, schema current), ``/metrics``."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from disputedesk.errors import StoreError
from disputedesk.store.migrate import is_current

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    store = request.app.state.deps.store
    try:
        store.ping()
        current = is_current(store.engine)
    except StoreError as exc:
        return JSONResponse({"status": "unavailable", "database": "unreachable",
                             "error": exc.message}, status_code=503)
    if not current:
        return JSONResponse({"status": "unavailable", "database": "ok",
                             "migrations": "pending; run `disputedesk db upgrade`"},
                            status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "migrations": "current"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text; with DISPUTEDESK_METRICS_TOKEN set, only for ``Authorization: Bearer``."""
    token = request.app.state.deps.settings.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            return JSONResponse({"error": {"code": "authentication_failed",
                                           "message": "metrics need the metrics bearer token"}},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return Response(request.app.state.deps.metrics.render(), media_type=CONTENT_TYPE_LATEST)
