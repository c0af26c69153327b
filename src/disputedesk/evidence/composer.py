"""Choose a dispute's evidence fields from the records the desk holds, and say where each came from.

Inputs are Stripe-shaped dicts (the dispute, its charge, the customer's other charges, refunds)
and the merchant's order as a plain dict. The order keys the composer reads (all optional)::

    id, customer_name, customer_email, customer_account_id, customer_purchase_ip (or ip),
    device_fingerprint, device_id, product_type, product_description,
    items: [{name, description, quantity}], service_date,
    shipping: {address: {line1, line2, city, state, postal_code, country}, carrier,
               tracking_number (str or list), shipped_at, delivered_at},
    access_log: [{at, ip, action, detail}], terms_accepted_at, renewal_notice_sent_at,
    customer_contacted_support (bool), cancellation_requested (bool), cancelled_at,
    duplicate_charge_id, and any Stripe evidence text field by its own name.

The order of precedence: evidence already on the dispute at Stripe (``stripe``) is kept and never
replaced by composition; a person's edit (``manual``) has the last word; in between, the order,
the charge, the customer's history and the text templates fill what is empty. Text from templates
is made of claims (:mod:`.rendering`), each written only when the facts it names are present
(:mod:`.facts`). Scoring is :func:`disputedesk.evidence.templates.completeness`, counting only
backed fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from disputedesk.domain.disputes import FRAUD_REASONS, network_reason_code
from disputedesk.domain.money import format_money
from disputedesk.errors import ValidationError
from disputedesk.evidence.facts import (
    FACTS,
    Fact,
    HistorySummary,
    ProductTypeGuess,
    _join,
    charge_checks,
    customer_history,
    find_duplicate_candidate,
    gather_facts,
    human_date,
    human_datetime,
    infer_product_type,
    is_paid,
    source_label,
    to_epoch,
)
from disputedesk.evidence.identifiers import DEFAULT_KEYS, MetadataKeys, charge_identifiers, format_address
from disputedesk.evidence.limits import FILE_FIELDS, LONG_TEXT_MAX, TEXT_FIELDS, text_limit
from disputedesk.evidence.rendering import (
    MAX_TEMPLATE_SOURCE,
    TEXT_TEMPLATE_NAMES,
    Claim,
    Rendered,
    TextTemplates,
    default_template_source,
)
from disputedesk.evidence.templates import (
    PRODUCT_TYPES,
    Completeness,
    EvidenceTemplate,
    Missing,
    completeness,
    template_for,
)

__all__ = [
    "FACTS", "MAX_TEMPLATE_SOURCE", "SOURCES", "TEXT_TEMPLATE_NAMES", "Claim", "ComposedEvidence",
    "HistorySummary", "TextTemplates", "charge_checks", "compose_evidence", "customer_history",
    "default_template_source", "find_duplicate_candidate", "human_date", "human_datetime",
    "is_paid", "stripe_evidence", "to_epoch",
]

SOURCES = ("stripe", "charge", "order", "history", "template", "manual")
# Sources that back a field for the score: a record, or a person's explicit statement.
BACKED_SOURCES = frozenset({"stripe", "charge", "order", "history", "manual", "upload",
                            "summary", "merchant"})
# The text field each template fills, and whether the reason's evidence template must list it.
TEMPLATE_FIELDS = {
    "refund_policy_disclosure": "refund_policy_disclosure",
    "cancellation_policy_disclosure": "cancellation_policy_disclosure",
    "refund_refusal_explanation": "refund_refusal_explanation",
    "cancellation_rebuttal": "cancellation_rebuttal",
    "rebuttal_letter": "uncategorized_text",
}


@dataclass
class ComposedEvidence:
    dispute_id: str | None
    reason: str
    product_type: str
    template: EvidenceTemplate
    fields: dict[str, str]
    sources: dict[str, str]
    attached: dict[str, str] = field(default_factory=dict)  # file field -> source of the document
    completeness: Completeness | None = None
    notes: list[str] = field(default_factory=list)
    claims: dict[str, list[Claim]] = field(default_factory=dict)   # text field -> its sentences
    records: dict[str, str] = field(default_factory=dict)          # field -> the record behind it
    to_add: list[dict[str, str]] = field(default_factory=list)     # facts missing, what to add
    facts: dict[str, Fact] = field(default_factory=dict)
    stripe: dict[str, Any] = field(default_factory=dict)           # evidence already on Stripe
    product_type_source: str = ""
    unbacked: list[str] = field(default_factory=list)              # template fields not scored

    @property
    def score(self) -> int:
        return self.completeness.score if self.completeness else 0

    @property
    def missing(self) -> tuple[Missing, ...]:
        return self.completeness.missing if self.completeness else ()

    def to_params(self) -> dict[str, str]:
        """The text part of ``evidence[...]`` for ``POST /v1/disputes/{id}`` (files added later)."""
        return {k: v for k, v in self.fields.items() if v}

    def provenance(self) -> dict[str, Any]:
        """Per field the record it came from, and per sentence of template text its sources."""
        return {name: {"source": self.sources.get(name), "record": self.records.get(name),
                       "claims": [c.to_dict() for c in self.claims.get(name, [])]}
                for name in self.fields}


def stripe_evidence(dispute: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The evidence already on the dispute at Stripe: (text fields, file fields -> file id)."""
    evidence = dispute.get("evidence") if isinstance(dispute.get("evidence"), Mapping) else {}
    text = {k: str(v) for k, v in evidence.items() if k in TEXT_FIELDS and isinstance(v, str) and v.strip()}
    files = {k: (v if isinstance(v, str) else v.get("id")) for k, v in evidence.items()
             if k in FILE_FIELDS and v and (isinstance(v, str) or isinstance(v, Mapping))}
    return text, {k: v for k, v in files.items() if v}


