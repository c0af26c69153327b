"""Which evidence wins which dispute: a template per Stripe reason and product type, and a score.

The recommendations follow Stripe's dispute categories page and best practices
(docs.stripe.com/disputes/categories): each item names a Stripe evidence field, whether it is
``required`` (the case is weak without it) or ``recommended``, and why. Completeness is a weighted
score, 0-100, with the missing fields named.

(The merchant-editable *text* templates are the files in the ``templates/`` folder next to this
module; they are rendered by :mod:`disputedesk.evidence.composer`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from disputedesk.domain.disputes import BANK_DEBIT_REASONS, REASONS
from disputedesk.errors import ValidationError
from disputedesk.evidence.limits import EVIDENCE_FIELDS

PRODUCT_TYPES = ("physical_goods", "digital_goods", "services")
REQUIRED = "required"
RECOMMENDED = "recommended"
WEIGHTS = {REQUIRED: 3, RECOMMENDED: 1}


@dataclass(frozen=True)
class EvidenceItem:
    field: str
    importance: str  # required | recommended
    why: str

    @property
    def weight(self) -> int:
        return WEIGHTS[self.importance]


@dataclass(frozen=True)
class EvidenceTemplate:
    reason: str
    product_type: str
    items: tuple[EvidenceItem, ...]
    advice: str
    contestable: bool = True  # False: evidence rarely changes the outcome (bank-debit returns)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(i.field for i in self.items)

    def item(self, field: str) -> EvidenceItem | None:
        return next((i for i in self.items if i.field == field), None)


@dataclass(frozen=True)
class Missing:
    field: str
    importance: str
    why: str


@dataclass(frozen=True)
class Completeness:
    score: int                      # 0-100, weighted: required 3, recommended 1
    filled: tuple[str, ...]
    missing: tuple[Missing, ...]

    @property
    def missing_required(self) -> tuple[str, ...]:
        return tuple(m.field for m in self.missing if m.importance == REQUIRED)

    @property
    def missing_fields(self) -> tuple[str, ...]:
        return tuple(m.field for m in self.missing)


# --- the reasons every item refers to: one sentence per field, reused across templates -----------
WHY: dict[str, str] = {
    "customer_name": "ties the cardholder to the order",
    "customer_email_address": "shows the order came from an address the cardholder uses",
    "billing_address": "an AVS-verified billing address shows the cardholder's own details were used",
    "customer_purchase_ip": "places the purchase at the customer's usual location or device",
    "shipping_address": "must match the AVS-verified billing address to rebut fraud",
    "shipping_date": "shows when the goods left",
    "shipping_carrier": "lets the issuer verify the delivery",
    "shipping_tracking_number": "Stripe expands it into the carrier's delivery history",
    "shipping_documentation": "proof of delivery to the customer's address (label, carrier proof)",
    "customer_signature": "a signature on delivery or on a contract is hard to dispute",
    "access_activity_log": "shows the customer used or downloaded what they bought (IPs, times)",
    "service_date": "shows when the service was provided",
    "service_documentation": "proof the service was provided (contract, work order, sign-off)",
    "product_description": "what was sold, as described before purchase",
    "receipt": "the receipt the customer was sent for the charge",
    "customer_communication": "shows whether the customer contacted you first and what was said",
    "uncategorized_text": "the rebuttal letter: the facts in a few short paragraphs",
    "uncategorized_file": "documents that do not fit another field",
    "refund_policy": "your refund policy as shown to the customer",
    "refund_policy_disclosure": "how and when the customer saw the refund policy before paying",
    "refund_refusal_explanation": "why the customer is not owed a refund under that policy",
    "cancellation_policy": "your cancellation policy as shown to the customer",
    "cancellation_policy_disclosure": "how and when the customer saw the cancellation terms",
    "cancellation_rebuttal": "why the subscription was not cancelled (no request, after renewal, ...)",
    "duplicate_charge_id": "the earlier charge that looks like a duplicate",
    "duplicate_charge_explanation": "how the two charges differ (two orders, two deliveries)",
    "duplicate_charge_documentation": "a receipt or label for the earlier charge proving it separate",
}


def _items(required: Iterable[str], recommended: Iterable[str],
           why: Mapping[str, str] | None = None) -> tuple[EvidenceItem, ...]:
    why = {**WHY, **(why or {})}
    out: list[EvidenceItem] = []
    seen: set[str] = set()
    for importance, names in ((REQUIRED, required), (RECOMMENDED, recommended)):
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            out.append(EvidenceItem(name, importance, why[name]))
    return tuple(out)


_COMMON = ("customer_communication", "uncategorized_text")

_FRAUD = {
    "physical_goods": (
        ("customer_name", "billing_address", "shipping_address", "shipping_tracking_number",
         "shipping_documentation"),
        ("shipping_date", "shipping_carrier", "customer_signature", "customer_email_address",
         "customer_purchase_ip", "receipt") + _COMMON,
    ),
    "digital_goods": (
        ("customer_name", "customer_email_address", "customer_purchase_ip", "access_activity_log"),
        ("billing_address", "product_description", "receipt") + _COMMON,
    ),
    "services": (
        ("customer_name", "customer_email_address", "service_date", "service_documentation"),
        ("billing_address", "customer_purchase_ip", "customer_signature", "receipt") + _COMMON,
    ),
}
_FRAUD_ADVICE = (
    "Prove the cardholder made or benefited from the purchase. Also state in the rebuttal: earlier "
    "undisputed payments on the same card, a passed AVS/CVC check (or one not checked yet approved), "
    "and a 3-D Secure liability shift (Stripe adds the ECI). For Visa 10.4, fill Compelling Evidence "
    "3.0 as well."
)

_NOT_RECEIVED = {
    "physical_goods": (
        ("shipping_address", "shipping_date", "shipping_carrier", "shipping_tracking_number",
         "shipping_documentation"),
        ("customer_signature", "product_description", "receipt") + _COMMON,
    ),
    "digital_goods": (
        ("customer_purchase_ip", "customer_email_address", "access_activity_log"),
        ("customer_name", "product_description", "receipt") + _COMMON,
    ),
    "services": (
        ("service_date", "service_documentation"),
        ("customer_name", "customer_email_address", "product_description", "receipt") + _COMMON,
    ),
}


def _product_specific(product_type: str) -> tuple[str, ...]:
    return {
        "physical_goods": ("shipping_documentation", "shipping_tracking_number"),
        "digital_goods": ("access_activity_log",),
        "services": ("service_date", "service_documentation"),
    }[product_type]


def _build(reason: str, product_type: str) -> EvidenceTemplate:
    p = product_type
    if reason in ("fraudulent", "unrecognized"):
        req, rec = _FRAUD[p]
        advice = _FRAUD_ADVICE if reason == "fraudulent" else (
            "Treated like fraud: show the customer made the purchase and would recognise it "
            "(statement descriptor, receipt). " + _FRAUD_ADVICE)
        return EvidenceTemplate(reason, p, _items(req, rec), advice)
    if reason == "product_not_received":
        req, rec = _NOT_RECEIVED[p]
        return EvidenceTemplate(reason, p, _items(req, rec), (
            "Prove delivery (or access). Say so if the agreed delivery date has not passed, the parcel "
            "is held in customs, or part of the order was delivered."))
    if reason == "product_unacceptable":
        req = ["product_description", "refund_policy", "refund_policy_disclosure"]
        rec = ["receipt", "refund_refusal_explanation", *_COMMON]
        if p == "digital_goods":
            req.append("access_activity_log")
        elif p == "physical_goods":
            rec.insert(0, "shipping_documentation")
        else:
            rec[:0] = ["service_date", "service_documentation"]
        return EvidenceTemplate(reason, p, _items(req, rec), (
            "Show the product was as described before purchase, that the customer did not use your "
            "return process, or that a replacement or partial refund was given."))
    if reason == "subscription_canceled":
        req = ["cancellation_policy", "cancellation_policy_disclosure", "cancellation_rebuttal"]
        rec = ["product_description", "receipt", *_COMMON]
        if p == "digital_goods":
            rec.insert(0, "access_activity_log")
        elif p == "services":
            rec[:0] = ["service_date", "service_documentation"]
        return EvidenceTemplate(reason, p, _items(req, rec, {
            "customer_communication": "renewal notices and any contact about cancelling",
            "access_activity_log": "use of the service after the claimed cancellation",
        }), (
            "Show the customer agreed to the renewal terms and did not cancel (or used the product "
            "after cancelling). Check the payment was truly recurring: Visa 13.2 needs the cardholder "
            "to have revoked the credential."))
    if reason == "credit_not_processed":
        req = ["refund_policy", "refund_policy_disclosure", "refund_refusal_explanation"]
        rec = ["receipt", *_COMMON]
        if p in ("digital_goods", "services"):
            rec[:0] = ["cancellation_policy", "cancellation_policy_disclosure"]
        return EvidenceTemplate(reason, p, _items(req, rec), (
            "Show the refund was made (attach proof) or why none is owed under the policy the "
            "customer accepted."))
    if reason == "duplicate":
        req = ["duplicate_charge_id", "duplicate_charge_explanation", "duplicate_charge_documentation"]
        proof = {"physical_goods": ["shipping_documentation"], "digital_goods": ["receipt"],
                 "services": ["service_documentation"]}[p]
        return EvidenceTemplate(reason, p, _items(req, [*proof, "receipt", *_COMMON], {
            "shipping_documentation": "a delivery for each of the two charges shows two orders",
            "service_documentation": "a service record for each of the two charges",
        }), "Show the two charges paid for two different orders, or that the duplicate was refunded.")
    if reason == "general":
        return EvidenceTemplate(reason, p, _items(
            ["uncategorized_text"],
            ["customer_communication", "product_description", "receipt", "customer_name",
             "customer_email_address", *_product_specific(p), "refund_policy_disclosure"]),
            "Uncategorised (rare for cards): contact the customer to learn the real claim and answer it.")
    if reason == "noncompliant":
        return EvidenceTemplate(reason, p, _items(
            ["uncategorized_text", "uncategorized_file"],
            ["customer_communication", "receipt", "product_description"]),
            "Visa compliance case: countering requires enhanced_evidence.visa_compliance."
            "fee_acknowledged=true (Stripe collects a 500 USD network fee, refunded if you win).")
    if reason == "debit_not_authorized":
        return EvidenceTemplate(reason, p, _items(
            ["customer_signature", "customer_name"],
            ["billing_address", "customer_email_address", "receipt", *_COMMON],
            {"customer_signature": "the signed mandate authorising the debit"}),
            "Bank-debit return: show the signed mandate. The bank usually decides without the "
            "merchant; evidence rarely changes the outcome.", contestable=False)
    if reason == "customer_initiated":
        return EvidenceTemplate(reason, p, _items(
            ["uncategorized_text"],
            ["customer_communication", "receipt", "product_description", "customer_name",
             "customer_email_address", *_product_specific(p), "refund_policy_disclosure"]),
            "The customer asked their bank to reverse the debit: show what was delivered and ask "
            "the customer to pay another way.", contestable=False)
    if reason in BANK_DEBIT_REASONS:  # insufficient_funds, bank_cannot_process, ...
        return EvidenceTemplate(reason, p, _items(
            [], ["customer_name", "customer_email_address", "receipt", "uncategorized_text"]),
            "A bank-debit return, not a claim against you: evidence cannot change it. Collect the "
            "payment again with another payment method.", contestable=False)
    raise ValidationError(f"unknown dispute reason '{reason}'", param="reason",
                          hint=f"one of: {', '.join(REASONS)}")


_TEMPLATES: dict[tuple[str, str], EvidenceTemplate] = {
    (r, p): _build(r, p) for r in REASONS for p in PRODUCT_TYPES
}


def template_for(reason: str, product_type: str = "physical_goods") -> EvidenceTemplate:
    """The evidence template for a Stripe ``reason`` and a product type; unknown reasons (Stripe
    treats ``reason`` as an open set) fall back to ``general``."""
    if product_type not in PRODUCT_TYPES:
        raise ValidationError(f"unknown product type '{product_type}'", param="product_type",
                              hint=f"one of: {', '.join(PRODUCT_TYPES)}")
    return _TEMPLATES.get((reason, product_type)) or _TEMPLATES[("general", product_type)]


def all_templates() -> list[EvidenceTemplate]:
    return list(_TEMPLATES.values())


def _is_filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value)


def completeness(template: EvidenceTemplate, evidence: Mapping[str, Any],
                 attached: Iterable[str] = ()) -> Completeness:
    """Score ``evidence`` (field -> value, file fields holding a file id) against ``template``.

    ``attached`` names file fields that have a document waiting to be uploaded: they count as filled.
    """
    attached = set(attached)
    unknown = (set(evidence) | attached) - EVIDENCE_FIELDS
    if unknown:
        raise ValidationError(f"not Stripe evidence fields: {', '.join(sorted(unknown))}",
                              param=sorted(unknown)[0], hint="use Stripe's evidence field names")
    filled, missing = [], []
    got = total = 0
    for item in template.items:
        total += item.weight
        if item.field in attached or _is_filled(evidence.get(item.field)):
            got += item.weight
            filled.append(item.field)
        else:
            missing.append(Missing(item.field, item.importance, item.why))
    score = 100 if total == 0 else round(100 * got / total)
    # Required fields first, then recommended, each in template order.
    missing.sort(key=lambda m: m.importance != REQUIRED)
    return Completeness(score=score, filled=tuple(filled), missing=tuple(missing))
