"""Refunds: create by ``charge`` or ``payment_intent``, retrieve, update metadata, list, cancel,
the ``expire`` test helper, and the legacy charge-scoped routes.

Test-card behaviours: ``pending_then_succeeds`` starts ``pending`` and succeeds
``pending_refund_seconds`` later; ``succeeds_then_fails`` starts ``succeeded`` and fails
``refund_failure_seconds`` later (the charge's refunded amount is given back, as Stripe does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import currencies, errors, objects, params as P
from ..render import optional
from ..routing import Route
from ..state import Obj
from . import balance_transactions

if TYPE_CHECKING:
    from ..context import Ctx

TYPE = "refund"
INDEXES = {TYPE: ("charge", "payment_intent")}
optional(TYPE, "description", "failure_balance_transaction", "failure_reason",
         "instructions_email", "next_action", "pending_reason", "presentment_details",
         "destination_details.card.reference", "destination_details.card.reference_status",
         "destination_details.card.reference_type")
REASONS = ("duplicate", "fraudulent", "requested_by_customer")
REVERSAL_WINDOW = 2 * 60 * 60  # refunds this soon after the charge drop off the statement
FAILURE_REASON = "expired_or_canceled_card"


def build_refund(ctx: "Ctx", charge: Obj, amount: int, *, reason: str | None,
                 metadata: dict[str, str], status: str,
                 instructions_email: str | None = None) -> Obj:
    now = ctx.now()
    reversal = now - charge["created"] < REVERSAL_WINDOW
    card_details: dict[str, Any] = {
        "reference": None, "reference_status": None, "reference_type": None,
        "type": "reversal"} if reversal else {
        "reference": None, "reference_status": "pending",
        "reference_type": "acquirer_reference_number", "type": "refund"}
    return {
        "id": ctx.new_id(TYPE),
        "object": TYPE,
        "amount": amount,
        "balance_transaction": None,
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "customer": charge["customer"],
        "customer_account": None,
        "description": None,
        "destination_details": {"card": card_details, "type": "card"},
        "failure_balance_transaction": None,
        "failure_reason": None,
        "instructions_email": instructions_email,
        "metadata": metadata,
        "next_action": None,
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "pending_reason": "processing" if status == "pending" else None,
        "presentment_details": None,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


def refundable_amount(charge: Obj) -> int:
    base = charge["amount_captured"] if charge["captured"] else charge["amount"]
    return base - charge["amount_refunded"]


def _money(amount: int, currency: str) -> str:
    exp = 0 if currency in currencies.ZERO_DECIMAL else 3 if currency in currencies.THREE_DECIMAL else 2
    symbol = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}.get(currency, "")
    text = f"{amount / 10 ** exp:.{exp}f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def create_refund(ctx: "Ctx", charge: Obj, amount: int | None = None, *,
                  reason: str | None = None, metadata: dict[str, str] | None = None,
                  instructions_email: str | None = None,
                  initial_status: str | None = None) -> Obj:
    """Validate like Stripe and refund ``amount`` (default: what is left) of the charge.

    ``initial_status`` lets seeding and tests create e.g. ``requires_action`` refunds that no
    card payment produces.
    """
    if charge["status"] != "succeeded":
        raise errors.invalid(f"Charge {charge['id']} has a status of {charge['status']}; only "
                             "succeeded charges can be refunded.", param="charge",
                             code="charge_not_refundable")
    if charge["refunded"] or refundable_amount(charge) <= 0:
        raise errors.invalid(f"Charge {charge['id']} has already been refunded.",
                             param="charge", code="charge_already_refunded")
    ctx.emulator.hooks.call("before_refund", ctx, charge, amount)
    left = refundable_amount(charge)
    if amount is None:
        amount = left
    if amount > left:
        raise errors.invalid(
            f"Refund amount ({_money(amount, charge['currency'])}) is greater than unrefunded "
            f"amount on charge ({_money(left, charge['currency'])})",
            param="amount", code="amount_too_large")
    currencies.check_step(amount, charge["currency"])
    meta = ctx.coll("charge").meta.get(charge["id"], {})
    card = meta.get("card")
    behaviour = card.refund_behaviour if card is not None else None
    status = initial_status or ("pending" if behaviour == "pending_then_succeeds" else "succeeded")
    refund = build_refund(ctx, charge, amount, reason=reason, metadata=metadata or {},
                          status=status, instructions_email=instructions_email)
    if charge["captured"] and status != "requires_action":
        txn = balance_transactions.create(
            ctx, amount=-amount, currency=charge["currency"], type_="refund",
            source=refund["id"], reporting_category="refund", description="REFUND FOR CHARGE")
        refund["balance_transaction"] = txn["id"]
    ctx.coll(TYPE).add(refund)
    ctx.emit("refund.created", refund)
    if status != "requires_action":
        new_total = charge["amount_refunded"] + amount
        objects.change(ctx, charge, {
            "amount_refunded": new_total,
            "refunded": new_total >= (charge["amount_captured"] if charge["captured"]
                                      else charge["amount"]),
        }, "charge.refunded")
    ctx.emulator.hooks.call("refund_created", ctx, refund, charge)
    settings = ctx.emulator.settings
    if status == "pending" and behaviour == "pending_then_succeeds":
        ctx.schedule(settings["pending_refund_seconds"], _succeed, refund["id"])
    elif status == "succeeded" and behaviour == "succeeds_then_fails":
        ctx.schedule(settings["refund_failure_seconds"], _fail, refund["id"], FAILURE_REASON)
    return refund


def set_status(ctx: "Ctx", refund: Obj, status: str, **fields: Any) -> None:
    """Move a refund to ``status``; emits ``refund.updated`` (and ``refund.failed``)."""
    previous_status = refund["status"]
    changes = {"status": status, **fields}
    objects.change(ctx, refund, changes, "refund.updated")
    if status == "failed":
        ctx.emit("refund.failed", refund)
    charge = ctx.coll("charge").get(refund["charge"])
    if charge is not None:
        ctx.emulator.hooks.call("refund_status_changed", ctx, refund, charge, previous_status)


def _succeed(ctx: "Ctx", refund_id: str) -> None:
    refund = ctx.coll(TYPE).get(refund_id)
    if refund is None or refund["status"] != "pending":
        return
    set_status(ctx, refund, "succeeded", pending_reason=None)


def fail_refund(ctx: "Ctx", refund: Obj, reason: str, status: str = "failed") -> None:
    """The refund's money goes back: failure balance transaction, charge amounts restored."""
    charge = ctx.coll("charge").get(refund["charge"])
    failure_txn = None
    if refund["balance_transaction"] is not None:
        failure_txn = balance_transactions.create(
            ctx, amount=refund["amount"], currency=refund["currency"], type_="refund_failure",
            source=refund["id"], reporting_category="refund_failure",
            description="REFUND FAILURE")["id"]
    set_status(ctx, refund, status, failure_reason=reason, pending_reason=None,
               failure_balance_transaction=failure_txn)
    if charge is not None and refund["balance_transaction"] is not None:
        total = max(0, charge["amount_refunded"] - refund["amount"])
        objects.change(ctx, charge, {"amount_refunded": total, "refunded": False},
                       "charge.updated")