def _reason_text(reason: str) -> str:
    return reason.replace("_", " ")


def _access_log(entries: Iterable[Mapping[str, Any]]) -> str | None:
    lines = []
    for e in sorted(entries, key=lambda e: to_epoch(e.get("at")) or 0):
        parts = [human_datetime(e.get("at")), e.get("ip") or "", e.get("action") or "access",
                 e.get("detail") or ""]
        lines.append("  ".join(str(p) for p in parts if p))
    if not lines:
        return None
    # Keep the newest activity if the log is longer than the field allows.
    out, size = [], 0
    for ln in reversed(lines):
        if size + len(ln) + 1 > LONG_TEXT_MAX - 80:
            out.append(f"... {len(lines) - len(out)} earlier entries omitted")
            break
        out.append(ln)
        size += len(ln) + 1
    return "\n".join(reversed(out))


def _product_description(order: Mapping[str, Any]) -> str | None:
    if order.get("product_description"):
        return str(order["product_description"]).strip()
    items = order.get("items") or []
    lines = []
    for item in items:
        qty = item.get("quantity")
        head = f"{qty} x {item.get('name')}" if qty else str(item.get("name") or "")
        desc = item.get("description")
        lines.append(f"{head}: {desc}" if desc else head)
    return "\n".join(ln for ln in lines if ln) or None


# Facts that do not fit a product type: not asked for (a course has no parcel to deliver).
_NOT_FOR = {
    "physical_goods": frozenset({"service_record", "access_log"}),
    "digital_goods": frozenset({"shipment", "shipped", "delivery", "service_record"}),
    "services": frozenset({"shipment", "shipped", "delivery", "access_log"}),
}


def _advice(template: EvidenceTemplate, wanted: Iterable[tuple[str, ...]],
            facts: Mapping[str, Fact], missing_fields: Iterable[str]) -> list[dict[str, str]]:
    """What to add, for each fact a left-out statement needed, and for each missing file field."""
    out: dict[str, dict[str, str]] = {}
    skip = _NOT_FOR.get(template.product_type, frozenset())
    for names in wanted:
        for name in names:
            info = FACTS[name]
            if name in skip:
                continue
            if name not in facts and name not in out and not info.to_add.startswith("nothing"):
                out[name] = {"fact": name, "field": "", "meaning": info.meaning, "add": info.to_add}
    for name in missing_fields:
        if name in FILE_FIELDS:
            item = template.item(name)
            out["file:" + name] = {"fact": "", "field": name, "meaning": item.why if item else name,
                                   "add": f"attach a document to {name}"}
    return list(out.values())


