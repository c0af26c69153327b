"""``/v1/events``: list (``type`` with ``*`` wildcard, ``types[]``, ``created``, ``delivery_success``)
and retrieve. Events are written by :mod:`..events`, never by the API."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from .. import errors, params as P
from ..routing import Route
from ..state import Obj

if TYPE_CHECKING:
    from ..context import Ctx

TYPE = "event"
INDEXES = {TYPE: ("type",)}


def retrieve(ctx: "Ctx") -> Obj:
    return ctx.get(TYPE, ctx.path["id"])


def list_(ctx: "Ctx") -> Obj:
    p = ctx.params
    coll = ctx.coll(TYPE)
    type_ = P.string(p, "type")
    types = P.string_list(p, "types")
    if type_ and types:
        raise errors.invalid("You cannot specify both type and types.", param="types")
    if types is not None and len(types) > 20:
        raise errors.invalid("types can contain at most 20 event types.", param="types")
    delivery_success = P.boolean(p, "delivery_success")
    ids = coll.ids()
    predicate = None
    if type_ and "*" not in type_:
        ids = coll.by("type", type_)
    elif type_:
        pattern = type_
        predicate = lambda e: fnmatch.fnmatchcase(e["type"], pattern)  # noqa: E731
    elif types:
        wanted = set(types)
        predicate = lambda e: e["type"] in wanted  # noqa: E731
    if delivery_success is not None:
        base = predicate
        want_pending = not delivery_success
        predicate = lambda e: ((base is None or base(e))  # noqa: E731
                               and (e["pending_webhooks"] > 0) == want_pending)
    objects, has_more = P.page(coll, ids, p, "/v1/events", predicate)
    return ctx.list_response(objects, has_more, "/v1/events")


ROUTES = [
    Route("GET", "/v1/events", list_, P.LIST_PARAMS + ("type", "types", "delivery_success")),
    Route("GET", "/v1/events/{id}", retrieve),
]
