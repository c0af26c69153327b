"""The web edge in-process (ASGI): health, readiness, metrics, and the webhook route's HTTP shape."""

from __future__ import annotations

import httpx
import pytest

from disputedesk.config import Settings
from disputedesk.testing import make_dispute, make_event, signed_delivery
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps
from disputedesk.worker import Worker


@pytest.fixture
async def client(deps):
    app = create_app(deps)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://desk") as c:
        yield c
    await app.state.inbox_writer.aclose()


@pytest.fixture
def anyio_backend():
    return "asyncio"


pytestmark = pytest.mark.anyio


async def test_healthz_answers_while_the_process_lives(client):
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_reports_database_and_migrations(client):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["migrations"] == "current"


async def test_readyz_is_503_while_migrations_are_pending(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'new.db'}", data_dir=tmp_path)
    deps = build_deps(settings, migrate=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(deps)),
                                     base_url="http://desk") as c:
            response = await c.get("/readyz")
        assert response.status_code == 503
        assert "disputedesk db upgrade" in response.json()["migrations"]
    finally:
        deps.close()


async def test_metrics_count_received_processed_and_lag(client, deps, clock):
    event = make_event("charge.dispute.created", make_dispute())
    body, headers = signed_delivery(event, timestamp=int(clock.now()))
    assert (await client.post("/webhooks/stripe", content=body, headers=headers)).status_code == 200
    clock.advance(7)
    text = (await client.get("/metrics")).text
    assert "disputedesk_webhooks_received_total 1.0" in text
    assert 'disputedesk_events{status="received"} 1.0' in text
    assert "disputedesk_worker_lag_seconds 7.0" in text
    Worker(deps).run_until_idle()
    text = (await client.get("/metrics")).text
    assert "disputedesk_events_processed_total 1.0" in text
    assert "disputedesk_worker_lag_seconds 0.0" in text


async def test_refused_deliveries_are_counted_by_reason(client):
    await client.post("/webhooks/stripe", content=b"{}")
    text = (await client.get("/metrics")).text
    assert 'disputedesk_webhooks_rejected_total{reason="signature_invalid"} 1.0' in text


async def test_the_webhook_route_only_takes_post(client):
    response = await client.put("/webhooks/stripe", content=b"{}")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
