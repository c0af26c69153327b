"""Every object the emulator returns has exactly the fields the installed stripe SDK declares
(nested objects too): nothing missing, nothing invented."""

from __future__ import annotations

import re
import typing
from typing import Any

import pytest

from disputedesk.emulator.render import is_optional
import stripe
from stripe import StripeObject

# Nested objects that carry ``type`` plus only the sub-hash named by it (Stripe sends one).
DISCRIMINATED = {
    stripe.Charge.PaymentMethodDetails,
    stripe.Refund.DestinationDetails,
}
# Per-payment-method-type maps: Stripe sends only the types in use (a subset).
PER_TYPE_MAPS = {stripe.PaymentIntent.PaymentMethodOptions}
# Fields Stripe sends only in some responses (documented in the SDK as such).
SOMETIMES = {
    (stripe.WebhookEndpoint, "secret"): "only in the create response",
    (stripe.WebhookEndpoint, "deleted"): "only in the delete response",
    (stripe.Event.Data, "previous_attributes"): "only on *.updated-style events",
}


def left_out(path: str, name: str) -> bool:
    """A missing field is right when the emulator declares it optional (Stripe leaves it out
    when unset; tests/emulator/conformance checks those declarations against Stripe's)."""
    top, _, rest = re.sub(r"\[\d+\]", "", path).partition(".")
    cls = getattr(stripe, top, None)
    object_type = getattr(cls, "OBJECT_NAME", None)
    return bool(object_type) and is_optional(object_type, f"{rest}.{name}" if rest else name)


def declared(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        hints.update(getattr(klass, "__annotations__", {}))
    return {k: v for k, v in hints.items() if not k.startswith("_") and k != "OBJECT_NAME"}


def nested_class(annotation: Any, owner: type) -> type | None:
    """The inner StripeObject class an annotation points at (through Optional/Union/List)."""
    if isinstance(annotation, type):
        if issubclass(annotation, StripeObject) and annotation.__qualname__.startswith(
                owner.__qualname__.split(".")[0] + "."):
            return annotation
        return None
    for arg in typing.get_args(annotation):
        found = nested_class(arg, owner)
        if found is not None:
            return found
    return None


def compare(obj: dict[str, Any], cls: type, path: str, problems: list[str]) -> None:
    fields = declared(cls)
    keys = set(obj)
    if cls in DISCRIMINATED:
        kind = obj.get("type")
        if kind not in fields or keys != {"type", kind}:
            problems.append(f"{path}: expected type + the '{kind}' hash, got {sorted(keys)}")
    elif cls not in PER_TYPE_MAPS:
        for name in sorted(set(fields) - keys):
            if (cls, name) not in SOMETIMES and not left_out(path, name):
                problems.append(f"{path}.{name} missing")
    for name in sorted(keys - set(fields)):
        problems.append(f"{path}.{name} is not declared by the SDK")
    for name in keys & set(fields):
        value = obj[name]
        inner = nested_class(fields[name], cls)
        if inner is None or name == "metadata":
            continue
        if isinstance(value, dict):
            compare(value, inner, f"{path}.{name}", problems)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    compare(item, inner, f"{path}.{name}[{i}]", problems)


def check(obj: Any, cls: type) -> None:
    problems: list[str] = []
    compare(obj.to_dict() if hasattr(obj, "to_dict") else obj, cls, cls.__name__, problems)
    assert problems == [], "\n".join(problems)


@pytest.fixture
def paid(client: Any) -> Any:
    return client.v1.payment_intents.create(params={
        "amount": 2500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})


def test_payment_intent_has_exactly_the_sdk_fields(client: Any, paid: Any) -> None:
    check(client.v1.payment_intents.retrieve(paid.id), stripe.PaymentIntent)


def test_declined_payment_intent_with_last_payment_error_has_exactly_the_sdk_fields(
        client: Any) -> None:
    with pytest.raises(stripe.CardError) as info:
        client.v1.payment_intents.create(params={
            "amount": 2500, "currency": "usd", "payment_method": "pm_card_chargeDeclined",
            "confirm": True})
    pi = client.v1.payment_intents.retrieve(info.value.error.payment_intent.id)
    assert pi.last_payment_error is not None
    check(pi, stripe.PaymentIntent)


def test_charge_has_exactly_the_sdk_fields(client: Any, paid: Any) -> None:
    check(client.v1.charges.retrieve(paid.latest_charge), stripe.Charge)


def test_refund_has_exactly_the_sdk_fields(client: Any, paid: Any) -> None:
    refund = client.v1.refunds.create(params={"payment_intent": paid.id, "amount": 100})
    check(refund, stripe.Refund)


def test_balance_transaction_has_exactly_the_sdk_fields(client: Any, paid: Any) -> None:
    charge = client.v1.charges.retrieve(paid.latest_charge)
    check(client.v1.balance_transactions.retrieve(charge.balance_transaction),
          stripe.BalanceTransaction)


def test_event_has_exactly_the_sdk_fields(client: Any, paid: Any) -> None:
    event = client.v1.events.list(params={"type": "payment_intent.succeeded"}).data[0]
    check(event, stripe.Event)


def test_webhook_endpoint_has_exactly_the_sdk_fields(client: Any) -> None:
    created = client.v1.webhook_endpoints.create(params={
        "url": "https://example.com/hook", "enabled_events": ["*"]})
    check(created, stripe.WebhookEndpoint)
    check(client.v1.webhook_endpoints.retrieve(created.id), stripe.WebhookEndpoint)