def compose_evidence(
    dispute: Mapping[str, Any],
    charge: Mapping[str, Any],
    *,
    history: Iterable[Mapping[str, Any]] = (),
    order: Mapping[str, Any] | None = None,
    order_label: str | None = None,
    product_type: str | None = None,
    product_type_source: str | None = None,
    merchant: Mapping[str, Any] | None = None,
    text_templates: TextTemplates | None = None,
    manual: Mapping[str, str | None] | None = None,
    attachments: Mapping[str, str] | Iterable[str] = (),
    refunds: Iterable[Mapping[str, Any]] = (),
    keys: MetadataKeys = DEFAULT_KEYS,
) -> ComposedEvidence:
    """Fill the evidence fields for ``dispute`` and score them against the reason's template.

    ``manual`` values win over composed ones (``None`` or ``""`` clears a field). ``attachments``
    names file fields with a document ready (mapping field -> source, or just the field names).
    ``product_type`` is a person's choice; without it the type is inferred from the order, the
    charge's metadata and its description (the guess and its basis are in the result).
    """
    order = dict(order or {})
    merchant = dict(merchant or {})
    history = list(history)
    text_templates = text_templates or TextTemplates()
    reason = str(dispute.get("reason") or "general")
    if product_type:
        guess = ProductTypeGuess(product_type, product_type_source or "chosen by a person", False)
    else:
        guess = infer_product_type(charge, order, order_label, known=PRODUCT_TYPES)
    product_type = guess.product_type
    if product_type not in PRODUCT_TYPES:
        raise ValidationError(f"unknown product type '{product_type}'", param="product_type",
                              hint=f"one of: {', '.join(PRODUCT_TYPES)}")
    template = template_for(reason, product_type)
    ids = charge_identifiers(charge, keys)
    order_ids = charge_identifiers({}, keys, order)

    fields: dict[str, str] = {}
    sources: dict[str, str] = {}

    def put(name: str, value: Any, source: str) -> None:
        text = _join(value)
        if text and name not in fields:
            fields[name] = text
            sources[name] = source

    # What Stripe already holds first: the desk adds to it and never silently replaces it.
    on_stripe_text, on_stripe_files = stripe_evidence(dispute)
    for name, value in on_stripe_text.items():
        put(name, value, "stripe")

    # The merchant's order: it is the record of what was sold and shipped.
    put("customer_name", order_ids.name, "order")
    put("customer_email_address", order_ids.email, "order")
    put("customer_purchase_ip", order_ids.ip, "order")
    shipping = order.get("shipping") if isinstance(order.get("shipping"), Mapping) else {}
    put("shipping_address", format_address(order_ids.shipping_address), "order")
    put("shipping_carrier", shipping.get("carrier"), "order")
    put("shipping_tracking_number", shipping.get("tracking_number") or shipping.get("tracking_numbers"), "order")
    if shipping.get("shipped_at"):
        put("shipping_date", human_date(shipping["shipped_at"]), "order")
    if order.get("service_date"):
        put("service_date", human_date(order["service_date"]), "order")
    put("product_description", _product_description(order), "order")
    if order.get("access_log"):
        put("access_activity_log", _access_log(order["access_log"]), "order")
    for name in sorted(TEXT_FIELDS):
        if name in order and name not in ("shipping_address", "service_date", "shipping_date"):
            put(name, order[name], "order")

    # Then the charge: what Stripe recorded at payment time.
    put("customer_name", ids.name, "charge")
    put("customer_email_address", ids.email, "charge")
    put("billing_address", format_address(ids.billing_address), "charge")
    put("customer_purchase_ip", ids.ip, "charge")
    put("shipping_address", format_address(ids.shipping_address), "charge")
    put("product_description", charge.get("description"), "charge")

    # The customer's history (the same customer's charges, never a card shared across customers).
    summary = customer_history(charge, history)
    twin_fact = None
    if reason == "duplicate":
        twin = find_duplicate_candidate(charge, history)
        if twin is not None:
            twin_order = (twin.get("metadata") or {}).get(keys.order_id[0])
            this_order = order.get("id") or (charge.get("metadata") or {}).get(keys.order_id[0])
            if twin_order and this_order and twin_order != this_order:
                put("duplicate_charge_id", twin.get("id"), "history")
                twin_fact = {"id": twin.get("id"), "order": twin_order, "created": twin.get("created")}
                put("duplicate_charge_explanation",
                    f"Charge {twin.get('id')} of {human_date(twin.get('created'))} paid for order "
                    f"{twin_order}; the disputed charge {charge.get('id')} of "
                    f"{human_date(charge.get('created'))} paid for a separate order, {this_order}.",
                    "history")
                if not order.get("id"):
                    order.setdefault("id", this_order)

    attached = dict(attachments) if isinstance(attachments, Mapping) else {f: "manual" for f in attachments}
    bad = set(attached) - FILE_FIELDS
    if bad:
        raise ValidationError(f"not evidence file fields: {', '.join(sorted(bad))}", param=sorted(bad)[0],
                              hint="attach documents to file fields such as shipping_documentation")
    for name in on_stripe_files:
        attached.setdefault(name, "stripe")

    # Facts for the claims of the text templates, each with the record behind it.
    checks = charge_checks(charge)
    device = order_ids.device_id or order_ids.device_fingerprint or ids.device_id or ids.device_fingerprint
    facts = gather_facts(dispute, charge, summary=summary, checks=checks, fields=fields, device=device,
                         sources=sources, attached=attached, order=order, order_label=order_label,
                         merchant=merchant, refunds=refunds, twin=twin_fact)
    currency = str(dispute.get("currency") or charge.get("currency") or "usd")
    context = {
        "merchant": merchant,
        "dispute": {
            "id": dispute.get("id"), "reason": reason, "reason_text": _reason_text(reason),
            "status": dispute.get("status"), "amount": dispute.get("amount"), "currency": currency,
            "created": int(dispute.get("created") or 0),
            "amount_text": format_money(int(dispute.get("amount") or 0), currency),
            "network_reason_code": network_reason_code(dispute),
        },
        "charge": {
            "id": charge.get("id"), "created": int(charge.get("created") or 0),
            "amount_text": format_money(int(charge.get("amount") or 0), str(charge.get("currency") or currency)),
            "description": charge.get("description"),
            "statement_descriptor": charge.get("calculated_statement_descriptor") or charge.get("statement_descriptor"),
        },
        "customer": {"name": fields.get("customer_name"), "email": fields.get("customer_email_address"),
                     "ip": fields.get("customer_purchase_ip"), "account_id": order_ids.account_id or ids.account_id},
        "order": order,
        "checks": checks,
        "history": summary.as_context(),
        "product_type": product_type,
        "facts": {name: f.value for name, f in facts.items()},
    }
    claims: dict[str, list[Claim]] = {}
    wanted: list[tuple[str, ...]] = []
    unbacked: list[str] = []
    for name, target in TEMPLATE_FIELDS.items():
        if target != "uncategorized_text" and target not in template.fields:
            continue
        if target == "uncategorized_text" and not (template.contestable or target in template.fields):
            continue
        rendered: Rendered = text_templates.render(name, {**context, "fields": dict(fields)}, facts)
        wanted += rendered.wanted
        if target in fields or not rendered.text:
            continue
        put(target, rendered.text, "template")
        claims[target] = list(rendered.claims)
        if not rendered.backed:
            unbacked.append(target)

    # Manual values last: the person responding has the final word.
    notes: list[str] = []
    for name, value in (manual or {}).items():
        if name not in TEXT_FIELDS:
            hint = ("attach a document to it instead" if name in FILE_FIELDS
                    else "use a Stripe evidence text field name")
            raise ValidationError(f"'{name}' is not an evidence text field", param=name, hint=hint)
        if on_stripe_text.get(name) and (value or None) != on_stripe_text[name]:
            notes.append(f"'{name}' replaces the text already on Stripe (see the preview's diff)")
        claims.pop(name, None)
        if value is None or value == "":
            fields.pop(name, None)
            sources.pop(name, None)
        else:
            fields[name] = str(value)
            sources[name] = "manual"

    for name, text in fields.items():
        if len(text) > text_limit(name):
            notes.append(f"'{name}' is {len(text):,} characters, over its {text_limit(name):,} limit")
    if reason in FRAUD_REASONS and checks["liability_shift"]:
        notes.append("3-D Secure liability shift: Stripe adds the ECI to the evidence automatically")

    records = {name: source_label(src, charge, order_label) for name, src in sources.items()}
    for name, src in attached.items():
        records.setdefault(name, source_label(src, charge, order_label))
    # Only backed fields count: a record, a person's statement, or template text with a claim
    # beyond naming the dispute.
    backed = {n: v for n, v in fields.items()
              if sources.get(n) in BACKED_SOURCES or (sources.get(n) == "template" and n not in unbacked)}
    scored = completeness(template, backed, attached)  # every attached document is a record
    return ComposedEvidence(
        dispute_id=dispute.get("id"), reason=reason, product_type=product_type, template=template,
        fields=fields, sources=sources, attached=attached, completeness=scored, notes=notes,
        claims=claims, records=records, facts=facts,
        to_add=_advice(template, wanted, facts, scored.missing_fields),
        stripe={**on_stripe_text, **on_stripe_files},
        product_type_source=guess.source, unbacked=unbacked,
    )
