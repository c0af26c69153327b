"""The facts the desk holds about a disputed payment, each with the record it comes from.

Every statement the evidence makes declares the facts it needs (see :mod:`.rendering`); a fact is
present here only when a record backs it: the charge, the customer's earlier charges in the
mirror, the merchant's order, the merchant's settings, refunds in the mirror, documents a person
attached, or the evidence already on the dispute at Stripe. :data:`FACTS` names each fact, what it
means, and what to add when it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable, Mapping

from disputedesk.errors import ValidationError
from disputedesk.evidence.identifiers import card_of

# --- small formatting helpers --------------------------------------------------------------------

def to_epoch(value: Any) -> int | None:
    """Epoch seconds from an int, a float, or an ISO 8601 date/datetime string (naive = UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(f"'{value}' is not a date", hint="use epoch seconds or 2026-03-04")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(f"cannot read the date '{text}'",
                                  hint="use epoch seconds or ISO 8601, e.g. 2026-03-04") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def human_date(value: Any) -> str:
    """"March 4, 2026" (UTC), the human-readable form Stripe asks for in date fields."""
    epoch = to_epoch(value)
    if epoch is None:
        return ""
    dt = datetime.fromtimestamp(epoch, timezone.utc)
    return f"{dt:%B} {dt.day}, {dt.year}"


def human_datetime(value: Any) -> str:
    epoch = to_epoch(value)
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _join(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        text = ", ".join(str(v).strip() for v in value if v and str(v).strip())
    else:
        text = str(value).strip()
    return text or None


# --- what the charge says about the payment ------------------------------------------------------

def charge_checks(charge: Mapping[str, Any]) -> dict[str, Any]:
    """AVS, CVC, 3-D Secure and Radar facts of a charge, raw and as short sentences."""
    card = card_of(charge)
    checks = card.get("checks") or {}
    tds = card.get("three_d_secure") or {}
    outcome = charge.get("outcome") or {}
    line1, postal = checks.get("address_line1_check"), checks.get("address_postal_code_check")
    avs_parts = [f"street {line1}" if line1 else None, f"postal code {postal}" if postal else None]
    avs_text = ", ".join(p for p in avs_parts if p)
    result = tds.get("result")
    tds_text = ""
    if result:
        tds_text = result.replace("_", " ")
        if tds.get("authentication_flow"):
            tds_text += f" ({tds['authentication_flow']})"
        if tds.get("version"):
            tds_text += f", version {tds['version']}"
        if result == "authenticated":
            tds_text += "; the issuer authenticated the cardholder, shifting fraud liability"
        elif result == "attempt_acknowledged":
            tds_text += "; the issuer acknowledged the attempt, which usually shifts fraud liability"
    return {
        "address_line1_check": line1,
        "address_postal_code_check": postal,
        "cvc_check": checks.get("cvc_check"),
        "avs_text": avs_text,
        "three_d_secure": result,
        "three_d_secure_flow": tds.get("authentication_flow"),
        "three_d_secure_version": tds.get("version"),
        "three_d_secure_text": tds_text,
        "liability_shift": result in ("authenticated", "attempt_acknowledged"),
        "risk_level": outcome.get("risk_level"),
        "risk_score": outcome.get("risk_score"),
        "outcome_type": outcome.get("type"),
        "network_status": outcome.get("network_status"),
        "wallet": (card.get("wallet") or {}).get("type"),
        "brand": card.get("brand"),
        "last4": card.get("last4"),
        "card_fingerprint": card.get("fingerprint"),
    }


@dataclass(frozen=True)
class HistorySummary:
    prior_count: int = 0
    undisputed_count: int = 0
    disputed_count: int = 0
    refunded_count: int = 0
    same_card_count: int = 0
    first_at: int | None = None
    charges: tuple[Mapping[str, Any], ...] = ()

    def as_context(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("prior_count", "undisputed_count", "disputed_count",
                                                "refunded_count", "same_card_count", "first_at")}


def is_paid(charge: Mapping[str, Any]) -> bool:
    return charge.get("status") == "succeeded" and charge.get("paid", True) is not False


def customer_history(charge: Mapping[str, Any], history: Iterable[Mapping[str, Any]]) -> HistorySummary:
    """The customer's paid charges before the disputed one, newest first."""
    created = int(charge.get("created") or 0)
    fingerprint = card_of(charge).get("fingerprint")
    prior = sorted(
        (c for c in history if c.get("id") != charge.get("id") and int(c.get("created") or 0) < created
         and is_paid(c)),
        key=lambda c: -int(c.get("created") or 0),
    )
    undisputed = [c for c in prior if not c.get("disputed")]
    return HistorySummary(
        prior_count=len(prior),
        undisputed_count=len(undisputed),
        disputed_count=len(prior) - len(undisputed),
        refunded_count=sum(1 for c in prior if c.get("refunded")),
        same_card_count=sum(1 for c in undisputed if fingerprint and card_of(c).get("fingerprint") == fingerprint),
        first_at=min((int(c.get("created") or 0) for c in undisputed), default=None),
        charges=tuple(prior),
    )


def find_duplicate_candidate(charge: Mapping[str, Any], history: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The other paid charge of the same amount, currency and card closest in time, if any."""
    fingerprint = card_of(charge).get("fingerprint")
    created = int(charge.get("created") or 0)
    same = [c for c in history
            if c.get("id") != charge.get("id") and is_paid(c)
            and c.get("amount") == charge.get("amount") and c.get("currency") == charge.get("currency")
            and (not fingerprint or card_of(c).get("fingerprint") == fingerprint)]
    return min(same, key=lambda c: abs(int(c.get("created") or 0) - created), default=None)




# --- the facts ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    """One thing the desk can state, the value templates read, and the record that backs it."""

    name: str
    value: Any
    source: str  # "charge ch_1", "order 1042 (orders.csv)", "merchant settings", ...


@dataclass(frozen=True)
class FactInfo:
    meaning: str
    to_add: str  # what a person adds so the desk holds the fact


FACTS: dict[str, FactInfo] = {
    "dispute": FactInfo("the dispute as Stripe reports it", "nothing: always present"),
    "charge": FactInfo("the disputed charge as Stripe recorded it",
                       "sync the charge (`disputedesk sync`)"),
    "customer_identity": FactInfo("the customer's name or email on the charge or the order",
                                  "collect the name and email at checkout, or connect an order source"),
    "avs": FactInfo("the card's address verification result", "collect the billing address at checkout"),
    "cvc": FactInfo("the card's CVC check result", "collect the CVC at checkout"),
    "three_d_secure": FactInfo("the 3-D Secure result of the payment", "use 3-D Secure at checkout"),
    "purchase_ip": FactInfo("the IP address the purchase came from",
                            "pass the IP in the charge's metadata (ip_address) or in the order"),
    "device": FactInfo("the device id or fingerprint the purchase came from",
                       "pass it in the charge's metadata (device_fingerprint) or in the order"),
    "prior_undisputed": FactInfo("earlier paid, undisputed charges of the same customer",
                                 "nothing to add: the customer has no earlier undisputed payments"),
    "prior_same_card": FactInfo("earlier undisputed charges of the same customer on this card",
                                "nothing to add: no earlier payment of the customer used this card"),
    "order": FactInfo("the merchant's order for the charge",
                      "import the order (`disputedesk disputes orders import`) or connect an order source"),
    "product_description": FactInfo("what was sold", "give the charge a description or import the order"),
    "shipment": FactInfo("the carrier and tracking number of the shipment",
                         "connect an order source with shipments, or fill shipping_carrier and "
                         "shipping_tracking_number"),
    "shipped": FactInfo("the date the goods were shipped",
                        "connect an order source with shipments (shipped_at), or fill shipping_date"),
    "delivery": FactInfo("a record that the goods were delivered",
                         "upload the carrier's delivery confirmation to shipping_documentation, or "
                         "connect an order source with shipments (delivered_at)"),
    "service_record": FactInfo("the date the service was provided",
                               "add service_date to the order, or fill service_date"),
    "access_log": FactInfo("the customer's access or download log",
                           "add an access log to the order (access_log), or fill access_activity_log"),
    "refund_policy": FactInfo(
        "a refund policy the merchant configured, with where and since when checkout shows it",
        "set merchant_refund_policy_url, merchant_policy_shown_at and merchant_policy_shown_since"),
    "refund_window": FactInfo("the number of days the refund policy allows",
                              "set merchant_refund_window_days"),
    "terms_accepted": FactInfo("when the customer accepted the terms",
                               "record terms_accepted_at in the order"),
    "cancellation_policy": FactInfo(
        "a cancellation policy the merchant configured, with where and since when checkout shows it",
        "set merchant_cancellation_policy_url, merchant_policy_shown_at and "
        "merchant_policy_shown_since"),
    "no_support_contact": FactInfo("a record that the customer did not contact support first",
                                   "record customer_contacted_support=false in the order"),
    "refund_issued": FactInfo("a refund on the charge", "nothing: no refund was made on the charge"),
    "subscription": FactInfo("the charge paid a subscription invoice",
                             "nothing: the charge is not a subscription payment"),
    "no_cancellation": FactInfo("a record that no cancellation was requested before the charge",
                                "record cancellation_requested=false (or cancelled_at) in the order"),
    "renewal_notice": FactInfo("when a renewal reminder was sent",
                               "record renewal_notice_sent_at in the order"),
    "duplicate_twin": FactInfo("an earlier charge of the same amount paying a different order",
                               "fill duplicate_charge_id and duplicate_charge_explanation"),
    "receipt": FactInfo("the receipt Stripe sent for the charge",
                        "set a receipt_email on the charge"),
}


def _date_of(value: Any) -> int | None:
    try:
        return to_epoch(value)
    except ValidationError:
        return None


def _policy(merchant: Mapping[str, Any], url_key: str, created: int) -> dict[str, Any] | None:
    """A policy counts only with where and since when checkout shows it, from before the charge."""
    since = _date_of(merchant.get("policy_shown_since"))
    if not (merchant.get(url_key) and merchant.get("policy_shown_at") and since is not None):
        return None
    if created and since > created:
        return None
    return {"url": merchant[url_key], "shown_at": merchant["policy_shown_at"], "since": since}


def gather_facts(
    dispute: Mapping[str, Any],
    charge: Mapping[str, Any],
    *,
    summary: "HistorySummary",
    checks: Mapping[str, Any],
    fields: Mapping[str, str],
    sources: Mapping[str, str],
    attached: Mapping[str, str],
    order: Mapping[str, Any],
    order_label: str | None,
    merchant: Mapping[str, Any],
    refunds: Iterable[Mapping[str, Any]] = (),
    twin: Mapping[str, Any] | None = None,
    device: str | None = None,
) -> dict[str, Fact]:
    """The facts present for this dispute, each with its source (see :data:`FACTS`)."""
    out: dict[str, Fact] = {}
    ch = f"charge {charge.get('id')}"

    def add(name: str, value: Any, source: str) -> None:
        if value not in (None, "", [], {}, False) and name not in out:
            out[name] = Fact(name, value, source)

    def field_fact(name: str, field_name: str) -> None:
        if fields.get(field_name):
            add(name, fields[field_name], source_label(sources.get(field_name), charge, order_label))

    add("dispute", dispute.get("id") or "dispute", f"dispute {dispute.get('id')}")
    if charge.get("created"):
        add("charge", charge.get("id"), ch)
    field_fact("customer_identity", "customer_name")
    field_fact("customer_identity", "customer_email_address")
    add("avs", checks.get("avs_text"), f"{ch} (card checks)")
    add("cvc", checks.get("cvc_check"), f"{ch} (card checks)")
    add("three_d_secure", checks.get("three_d_secure_text"), f"{ch} (3-D Secure)")
    field_fact("purchase_ip", "customer_purchase_ip")
    add("device", device, order_label if order.get("device_id") or order.get("device_fingerprint")
        else f"{ch} (metadata)")
    if summary.undisputed_count:
        ids = [c.get("id") for c in summary.charges if not c.get("disputed")]
        add("prior_undisputed", summary.undisputed_count,
            "mirror: the customer's charges " + ", ".join(str(i) for i in ids[:5])
            + (f" and {len(ids) - 5} more" if len(ids) > 5 else ""))
    if summary.same_card_count:
        add("prior_same_card", summary.same_card_count, "mirror: the customer's charges on this card")
    if order.get("id"):
        add("order", order["id"], order_label or f"order {order['id']}")
    field_fact("product_description", "product_description")
    shipping = order.get("shipping") if isinstance(order.get("shipping"), Mapping) else {}
    if fields.get("shipping_carrier") or fields.get("shipping_tracking_number"):
        src = sources.get("shipping_tracking_number") or sources.get("shipping_carrier")
        add("shipment", {"carrier": fields.get("shipping_carrier"),
                         "tracking": fields.get("shipping_tracking_number")},
            source_label(src, charge, order_label))
    field_fact("shipped", "shipping_date")
    delivered = _date_of(shipping.get("delivered_at"))
    if delivered:
        add("delivery", {"at": delivered}, order_label or "order")
    elif attached.get("shipping_documentation"):
        add("delivery", {"document": True},
            source_label(attached["shipping_documentation"], charge, order_label)
            + " (shipping_documentation)")
    field_fact("service_record", "service_date")
    if order.get("access_log"):
        add("access_log", len(order["access_log"]), order_label or "order")
    elif fields.get("access_activity_log"):
        field_fact("access_log", "access_activity_log")
    created = int(charge.get("created") or 0)
    policy = _policy(merchant, "refund_policy_url", created)
    add("refund_policy", policy, "merchant settings (refund policy)")
    if policy and merchant.get("refund_window_days"):
        add("refund_window", int(merchant["refund_window_days"]), "merchant settings (refund window)")
    add("cancellation_policy", _policy(merchant, "cancellation_policy_url", created),
        "merchant settings (cancellation policy)")
    add("terms_accepted", _date_of(order.get("terms_accepted_at")), order_label or "order")
    if order.get("customer_contacted_support") is False:
        add("no_support_contact", True, order_label or "order")
    done = [r for r in refunds if r.get("status") in ("succeeded", "pending")]
    if done:
        add("refund_issued", {"amount": sum(int(r.get("amount") or 0) for r in done),
                              "ids": [r.get("id") for r in done],
                              "at": min(int(r.get("created") or 0) for r in done)},
            "refunds " + ", ".join(str(r.get("id")) for r in done))
    invoice = charge.get("invoice")
    if invoice:
        add("subscription", invoice if isinstance(invoice, str) else invoice.get("id"), ch)
    cancelled_at = _date_of(order.get("cancelled_at"))
    if order.get("cancellation_requested") is False or (cancelled_at and cancelled_at > created):
        add("no_cancellation", {"cancelled_at": cancelled_at}, order_label or "order")
    add("renewal_notice", _date_of(order.get("renewal_notice_sent_at")), order_label or "order")
    if twin is not None:
        add("duplicate_twin", twin, f"charge {twin.get('id')}")
    if charge.get("receipt_email") or charge.get("receipt_url") or charge.get("receipt_number"):
        add("receipt", {"email": charge.get("receipt_email"), "url": charge.get("receipt_url"),
                        "number": charge.get("receipt_number")}, f"{ch} (receipt)")
    return out


SOURCE_WORDS = {
    "stripe": "the evidence already on the dispute at Stripe",
    "manual": "a person's own statement",
    "upload": "a document a person attached",
    "summary": "the desk's summary of the charge's records",
    "merchant": "merchant settings",
    "history": "the customer's earlier charges",
    "template": "the merchant's text template, sentence by sentence (sources below)",
}


def source_label(source: str | None, charge: Mapping[str, Any], order_label: str | None) -> str:
    """A field's source as a record a person can look up."""
    if source == "charge":
        return f"charge {charge.get('id')}"
    if source == "order":
        return order_label or "order"
    return SOURCE_WORDS.get(source or "", source or "unknown")


# --- product type ------------------------------------------------------------------------------

PRODUCT_TYPE_KEY = "product_type"
_DIGITAL_WORDS = ("course", "e-book", "ebook", "download", "licence", "license", "software",
                  "subscription", "plan", "membership", "app", "digital", "streaming", "pdf")
_SERVICE_WORDS = ("ticket", "booking", "consultation", "lesson", "session", "repair", "service",
                  "appointment", "class", "workshop", "installation", "reservation")


@dataclass(frozen=True)
class ProductTypeGuess:
    product_type: str
    source: str  # what it was inferred from, shown next to it
    inferred: bool = True


def _word_in(words: tuple[str, ...], text: str) -> str | None:
    tokens = set(text.lower().replace(":", " ").replace(",", " ").split())
    return next((w for w in words if w in tokens), None)


def infer_product_type(charge: Mapping[str, Any], order: Mapping[str, Any] | None,
                       order_label: str | None = None, *, known: tuple[str, ...]) -> ProductTypeGuess:
    """From the order source, then the charge's metadata, then words of its description."""
    order = order or {}
    if order.get("product_type") in known:
        return ProductTypeGuess(order["product_type"],
                                f"inferred from {order_label or 'the order'} (product_type)")
    meta = charge.get("metadata") or {}
    if meta.get(PRODUCT_TYPE_KEY) in known:
        return ProductTypeGuess(meta[PRODUCT_TYPE_KEY],
                                f"inferred from charge {charge.get('id')} metadata[{PRODUCT_TYPE_KEY}]")
    if isinstance(order.get("shipping"), Mapping) and order["shipping"]:
        return ProductTypeGuess("physical_goods",
                                f"inferred from {order_label or 'the order'}, which has a shipment")
    description = " ".join(str(x) for x in (charge.get("description"), order.get("product_description"))
                           if x)
    for product_type, words in (("digital_goods", _DIGITAL_WORDS), ("services", _SERVICE_WORDS)):
        word = _word_in(words, description)
        if word:
            return ProductTypeGuess(product_type,
                                    f"inferred from the word '{word}' in \"{description[:80]}\"")
    if charge.get("shipping"):
        return ProductTypeGuess("physical_goods",
                                f"inferred from charge {charge.get('id')}, which has a shipping address")
    return ProductTypeGuess("physical_goods",
                            "the default: nothing in the data says otherwise; set it if wrong")