def _fail(ctx: "Ctx", refund_id: str, reason: str) -> None:
    refund = ctx.coll(TYPE).get(refund_id)
    if refund is None or refund["status"] not in ("succeeded", "pending"):
        return
    fail_refund(ctx, refund, reason)


# ---------------------------------------------------------------------------- handlers

CREATE_PARAMS = ("charge", "payment_intent", "amount", "reason", "metadata", "instructions_email",
                 "refund_application_fee", "reverse_transfer", "origin", "customer", "currency")


def _charge_for(ctx: "Ctx", p: dict[str, Any], charge_id: str | None = None) -> Obj:
    charge_id = charge_id or P.string(p, "charge")
    pi_id = P.string(p, "payment_intent")
    if charge_id is None and pi_id is None:
        if P.string(p, "origin") == "customer_balance":
            raise errors.invalid("The emulator does not support refunds from a customer's cash "
                                 "balance (origin=customer_balance).", param="origin")
        raise errors.invalid("One of the following params should be provided for this "
                             "request: payment_intent or charge.", param="charge",
                             code="parameter_missing")
    if charge_id is not None:
        charge = ctx.get("charge", charge_id, param="charge")
        if pi_id is not None and charge["payment_intent"] != pi_id:
            raise errors.invalid(f"Charge {charge_id} does not belong to PaymentIntent {pi_id}.",
                                 param="payment_intent")
        return charge
    pi = ctx.get("payment_intent", pi_id or "", param="payment_intent")
    if pi["latest_charge"] is None or pi["status"] not in ("succeeded", "requires_capture"):
        raise errors.invalid(
            f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
            param="payment_intent", code="charge_not_refundable")
    return ctx.get("charge", pi["latest_charge"], param="payment_intent")


def _create_from_params(ctx: "Ctx", charge_id: str | None = None) -> Obj:
    p = ctx.params
    if P.boolean(p, "refund_application_fee") or P.boolean(p, "reverse_transfer"):
        raise errors.invalid("The charge has no application fee or transfer to reverse.",
                             param="refund_application_fee" if "refund_application_fee" in p
                             else "reverse_transfer")
    amount = P.integer(p, "amount", minimum=1)
    reason = P.enum(p, "reason", REASONS)
    metadata = P.apply_metadata(None, p)
    instructions_email = P.email(p, "instructions_email")
    ctx.customer(P.string(p, "customer"))
    charge = _charge_for(ctx, p, charge_id)
    return create_refund(ctx, charge, amount, reason=reason, metadata=metadata,
                         instructions_email=instructions_email)


