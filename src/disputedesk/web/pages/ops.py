"""Operations pages: the webhook events inbox (with replay), the automation rules (active rules,
recent decisions, the last backtest) and the audit log."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, Response

from disputedesk.errors import DisputeDeskError, NotFound, PayloadError
from disputedesk.services import automation
from disputedesk.services import events as events_svc
from disputedesk.services.automation.backtests import last_backtest, run_and_record
from disputedesk.store import inbox
from disputedesk.store.tables import audit_log
from disputedesk.web import params
from disputedesk.web.pages.common import PageContext, PageError, error_text, page, redirect, render

router = APIRouter(include_in_schema=False)
EVENT_PAGE = 100
AUDIT_PAGE = 100

# One backtest at a time from this process: it reads the whole window of the mirror.
_BACKTEST_LOCK = threading.Lock()


@router.get("/events", response_class=HTMLResponse)
def events_page(ctx: PageContext = Depends(page("events.read")), status: str | None = None,
                type: str | None = None, object_id: str | None = None) -> Response:
    status = status if status in inbox.STATUSES else None
    rows = events_svc.list_events(ctx.deps.store, status=status,
                                  type=(type or "").strip()[:128] or None,
                                  object_id=(object_id or "").strip()[:255] or None,
                                  limit=EVENT_PAGE)
    with ctx.deps.store.read() as conn:
        counts = inbox.counts_by_status(conn)
    return render(ctx, "events.html", "events", rows=rows, counts=counts,
                  statuses=inbox.STATUSES,
                  filters={"status": status or "", "type": type or "", "object_id": object_id or ""})


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(event_id: str, ctx: PageContext = Depends(page("events.read"))) -> Response:
    try:
        row = events_svc.show_event(ctx.deps.store, event_id)
    except NotFound:
        raise PageError(404, f"No stored event has the id '{event_id}'.") from None
    try:
        payload = events_svc.load_payload(row["payload"])
    except PayloadError:
        payload = row["payload"]  # unparseable: shown as the text that came
    return render(ctx, "event.html", "events", event=row, payload=payload)


@router.post("/events/{event_id}/replay")
def replay(event_id: str, back: str = Form(""),
           ctx: PageContext = Depends(page("events.replay"))) -> Response:
    target = "/events" if back == "list" else f"/events/{event_id}"
    try:
        events_svc.replay(ctx.deps.store, ctx.deps.clock, actor=ctx.actor.username,
                          event_id=event_id)
    except DisputeDeskError as exc:
        return redirect(target, flash=error_text(exc), kind="error")
    return redirect(target, flash=f"Event {event_id} queued again; the worker processes it next.")


@router.get("/rules", response_class=HTMLResponse)
def rules_page(ctx: PageContext = Depends(page("rules.read"))) -> Response:
    deps = ctx.deps
    error = None
    try:
        shown = automation.show_rules(deps)
    except DisputeDeskError as exc:
        shown, error = None, error_text(exc)
    decisions = automation.decisions(deps, limit=100)[::-1]
    last = last_backtest(deps)
    return render(ctx, "rules.html", "rules", rules=shown, error=error, decisions=decisions,
                  backtest=last)


@router.post("/rules/backtest")
def run_backtest(since: str = Form("180d"),
                 ctx: PageContext = Depends(page("rules.read"))) -> Response:
    try:
        with _BACKTEST_LOCK:
            run_and_record(ctx.deps, window=since.strip() or "180d", actor=ctx.actor.username)
    except DisputeDeskError as exc:
        return redirect("/rules#backtest", flash=error_text(exc), kind="error")
    return redirect("/rules#backtest", flash="Backtest finished.")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(ctx: PageContext = Depends(page("audit.read")), actor: str | None = None,
               action: str | None = None, object_id: str | None = None,
               before: int | None = params.keyset()) -> Response:
    c = audit_log.c
    stmt = sa.select(audit_log)
    filters: dict[str, Any] = {"actor": (actor or "").strip()[:255],
                               "action": (action or "").strip()[:100],
                               "object_id": (object_id or "").strip()[:255]}
    if filters["actor"]:
        stmt = stmt.where(c.actor == filters["actor"])
    if filters["action"]:
        stmt = stmt.where(c.action == filters["action"])
    if filters["object_id"]:
        stmt = stmt.where(c.object_id == filters["object_id"])
    if before is not None:
        stmt = stmt.where(c.id < before)  # keyset: ids grow with time
    with ctx.deps.store.read() as conn:
        rows = [dict(r) for r in conn.execute(
            stmt.order_by(c.id.desc()).limit(AUDIT_PAGE + 1)).mappings()]
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    return render(ctx, "audit.html", "audit", rows=rows, filters=filters,
                  next_before=rows[-1]["id"] if more and rows else None)
