"""PaymentIntents: create (optionally ``confirm=true``), retrieve, update, confirm, capture,
cancel, list. Confirmation with a ``pm_card_*`` test PaymentMethod creates the charge
(``latest_charge``) through :func:`charges.create_charge`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import cards, currencies, errors, objects, params as P
from ..cards import TestCard
from ..render import optional
from ..routing import Route
from ..state import Obj
from . import charges, payment_methods

if TYPE_CHECKING:
    from ..context import Ctx

TYPE = "payment_intent"
INDEXES = {TYPE: ("customer",), "payment_method": ()}
optional(TYPE, "amount_details", "hooks", "payment_details", "presentment_details", "transfer_data",
         *(f"last_payment_error.{f}" for f in (
             "network_advice_code", "network_decline_code", "param", "payment_intent",
             "request_log_url", "setup_intent", "source")),
         *(f"payment_method_options.card.{f}" for f in (
             "capture_method", "request_extended_authorization",
             "request_incremental_authorization", "request_multicapture", "request_overcapture",
             "require_cvc_recollection", "setup_credential_usage", "setup_future_usage",
             "statement_descriptor_suffix_kana", "statement_descriptor_suffix_kanji",
             "stored_credential_usage")))
CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
CANCELLATION_REASONS = ("abandoned", "duplicate", "fraudulent", "requested_by_customer")


def build(ctx: "Ctx", *, amount: int, currency: str, customer: str | None,
          description: str | None, metadata: dict[str, str], receipt_email: str | None,
          capture_method: str, payment_method_types: list[str],
          statement_descriptor: str | None, statement_descriptor_suffix: str | None,
          shipping: dict[str, Any] | None, setup_future_usage: str | None,
          transfer_group: str | None) -> Obj:
    pi_id = ctx.new_id(TYPE)
    return {
        "id": pi_id,
        "object": TYPE,
        "allowed_payment_method_types": None,
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": None,
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": capture_method,
        "client_secret": f"{pi_id}_secret_{ctx.emulator.ids.token(25)}",
        "confirmation_method": "automatic",
        "created": ctx.now(),
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "hooks": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_details": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {
            "capture_method": None, "installments": None, "mandate_options": None,
            "network": None, "request_extended_authorization": None,
            "request_incremental_authorization": None, "request_multicapture": None,
            "request_overcapture": None, "request_three_d_secure": "automatic",
            "require_cvc_recollection": None, "setup_credential_usage": None,
            "setup_future_usage": None, "statement_descriptor_suffix_kana": None,
            "statement_descriptor_suffix_kanji": None, "stored_credential_usage": None}},
        "payment_method_types": payment_method_types,
        "payment_record": None,
        "presentment_details": None,
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": setup_future_usage,
        "shipping": shipping,
        "source": None,
        "statement_descriptor": statement_descriptor,
        "statement_descriptor_suffix": statement_descriptor_suffix,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": transfer_group,
    }


def payment_method_object(ctx: "Ctx", pm_id: str, card: TestCard, customer: str | None) -> Obj:
    return payment_methods.build(ctx, pm_id, card, customer)


def resolve_payment_method(ctx: "Ctx", name: str, customer: str | None,
                           param: str = "payment_method") -> tuple[str, TestCard]:
    """``pm_card_visa`` -> a fresh ``pm_...`` id and its card; a known ``pm_...`` id -> itself."""
    coll = ctx.coll("payment_method")
    existing = coll.get(name)
    if existing is not None:
        return name, coll.meta[name]["card"]
    card = cards.lookup(name)
    if card is None or not name.startswith("pm_"):
        raise errors.missing("PaymentMethod", name, param=param)
    pm_id = ctx.new_id("payment_method")
    coll.add(payment_method_object(ctx, pm_id, card, customer), {"card": card})
    return pm_id, card


def create_payment_intent(ctx: "Ctx", *, amount: int, currency: str, customer: str | None = None,
                          description: str | None = None, metadata: dict[str, str] | None = None,
                          receipt_email: str | None = None, capture_method: str = "automatic_async",
                          payment_method: str | None = None,
                          payment_method_types: list[str] | None = None,
                          statement_descriptor: str | None = None,
                          statement_descriptor_suffix: str | None = None,
                          shipping: dict[str, Any] | None = None,
                          setup_future_usage: str | None = None,
                          transfer_group: str | None = None,
                          card_options: dict[str, Any] | None = None,
                          extra: dict[str, Any] | None = None) -> Obj:
    pi = build(ctx, amount=amount, currency=currency, customer=customer, description=description,
               metadata=dict(metadata or {}), receipt_email=receipt_email,
               capture_method=capture_method, payment_method_types=payment_method_types or ["card"],
               statement_descriptor=statement_descriptor,
               statement_descriptor_suffix=statement_descriptor_suffix, shipping=shipping,
               setup_future_usage=setup_future_usage, transfer_group=transfer_group)
    pi.update(extra or {})
    pi["payment_method_options"]["card"].update(card_options or {})
    if payment_method is not None:
        pm_id, card = resolve_payment_method(ctx, payment_method, customer)
        pi["payment_method"] = pm_id
        pi["status"] = "requires_confirmation"
    ctx.coll(TYPE).add(pi)
    ctx.emit("payment_intent.created", pi)
    return pi


def confirm_payment_intent(ctx: "Ctx", pi: Obj, payment_method: str | None = None) -> Obj:
    """Attempt the payment. On a decline, raises the 402 card error after recording it."""
    if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise errors.invalid(
            f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}. "
            "Only a PaymentIntent with one of the following statuses may be confirmed: "
            "requires_confirmation, requires_action, requires_payment_method.",
            code="payment_intent_unexpected_state", param=None,
            payment_intent=pi)
    if payment_method is not None:
        pm_id, card = resolve_payment_method(ctx, payment_method, pi["customer"])
        pi["payment_method"] = pm_id
    elif pi["payment_method"] is not None:
        pm_id = pi["payment_method"]
        card = ctx.coll("payment_method").meta[pm_id]["card"]
    else:
        raise errors.invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To "
            "confirm the PaymentIntent with cus_xxx, specify a payment method attached to this "
            "customer along with the customer ID.", param="payment_method",
            code="payment_intent_unexpected_state")
    manual = pi["capture_method"] == "manual"
    charge = charges.create_charge(
        ctx, amount=pi["amount"], currency=pi["currency"], card=card, payment_method=pm_id,
        capture=not manual, customer=pi["customer"], description=pi["description"],
        metadata=pi["metadata"], receipt_email=pi["receipt_email"], payment_intent=pi["id"],
        shipping=pi["shipping"], statement_descriptor=pi["statement_descriptor"],
        statement_descriptor_suffix=pi["statement_descriptor_suffix"],
        transfer_group=pi["transfer_group"],
        incremental=manual and _card_option(pi, "request_incremental_authorization")
        == "if_available")
    pi["latest_charge"] = charge["id"]
    if card.decline is not None:
        pm = ctx.coll("payment_method").get(pm_id)
        error = errors.card_error(card.decline.message, code=card.decline.code,
                                  decline_code=card.decline.decline_code, charge=charge["id"])
        last_error = dict(error.body()["error"])
        last_error.pop("request_log_url", None)
        last_error.update({"advice_code": charge["outcome"]["advice_code"],
                           "network_advice_code": None, "network_decline_code": None,
                           "param": None, "payment_intent": None, "payment_method": pm,
                           "payment_method_type": "card", "request_log_url": None,
                           "setup_intent": None, "source": None})
        pi["last_payment_error"] = last_error
        pi["payment_method"] = None
        pi["status"] = "requires_payment_method"
        ctx.emit("payment_intent.payment_failed", pi)
        error.extra.update({"payment_intent": pi, "payment_method": pm,
                            "advice_code": last_error["advice_code"]})
        raise error
    pi["last_payment_error"] = None
    if manual:
        pi["status"] = "requires_capture"
        pi["amount_capturable"] = pi["amount"]
        ctx.emit("payment_intent.amount_capturable_updated", pi)
    else:
        pi["status"] = "succeeded"
        pi["amount_received"] = pi["amount"]
        ctx.emit("payment_intent.succeeded", pi)
    return pi


def create_and_confirm(ctx: "Ctx", **kwargs: Any) -> Obj:
    """Create and confirm in one go (what ``confirm=true`` does); for seeding and tests."""
    pi = create_payment_intent(ctx, **kwargs)
    return confirm_payment_intent(ctx, pi)


# ---------------------------------------------------------------------------- handlers

# Params Stripe takes that change nothing the emulator models: type-checked, then either stored
# on the intent (ECHOED: same name, same shape) or accepted and dropped (the rest).
ACCEPTED = {"allowed_payment_method_types": "string_list", "amount_details": "hash",
            "application_fee_amount": "integer", "confirmation_method": "string",
            "confirmation_token": "string", "customer_account": "string",
            "error_on_requires_action": "boolean", "excluded_payment_method_types": "string_list",
            "hooks": "hash", "mandate": "string", "mandate_data": "hash",
            "off_session": "boolean_or_hash", "on_behalf_of": "string",
            "payment_details": "hash", "payment_method_configuration": "string",
            "payment_method_data": "hash", "payment_method_options": "hash",
            "radar_options": "hash", "return_url": "string", "transfer_data": "hash",
            "use_stripe_sdk": "boolean", "amount_to_confirm": "integer",
            "final_capture": "boolean", "automatic_payment_methods": "hash"}
ECHOED = ("allowed_payment_method_types", "application_fee_amount", "customer_account",
          "excluded_payment_method_types", "on_behalf_of")
CREATE_PARAMS = ("amount", "currency", "customer", "description", "metadata", "receipt_email",
                 "payment_method", "payment_method_types", "confirm", "capture_method",
                 "statement_descriptor", "statement_descriptor_suffix", "shipping",
                 "setup_future_usage", "transfer_group", "allowed_payment_method_types",
                 "amount_details", "application_fee_amount", "automatic_payment_methods",
                 "confirmation_method", "confirmation_token", "customer_account",
                 "error_on_requires_action", "excluded_payment_method_types", "hooks", "mandate",
                 "mandate_data", "off_session", "on_behalf_of", "payment_details",
                 "payment_method_configuration", "payment_method_data", "payment_method_options",
                 "radar_options", "return_url", "transfer_data", "use_stripe_sdk")
UPDATE_PARAMS = ("allowed_payment_method_types", "amount", "amount_details",
                 "application_fee_amount", "capture_method", "currency", "customer",
                 "customer_account", "description", "excluded_payment_method_types", "hooks",
                 "metadata", "payment_details", "payment_method", "payment_method_configuration",
                 "payment_method_data", "payment_method_options", "receipt_email",
                 "setup_future_usage", "shipping", "statement_descriptor",
                 "statement_descriptor_suffix", "transfer_data", "transfer_group")
CONFIRM_PARAMS = ("allowed_payment_method_types", "amount_details", "amount_to_confirm",
                  "capture_method", "confirmation_token", "error_on_requires_action",
                  "excluded_payment_method_types", "hooks", "mandate", "mandate_data",
                  "off_session", "payment_details", "payment_method", "payment_method_data",
                  "payment_method_options", "radar_options", "receipt_email", "return_url",
                  "setup_future_usage", "shipping", "use_stripe_sdk")
CAPTURE_PARAMS = ("amount_details", "amount_to_capture", "application_fee_amount",
                  "final_capture", "hooks", "metadata", "payment_details",
                  "statement_descriptor", "statement_descriptor_suffix", "transfer_data")
SETUP_FUTURE_USAGE = ("off_session", "on_session")


def extras(p: dict[str, Any]) -> dict[str, Any]:
    """Type-check the params that change no modelled state; the fields the intent shows.

    Called before anything changes, so a bad value leaves no half-applied state.
    """
    P.check_types(p, {k: v for k, v in ACCEPTED.items() if k in p})
    out: dict[str, Any] = {}
    for name in ECHOED:
        if name in p:
            out[name] = (P.string_list(p, name) if name.endswith("_types")
                         else P.integer(p, name, minimum=0) if name == "application_fee_amount"
                         else P.string(p, name, nullable=True))
    if out.get("on_behalf_of") and not out["on_behalf_of"].startswith("acct_"):
        raise errors.invalid(f"No such account: '{out['on_behalf_of']}'", param="on_behalf_of",
                             code="resource_missing")
    if "transfer_data" in p:
        td = P.hash_(p, "transfer_data") or {}
        destination = P.string(td, "destination", required=True)
        if not str(destination).startswith("acct_"):
            raise errors.invalid(f"No such destination: '{destination}'",
                                 param="transfer_data[destination]", code="resource_missing")
        amount = P.integer(td, "amount", minimum=0)
        out["transfer_data"] = ({"amount": amount, "destination": destination}
                                if amount is not None else {"destination": destination})
    return out


def create(ctx: "Ctx") -> Obj:
    p = ctx.params
    amount = P.integer(p, "amount", required=True)
    code = currencies.currency(P.string(p, "currency", required=True))
    currencies.check_charge_amount(amount or 0, code)
    apm = P.hash_(p, "automatic_payment_methods")
    types = P.string_list(p, "payment_method_types")
    if types is not None and any(t != "card" for t in types):
        raise errors.invalid("The emulator supports the payment method type card only.",
                             param="payment_method_types",
                             code="payment_intent_invalid_parameter")
    extra = extras(p)
    card_options = _card_options(P.hash_(p, "payment_method_options"))
    pi = create_payment_intent(
        ctx, amount=amount or 0, currency=code, customer=ctx.customer(P.string(p, "customer")),
        description=P.string(p, "description", max_length=1000, nullable=True),
        metadata=P.apply_metadata(None, p),
        receipt_email=P.email(p, "receipt_email"),
        capture_method=P.enum(p, "capture_method", CAPTURE_METHODS) or "automatic_async",
        payment_method=P.string(p, "payment_method"), payment_method_types=types,
        statement_descriptor=P.string(p, "statement_descriptor", max_length=22),
        statement_descriptor_suffix=P.string(p, "statement_descriptor_suffix", max_length=22),
        shipping=P.shipping(p),
        setup_future_usage=P.enum(p, "setup_future_usage", SETUP_FUTURE_USAGE),
        transfer_group=P.string(p, "transfer_group"), card_options=card_options, extra=extra)
    if apm is not None:
        pi["automatic_payment_methods"] = {
            "allow_redirects": apm.get("allow_redirects", "always"),
            "enabled": apm.get("enabled") in ("true", True)}
    if P.boolean(p, "confirm", False):
        confirm_payment_intent(ctx, pi)
    return ctx.render(pi)


def retrieve(ctx: "Ctx") -> Obj:
    return ctx.render(ctx.get(TYPE, ctx.path["id"], kind="payment_intent"))


def update(ctx: "Ctx") -> Obj:
    p = ctx.params
    pi = ctx.get(TYPE, ctx.path["id"], kind="payment_intent")
    changes: dict[str, Any] = extras(p)
    if "metadata" in p:
        changes["metadata"] = P.apply_metadata(pi["metadata"], p)
    if "description" in p:
        changes["description"] = P.string(p, "description", max_length=1000, nullable=True)
    if "receipt_email" in p:
        changes["receipt_email"] = P.email(p, "receipt_email")
    if "shipping" in p:
        changes["shipping"] = P.shipping(p)
    if "capture_method" in p:
        changes["capture_method"] = P.enum(p, "capture_method", CAPTURE_METHODS)
    if "setup_future_usage" in p:
        changes["setup_future_usage"] = P.enum(p, "setup_future_usage", SETUP_FUTURE_USAGE,
                                               nullable=True)
    for name in ("statement_descriptor", "statement_descriptor_suffix"):
        if name in p:
            changes[name] = P.string(p, name, max_length=22, nullable=True)
    if "transfer_group" in p:
        changes["transfer_group"] = P.string(p, "transfer_group", nullable=True)
    if "amount" in p or "currency" in p or "payment_method" in p:
        if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise errors.invalid(
                f"This PaymentIntent's amount, currency or payment_method could not be updated "
                f"because it has a status of {pi['status']}.",
                code="payment_intent_unexpected_state")
        if "amount" in p:
            changes["amount"] = P.integer(p, "amount", minimum=1)
        if "currency" in p:
            changes["currency"] = currencies.currency(P.string(p, "currency"))
        if "payment_method" in p:
            pm_id, _ = resolve_payment_method(ctx, P.string(p, "payment_method") or "",
                                              pi["customer"])
            changes["payment_method"] = pm_id
            changes["status"] = "requires_confirmation"
    if "customer" in p:
        changes["customer"] = ctx.customer(P.string(p, "customer", nullable=True))
    objects.change(ctx, pi, changes)  # Stripe has no payment_intent.updated event
    return ctx.render(pi)


def confirm(ctx: "Ctx") -> Obj:
    p = ctx.params
    pi = ctx.get(TYPE, ctx.path["id"], kind="payment_intent")
    changes = extras(p)
    if "receipt_email" in p:
        changes["receipt_email"] = P.email(p, "receipt_email")
    if "capture_method" in p:
        changes["capture_method"] = P.enum(p, "capture_method", CAPTURE_METHODS)
    if "shipping" in p:
        changes["shipping"] = P.shipping(p)
    if "setup_future_usage" in p:
        changes["setup_future_usage"] = P.enum(p, "setup_future_usage", SETUP_FUTURE_USAGE,
                                               nullable=True)
    P.integer(p, "amount_to_confirm", minimum=1)
    if pi["status"] in ("requires_payment_method", "requires_confirmation", "requires_action"):
        pi.update(changes)  # an unconfirmable intent is refused below, unchanged
    confirm_payment_intent(ctx, pi, P.string(p, "payment_method"))
    return ctx.render(pi)


def capture(ctx: "Ctx") -> Obj:
    p = ctx.params
    pi = ctx.get(TYPE, ctx.path["id"], kind="payment_intent")
    if pi["status"] != "requires_capture":
        raise errors.invalid(
            f"This PaymentIntent could not be captured because it has a status of "
            f"{pi['status']}. Only a PaymentIntent with one of the following statuses may be "
            "captured: requires_capture.", code="payment_intent_unexpected_state",
            payment_intent=pi)
    amount = P.integer(p, "amount_to_capture", minimum=1)
    if amount is not None and amount > pi["amount_capturable"]:
        raise errors.invalid(
            f"The amount_to_capture ({amount}) is greater than the amount_capturable "
            f"({pi['amount_capturable']}).", param="amount_to_capture",
            code="amount_too_large")
    changes = extras(p)
    for name in ("statement_descriptor", "statement_descriptor_suffix"):
        if name in p:
            changes[name] = P.string(p, name, max_length=22)
    if "metadata" in p:
        changes["metadata"] = P.apply_metadata(pi["metadata"], p)
    pi.update(changes)
    charge = ctx.get("charge", pi["latest_charge"])
    charges.capture_charge(ctx, charge, amount)
    pi["status"] = "succeeded"
    pi["amount_received"] = charge["amount_captured"]
    pi["amount_capturable"] = 0
    ctx.emit("payment_intent.succeeded", pi)
    return ctx.render(pi)


def cancel(ctx: "Ctx") -> Obj:
    p = ctx.params
    pi = ctx.get(TYPE, ctx.path["id"], kind="payment_intent")
    if pi["status"] in ("succeeded", "canceled", "processing"):
        raise errors.invalid(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
            "Only a PaymentIntent with one of the following statuses may be canceled: "
            "requires_payment_method, requires_capture, requires_confirmation, requires_action.",
            code="payment_intent_unexpected_state", payment_intent=pi)
    reason = P.enum(p, "cancellation_reason", CANCELLATION_REASONS)
    if pi["status"] == "requires_capture" and pi["latest_charge"]:
        charge = ctx.get("charge", pi["latest_charge"])
        # the authorization is released: Stripe refunds the uncaptured charge
        objects.change(ctx, charge, {"amount_refunded": charge["amount"], "refunded": True},
                       "charge.refunded")
    pi.update({"status": "canceled", "canceled_at": ctx.now(), "cancellation_reason": reason,
               "amount_capturable": 0})
    ctx.emit("payment_intent.canceled", pi)
    return ctx.render(pi)


def _card_option(pi: Obj, name: str) -> Any:
    return ((pi.get("payment_method_options") or {}).get("card") or {}).get(name)


def _card_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``payment_method_options[card][request_incremental_authorization]``, the card option
    the emulator acts on (increment_authorization), checked before anything is made."""
    card = (options or {}).get("card")
    if not isinstance(card, dict) or "request_incremental_authorization" not in card:
        return {}
    return {"request_incremental_authorization": P.enum(
        card, "request_incremental_authorization", ("if_available", "never"))}


