"""``/v1/balance_transactions``: retrieve and list (``type``, ``source``, ``created``).

Other modules create balance transactions with :func:`create` (charges, refunds, refund
failures, dispute withdrawals and reinstatements).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import params as P
from ..routing import Route
from ..state import Obj

if TYPE_CHECKING:
    from ..context import Ctx

TYPE = "balance_transaction"
INDEXES = {TYPE: ("source", "type")}
AVAILABLE_AFTER = 2 * 24 * 60 * 60  # card funds become available two days later in test mode


def stripe_fee(amount: int, currency: str) -> int:
    """Stripe's standard card fee as the emulator books it: 2.9% + 30 minor units."""
    return (amount * 29 + 500) // 1000 + 30 if amount > 0 else 0


def create(ctx: "Ctx", *, amount: int, currency: str, type_: str, source: str,
           reporting_category: str, fee: int = 0, description: str | None = None,
           fee_description: str = "Stripe processing fees") -> Obj:
    now = ctx.now()
    fee_details: list[dict[str, Any]] = []
    if fee:
        fee_details.append({"amount": fee, "application": None, "currency": currency,
                            "description": fee_description, "type": "stripe_fee"})
    txn: Obj = {
        "id": ctx.new_id(TYPE),
        "object": TYPE,
        "amount": amount,
        "available_on": now + AVAILABLE_AFTER if amount > 0 else now,
        "balance_type": "payments",
        "created": now,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": "pending" if amount > 0 else "available",
        "type": type_,
    }
    ctx.coll(TYPE).add(txn)
    return txn


def retrieve(ctx: "Ctx") -> Obj:
    txn = ctx.get(TYPE, ctx.path["id"], kind="balance transaction")
    _settle(ctx, txn)
    return ctx.render(txn)


def _settle(ctx: "Ctx", txn: Obj) -> None:
    if txn["status"] == "pending" and txn["available_on"] <= ctx.now():
        txn["status"] = "available"


def list_(ctx: "Ctx") -> Obj:
    p = ctx.params
    coll = ctx.coll(TYPE)
    source = P.string(p, "source")
    type_ = P.string(p, "type")
    currency = P.string(p, "currency")
    ids = coll.ids()
    if source:
        ids = coll.by("source", source)
    elif type_:
        ids = coll.by("type", type_)

    def keep(t: Obj) -> bool:
        return ((type_ is None or t["type"] == type_)
                and (currency is None or t["currency"] == currency))
    objects, has_more = P.page(coll, ids, p, "/v1/balance_transactions", keep)
    for t in objects:
        _settle(ctx, t)
    return ctx.list_response(objects, has_more, "/v1/balance_transactions")


ROUTES = [
    Route("GET", "/v1/balance_transactions", list_,
          P.LIST_PARAMS + ("source", "type", "currency", "payout")),
    Route("GET", "/v1/balance_transactions/{id}", retrieve),
]
