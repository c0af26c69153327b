"""PaymentMethods: ``GET /v1/payment_methods/{id}`` and ``GET /v1/customers/{id}/payment_methods``.

Every PaymentMethod a PaymentIntent or charge names is stored when it is first used
(``payment_intents.resolve_payment_method``). Stripe's test names (``pm_card_visa``,
``pm_card_createDispute``, ...) can be retrieved too: as on Stripe, each retrieval makes a new
``pm_...`` with that card's brand, funding, country and checks (``cards.py``). The ``card_...``
source of a legacy ``tok_*`` charge is retrievable as a PaymentMethod of the same id, as Stripe
serves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import errors, params as P
from ..cards import TestCard
from ..routing import Route
from ..state import Obj
from . import charges

if TYPE_CHECKING:
    from ..context import Ctx

TYPE = "payment_method"
TYPES = ("card",)


def build(ctx: "Ctx", pm_id: str, card: TestCard, customer: str | None,
          created: int | None = None) -> Obj:
    """A card PaymentMethod as Stripe renders it (``card.checks`` per the test card)."""
    return {
        "id": pm_id, "object": TYPE, "allow_redisplay": "unspecified",
        "billing_details": charges.billing_details(),
        "card": {"brand": card.brand,
                 "checks": {"address_line1_check": None, "address_postal_code_check": None,
                            "cvc_check": "unchecked"},
                 "country": card.country, "display_brand": card.brand,
                 "exp_month": card.exp_month, "exp_year": card.exp_year,
                 "fingerprint": charges.fingerprint(card), "funding": card.funding,
                 "generated_from": None, "last4": card.last4,
                 "networks": {"available": [card.brand], "preferred": None},
                 "regulated_status": "unregulated", "three_d_secure_usage": {"supported": True},
                 "wallet": None},
        "created": ctx.now() if created is None else created, "customer": customer,
        "customer_account": None, "livemode": False, "metadata": {}, "type": "card",
    }


def _legacy_card(ctx: "Ctx", card_id: str) -> Obj | None:
    """The ``card_...`` source of a tokenized charge, as a PaymentMethod (newest charge first)."""
    coll = ctx.coll("charge")
    for charge_id in reversed(coll.ids()):
        charge = coll.objects.get(charge_id)
        source = charge.get("source") if charge else None
        if isinstance(source, dict) and source.get("id") == card_id:
            card = coll.meta[charge_id]["card"]
            return build(ctx, card_id, card, charge["customer"], created=charge["created"])
    return None


def resolve(ctx: "Ctx", name: str, *, param: str = "payment_method") -> Obj:
    """A stored PaymentMethod by id, or a new one for a ``pm_card_*`` test name (else 404)."""
    from .payment_intents import resolve_payment_method

    if not isinstance(name, str) or not name:
        raise errors.missing("PaymentMethod", str(name), param=param)
    if name.startswith("card_"):
        pm = _legacy_card(ctx, name)
        if pm is None:
            raise errors.missing("PaymentMethod", name, param=param)
        return pm
    pm_id, _ = resolve_payment_method(ctx, name, None, param=param)
    return ctx.coll(TYPE).objects[pm_id]


def retrieve(ctx: "Ctx") -> Obj:
    return ctx.render(resolve(ctx, ctx.path["id"], param="payment_method"))


def _list(ctx: "Ctx", customer_id: str | None, url: str) -> Obj:
    from .customers import TYPE as CUSTOMER

    p = ctx.params
    if customer_id is not None:
        customer = ctx.get(CUSTOMER, customer_id, param="customer")
        if customer.get("deleted"):
            raise errors.missing("customer", customer_id, param="customer")
    kind = P.enum(p, "type", TYPES + ("acss_debit", "sepa_debit", "us_bank_account"))
    redisplay = P.enum(p, "allow_redisplay", ("always", "limited", "unspecified"))
    customer_account = P.string(p, "customer_account")
    coll = ctx.coll(TYPE)
    keep = (lambda pm: (customer_id is None or pm["customer"] == customer_id)
            and (kind is None or pm["type"] == kind)
            and (redisplay is None or pm["allow_redisplay"] == redisplay)
            and (customer_account is None or pm["customer_account"] == customer_account))
    objects_, has_more = P.page(coll, coll.ids(), p, url, keep)
    return ctx.list_response(objects_, has_more, url)


def customer_list(ctx: "Ctx") -> Obj:
    customer_id = ctx.path["customer"]
    return _list(ctx, customer_id, f"/v1/customers/{customer_id}/payment_methods")


def list_(ctx: "Ctx") -> Obj:
    """``GET /v1/payment_methods`` (``customer``, ``customer_account``, ``type``,
    ``allow_redisplay``): the stored PaymentMethods."""
    return _list(ctx, P.string(ctx.params, "customer"), "/v1/payment_methods")


def customer_retrieve(ctx: "Ctx") -> Obj:
    """``GET /v1/customers/{customer}/payment_methods/{id}``: 404 unless attached to it."""
    from .customers import TYPE as CUSTOMER

    customer = ctx.get(CUSTOMER, ctx.path["customer"], param="customer")
    pm = ctx.coll(TYPE).get(ctx.path["id"])
    if pm is None or pm["customer"] != customer["id"] or customer.get("deleted"):
        raise errors.missing("PaymentMethod", ctx.path["id"], param="payment_method")
    return ctx.render(pm)


ROUTES = [
    Route("GET", "/v1/payment_methods", list_,
          P.LIST_PARAMS[:3] + ("allow_redisplay", "customer", "customer_account", "type")),
    Route("GET", "/v1/payment_methods/{id}", retrieve),
    Route("GET", "/v1/customers/{customer}/payment_methods", customer_list,
          P.LIST_PARAMS[:3] + ("type", "allow_redisplay")),
    Route("GET", "/v1/customers/{customer}/payment_methods/{id}", customer_retrieve),
]