def _not_in(pi: Obj, action: str, statuses: tuple[str, ...]) -> errors.APIError:
    return errors.invalid(
        f"This PaymentIntent's {action} could not be performed because it has a status of "
        f"{pi['status']}. Only a PaymentIntent with one of the following statuses may be "
        f"used: {', '.join(statuses)}.", code="payment_intent_unexpected_state",
        payment_intent=pi)


def increment_authorization(ctx: "Ctx") -> Obj:
    """Raise the authorized amount of an uncaptured card payment that allows it.

    ``amount`` is the new total; the charge's ``amount`` and the PaymentIntent's ``amount`` and
    ``amount_capturable`` follow (``charge.updated``, ``payment_intent.amount_capturable_updated``).
    """
    p = ctx.params
    pi = ctx.get(TYPE, ctx.path["id"], kind="payment_intent")
    amount = P.integer(p, "amount", required=True, minimum=1) or 0
    if pi["status"] != "requires_capture":
        raise _not_in(pi, "authorization", ("requires_capture",))
    charge = ctx.get("charge", pi["latest_charge"])
    incremental = charge["payment_method_details"]["card"]["incremental_authorization"]
    if incremental.get("status") != "available":
        raise errors.invalid(
            "This PaymentIntent's authorization cannot be incremented: confirm it with "
            "capture_method=manual and payment_method_options[card]"
            "[request_incremental_authorization]=if_available.", param="amount",
            payment_intent=pi)
    if amount <= pi["amount"]:
        raise errors.invalid(
            f"The amount ({amount}) must be greater than the PaymentIntent's currently "
            f"authorized amount ({pi['amount']}).", param="amount")
    currencies.check_charge_amount(amount, pi["currency"])
    changes: dict[str, Any] = {"amount": amount, "amount_capturable": amount}
    if "metadata" in p:
        changes["metadata"] = P.apply_metadata(pi["metadata"], p)
    if "description" in p:
        changes["description"] = P.string(p, "description", max_length=1000, nullable=True)
    if "statement_descriptor" in p:
        changes["statement_descriptor"] = P.string(p, "statement_descriptor", max_length=22)
    card = dict(charge["payment_method_details"]["card"])
    card["overcapture"] = dict(card["overcapture"], maximum_amount_capturable=amount)
    objects.change(ctx, charge, {"amount": amount, "payment_method_details": dict(
        charge["payment_method_details"], card=card)}, "charge.updated")
    objects.change(ctx, pi, changes, "payment_intent.amount_capturable_updated")
    return ctx.render(pi)


