"""What every dashboard page shares: who is asking (and may they), rendering, flash messages,
time zones and formatting.

A page route takes ``ctx: PageContext = Depends(page("disputes.read"))``. The dependency runs the
same check as the API (``web.auth.require(..., page=True)``): an anonymous browser is sent to
/login, a role without the permission gets 403, a state-changing form without the session's CSRF
token gets 403. Its ``.permission`` is what the role test matrix reads.

Times are shown in the user's time zone: the ``dd_tz`` cookie (set by app.js from the browser, or
chosen in the top bar) when it names a real zone, else ``settings.display_timezone``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from disputedesk.domain.disputes import NEEDS_RESPONSE_STATUSES, format_time_left
from disputedesk.domain.money import format_amount
from disputedesk.domain.permissions import Actor
from disputedesk.web.auth import csrf_token_for, require
from disputedesk.web.pages_auth import TEMPLATES_DIR

TZ_COOKIE = "dd_tz"
FLASH_COOKIE = "dd_flash"
FORM_COOKIE = "dd_form"  # a refused form's errors and input, for the page the redirect shows
NO_STORE = {"Cache-Control": "no-store"}

# Top-bar sections: (key, label, path, permission needed to see it).
SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("disputes", "Disputes", "/disputes", "disputes.read"),
    ("closed", "Closed", "/closed-disputes", "disputes.read"),
    ("reports", "Reports", "/reports", "disputes.read"),
    ("refunds", "Refunds", "/refunds", "refunds.read"),
    ("approvals", "Approvals", "/refunds/approvals", "refunds.read"),
    ("bulk", "Bulk", "/refunds/bulk", "refunds.read"),
    ("events", "Events", "/events", "events.read"),
    ("rules", "Rules", "/rules", "rules.read"),
    ("audit", "Audit log", "/audit", "audit.read"),
    ("settings", "Settings", "/settings", "refunds.read"),
)

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


class PageError(Exception):
    """Shown to the user as an error page with ``status`` (never a traceback)."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


@dataclass
class PageContext:
    request: Request
    actor: Actor
    csrf_token: str | None
    tz: ZoneInfo
    tz_name: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def deps(self):
        return self.request.app.state.deps

    def can(self, permission: str) -> bool:
        return self.actor.can(permission)


def zone_for(request: Request) -> tuple[ZoneInfo, str]:
    default = getattr(request.app.state.deps.settings, "display_timezone", "UTC") or "UTC"
    from urllib.parse import unquote

    for name in (unquote(request.cookies.get(TZ_COOKIE) or ""), default, "UTC"):
        if not name or len(name) > 64:
            continue
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC"), "UTC"


def page(permission: str) -> Callable:
    """A page's dependency: the signed-in actor allowed ``permission`` plus what pages need."""
    inner = require(permission, page=True)

    async def dependency(request: Request) -> PageContext:
        actor = await inner(request)
        tz, tz_name = zone_for(request)
        return PageContext(request, actor, await csrf_token_for(request), tz, tz_name)

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


# --- formatting ---------------------------------------------------------------------------------

def fmt_time(value: Any, tz: ZoneInfo, with_seconds: bool = False) -> str:
    if value in (None, ""):
        return "—"
    try:
        moment = dt.datetime.fromtimestamp(float(value), tz)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z" if with_seconds else "%Y-%m-%d %H:%M %Z")


def fmt_money(amount: Any, currency: Any) -> str:
    if amount is None:
        return "—"
    try:
        return format_amount(int(amount), str(currency or "usd"))
    except Exception:  # an unknown currency in a mirrored document must not break a page
        return f"{amount} {str(currency or '').upper()}"


def urgency(seconds: int | None) -> str:
    """CSS class of a countdown: red within a day (or overdue), amber within three days."""
    if seconds is None:
        return "none"
    if seconds <= 86_400:
        return "urgent"
    if seconds <= 3 * 86_400:
        return "soon"
    return "ok"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def human(value: Any) -> str:
    return str(value or "").replace("_", " ")


templates.env.globals.update(format_time_left=format_time_left, urgency=urgency,
                             awaiting_response=NEEDS_RESPONSE_STATUSES)
templates.env.filters.update(money=fmt_money, pretty_json=pretty_json, human=human)


