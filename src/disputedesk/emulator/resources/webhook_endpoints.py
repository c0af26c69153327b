"""``/v1/webhook_endpoints``: create (returns the ``whsec_`` secret once), retrieve, update,
list, delete. The secret is kept in the collection's meta; delivery lives in ``webhooks.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors, params as P, versions
from ..routing import Route
from ..state import AccountState, Obj

if TYPE_CHECKING:
    from ..context import Ctx
    from ..emulator import Emulator

TYPE = "webhook_endpoint"


def create_endpoint(emulator: "Emulator", account: AccountState, *, url: str,
                    enabled_events: list[str], description: str | None = None,
                    metadata: dict[str, str] | None = None, api_version: str | None = None,
                    secret: str | None = None, connect: bool = False,
                    endpoint_id: str | None = None) -> Obj:
    endpoint: Obj = {
        "id": endpoint_id or emulator.ids.new(TYPE),
        "object": TYPE,
        "api_version": api_version,
        "application": None,
        "created": emulator.clock.now(),
        "description": description,
        "enabled_events": list(enabled_events),
        "livemode": False,
        "metadata": metadata or {},
        "status": "enabled",
        "url": url,
    }
    secret = secret or "whsec_" + emulator.ids.token(32)
    account.collection(TYPE).add(endpoint, {"secret": secret, "connect": connect})
    return endpoint


def _url(p: dict[str, Any], required: bool) -> str | None:
    url = P.string(p, "url", required=required, max_length=5000)
    if url is not None and not url.startswith(("http://", "https://")):
        raise errors.invalid("Invalid URL: URL must be publicly accessible. Consider using a "
                             "tool like the Stripe CLI to test webhooks locally: "
                             "https://github.com/stripe/stripe-cli", param="url",
                             code="url_invalid")
    return url


def _events(p: dict[str, Any], required: bool) -> list[str] | None:
    events = P.string_list(p, "enabled_events")
    if events is None:
        if required:
            raise errors.parameter_missing("enabled_events")
        return None
    if not events:
        raise errors.invalid("enabled_events cannot be empty.", param="enabled_events")
    for e in events:
        if e != "*" and ("." not in e or not all(part for part in e.split("."))):
            raise errors.invalid(f"Invalid enabled_events: {e} is not a valid event type.",
                                 param="enabled_events")
    return events


def create(ctx: "Ctx") -> Obj:
    p = ctx.params
    url = _url(p, True)
    events = _events(p, True)
    endpoint = create_endpoint(
        ctx.emulator, ctx.account, url=url or "", enabled_events=events or [],
        description=P.string(p, "description", max_length=5000, nullable=True),
        metadata=P.apply_metadata(None, p), api_version=versions.check(P.string(p, "api_version"), param="api_version"),
        connect=bool(P.boolean(p, "connect", False)))
    out = dict(endpoint)
    out["secret"] = ctx.coll(TYPE).meta[endpoint["id"]]["secret"]
    return ctx.render(out)


def retrieve(ctx: "Ctx") -> Obj:
    return ctx.render(ctx.get(TYPE, ctx.path["id"], kind="webhook endpoint"))


def update(ctx: "Ctx") -> Obj:
    p = ctx.params
    endpoint = ctx.get(TYPE, ctx.path["id"], kind="webhook endpoint")
    url = _url(p, False)
    events = _events(p, False)
    disabled = P.boolean(p, "disabled")
    description = P.string(p, "description", max_length=5000, nullable=True)
    metadata = P.apply_metadata(endpoint["metadata"], p)
    if url is not None:
        endpoint["url"] = url
    if events is not None:
        endpoint["enabled_events"] = events
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled else "enabled"
    if "description" in p:
        endpoint["description"] = description
    endpoint["metadata"] = metadata
    return ctx.render(endpoint)


def delete(ctx: "Ctx") -> Obj:
    endpoint = ctx.get(TYPE, ctx.path["id"], kind="webhook endpoint")
    ctx.coll(TYPE).remove(endpoint["id"])
    return {"id": endpoint["id"], "object": TYPE, "deleted": True}


def list_(ctx: "Ctx") -> Obj:
    coll = ctx.coll(TYPE)
    objects, has_more = P.page(coll, coll.ids(), ctx.params, "/v1/webhook_endpoints")
    return ctx.list_response(objects, has_more, "/v1/webhook_endpoints")


ROUTES = [
    Route("POST", "/v1/webhook_endpoints", create,
          ("url", "enabled_events", "description", "metadata", "api_version", "connect")),
    Route("GET", "/v1/webhook_endpoints", list_, ("limit", "starting_after", "ending_before")),
    Route("GET", "/v1/webhook_endpoints/{id}", retrieve),
    Route("POST", "/v1/webhook_endpoints/{id}", update,
          ("url", "enabled_events", "description", "metadata", "disabled")),
    Route("DELETE", "/v1/webhook_endpoints/{id}", delete),
]