def apply_customer_balance(ctx: "Ctx") -> Obj:
    """Only PaymentIntents paid from a customer's cash balance take this; the emulator makes
    card PaymentIntents only, so every one gets Stripe's refusal (with the state it is in)."""
    p = ctx.params
    pi = ctx.get(TYPE, ctx.path["id"], kind="payment_intent")
    P.integer(p, "amount", minimum=1)
    P.string(p, "currency")
    allowed = ("requires_payment_method", "requires_action")
    if pi["status"] not in allowed:
        raise _not_in(pi, "customer balance application", allowed)
    raise errors.invalid(
        f"PaymentIntent {pi['id']} does not have customer_balance in its "
        "payment_method_types; only customer_balance PaymentIntents can be funded from a "
        "customer's cash balance (the emulator's PaymentIntents are card only).",
        code="payment_intent_invalid_parameter", param="payment_method_types",
        payment_intent=pi)


def verify_microdeposits(ctx: "Ctx") -> Obj:
    """Only us_bank_account / acss_debit PaymentIntents awaiting microdeposits take this; the
    emulator's PaymentIntents are card only, so each gets Stripe's state refusal."""
    p = ctx.params
    pi = ctx.get(TYPE, ctx.path["id"], kind="payment_intent")
    amounts = P.string_list(p, "amounts")
    descriptor = P.string(p, "descriptor_code", max_length=6)
    if amounts is None and descriptor is None:
        raise errors.invalid("Provide either amounts (the two microdeposit amounts) or "
                             "descriptor_code.", param="amounts", code="parameter_missing")
    raise errors.invalid(
        f"PaymentIntent {pi['id']} is not awaiting microdeposit verification (its status "
        f"is {pi['status']}); only us_bank_account or acss_debit PaymentIntents with "
        "next_action verify_with_microdeposits can be verified, and the emulator's "
        "PaymentIntents are card only.", code="payment_intent_unexpected_state",
        payment_intent=pi)


