"""Charges: the legacy ``POST /v1/charges`` with ``source=tok_*``, retrieve, update, capture,
list; and :func:`create_charge`, which PaymentIntent confirmation uses as well.

A successful, captured charge calls the ``charge_succeeded`` hook with its test card, so the
disputes and early-fraud-warning modules can do what Stripe's test cards do.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .. import cards, currencies, errors, objects, params as P
from ..cards import TestCard
from ..render import VIRTUAL, optional
from ..routing import Route
from ..state import AccountState, Obj
from . import balance_transactions

if TYPE_CHECKING:
    from ..context import Ctx

TYPE = "charge"
INDEXES = {TYPE: ("customer", "payment_intent", "transfer_group")}


def fingerprint(card: TestCard) -> str:
    return hashlib.sha256(card.number.encode()).hexdigest()[:16]


def card_details(card: TestCard, *, amount: int, capture_before: int | None) -> dict[str, Any]:
    """``payment_method_details.card``: every field the SDK declares, null when unknown."""
    return {
        "amount_authorized": amount,
        "authorization_code": None if card.decline else "123456",
        "brand": card.brand,
        "capture_before": capture_before,
        "checks": {"address_line1_check": None, "address_postal_code_check": None,
                   "cvc_check": card.cvc_check},
        "country": card.country,
        "description": None,
        "electronic_commerce_indicator": None,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "extended_authorization": {"status": "disabled"},
        "fingerprint": fingerprint(card),
        "funding": card.funding,
        "iin": None,
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "issuer": None,
        "last4": card.last4,
        "mandate": None,
        "moto": None,
        "multicapture": {"status": "unavailable"},
        "network": card.brand,
        "network_token": {"used": False},
        "network_transaction_id": None if card.decline else "1041029786787710",
        "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
        "regulated_status": "unregulated",
        "setup_credential_usage": None,
        "stored_credential_usage": None,
        "three_d_secure": None,
        "transaction_link_id": None,
        "wallet": None,
    }


def outcome(card: TestCard) -> dict[str, Any]:
    if card.decline is None:
        return {"advice_code": None, "network_advice_code": None, "network_decline_code": None,
                "network_status": "approved_by_network", "reason": None,
                "risk_level": card.risk_level, "risk_score": card.risk_score, "rule": None,
                "seller_message": "Payment complete.", "type": "authorized"}
    blocked = card.decline.decline_code == "fraudulent" and card.risk_level == "highest"
    return {"advice_code": "do_not_try_again" if card.decline.decline_code in
            ("lost_card", "stolen_card", "fraudulent") else "try_again_later",
            "network_advice_code": None, "network_decline_code": None,
            "network_status": "not_sent_to_network" if blocked else "declined_by_network",
            "reason": "highest_risk_level" if blocked else card.decline.decline_code,
            "risk_level": card.risk_level, "risk_score": card.risk_score, "rule": None,
            "seller_message": ("Stripe blocked this payment as too risky." if blocked
                               else "The bank did not return any further details with this "
                               "decline."),
            "type": "blocked" if blocked else "issuer_declined"}


def card_source(ctx: "Ctx", card: TestCard, customer: str | None) -> Obj:
    """The ``source`` card object of a legacy tokenized charge."""
    return {
        "id": ctx.new_id("card"), "object": "card", "address_city": None,
        "address_country": None, "address_line1": None, "address_line1_check": None,
        "address_line2": None, "address_state": None, "address_zip": None,
        "address_zip_check": None, "allow_redisplay": "unspecified", "brand": _card_brand(card),
        "country": card.country, "customer": customer, "cvc_check": card.cvc_check,
        "dynamic_last4": None, "exp_month": card.exp_month, "exp_year": card.exp_year,
        "fingerprint": fingerprint(card), "funding": card.funding, "last4": card.last4,
        "metadata": {}, "name": None, "regulated_status": "unregulated",
        "tokenization_method": None,
    }


def _card_brand(card: TestCard) -> str:
    return {"visa": "Visa", "mastercard": "MasterCard", "amex": "American Express",
            "discover": "Discover", "diners": "Diners Club", "jcb": "JCB",
            "unionpay": "UnionPay"}.get(card.brand, "Unknown")


def billing_details(p: dict[str, Any] | None = None) -> dict[str, Any]:
    p = p or {}
    address = p.get("address") if isinstance(p.get("address"), dict) else {}
    return {
        "address": {k: address.get(k) for k in
                    ("city", "country", "line1", "line2", "postal_code", "state")},
        "email": p.get("email"), "name": p.get("name"), "phone": p.get("phone"),
        "tax_id": None,
    }


def create_charge(ctx: "Ctx", *, amount: int, currency: str, card: TestCard,
                  payment_method: str, capture: bool = True, customer: str | None = None,
                  description: str | None = None, metadata: dict[str, str] | None = None,
                  receipt_email: str | None = None, payment_intent: str | None = None,
                  source: Obj | None = None, shipping: dict[str, Any] | None = None,
                  statement_descriptor: str | None = None,
                  statement_descriptor_suffix: str | None = None,
                  transfer_group: str | None = None,
                  billing: dict[str, Any] | None = None, incremental: bool = False) -> Obj:
    """Create the charge for one payment attempt; a declined card gives a ``failed`` charge.

    ``incremental``: the authorization may be incremented (an uncaptured charge whose
    PaymentIntent asked ``request_incremental_authorization=if_available``).

    Emits ``charge.succeeded`` / ``charge.failed``; calls the ``charge_succeeded`` hook when
    the charge is captured.
    """
    now = ctx.now()
    declined = card.decline is not None
    charge_id = ctx.new_id(TYPE)
    captured = capture and not declined
    charge: Obj = {
        "id": charge_id,
        "object": TYPE,
        "amount": amount,
        "amount_captured": amount if captured else 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "authorization_code": None if declined else "123456",
        "balance_transaction": None,
        "billing_details": billing_details(billing),
        "calculated_statement_descriptor": None if declined else
            (statement_descriptor or "DISPUTEDESK EMULATOR")[:22],
        "captured": captured,
        "created": now,
        "currency": currency,
        "customer": customer,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": card.decline.code if declined else None,
        "failure_message": card.decline.message if declined else None,
        "fraud_details": {"stripe_report": None, "user_report": None},
        "level3": None,
        "livemode": False,
        "metadata": dict(metadata or {}),
        "on_behalf_of": None,
        "outcome": outcome(card),
        "paid": not declined,
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "payment_method_details": {
            "type": "card",
            "card": card_details(card, amount=amount,
                                 capture_before=None if capture else now + 7 * 86400),
        },
        "presentment_details": None,
        "radar_options": None,
        "receipt_email": receipt_email,
        "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{ctx.emulator.ids.token(40)}",
        "refunded": False,
        "refunds": None,
        "review": None,
        "shipping": shipping,
        "source": source,
        "source_transfer": None,
        "statement_descriptor": statement_descriptor,
        "statement_descriptor_suffix": statement_descriptor_suffix,
        "status": "failed" if declined else "succeeded",
        "transfer": None,
        "transfer_data": None,
        "transfer_group": transfer_group,
    }
    if captured:
        charge["balance_transaction"] = _book(ctx, charge)["id"]
    elif incremental and not declined:
        charge["payment_method_details"]["card"]["incremental_authorization"]["status"] = \
            "available"
    ctx.coll(TYPE).add(charge, {"card": card})
    if declined:
        ctx.emit("charge.failed", charge)
        return charge
    ctx.emit("charge.succeeded", charge)
    if captured:
        ctx.emulator.hooks.call("charge_succeeded", ctx, charge, card)
    return charge


def _book(ctx: "Ctx", charge: Obj) -> Obj:
    amount = charge["amount_captured"]
    return balance_transactions.create(
        ctx, amount=amount, currency=charge["currency"], type_="charge", source=charge["id"],
        reporting_category="charge", fee=balance_transactions.stripe_fee(amount, charge["currency"]),
        description=charge["description"])


def capture_charge(ctx: "Ctx", charge: Obj, amount: int | None) -> Obj:
    """Capture an authorized charge (all of it or ``amount``); emits ``charge.captured``."""
    if charge["captured"]:
        raise errors.invalid(f"Charge {charge['id']} has already been captured.",
                             code="charge_already_captured", param="charge")
    if charge["status"] != "succeeded":
        raise errors.invalid(f"Charge {charge['id']} cannot be captured because it failed.",
                             param="charge")
    amount = charge["amount"] if amount is None else amount
    if amount > charge["amount"]:
        raise errors.invalid(
            f"You cannot capture more than the authorized amount of {charge['amount']}.",
            param="amount", code="amount_too_large")
    previous = {"amount_captured": charge["amount_captured"], "captured": False,
                "balance_transaction": None}
    charge["captured"] = True
    charge["amount_captured"] = amount
    charge["balance_transaction"] = _book(ctx, charge)["id"]
    ctx.emit("charge.captured", charge, previous)
    card = ctx.coll(TYPE).meta[charge["id"]]["card"]
    ctx.emulator.hooks.call("charge_succeeded", ctx, charge, card)
    return charge


def refunds_list(account: AccountState, charge: Obj) -> Obj:
    coll = account.collection("refund")
    ids = coll.by("charge", charge["id"])
    data = [coll.objects[i] for i in reversed(ids)][:10]
    return {"object": "list", "data": data, "has_more": len(ids) > 10,
            "url": f"/v1/charges/{charge['id']}/refunds"}


VIRTUAL[(TYPE, "refunds")] = refunds_list
# left out when unset (rendering rule in render.py); `refunds` appears only when expanded
optional(TYPE, "authorization_code", "level3", "presentment_details", "radar_options", "refunds",
         "transfer", "outcome.rule", "fraud_details.stripe_report", "fraud_details.user_report",
         *(f"payment_method_details.card.{f}" for f in (
             "capture_before", "description", "iin", "issuer", "moto", "setup_credential_usage",
             "stored_credential_usage")))


# ---------------------------------------------------------------------------- handlers

CREATE_PARAMS = ("amount", "currency", "source", "customer", "description", "metadata",
                 "receipt_email", "capture", "shipping", "statement_descriptor",
                 "statement_descriptor_suffix", "transfer_group", "on_behalf_of",
                 "application_fee", "application_fee_amount", "destination", "transfer_data",
                 "radar_options")
# accepted, type-checked, not modelled (Connect money movement, Radar sessions)
ACCEPTED = {"application_fee": "integer", "application_fee_amount": "integer",
            "destination": "hash", "on_behalf_of": "string", "radar_options": "hash",
            "transfer_data": "hash"}


def create(ctx: "Ctx") -> Obj:
    p = ctx.params
    amount = P.integer(p, "amount", required=True)
    code = currencies.currency(P.string(p, "currency", required=True))
    currencies.check_charge_amount(amount or 0, code)
    P.check_types(p, ACCEPTED)
    receipt_email = P.email(p, "receipt_email")
    shipping = P.shipping(p)
    source_name = P.string(p, "source")
    customer = ctx.customer(P.string(p, "customer"))
    if source_name is None:
        if customer is None:
            raise errors.invalid("Must provide source or customer.", param="source",
                                 code="parameter_missing")
        raise errors.invalid(f"Customer {customer} has no default payment source; pass "
                             "source=tok_... (the emulator keeps no saved cards).",
                             param="source", code="missing")
    card = cards.lookup(source_name)
    if card is None or not source_name.startswith("tok_"):
        raise errors.missing("source", source_name, param="source")
    metadata = P.apply_metadata(None, p)
    capture = P.boolean(p, "capture", True)
    source = card_source(ctx, card, customer)
    charge = create_charge(
        ctx, amount=amount or 0, currency=code, card=card, payment_method=source["id"],
        capture=bool(capture), customer=customer,
        description=P.string(p, "description", max_length=1000, nullable=True),
        metadata=metadata, receipt_email=receipt_email, source=source, shipping=shipping,
        statement_descriptor=P.string(p, "statement_descriptor", max_length=22),
        statement_descriptor_suffix=P.string(p, "statement_descriptor_suffix", max_length=22),
        transfer_group=P.string(p, "transfer_group"))
    if card.decline is not None:
        raise errors.card_error(card.decline.message, code=card.decline.code,
                                decline_code=card.decline.decline_code, charge=charge["id"])
    return ctx.render(charge)


def retrieve(ctx: "Ctx") -> Obj:
    return ctx.render(ctx.get(TYPE, ctx.path["id"]))


def update(ctx: "Ctx") -> Obj:
    p = ctx.params
    charge = ctx.get(TYPE, ctx.path["id"])
    changes: dict[str, Any] = {}
    if "metadata" in p:
        changes["metadata"] = P.apply_metadata(charge["metadata"], p)
    if "description" in p:
        changes["description"] = P.string(p, "description", max_length=1000, nullable=True)
    if "receipt_email" in p:
        changes["receipt_email"] = P.email(p, "receipt_email")
    if "shipping" in p:
        changes["shipping"] = P.shipping(p)
    if "transfer_group" in p:
        changes["transfer_group"] = P.string(p, "transfer_group", nullable=True)
    if "fraud_details" in p:
        fd = P.hash_(p, "fraud_details") or {}
        report = fd.get("user_report")
        if report not in ("safe", "fraudulent", ""):
            raise errors.invalid("Invalid fraud_details[user_report]: must be one of safe or "
                                 "fraudulent", param="fraud_details[user_report]")
        changes["fraud_details"] = dict(charge["fraud_details"], user_report=report or None)
    if "customer" in p:
        if charge["customer"] is not None:
            raise errors.invalid("Cannot change the customer of a charge that has one.",
                                 param="customer")
        changes["customer"] = ctx.customer(P.string(p, "customer"))
    objects.change(ctx, charge, changes, "charge.updated")
    return ctx.render(charge)


def capture(ctx: "Ctx") -> Obj:
    p = ctx.params
    charge = ctx.get(TYPE, ctx.path["id"])
    if charge["payment_intent"]:
        raise errors.invalid(
            f"This charge belongs to PaymentIntent {charge['payment_intent']}; capture the "
            "PaymentIntent instead.", param="charge")
    P.check_types(p, ACCEPTED)
    receipt_email = P.email(p, "receipt_email")
    amount = P.integer(p, "amount", minimum=1)
    if "receipt_email" in p:
        charge["receipt_email"] = receipt_email
    capture_charge(ctx, charge, amount)
    return ctx.render(charge)


def list_(ctx: "Ctx") -> Obj:
    p = ctx.params
    coll = ctx.coll(TYPE)
    customer = P.string(p, "customer")
    payment_intent = P.string(p, "payment_intent")
    transfer_group = P.string(p, "transfer_group")
    ids = coll.ids()
    if payment_intent:
        ids = coll.by("payment_intent", payment_intent)
    elif customer:
        ids = coll.by("customer", customer)
    elif transfer_group:
        ids = coll.by("transfer_group", transfer_group)

    def keep(c: Obj) -> bool:
        return ((customer is None or c["customer"] == customer)
                and (transfer_group is None or c["transfer_group"] == transfer_group))
    objects_, has_more = P.page(coll, ids, p, "/v1/charges", keep)
    return ctx.list_response(objects_, has_more, "/v1/charges")


ROUTES = [
    Route("POST", "/v1/charges", create, CREATE_PARAMS),
    Route("GET", "/v1/charges", list_,
          P.LIST_PARAMS + ("customer", "payment_intent", "transfer_group")),
    Route("GET", "/v1/charges/{id}", retrieve),
    Route("POST", "/v1/charges/{id}", update,
          ("metadata", "description", "receipt_email", "shipping", "transfer_group",
           "fraud_details", "customer")),
    Route("POST", "/v1/charges/{id}/capture", capture,
          ("amount", "receipt_email", "statement_descriptor", "statement_descriptor_suffix",
           "application_fee", "application_fee_amount", "transfer_data", "transfer_group")),
]
