"""Disputes, files and early fraud warnings carry exactly the fields the installed stripe SDK
declares (class annotations, nested classes too): nothing missing, nothing invented.

(PaymentIntent, Charge, Refund, BalanceTransaction and Event are checked the same way in
``test_object_fields.py``.)
"""

from __future__ import annotations

import io
import re
import typing
from typing import Any

import stripe
from stripe import StripeObject

# Nested hashes that carry ``type`` plus only the sub-hash that type names.
DISCRIMINATED = {stripe.Dispute.PaymentMethodDetails}
# Per-program maps: Stripe sends only the programs that apply to the dispute (``{}`` if none).
SUBSET = {stripe.Dispute.EvidenceDetails.EnhancedEligibility,
          stripe.Dispute.Evidence.EnhancedEvidence}


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


def inner_class(annotation: Any, owner: type) -> type | None:
    """The nested StripeObject class an annotation names (through Optional/List/Union)."""
    if isinstance(annotation, type):
        top = owner.__qualname__.split(".")[0] + "."
        if issubclass(annotation, StripeObject) and annotation.__qualname__.startswith(top):
            return annotation
        return None
    for arg in typing.get_args(annotation):
        found = inner_class(arg, owner)
        if found is not None:
            return found
    return None


def problems_of(obj: dict[str, Any], cls: type, path: str) -> list[str]:
    problems: list[str] = []
    fields = declared(cls)
    keys = set(obj)
    if cls in DISCRIMINATED:
        kind = obj.get("type")
        if kind not in fields or keys != {"type", kind}:
            problems.append(f"{path}: expected type + the '{kind}' hash, got {sorted(keys)}")
    elif cls not in SUBSET:
        problems += [f"{path}.{name} missing" for name in sorted(set(fields) - keys)
                     if not left_out(path, name)]
    problems += [f"{path}.{name} is not declared by the SDK" for name in sorted(keys - set(fields))]
    for name in sorted(keys & set(fields)):
        inner = inner_class(fields[name], cls)
        value = obj[name]
        if inner is None or name == "metadata":
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, dict):
                where = f"{path}.{name}" + (f"[{i}]" if isinstance(value, list) else "")
                problems += problems_of(item, inner, where)
    return problems


def check(obj: Any, cls: type) -> None:
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    assert problems_of(data, cls, cls.__name__) == []


def disputed(client: Any, emulator: Any, card: str) -> Any:
    pi = client.v1.payment_intents.create(params={
        "amount": 5000, "currency": "usd", "payment_method": card, "confirm": True})
    emulator.advance(1)
    return client.v1.disputes.list(params={"payment_intent": pi.id}).data[0]


def upload(client: Any, **extra: Any) -> Any:
    f = io.BytesIO(b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF")
    f.name = "receipt.pdf"
    return client.v1.files.create(params={"file": f, "purpose": "dispute_evidence", **extra})


def test_new_chargeback_has_exactly_the_sdk_fields(client: Any, emulator: Any) -> None:
    dispute = disputed(client, emulator, "pm_card_createDispute")
    check(dispute, stripe.Dispute)
    for txn in dispute.balance_transactions:
        check(txn, stripe.BalanceTransaction)


def test_ce3_dispute_with_enhanced_evidence_has_exactly_the_sdk_fields(client: Any,
                                                                       emulator: Any) -> None:
    dispute = disputed(client, emulator, "pm_card_createCe3EligibleDispute")
    tx = {"customer_purchase_ip": "10.0.0.1", "product_description": "Mug",
          "customer_email_address": "a@example.com",
          "shipping_address": {"line1": "1 Main St", "city": "Springfield", "country": "US",
                               "postal_code": "12345", "state": "IL"}}
    updated = client.v1.disputes.update(dispute.id, params={"submit": False, "evidence": {
        "enhanced_evidence": {"visa_compelling_evidence_3": {
            "disputed_transaction": dict(tx, merchandise_or_services="merchandise"),
            "prior_undisputed_transactions": [dict(tx, charge="ch_1"), dict(tx, charge="ch_2")],
        }},
        "appeal": {"card": {"reason_for_filing": "late presentment"}},
    }})
    assert updated.evidence_details.enhanced_eligibility.visa_compelling_evidence_3.status \
        == "qualified"
    check(updated, stripe.Dispute)


def test_won_dispute_with_file_evidence_has_exactly_the_sdk_fields(client: Any,
                                                                  emulator: Any) -> None:
    dispute = disputed(client, emulator, "pm_card_createDispute")
    receipt = upload(client)
    client.v1.disputes.update(dispute.id, params={"evidence": {
        "receipt": receipt.id, "uncategorized_text": "winning_evidence"}})
    emulator.advance(10)
    won = client.v1.disputes.retrieve(dispute.id, params={"expand": ["evidence.receipt"]})
    assert won.status == "won"
    data = won.to_dict()
    check(data["evidence"]["receipt"], stripe.File)
    data["evidence"]["receipt"] = receipt.id
    check(data, stripe.Dispute)


def test_inquiry_has_exactly_the_sdk_fields(client: Any, emulator: Any) -> None:
    check(disputed(client, emulator, "pm_card_createDisputeInquiry"), stripe.Dispute)


def test_file_and_its_links_have_exactly_the_sdk_fields(client: Any) -> None:
    f = upload(client, file_link_data={"create": True})
    data = f.to_dict()
    for link in data["links"]["data"]:
        check(link, stripe.FileLink)
    assert set(data["links"]) == {"object", "data", "has_more", "url"}
    data["links"] = None
    check(data, stripe.File)
    check(client.v1.files.retrieve(f.id).to_dict() | {"links": None}, stripe.File)


def test_early_fraud_warning_has_exactly_the_sdk_fields(client: Any, emulator: Any) -> None:
    client.v1.payment_intents.create(params={
        "amount": 5000, "currency": "usd", "payment_method": "pm_card_createEarlyFraudWarning",
        "confirm": True})
    emulator.advance(1)
    (efw,) = client.v1.radar.early_fraud_warnings.list().data
    check(efw, stripe.radar.EarlyFraudWarning)


def test_dispute_events_carry_a_complete_dispute(client: Any, emulator: Any) -> None:
    dispute = disputed(client, emulator, "pm_card_createDispute")
    events = client.v1.events.list(params={"type": "charge.dispute.created"})
    (event,) = [e for e in events.data if e.data.object.id == dispute.id]
    check(event.data.object, stripe.Dispute)
