"""What a condition can see: the facts the services pass in and the typed names derived from them.

The services build a :class:`Facts` from the mirror (Stripe objects as Stripe sends them, plus the
desk's own knowledge: the customer's history, the order, evidence completeness, who the dispute is
assigned to). :func:`build_context` turns it into the flat, typed names of :data:`SCHEMA`; nothing
else is reachable from a condition. Every name may be missing for a given object (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping

from disputedesk.domain.money import Money
from disputedesk.rules.values import (
    ANY, BOOL, DURATION, GROUP, LIST, MONEY, NUMBER, STR, Duration, Fees, to_number,
)

TRIGGERS: tuple[str, ...] = (
    "dispute.created",
    "dispute.updated",
    "inquiry.created",
    "early_fraud_warning.created",
    "refund.failed",
    "deadline.approaching",
)
# Triggers whose subject is a dispute (chargeback or inquiry).
DISPUTE_TRIGGERS = frozenset({"dispute.created", "dispute.updated", "inquiry.created",
                              "deadline.approaching"})


@dataclass(frozen=True)
class CustomerFacts:
    """The customer's history as the desk's mirror knows it."""

    id: str | None = None
    email: str | None = None
    lifetime_value: Money | None = None  # total of their succeeded charges, net of refunds
    charge_count: int | None = None
    dispute_count: int | None = None     # disputes before this one


@dataclass(frozen=True)
class Facts:
    """Everything a rule may look at for one trigger, as the services know it right now.

    Stripe objects are plain dicts in Stripe's shape (``charge`` may also be expanded inside
    ``dispute["charge"]`` or ``early_fraud_warning["charge"]``).
    """

    dispute: Mapping[str, Any] | None = None
    charge: Mapping[str, Any] | None = None
    early_fraud_warning: Mapping[str, Any] | None = None
    refund: Mapping[str, Any] | None = None
    customer: CustomerFacts = field(default_factory=CustomerFacts)
    order: Mapping[str, Any] = field(default_factory=dict)
    evidence_completeness: int | None = None   # 0-100, from the evidence builder
    assigned_to: str | None = None             # the desk user working the case, if any
    manual_edits: bool = False                 # a person has edited the case's evidence by hand
    tags: tuple[str, ...] = ()
    done_actions: frozenset[str] = frozenset()  # action keys already carried out

    def charge_object(self) -> Mapping[str, Any] | None:
        if self.charge:
            return self.charge
        for holder in (self.dispute, self.early_fraud_warning, self.refund):
            inner = (holder or {}).get("charge")
            if isinstance(inner, Mapping):
                return inner
        return None


@dataclass(frozen=True)
class Name:
    """One name a condition may use."""

    name: str
    type: str
    doc: str


def _n(name: str, type_: str, doc: str) -> Name:
    return Name(name, type_, doc)


SCHEMA: tuple[Name, ...] = (
    _n("trigger", STR, "the trigger being evaluated, e.g. dispute.created"),
    _n("amount", MONEY, "the amount at stake: the dispute's amount for dispute triggers, the charge's "
       "amount for early_fraud_warning.created, the refund's amount for refund.failed"),
    _n("currency", STR, "lowercase ISO code of `amount`, e.g. usd"),
    _n("reason", STR, "dispute reason, verbatim from Stripe (fraudulent, product_not_received, ...)"),
    _n("network_reason_code", STR, "the card network's reason code, e.g. 10.4 (Visa) or 4837 (Mastercard)"),
    _n("card_brand", STR, "visa, mastercard, amex, discover, jcb, ..."),
    _n("card_country", STR, "two-letter country of the card, uppercase (US, DE, ...)"),
    _n("card_funding", STR, "credit, debit, prepaid or unknown"),
    _n("risk_level", STR, "Radar's charge.outcome.risk_level: normal, elevated, highest, not_assessed"),
    _n("risk_score", NUMBER, "Radar's charge.outcome.risk_score, 0-100"),
    _n("three_d_secure_result", STR, "authenticated, attempt_acknowledged, exempted, failed, "
       "not_supported, processing_error; none when 3-D Secure was not used"),
    _n("fraud_type", STR, "the early fraud warning's fraud_type (made_with_stolen_card, ...)"),
    _n("dispute_fee", MONEY, "the dispute received fee in `currency`, from the rules file's fee table"),
    _n("countered_fee", MONEY, "the dispute countered fee in `currency`, from the fee table"),
    _n("assigned_to", STR, "the desk user the case is assigned to; none when unassigned"),
    _n("manual_edits", BOOL, "true when a person has edited the case by hand"),
    _n("tags", LIST, "the desk's tags on the case"),
    _n("customer.id", STR, "Stripe customer id"),
    _n("customer.email", STR, "the customer's email"),
    _n("customer.lifetime_value", MONEY, "the customer's succeeded charges net of refunds"),
    _n("customer.charge_count", NUMBER, "number of the customer's charges"),
    _n("customer.dispute_count", NUMBER, "number of the customer's earlier disputes"),
    _n("evidence.completeness", NUMBER, "how complete the dispute's evidence is, 0-100"),
    _n("evidence.submission_count", NUMBER, "evidence_details.submission_count (0 or 1)"),
    _n("evidence.has_evidence", BOOL, "evidence_details.has_evidence"),
    _n("dispute.id", STR, "du_... id"),
    _n("dispute.status", STR, "needs_response, warning_needs_response, under_review, won, lost, ..."),
    _n("dispute.reason", STR, "same as `reason`"),
    _n("dispute.amount", MONEY, "the disputed amount"),
    _n("dispute.is_inquiry", BOOL, "true for inquiries (warning_* statuses)"),
    _n("dispute.is_charge_refundable", BOOL, "Stripe's is_charge_refundable"),
    _n("dispute.network_reason_code", STR, "same as `network_reason_code`"),
    _n("dispute.age", DURATION, "time since the dispute was created"),
    _n("dispute.time_to_due", DURATION, "time left until evidence_details.due_by (negative when past)"),
    _n("dispute.enhanced_eligibility_types", LIST, "e.g. [visa_compelling_evidence_3]"),
    _n("charge.id", STR, "ch_... id"),
    _n("charge.amount", MONEY, "the charge's amount"),
    _n("charge.amount_refunded", MONEY, "how much of it is already refunded"),
    _n("charge.refunded", BOOL, "true when fully refunded"),
    _n("charge.disputed", BOOL, "true when the charge has a dispute (or inquiry)"),
    _n("charge.captured", BOOL, "charge.captured"),
    _n("charge.refundable", BOOL, "succeeded, captured, not disputed and not fully refunded"),
    _n("charge.age", DURATION, "time since the charge was created"),
    _n("charge.outcome_type", STR, "charge.outcome.type: authorized, manual_review, ..."),
    _n("charge.description", STR, "charge.description"),
    _n("charge.receipt_email", STR, "charge.receipt_email"),
    _n("early_fraud_warning.id", STR, "issfr_... id"),
    _n("early_fraud_warning.fraud_type", STR, "same as `fraud_type`"),
    _n("early_fraud_warning.actionable", BOOL, "Stripe's actionable: not disputed, not fully refunded"),
    _n("refund.id", STR, "re_... id"),
    _n("refund.amount", MONEY, "the refund's amount"),
    _n("refund.status", STR, "pending, succeeded, failed, canceled, requires_action"),
    _n("refund.reason", STR, "duplicate, fraudulent, requested_by_customer, ..."),
    _n("refund.failure_reason", STR, "e.g. expired_or_canceled_card, lost_or_stolen_card"),
    _n("order", GROUP, "open group: the order record from the order source; order.<field> or "
       "order[\"field\"], nested groups allowed; values of any type"),
    _n("metadata", GROUP, "open group: the charge's metadata overlaid with the dispute's; "
       "metadata.<key> or metadata[\"key\"]; text values"),
)
SCHEMA_BY_NAME: Mapping[str, Name] = {n.name: n for n in SCHEMA}
# Groups whose members are fixed in SCHEMA (customer.x must be listed) vs open (order.anything).
FIXED_GROUPS = frozenset(n.name.split(".")[0] for n in SCHEMA if "." in n.name)
OPEN_GROUPS = frozenset({"order", "metadata"})
GROUP_MEMBER_TYPE = {"order": ANY, "metadata": STR}


def subject_id(trigger: str, facts: Facts) -> str | None:
    """Id of the object the trigger is about (dispute, early fraud warning or refund)."""
    holder = {"early_fraud_warning.created": facts.early_fraud_warning,
              "refund.failed": facts.refund}.get(trigger, facts.dispute)
    value = (holder or {}).get("id")
    return value if isinstance(value, str) and value else None


def _money(obj: Mapping[str, Any] | None, key: str = "amount") -> Money | None:
    if not obj:
        return None
    amount, currency = obj.get(key), obj.get("currency")
    if isinstance(amount, int) and not isinstance(amount, bool) and isinstance(currency, str):
        return Money(amount, currency)
    return None


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _since(created: Any, now: int) -> Duration | None:
    return Duration(int(now) - int(created)) if isinstance(created, int) and created else None


def _charge_ref(facts: Facts) -> str | None:
    """The charge id when the charge is not expanded (``"charge": "ch_..."``)."""
    for holder in (facts.dispute, facts.early_fraud_warning, facts.refund):
        value = (holder or {}).get("charge")
        if isinstance(value, str) and value:
            return value
    return None


def charge_refundable(charge: Mapping[str, Any] | None) -> bool | None:
    """Refunding is possible: succeeded, captured, not disputed, something left to refund."""
    if not charge:
        return None
    captured = charge.get("captured", True)
    status_ok = charge.get("status", "succeeded") == "succeeded" and charge.get("paid", True)
    left = (charge.get("amount_captured") or charge.get("amount") or 0) - (charge.get("amount_refunded") or 0)
    return bool(status_ok and captured and not charge.get("refunded") and not charge.get("disputed")
                and left > 0)


def build_context(trigger: str, facts: Facts, now: int,
                  fees: Mapping[str, Fees]) -> dict[str, Any]:
    """The values of every name in :data:`SCHEMA` (``None`` when unknown)."""
    dispute = facts.dispute or {}
    charge = facts.charge_object() or {}
    efw = facts.early_fraud_warning or {}
    refund = facts.refund or {}
    card = _dig(charge, "payment_method_details", "card") or {}
    dispute_card = _dig(dispute, "payment_method_details", "card") or {}
    evidence_details = dispute.get("evidence_details") or {}

    if trigger in DISPUTE_TRIGGERS:
        amount = _money(dispute) or _money(charge)
    elif trigger == "early_fraud_warning.created":
        amount = _money(charge)
    else:
        amount = _money(refund) or _money(charge)
    currency = amount.currency if amount else None
    fee = fees.get(currency) if currency else None
    status = dispute.get("status")
    due_by = evidence_details.get("due_by")
    country = card.get("country")
    metadata = {**(charge.get("metadata") or {}), **(dispute.get("metadata") or {})}
    charge_currency = charge.get("currency")

    values: dict[str, Any] = {
        "trigger": trigger,
        "amount": amount,
        "currency": currency,
        "reason": dispute.get("reason"),
        "network_reason_code": dispute.get("network_reason_code"),
        "card_brand": dispute_card.get("brand") or card.get("brand"),
        "card_country": country.upper() if isinstance(country, str) else None,
        "card_funding": card.get("funding"),
        "risk_level": _dig(charge, "outcome", "risk_level"),
        "risk_score": _dig(charge, "outcome", "risk_score"),
        "three_d_secure_result": _dig(card, "three_d_secure", "result"),
        "fraud_type": efw.get("fraud_type"),
        "dispute_fee": Money(fee.dispute, currency) if fee else None,
        "countered_fee": Money(fee.countered, currency) if fee else None,
        "assigned_to": facts.assigned_to,
        "manual_edits": bool(facts.manual_edits),
        "tags": tuple(facts.tags),
        "customer.id": facts.customer.id or (charge.get("customer") if isinstance(charge.get("customer"), str) else None),
        "customer.email": facts.customer.email or _dig(charge, "billing_details", "email") or charge.get("receipt_email"),
        "customer.lifetime_value": facts.customer.lifetime_value,
        "customer.charge_count": facts.customer.charge_count,
        "customer.dispute_count": facts.customer.dispute_count,
        "evidence.completeness": facts.evidence_completeness,
        "evidence.submission_count": evidence_details.get("submission_count"),
        "evidence.has_evidence": evidence_details.get("has_evidence"),
        "dispute.id": dispute.get("id"),
        "dispute.status": status,
        "dispute.reason": dispute.get("reason"),
        "dispute.amount": _money(dispute),
        "dispute.is_inquiry": (status.startswith("warning_") or dispute_card.get("case_type") == "inquiry")
        if isinstance(status, str) else None,
        "dispute.is_charge_refundable": dispute.get("is_charge_refundable"),
        "dispute.network_reason_code": dispute.get("network_reason_code"),
        "dispute.age": _since(dispute.get("created"), now),
        "dispute.time_to_due": Duration(int(due_by) - int(now)) if isinstance(due_by, int) and due_by else None,
        "dispute.enhanced_eligibility_types": tuple(dispute["enhanced_eligibility_types"])
        if isinstance(dispute.get("enhanced_eligibility_types"), list) else None,
        "charge.id": charge.get("id") or _charge_ref(facts),
        "charge.amount": _money(charge),
        "charge.amount_refunded": Money(charge.get("amount_refunded") or 0, charge_currency)
        if isinstance(charge_currency, str) else None,
        "charge.refunded": charge.get("refunded"),
        "charge.disputed": charge.get("disputed"),
        "charge.captured": charge.get("captured"),
        "charge.refundable": charge_refundable(charge),
        "charge.age": _since(charge.get("created"), now),
        "charge.outcome_type": _dig(charge, "outcome", "type"),
        "charge.description": charge.get("description"),
        "charge.receipt_email": charge.get("receipt_email"),
        "early_fraud_warning.id": efw.get("id"),
        "early_fraud_warning.fraud_type": efw.get("fraud_type"),
        "early_fraud_warning.actionable": efw.get("actionable"),
        "refund.id": refund.get("id"),
        "refund.amount": _money(refund),
        "refund.status": refund.get("status"),
        "refund.reason": refund.get("reason"),
        "refund.failure_reason": refund.get("failure_reason"),
        "order": normalize(dict(facts.order or {})),
        "metadata": {str(k): str(v) for k, v in metadata.items()},
    }
    return values


def normalize(value: Any) -> Any:
    """Order data as condition values: floats to exact decimals, lists to tuples, dicts stay groups."""
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(normalize(v) for v in value)
    if isinstance(value, float):
        return to_number(value)
    if isinstance(value, (bool, int, str, Decimal, Money, Duration)) or value is None:
        return value
    return str(value)