def create(ctx: "Ctx") -> Obj:
    return ctx.render(_create_from_params(ctx))


def retrieve(ctx: "Ctx") -> Obj:
    return ctx.render(ctx.get(TYPE, ctx.path["id"]))


def update(ctx: "Ctx") -> Obj:
    refund = ctx.get(TYPE, ctx.path["id"])
    objects.change(ctx, refund, {"metadata": P.apply_metadata(refund["metadata"], ctx.params)},
                   "refund.updated")
    return ctx.render(refund)


def cancel(ctx: "Ctx") -> Obj:
    refund = ctx.get(TYPE, ctx.path["id"])
    if refund["status"] != "requires_action":
        raise errors.invalid(
            f"You can't cancel refund {refund['id']} because it has a status of "
            f"{refund['status']}. Only refunds with a status of requires_action can be "
            "canceled.", param="refund")
    set_status(ctx, refund, "canceled", failure_reason="merchant_request", next_action=None)
    return ctx.render(refund)


def expire(ctx: "Ctx") -> Obj:
    refund = ctx.get(TYPE, ctx.path["id"])
    if refund["status"] != "requires_action":
        raise errors.invalid(
            f"Only refunds with a status of requires_action can be expired; refund "
            f"{refund['id']} has a status of {refund['status']}.", param="refund")
    set_status(ctx, refund, "failed", failure_reason="unknown", next_action=None)
    return ctx.render(refund)


def list_(ctx: "Ctx", charge_id: str | None = None) -> Obj:
    p = ctx.params
    coll = ctx.coll(TYPE)
    charge_id = charge_id or P.string(p, "charge")
    pi_id = P.string(p, "payment_intent")
    ids = coll.ids()
    if charge_id:
        ids = coll.by("charge", charge_id)
    elif pi_id:
        ids = coll.by("payment_intent", pi_id)
    keep = (lambda r: r["payment_intent"] == pi_id) if charge_id and pi_id else None
    url = f"/v1/charges/{charge_id}/refunds" if ctx.path.get("charge") else "/v1/refunds"
    objects_, has_more = P.page(coll, ids, p, url, keep)
    return ctx.list_response(objects_, has_more, url)


# legacy charge-scoped variants

def charge_refunds_list(ctx: "Ctx") -> Obj:
    ctx.get("charge", ctx.path["charge"], param="charge")
    return list_(ctx, ctx.path["charge"])


def charge_refunds_create(ctx: "Ctx") -> Obj:
    return ctx.render(_create_from_params(ctx, ctx.path["charge"]))


def charge_refunds_retrieve(ctx: "Ctx") -> Obj:
    refund = ctx.get(TYPE, ctx.path["id"])
    if refund["charge"] != ctx.path["charge"]:
        raise errors.missing("refund", ctx.path["id"])
    return ctx.render(refund)


def charge_refunds_update(ctx: "Ctx") -> Obj:
    """``POST /v1/charges/{charge}/refunds/{refund}``: the legacy form of a refund update."""
    charge_refunds_retrieve(ctx)  # 404 unless the refund belongs to that charge
    return update(ctx)


def charge_refund(ctx: "Ctx") -> Obj:
    """``POST /v1/charges/{charge}/refund``: refunds and returns the charge."""
    refund = _create_from_params(ctx, ctx.path["charge"])
    return ctx.render(ctx.get("charge", refund["charge"]))


ROUTES = [
    Route("POST", "/v1/refunds", create, CREATE_PARAMS),
    Route("GET", "/v1/refunds", list_, P.LIST_PARAMS + ("charge", "payment_intent")),
    Route("GET", "/v1/refunds/{id}", retrieve),
    Route("POST", "/v1/refunds/{id}", update, ("metadata",)),
    Route("POST", "/v1/refunds/{id}/cancel", cancel),
    Route("POST", "/v1/test_helpers/refunds/{id}/expire", expire),
    Route("GET", "/v1/charges/{charge}/refunds", charge_refunds_list, P.LIST_PARAMS),
    Route("POST", "/v1/charges/{charge}/refunds", charge_refunds_create,
          ("amount", "reason", "metadata", "instructions_email", "refund_application_fee",
           "reverse_transfer")),
    Route("GET", "/v1/charges/{charge}/refunds/{id}", charge_refunds_retrieve),
    Route("POST", "/v1/charges/{charge}/refunds/{id}", charge_refunds_update, ("metadata",)),
    Route("POST", "/v1/charges/{charge}/refund", charge_refund,
          ("amount", "reason", "metadata", "instructions_email", "refund_application_fee",
           "reverse_transfer", "payment_intent")),
]
