"""Visa Compelling Evidence 3.0: find two qualifying prior charges and build Stripe's payload.

The rule (Visa, as Stripe implements it for ``enhanced_evidence.visa_compelling_evidence_3``):

- the dispute is Visa 10.4 (card-absent fraud) and Stripe lists ``visa_compelling_evidence_3`` in
  ``enhanced_eligibility_types``;
- two earlier charges on the same card, paid (not validation charges), not disputed and not
  reported as fraud, made 120 to 365 days before the disputed charge;
- the disputed charge and *both* earlier charges share two identifiers, at least one of them a main
  one. Main: the IP address; the device (fingerprint or device id: the two count as one element).
  Secondary: shipping address, email address, customer account id. So a valid pair is
  IP + device, or a main element + a secondary one;
- a product description for each of the three, and ``merchandise_or_services`` for the disputed one.

Pure: prior charges come in as Stripe charge dicts; nothing is fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Callable, Iterable, Mapping

from disputedesk.domain.disputes import card_brand, network_reason_code
from disputedesk.evidence.identifiers import (
    DEFAULT_KEYS,
    Identifiers,
    MetadataKeys,
    card_of,
    charge_identifiers,
    normalize_address,
    normalize_email,
)

PROGRAM = "visa_compelling_evidence_3"
MIN_DAYS, MAX_DAYS = 120, 365
DAY = 86_400
MAIN_ELEMENTS = ("customer_purchase_ip", "device")
SECONDARY_ELEMENTS = ("shipping_address", "customer_email_address", "customer_account_id")
FINGERPRINT_MIN, DEVICE_ID_MIN = 20, 15  # Stripe's minimum lengths
MERCHANDISE = {"physical_goods": "merchandise", "digital_goods": "merchandise", "services": "services"}


@dataclass(frozen=True)
class Rejection:
    charge: str | None
    reasons: tuple[str, ...]


@dataclass
class CE3Result:
    """``qualified`` with the ``payload`` (for ``evidence[enhanced_evidence][visa_compelling_evidence_3]``),
    or the reasons it does not qualify: for the dispute (``problems``) and per candidate charge."""

    eligible: bool
    qualified: bool
    payload: dict[str, Any] | None = None
    prior_charges: tuple[str, ...] = ()
    matching_elements: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    required_actions: list[str] = field(default_factory=list)  # as Stripe would name them
    warnings: list[str] = field(default_factory=list)

    def explain(self) -> str:
        if self.qualified:
            return (f"qualifies with {', '.join(self.prior_charges)} matching on "
                    f"{', '.join(self.matching_elements)}")
        lines = list(self.problems)
        lines += [f"{r.charge}: {'; '.join(r.reasons)}" for r in self.rejections]
        return "\n".join(lines) or "does not qualify"


def eligibility(dispute: Mapping[str, Any]) -> dict[str, Any]:
    """What Stripe says: listed in ``enhanced_eligibility_types``, plus status and required actions."""
    listed = PROGRAM in (dispute.get("enhanced_eligibility_types") or [])
    info = ((dispute.get("evidence_details") or {}).get("enhanced_eligibility") or {}).get(PROGRAM) or {}
    return {"eligible": listed, "status": info.get("status"),
            "required_actions": list(info.get("required_actions") or [])}


def _elements(ids: Identifiers) -> dict[str, Any]:
    """Comparable values per element; the device keeps fingerprint and id separately."""
    return {
        "customer_purchase_ip": (ids.ip or "").strip() or None,
        # Values shorter than Stripe's minimums are not sent, so they cannot count as a match.
        "device": (ids.device_fingerprint if len(ids.device_fingerprint or "") >= FINGERPRINT_MIN else None,
                   ids.device_id if len(ids.device_id or "") >= DEVICE_ID_MIN else None),
        "shipping_address": normalize_address(ids.shipping_address),
        "customer_email_address": normalize_email(ids.email),
        "customer_account_id": (ids.account_id or "").strip() or None,
    }


def _matches(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    out = set()
    for name in ("customer_purchase_ip", *SECONDARY_ELEMENTS):
        if a[name] and a[name] == b[name]:
            out.add(name)
    (fa, ia), (fb, ib) = a["device"], b["device"]
    if (fa and fa == fb) or (ia and ia == ib):
        out.add("device")
    return out


def _valid_pair(matched: set[str]) -> bool:
    mains = matched & set(MAIN_ELEMENTS)
    return bool(mains) and len(matched) >= 2


def _same_card(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool | None:
    fa, fb = card_of(a).get("fingerprint"), card_of(b).get("fingerprint")
    if fa and fb:
        return fa == fb
    pa, pb = a.get("payment_method"), b.get("payment_method")
    if pa and pb:
        return pa == pb
    return None


def _shipping(address: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Stripe wants every address field when one is sent; line2 and state may be empty."""
    if not address:
        return None
    if not all(address.get(k) for k in ("line1", "city", "postal_code", "country")):
        return None
    return {k: str(address.get(k) or "") for k in ("city", "country", "line1", "line2", "postal_code", "state")}


