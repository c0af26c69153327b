"""``GET /v1/charges/search``, ``/v1/payment_intents/search``, ``/v1/customers/search``.

Queries use Stripe's search query language (:mod:`..search_query`) over the query fields Stripe
lists for each resource. Results are newest first, ``limit`` 1-100 (default 10); ``next_page``
is an opaque cursor for ``page``; ``expand[]=total_count`` adds the number of matches. Unlike
Stripe, results are current at once (Stripe's index lags by up to a minute).

This module is listed first in ``resources.MODULES`` so its paths win over ``/v1/charges/{id}``.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from .. import errors, params as P
from ..routing import Route
from ..search_query import QueryError, parse
from ..state import Obj

if TYPE_CHECKING:
    from ..context import Ctx

# Stripe's query fields per resource and their kinds (https://docs.stripe.com/search)
FIELDS: dict[str, dict[str, str]] = {
    "charges": {
        "amount": "numeric", "billing_details.address.postal_code": "string",
        "created": "numeric", "currency": "token", "customer": "token", "disputed": "boolean",
        "payment_method_details.card.brand": "token",
        "payment_method_details.card.exp_month": "numeric",
        "payment_method_details.card.exp_year": "numeric",
        "payment_method_details.card.fingerprint": "token",
        "payment_method_details.card.last4": "token", "refunded": "boolean",
        "status": "token",
    },
    "payment_intents": {
        "amount": "numeric", "created": "numeric", "currency": "token", "customer": "token",
        "status": "token",
    },
    "customers": {
        "created": "numeric", "email": "string", "name": "string", "phone": "string",
        "test_clock": "token",
    },
}
OBJECT_TYPES = {"charges": "charge", "payment_intents": "payment_intent",
                "customers": "customer"}
SEARCH_PARAMS = ("query", "limit", "page")
_PAGE_PREFIX = "emu1:"


def _page_token(object_id: str) -> str:
    return base64.urlsafe_b64encode((_PAGE_PREFIX + object_id).encode()).decode()


def _page_cursor(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_PAGE_PREFIX):
        raise errors.invalid(f"Invalid page: '{token[:40]}' is not a page token from a previous "
                             "search's next_page.", param="page")
    return text[len(_PAGE_PREFIX):]


def search(ctx: "Ctx", resource: str) -> Obj:
    p = ctx.params
    text = P.string(p, "query", required=True, max_length=5000)
    limit = P.integer(p, "limit", minimum=1, maximum=100)
    limit = 10 if limit is None else limit
    page = P.string(p, "page", nullable=True)
    expand = P.expand_list(p)
    for path in expand:
        if path != "total_count" and not path.startswith("data."):
            raise errors.invalid(f"This property cannot be expanded ({path}).", param="expand")
    try:
        query = parse(text or "", FIELDS[resource], resource)
    except QueryError as exc:
        raise errors.invalid(str(exc), param="query") from None
    coll = ctx.coll(OBJECT_TYPES[resource])
    ids = coll.ids()
    start = len(ids) - 1
    if page:
        cursor = _page_cursor(page)
        if cursor not in coll.position:
            raise errors.invalid("Invalid page: the object this page token points at no longer "
                                 "exists; start the search again.", param="page")
        start = coll.position[cursor] - 1
    matched: list[Obj] = []
    has_more = False
    counting = "total_count" in expand
    total = 0
    for j in range(len(ids) - 1, -1, -1):  # newest first
        obj = coll.objects.get(ids[j])
        if obj is None or obj.get("deleted") or not query.matches(obj):
            continue
        total += 1
        if j > start:
            continue
        if len(matched) < limit:
            matched.append(obj)
        else:
            has_more = True
            if not counting:
                break
    url = f"/v1/{resource}/search"
    body = ctx.list_response(matched, has_more, url)
    body["object"] = "search_result"
    body["next_page"] = _page_token(matched[-1]["id"]) if has_more and matched else None
    if counting:
        body["total_count"] = total
    return body


def _handler(resource: str) -> Any:
    def handler(ctx: "Ctx") -> Obj:
        return search(ctx, resource)
    handler.__name__ = f"search_{resource}"
    return handler


ROUTES = [Route("GET", f"/v1/{resource}/search", _handler(resource), SEARCH_PARAMS)
          for resource in FIELDS]
