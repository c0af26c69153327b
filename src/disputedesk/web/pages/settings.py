"""The settings page: the desk's policy as stored (services/policy.py); admins change it here."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, Response

from disputedesk.errors import DisputeDeskError
from disputedesk.services import policy
from disputedesk.web.pages.common import PageContext, error_text, page, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(ctx: PageContext = Depends(page("refunds.read"))) -> Response:
    return render(ctx, "settings.html", "settings", rows=policy.show(ctx.deps),
                  can_change=ctx.can("settings.manage"))


@router.post("/settings")
def change_setting(key: str = Form("", max_length=64),
                   value: str = Form("", max_length=policy.VALUE_MAX),
                   ctx: PageContext = Depends(page("settings.manage"))) -> Response:
    try:
        row = policy.set_value(ctx.deps, key, value, actor=ctx.actor.username)
    except DisputeDeskError as exc:
        return redirect("/settings", flash=error_text(exc), kind="error")
    return redirect("/settings", flash=f"{row['key']} is now '{row['value'] or '(empty)'}'.")