def _identifier_fields(ids: Identifiers, warnings: list[str], label: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ids.account_id:
        out["customer_account_id"] = ids.account_id
    if ids.device_fingerprint:
        if len(ids.device_fingerprint) >= FINGERPRINT_MIN:
            out["customer_device_fingerprint"] = ids.device_fingerprint
        else:
            warnings.append(f"{label}: device fingerprint shorter than {FINGERPRINT_MIN} characters, left out")
    if ids.device_id:
        if len(ids.device_id) >= DEVICE_ID_MIN:
            out["customer_device_id"] = ids.device_id
        else:
            warnings.append(f"{label}: device id shorter than {DEVICE_ID_MIN} characters, left out")
    if ids.email:
        out["customer_email_address"] = ids.email
    if ids.ip:
        out["customer_purchase_ip"] = ids.ip
    shipping = _shipping(ids.shipping_address)
    if shipping:
        out["shipping_address"] = shipping
    elif ids.shipping_address:
        warnings.append(f"{label}: shipping address incomplete (needs line1, city, postal code, country), left out")
    return out


def _default_description(charge: Mapping[str, Any]) -> str | None:
    meta = charge.get("metadata") or {}
    return meta.get("product_description") or charge.get("description") or None


def build_ce3(
    dispute: Mapping[str, Any],
    charge: Mapping[str, Any],
    history: Iterable[Mapping[str, Any]],
    *,
    order: Mapping[str, Any] | None = None,
    product_type: str = "physical_goods",
    product_description: str | None = None,
    describe: Callable[[Mapping[str, Any]], str | None] = _default_description,
    fraud_reported: Iterable[str] = (),
    keys: MetadataKeys = DEFAULT_KEYS,
    require_eligibility: bool = True,
) -> CE3Result:
    """Find two qualifying prior charges for ``dispute`` and build the CE 3.0 payload.

    ``order`` (the merchant's record of the disputed purchase) may supply identifiers and the
    product description; ``describe`` gives a prior charge's product description;
    ``fraud_reported`` lists charge ids with an early fraud warning (they do not qualify).
    """
    status = eligibility(dispute)
    result = CE3Result(eligible=status["eligible"], qualified=False)
    if not status["eligible"]:
        result.problems.append(
            "Stripe does not list visa_compelling_evidence_3 in the dispute's enhanced_eligibility_types")
        if require_eligibility:
            return result
    brand = (card_brand(dispute, charge) or "").lower()
    code = network_reason_code(dispute)
    if brand and brand != "visa":
        result.problems.append(f"CE 3.0 is a Visa program; this card is {brand}")
    if code and code != "10.4":
        result.problems.append(f"CE 3.0 covers Visa reason 10.4 only; this dispute is {code}")
    if result.problems and require_eligibility:
        return result

    disputed_ids = charge_identifiers(charge, keys, order)
    disputed_el = _elements(disputed_ids)
    created = int(charge.get("created") or 0)
    reported = set(fraud_reported)

    candidates: list[tuple[Mapping[str, Any], set[str]]] = []
    for prior in history:
        pid = prior.get("id")
        if pid == charge.get("id"):
            continue
        reasons: list[str] = []
        days = (created - int(prior.get("created") or 0)) / DAY
        if days < 0:
            reasons.append("made after the disputed charge")
        elif days < MIN_DAYS:
            reasons.append(f"too recent: {int(days)} days before the disputed charge, needs at least {MIN_DAYS}")
        elif int(days) > MAX_DAYS:
            reasons.append(f"too old: {int(days)} days before the disputed charge, at most {MAX_DAYS}")
        if prior.get("disputed"):
            reasons.append("disputed")
        fraud = prior.get("fraud_details") or {}
        if pid in reported or "fraudulent" in (fraud.get("stripe_report"), fraud.get("user_report")):
            reasons.append("reported as fraud")
        if prior.get("status") != "succeeded" or prior.get("paid") is False:
            reasons.append(f"not paid (status {prior.get('status')})")
        elif not int(prior.get("amount_captured", prior.get("amount")) or 0):
            reasons.append("a zero-amount validation charge")
        same = _same_card(charge, prior)
        if same is False:
            reasons.append("a different card")
        elif same is None:
            reasons.append("cannot tell whether it is the same card (no card fingerprint or payment method)")
        matched = _matches(disputed_el, _elements(charge_identifiers(prior, keys)))
        if not _valid_pair(matched):
            have = ", ".join(sorted(matched)) or "none"
            reasons.append(f"no matching identifiers: needs IP or device plus one more (matches: {have})")
        if reasons:
            result.rejections.append(Rejection(pid, tuple(reasons)))
        else:
            candidates.append((prior, matched))

    # Visa looks at the most recent qualifying transactions: take the newest pair sharing a valid set.
    candidates.sort(key=lambda cm: -int(cm[0].get("created") or 0))
    chosen: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None
    shared: set[str] = set()
    for (a, ma), (b, mb_) in combinations(candidates, 2):
        common = ma & mb_
        if _valid_pair(common):
            chosen, shared = (a, b), common
            break

    if chosen is None:
        if len(candidates) < 2:
            result.problems.append(
                f"needs 2 prior undisputed charges on the same card {MIN_DAYS}-{MAX_DAYS} days before the "
                f"disputed one with matching identifiers; found {len(candidates)}")
        else:
            result.problems.append(
                "no two qualifying prior charges share the same two identifiers with the disputed charge")
        result.required_actions.append("missing_prior_undisputed_transactions")
        return result

    warnings: list[str] = []
    description = (product_description or (order or {}).get("product_description")
                   or _default_description(charge))
    disputed_tx = _identifier_fields(disputed_ids, warnings, "disputed charge")
    disputed_tx["merchandise_or_services"] = MERCHANDISE.get(product_type, "merchandise")
    if description:
        disputed_tx["product_description"] = description
    else:
        result.required_actions.append("missing_disputed_transaction_description")
    priors = []
    for prior in chosen:
        entry = {"charge": prior["id"],
                 **_identifier_fields(charge_identifiers(prior, keys), warnings, str(prior["id"]))}
        desc = describe(prior)
        if desc:
            entry["product_description"] = desc
        elif "missing_prior_undisputed_transaction_description" not in result.required_actions:
            result.required_actions.append("missing_prior_undisputed_transaction_description")
        priors.append(entry)

    result.payload = {"disputed_transaction": disputed_tx, "prior_undisputed_transactions": priors}
    result.prior_charges = tuple(p["id"] for p in chosen)
    result.matching_elements = tuple(e for e in (*MAIN_ELEMENTS, *SECONDARY_ELEMENTS) if e in shared)
    result.warnings = warnings
    result.qualified = not result.required_actions and (result.eligible or not require_eligibility)
    return result


def enhanced_evidence_params(result: CE3Result) -> dict[str, Any]:
    """``{"enhanced_evidence": {"visa_compelling_evidence_3": payload}}`` for the evidence hash."""
    if result.payload is None:
        return {}
    return {"enhanced_evidence": {PROGRAM: result.payload}}