def list_(ctx: "Ctx") -> Obj:
    p = ctx.params
    coll = ctx.coll(TYPE)
    customer = P.string(p, "customer")
    customer_account = P.string(p, "customer_account")
    ids = coll.by("customer", customer) if customer else coll.ids()
    objects_, has_more = P.page(coll, ids, p, "/v1/payment_intents", None if not customer_account
                                else lambda o: o["customer_account"] == customer_account)
    return ctx.list_response(objects_, has_more, "/v1/payment_intents")


ROUTES = [
    Route("POST", "/v1/payment_intents", create, CREATE_PARAMS),
    Route("GET", "/v1/payment_intents", list_, P.LIST_PARAMS + ("customer", "customer_account")),
    Route("GET", "/v1/payment_intents/{id}", retrieve, ("client_secret",)),
    Route("POST", "/v1/payment_intents/{id}", update, UPDATE_PARAMS),
    Route("POST", "/v1/payment_intents/{id}/confirm", confirm, CONFIRM_PARAMS),
    Route("POST", "/v1/payment_intents/{id}/capture", capture, CAPTURE_PARAMS),
    Route("POST", "/v1/payment_intents/{id}/cancel", cancel, ("cancellation_reason",)),
    Route("POST", "/v1/payment_intents/{id}/increment_authorization", increment_authorization,
          ("amount", "application_fee_amount", "description", "metadata",
           "statement_descriptor", "transfer_data", "hooks", "amount_details",
           "payment_details")),
    Route("POST", "/v1/payment_intents/{id}/apply_customer_balance", apply_customer_balance,
          ("amount", "currency")),
    Route("POST", "/v1/payment_intents/{id}/verify_microdeposits", verify_microdeposits,
          ("amounts", "descriptor_code", "client_secret")),
]
