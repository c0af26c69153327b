"""Customers: create, retrieve, update, delete, list (``email`` filter), and the payment
methods attached to one. Search is ``resources/search.py``.

Rendered as Stripe renders a customer of the current API: the nullable fields always present
(``address``, ``currency``, ``default_source``, ``delinquent``, ``description``, ``discount``,
``email``, ``name``, ``phone``, ``preferred_locales``, ``shipping``, ``tax_exempt``,
``test_clock``); expandable-only lists (``sources``, ``subscriptions``, ``tax_ids``,
``cash_balance``, ``tax``) left out. A deleted customer answers ``{"id", "object",
"deleted": true}``, as Stripe's ``DeletedCustomer``.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from .. import errors, objects, params as P
from ..render import optional
from ..routing import Route
from ..state import Obj

if TYPE_CHECKING:
    from ..context import Ctx

TYPE = "customer"
optional(TYPE, "business_name", "individual_name")
TAX_EXEMPT = ("exempt", "none", "reverse")
ADDRESS_KEYS = P.ADDRESS_FIELDS


def invoice_prefix(customer_id: str) -> str:
    """Eight upper-case hex characters derived from the id (no RNG draw, so seeding is
    unchanged by customers existing)."""
    return hashlib.sha256(customer_id.encode()).hexdigest()[:8].upper()


def build(customer_id: str, *, created: int, email: str | None = None,
          name: str | None = None, description: str | None = None, phone: str | None = None,
          address: dict[str, Any] | None = None, shipping: dict[str, Any] | None = None,
          metadata: dict[str, str] | None = None, balance: int = 0,
          preferred_locales: list[str] | None = None, tax_exempt: str = "none",
          default_payment_method: str | None = None, prefix: str | None = None,
          next_invoice_sequence: int = 1) -> Obj:
    return {
        "id": customer_id,
        "object": TYPE,
        "address": address,
        "balance": balance,
        "business_name": None,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "individual_name": None,
        "invoice_prefix": prefix or invoice_prefix(customer_id),
        "invoice_settings": {"custom_fields": None,
                             "default_payment_method": default_payment_method,
                             "footer": None, "rendering_options": None},
        "livemode": False,
        "metadata": dict(metadata or {}),
        "name": name,
        "next_invoice_sequence": next_invoice_sequence,
        "phone": phone,
        "preferred_locales": list(preferred_locales or []),
        "shipping": shipping,
        "tax_exempt": tax_exempt,
        "test_clock": None,
    }


def add_seeded(ctx: "Ctx", customer_id: str, *, created: int, email: str, name: str) -> Obj:
    """A seeded customer (the seed names its customers on charges before they exist)."""
    obj = build(customer_id, created=created, email=email, name=name)
    ctx.coll(TYPE).add(obj)
    return obj


# ---------------------------------------------------------------------------- params

def _address(value: Any, param: str) -> dict[str, Any] | None:
    return None if value == "" else P.address(value, param)


def _shipping(value: Any) -> dict[str, Any] | None:
    if value == "":
        return None
    if not isinstance(value, dict):
        raise errors.invalid("Invalid object: shipping must be a hash.", param="shipping")
    for key in value:
        if key not in ("address", "name", "phone"):
            raise errors.parameter_unknown(f"shipping[{key}]")
    if "address" not in value:
        raise errors.parameter_missing("shipping[address]")
    name = P.string(value, "name", max_length=5000)
    if not name:
        raise errors.parameter_missing("shipping[name]")
    return {"address": _address(value["address"], "shipping[address]") or
            {k: None for k in ADDRESS_KEYS},
            "name": name, "phone": P.string(value, "phone", max_length=5000, nullable=True)}


def _locales(p: dict[str, Any]) -> list[str] | None:
    if p.get("preferred_locales") == "":
        return []
    return P.string_list(p, "preferred_locales")


def _fields(ctx: "Ctx", p: dict[str, Any], current: Obj | None) -> dict[str, Any]:
    """The changes a create/update request asks for (validated before anything is stored)."""
    out: dict[str, Any] = {}
    if "email" in p:
        out["email"] = P.email(p, "email")
    for name, limit in (("name", 256), ("description", 350), ("phone", 20)):
        if name in p:
            out[name] = P.string(p, name, max_length=limit, nullable=True)
    for name in ("business_name", "individual_name"):  # optional fields: "" leaves them out
        if name in p:
            out[name] = P.string(p, name, max_length=150, nullable=True) or None
    _unmodelled(p)
    if "address" in p:
        out["address"] = _address(p["address"], "address")
    if "shipping" in p:
        out["shipping"] = _shipping(p["shipping"])
    if "balance" in p:
        out["balance"] = P.integer(p, "balance") or 0
    if "preferred_locales" in p:
        out["preferred_locales"] = _locales(p)
    if "tax_exempt" in p:
        out["tax_exempt"] = P.enum(p, "tax_exempt", TAX_EXEMPT, nullable=True) or "none"
    if "invoice_prefix" in p:
        prefix = P.string(p, "invoice_prefix", max_length=12) or ""
        if not re.fullmatch(r"[A-Z0-9]{3,12}", prefix):
            raise errors.invalid("Invalid invoice_prefix: must be 3-12 upper-case letters or "
                                 "digits.", param="invoice_prefix")
        out["invoice_prefix"] = prefix
    if "next_invoice_sequence" in p:
        out["next_invoice_sequence"] = P.integer(p, "next_invoice_sequence", minimum=1)
    if "metadata" in p:
        out["metadata"] = P.apply_metadata(current["metadata"] if current else None, p)
    if "invoice_settings" in p:
        settings = P.hash_(p, "invoice_settings") or {}
        for key in settings:
            if key not in ("default_payment_method", "custom_fields", "footer",
                           "rendering_options"):
                raise errors.parameter_unknown(f"invoice_settings[{key}]")
        base = dict(current["invoice_settings"]) if current else {
            "custom_fields": None, "default_payment_method": None, "footer": None,
            "rendering_options": None}
        if "footer" in settings:
            base["footer"] = P.string(settings, "footer", max_length=5000, nullable=True)
        if "default_payment_method" in settings:
            base["default_payment_method"] = P.string(settings, "default_payment_method",
                                                      nullable=True)
        out["invoice_settings"] = base
    return out


def _unmodelled(p: dict[str, Any]) -> None:
    """Params Stripe takes for what the emulator does not model: type-checked, then either
    dropped (no customer field shows them) or refused by name when they would name an object
    the emulator cannot hold (sources, test clocks), so nothing is silently ignored."""
    P.check_types(p, {k: v for k, v in UNMODELLED.items() if k in p})
    if "tax_id_data" in p and not isinstance(p["tax_id_data"], (list, dict)):
        raise errors.invalid("Invalid array: tax_id_data must be an array of hashes.",
                             param="tax_id_data")
    for name in ("source", "default_source"):
        if p.get(name):
            raise errors.invalid(
                f"No such source: '{p[name]}'; the emulator models no customer sources "
                "(attach a card with payment_method instead).", param=name,
                code="resource_missing")
    if p.get("test_clock"):
        raise errors.invalid(f"No such test clock: '{p['test_clock']}'; the emulator has no "
                             "test clocks.", param="test_clock", code="resource_missing")


def _attach_default(ctx: "Ctx", customer: Obj) -> None:
    """``invoice_settings[default_payment_method]`` must name a method attached to it."""
    pm_id = customer["invoice_settings"]["default_payment_method"]
    if pm_id is None:
        return
    from . import payment_methods

    pm = payment_methods.resolve(ctx, pm_id, param="invoice_settings[default_payment_method]")
    if pm["customer"] not in (None, customer["id"]):
        raise errors.invalid(f"The payment method {pm['id']} is attached to another customer.",
                             param="invoice_settings[default_payment_method]")
    pm["customer"] = customer["id"]
    customer["invoice_settings"]["default_payment_method"] = pm["id"]


# ---------------------------------------------------------------------------- rendering

# lists Stripe leaves out of a customer unless expanded (the emulator models none of them)
INCLUDABLE = ("sources", "subscriptions", "tax_ids")


def render(ctx: "Ctx", customer: Obj, prefix: str = "") -> Obj:
    """``ctx.render`` plus the includable lists (``expand[]=sources`` gives an empty list)."""
    paths = P.expand_list(ctx.params)
    wanted = [f for f in INCLUDABLE if prefix + f in paths]
    rest = [path[len(prefix):] for path in paths
            if path.startswith(prefix) and path[len(prefix):] not in INCLUDABLE]
    out = ctx.render(customer, rest) if rest else dict(customer)
    for field in wanted:
        out[field] = {"object": "list", "data": [], "has_more": False,
                      "url": f"/v1/customers/{customer['id']}/{field}"}
    return out


# ---------------------------------------------------------------------------- handlers

# accepted, type-checked, not acted on (see _unmodelled)
UNMODELLED = {"cash_balance": "hash", "tax": "hash", "validate": "boolean", "source": "string",
              "default_source": "string", "test_clock": "string"}
CREATE_PARAMS = ("address", "balance", "business_name", "cash_balance", "description", "email",
                 "individual_name", "invoice_prefix", "invoice_settings", "metadata", "name",
                 "next_invoice_sequence", "payment_method", "phone", "preferred_locales",
                 "shipping", "source", "tax", "tax_exempt", "tax_id_data", "test_clock",
                 "validate")
UPDATE_PARAMS = tuple(p for p in CREATE_PARAMS if p not in ("payment_method", "tax_id_data",
                                                            "test_clock")) + ("default_source",)


def create(ctx: "Ctx") -> Obj:
    p = ctx.params
    fields = _fields(ctx, p, None)
    pm_name = P.string(p, "payment_method")
    customer = build(ctx.new_id(TYPE), created=ctx.now())
    customer.update(fields)
    if pm_name is not None:
        from . import payment_methods

        pm = payment_methods.resolve(ctx, pm_name, param="payment_method")
        if pm["customer"] not in (None, customer["id"]):
            raise errors.invalid(f"The payment method {pm['id']} is attached to another "
                                 "customer.", param="payment_method")
        pm["customer"] = customer["id"]
    _attach_default(ctx, customer)
    ctx.coll(TYPE).add(customer)
    ctx.emit("customer.created", customer)
    return render(ctx, customer)


def _live(ctx: "Ctx", customer_id: str) -> Obj:
    customer = ctx.get(TYPE, customer_id, param="id")
    if customer.get("deleted"):
        raise errors.missing("customer", customer_id, param="id")
    return customer


def retrieve(ctx: "Ctx") -> Obj:
    customer = ctx.get(TYPE, ctx.path["id"])
    if customer.get("deleted"):
        return {"id": customer["id"], "object": TYPE, "deleted": True}
    return render(ctx, customer)


def update(ctx: "Ctx") -> Obj:
    customer = _live(ctx, ctx.path["id"])
    changes = _fields(ctx, ctx.params, customer)
    if "invoice_settings" in changes:
        trial = dict(customer, invoice_settings=changes["invoice_settings"])
        _attach_default(ctx, trial)
        changes["invoice_settings"] = trial["invoice_settings"]
    objects.change(ctx, customer, changes, "customer.updated")
    return render(ctx, customer)


def delete(ctx: "Ctx") -> Obj:
    """Stripe deletes at once; the id stays known (retrieve answers ``deleted: true``)."""
    customer = _live(ctx, ctx.path["id"])
    ctx.emit("customer.deleted", customer)
    customer["deleted"] = True
    for pm in ctx.coll("payment_method").objects.values():  # Stripe detaches them
        if pm["customer"] == customer["id"]:
            pm["customer"] = None
    return {"id": customer["id"], "object": TYPE, "deleted": True}


def list_(ctx: "Ctx") -> Obj:
    p = ctx.params
    coll = ctx.coll(TYPE)
    email = P.string(p, "email", max_length=512)
    # Stripe's email filter is case-sensitive, and lists never show deleted customers
    keep = (lambda c: not c.get("deleted") and (email is None or c["email"] == email))
    objects_, has_more = P.page(coll, coll.ids(), p, "/v1/customers", keep)
    return {"object": "list", "data": [render(ctx, c, "data.") for c in objects_],
            "has_more": has_more, "url": "/v1/customers"}


ROUTES = [
    Route("POST", "/v1/customers", create, CREATE_PARAMS),
    Route("GET", "/v1/customers", list_, P.LIST_PARAMS + ("email", "test_clock")),
    Route("GET", "/v1/customers/{id}", retrieve),
    Route("POST", "/v1/customers/{id}", update, UPDATE_PARAMS),
    Route("DELETE", "/v1/customers/{id}", delete),
]