# --- responses ------------------------------------------------------------------------------------

@dataclass
class FormState:
    """A refused form: which form (``id``, as the template names it), the message per field
    (in the order the fields appear) and what the user typed, shown again next to the fields."""

    id: str
    errors: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)

    def error(self, form: str, name: str) -> str | None:
        return self.errors.get(name) if form == self.id else None

    def value(self, form: str, name: str, default: Any = "") -> Any:
        return self.values.get(name, default) if form == self.id else default

    def has_errors(self, form: str) -> bool:
        return form == self.id and bool(self.errors)


NO_FORM = FormState("", {})
FORM_VALUE_MAX = 2000  # a cookie holds about 4 kB: longer input is not carried over


def render(ctx: PageContext, name: str, section: str, status_code: int = 200,
           form: FormState | None = None, **values: Any) -> HTMLResponse:
    """Render a page; ``form`` (or the one a redirect carried) puts errors next to its fields
    and in a summary at the top, with what the user typed kept."""
    nav = [(key, label, path) for key, label, path, perm in SECTIONS if ctx.actor.can(perm)]
    messages = pop_flash(ctx.request)
    carried = pop_form(ctx.request)
    state = form or carried or NO_FORM
    tz = ctx.tz

    def when(value: Any, with_seconds: bool = False) -> str:
        return fmt_time(value, tz, with_seconds)

    context = {"actor": ctx.actor, "csrf_token": ctx.csrf_token, "nav": nav, "section": section,
               "tz_name": ctx.tz_name, "messages": messages, "when": when, "can": ctx.can,
               "now": ctx.deps.clock.now(), "form_state": state, "field_error": state.error,
               "kept": state.value, "form_has_errors": state.has_errors, **values}
    response = templates.TemplateResponse(ctx.request, name, context, status_code=status_code)
    response.headers.update(NO_STORE)
    if messages:
        response.delete_cookie(FLASH_COOKIE, path="/")
    if carried is not None:
        response.delete_cookie(FORM_COOKIE, path="/")
    return response


def redirect(path: str, *, flash: str | None = None, kind: str = "ok",
             form: FormState | None = None) -> RedirectResponse:
    """303 to a same-site path, carrying a one-shot message (and a refused form's errors and
    input) for the next page."""
    if not path.startswith("/") or path.startswith("//"):
        path = "/"
    response = RedirectResponse(path, status_code=303, headers=NO_STORE)
    if flash:
        payload = quote(json.dumps({"kind": kind, "text": flash[:500]}))
        response.set_cookie(FLASH_COOKIE, payload, max_age=60, path="/", httponly=True,
                            samesite="lax")
    if form is not None:
        payload = quote(json.dumps({
            "id": form.id, "errors": {k: v[:300] for k, v in form.errors.items()},
            "values": {k: v for k, v in form.values.items() if len(v) <= FORM_VALUE_MAX}}))
        response.set_cookie(FORM_COOKIE, payload, max_age=60, path="/", httponly=True,
                            samesite="lax")
    return response


def pop_form(request: Request) -> FormState | None:
    from urllib.parse import unquote

    raw = request.cookies.get(FORM_COOKIE)
    if not raw:
        return None
    try:
        value = json.loads(unquote(raw))
        return FormState(str(value["id"]), {str(k): str(v) for k, v in value["errors"].items()},
                         {str(k): str(v) for k, v in value.get("values", {}).items()})
    except (ValueError, KeyError, AttributeError, TypeError):
        return None


def pop_flash(request: Request) -> list[dict[str, str]]:
    from urllib.parse import unquote

    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        value = json.loads(unquote(raw))
        kind = value.get("kind") if value.get("kind") in ("ok", "info", "warn", "error") else "info"
        return [{"kind": kind, "text": str(value.get("text", ""))[:500]}]
    except (ValueError, AttributeError, RecursionError):  # a forged cookie nested deeply
        return []


def error_text(exc: Exception) -> str:
    """A desk error as one sentence for a flash message (its hint appended)."""
    message = getattr(exc, "message", None) or str(exc)
    hint = getattr(exc, "hint", None)
    text = message[:1].upper() + message[1:]
    if hint:
        text += f" ({hint})"
    return text


def timezones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
