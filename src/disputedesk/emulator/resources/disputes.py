"""Disputes: opened by Stripe's dispute test cards, answered with evidence, decided by magic strings.

Lifecycle (Stripe's statuses and events):

- chargeback: ``needs_response`` (amount + dispute fee withdrawn, ``charge.dispute.created`` and
  ``charge.dispute.funds_withdrawn``) -> evidence submitted -> ``under_review`` -> ``won``
  (``charge.dispute.funds_reinstated``, ``charge.dispute.closed``) or ``lost``
  (``charge.dispute.closed``). Closing (accepting) or missing ``due_by`` -> ``lost``.
- inquiry: ``warning_needs_response`` (no money moves) -> ``warning_under_review`` ->
  ``warning_closed``, or escalation to ``needs_response`` (funds withdrawn then).

The outcome of a submission is chosen by the test-mode magic strings in
``evidence[uncategorized_text]`` and lands ``dispute_outcome_seconds`` later on the emulator clock
(a real-time timer, or at once when the clock is advanced).
"""

from __future__ import annotations

import copy
from typing import Any

from .. import errors, evidence_rules, params
from ..currencies import THREE_DECIMAL, ZERO_DECIMAL
from ..routing import Route
from ..state import Obj

DAY = 86_400
DISPUTE_FEE = 1500  # US dispute received fee, cents of usd; never returned on a win (June 2025)
INQUIRY_LIFETIME = 120 * DAY
RESPONSE_DAYS = 9  # due_by: end of the (UTC) day this many days ahead -> 9-10 days

OPEN = ("needs_response", "warning_needs_response")
REVIEW = ("under_review", "warning_under_review")
CLOSED = ("won", "lost", "warning_closed", "prevented")

# Test-card behaviour -> list of (reason, case_type) disputes it opens.
CARD_DISPUTES: dict[str, list[tuple[str, str]]] = {
    "dispute_fraudulent": [("fraudulent", "chargeback")],
    "dispute_product_not_received": [("product_not_received", "chargeback")],
    "inquiry": [("fraudulent", "inquiry")],
    "dispute_ce3_eligible": [("fraudulent", "chargeback")],
    "dispute_multiple": [("fraudulent", "chargeback"), ("fraudulent", "chargeback")],
}

# Representative network reason code per (brand, reason) from the networks' category tables.
REASON_CODES: dict[str, dict[str, str]] = {
    "visa": {"fraudulent": "10.4", "product_not_received": "13.1",
             "product_unacceptable": "13.3", "subscription_canceled": "13.2",
             "credit_not_processed": "13.6", "duplicate": "12.6.1", "general": "13.8",
             "noncompliant": "C028"},
    "mastercard": {"fraudulent": "4837", "unrecognized": "4863", "product_not_received": "4855",
                   "product_unacceptable": "4853", "subscription_canceled": "4841",
                   "credit_not_processed": "4860", "duplicate": "4834", "general": "4859"},
    "amex": {"fraudulent": "F29", "unrecognized": "176", "product_not_received": "C08",
             "product_unacceptable": "C31", "subscription_canceled": "C28",
             "credit_not_processed": "C02", "duplicate": "P08", "general": "A02"},
    "discover": {"fraudulent": "UA02", "product_not_received": "4755", "duplicate": "4534",
                 "subscription_canceled": "4541", "credit_not_processed": "8002",
                 "general": "4553"},
}

# usd per major unit, to book the usd dispute fee in the dispute's currency (one currency per
# balance transaction, like the charge's own transaction).
USD_RATES = {"usd": 1.0, "eur": 1.08, "gbp": 1.27, "jpy": 0.0067, "kwd": 3.25, "cad": 0.73,
             "aud": 0.66, "chf": 1.13, "sek": 0.095, "mxn": 0.055}


def _exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def dispute_fee(currency: str) -> int:
    """The 15.00 usd dispute fee in minor units of ``currency`` (1500 for usd)."""
    currency = currency.lower()
    if currency == "usd":
        return DISPUTE_FEE
    rate = USD_RATES.get(currency, 1.0)
    fee = round(DISPUTE_FEE / 100 / rate * 10 ** _exponent(currency))
    return fee - fee % 10 if currency in THREE_DECIMAL else fee


# ----------------------------------------------------------------------------- building

def _card(charge: Obj) -> dict[str, Any]:
    pmd = charge.get("payment_method_details") or {}
    return pmd.get("card") or {}


def _end_of_day(ts: int) -> int:
    return ts - ts % DAY + DAY - 1


def new_dispute(ctx: Any, charge: Obj, *, reason: str, case_type: str = "chargeback",
                status: str | None = None, created: int | None = None, amount: int | None = None,
                ce3: bool = False, network_reason_code: str | None = None) -> Obj:
    """A dispute object for ``charge`` (not stored, no events); used by the hook and seeding."""
    now = ctx.now() if created is None else created
    card = _card(charge)
    brand = card.get("brand") or "visa"
    code = network_reason_code or REASON_CODES.get(brand, {}).get(reason)
    inquiry = case_type == "inquiry"
    enhanced: dict[str, Any] = {}
    if ce3:
        enhanced["visa_compelling_evidence_3"] = evidence_rules.ce3_eligibility({})
        enhanced["visa_compelling_evidence_3"]["required_actions"] = [
            "missing_customer_identifiers", "missing_disputed_transaction_description",
            "missing_merchandise_or_services", "missing_prior_undisputed_transaction_description",
            "missing_prior_undisputed_transactions"]
    return {
        "id": ctx.new_id("dispute"),
        "object": "dispute",
        "amount": charge["amount"] if amount is None else amount,
        "balance_transactions": [],
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "enhanced_eligibility_types": ["visa_compelling_evidence_3"] if ce3 else [],
        "evidence": evidence_rules.empty_evidence(),
        "evidence_details": {
            "due_by": _end_of_day(now + RESPONSE_DAYS * DAY),
            "enhanced_eligibility": enhanced,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
            "submission_method": "not_submitted",
        },
        "intended_submission_method": None,
        "is_charge_refundable": inquiry,
        "livemode": False,
        "metadata": {},
        "network_reason_code": code,
        "payment_intent": charge.get("payment_intent"),
        "payment_method_details": {
            "card": {"brand": brand, "case_type": case_type,
                     "network": card.get("network") or brand, "network_reason_code": code},
            "type": "card",
        },
        "reason": reason,
        "status": status or ("warning_needs_response" if inquiry else "needs_response"),
    }


def balance_transaction(ctx: Any, dispute: Obj, *, reinstate: bool) -> Obj:
    """The withdrawal (amount + dispute fee) or the reinstatement (amount only: the received fee
    is not returned on a win since June 2025) of a chargeback, stored like every other one."""
    from . import balance_transactions  # sibling resource module

    verb = "reversal" if reinstate else "withdrawal"
    return balance_transactions.create(
        ctx, amount=dispute["amount"] if reinstate else -dispute["amount"],
        currency=dispute["currency"], type_="adjustment", source=dispute["id"],
        reporting_category="dispute_reversal" if reinstate else "dispute",
        fee=0 if reinstate else dispute_fee(dispute["currency"]),
        description=f"Chargeback {verb} for {dispute['charge']}", fee_description="Dispute fee")


def diff(before: Any, after: Any) -> Any:
    """Stripe's ``previous_attributes``: old values of what changed (hashes recursively)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = {}
        for key in before.keys() | after.keys():
            if before.get(key) != after.get(key):
                out[key] = diff(before.get(key), after.get(key)) if (
                    isinstance(before.get(key), dict) and isinstance(after.get(key), dict)
                ) else before.get(key)
        return out
    return before


def _changed(ctx: Any, dispute: Obj, before: Obj) -> None:
    prev = diff(before, dispute)
    if prev:
        ctx.emit("charge.dispute.updated", dispute, prev)


# ----------------------------------------------------------------------------- lifecycle

def open_dispute(ctx: Any, charge_id: str, reason: str, case_type: str, ce3: bool) -> Obj | None:
    """Open one dispute on a stored charge, with its money movement and events."""
    charge = ctx.coll("charge").get(charge_id)
    if charge is None:
        return None
    dispute = new_dispute(ctx, charge, reason=reason, case_type=case_type, ce3=ce3)
    ctx.coll("dispute").add(dispute)
    charge["disputed"] = True
    ctx.emit("charge.dispute.created", dispute)
    if case_type != "inquiry":
        _withdraw(ctx, dispute)
    _schedule_deadlines(ctx, dispute)
    _efw_disputed(ctx, charge)
    return dispute


def _withdraw(ctx: Any, dispute: Obj) -> None:
    dispute["balance_transactions"].append(balance_transaction(ctx, dispute, reinstate=False))
    ctx.emit("charge.dispute.funds_withdrawn", dispute)


def _schedule_deadlines(ctx: Any, dispute: Obj) -> None:
    now = ctx.now()
    if dispute["status"] == "needs_response":
        due = dispute["evidence_details"]["due_by"]
        ctx.schedule(max(0, due - now) + 1, _deadline, dispute["id"], due)
    elif dispute["status"] == "warning_needs_response":
        ctx.schedule(max(0, dispute["created"] + INQUIRY_LIFETIME - now), _inquiry_expired,
                     dispute["id"])


def _efw_disputed(ctx: Any, charge: Obj) -> None:
    from . import early_fraud_warnings  # sibling resource; imported late to keep modules apart

    early_fraud_warnings.refresh_for_charge(ctx, charge)


def _deadline(ctx: Any, dispute_id: str, due_by: int) -> None:
    """Unanswered chargebacks are lost when ``due_by`` passes."""
    dispute = ctx.coll("dispute").get(dispute_id)
    if dispute is None or dispute["status"] != "needs_response":
        return
    if dispute["evidence_details"]["due_by"] != due_by:
        return  # a newer deadline (after escalation) has its own timer
    _close(ctx, dispute, "lost")


def _inquiry_expired(ctx: Any, dispute_id: str) -> None:
    """Stripe closes inquiries that were not escalated within 120 days."""
    dispute = ctx.coll("dispute").get(dispute_id)
    if dispute is not None and dispute["status"] in ("warning_needs_response",
                                                     "warning_under_review"):
        _close(ctx, dispute, "warning_closed")


def _close(ctx: Any, dispute: Obj, status: str) -> None:
    dispute["status"] = status
    ctx.emit("charge.dispute.closed", dispute)


def _decide(ctx: Any, dispute_id: str, outcome: str) -> None:
    """Apply a magic-string outcome once the issuer's 'decision' is due."""
    dispute = ctx.coll("dispute").get(dispute_id)
    if dispute is None or dispute["status"] not in REVIEW:
        return
    inquiry = dispute["status"] == "warning_under_review"
    if inquiry and outcome == evidence_rules.ESCALATE:
        before = copy.deepcopy(dispute)
        now = ctx.now()
        dispute["status"] = "needs_response"
        dispute["is_charge_refundable"] = False
        dispute["payment_method_details"]["card"]["case_type"] = "chargeback"
        dispute["evidence_details"]["due_by"] = _end_of_day(now + RESPONSE_DAYS * DAY)
        _changed(ctx, dispute, before)
        _withdraw(ctx, dispute)
        _schedule_deadlines(ctx, dispute)
    elif inquiry:
        _close(ctx, dispute, "warning_closed")
    elif outcome == evidence_rules.WINNING:
        dispute["status"] = "won"
        dispute["balance_transactions"].append(balance_transaction(ctx, dispute, reinstate=True))
        ctx.emit("charge.dispute.funds_reinstated", dispute)
        ctx.emit("charge.dispute.closed", dispute)
    elif outcome == evidence_rules.LOSING:
        _close(ctx, dispute, "lost")


# ----------------------------------------------------------------------------- hooks

def on_charge_succeeded(ctx: Any, charge: Obj, card: Any) -> None:
    behaviour = getattr(card, "behaviour", card)
    plan = CARD_DISPUTES.get(str(behaviour))
    if not plan:
        return
    delay = float(ctx.emulator.settings.get("dispute_open_seconds", 0.5))
    for i, (reason, case_type) in enumerate(plan):
        ctx.schedule(delay + 0.1 * i, _open_timer, charge["id"], reason, case_type,
                     behaviour == "dispute_ce3_eligible")


def _open_timer(ctx: Any, charge_id: str, reason: str, case_type: str, ce3: bool) -> None:
    open_dispute(ctx, charge_id, reason, case_type, ce3)


def before_refund(ctx: Any, charge: Obj, amount: int) -> None:
    """Refuse refunds of charged-back charges (inquiries stay refundable)."""
    for dispute_id in ctx.coll("dispute").by("charge", charge["id"]):
        dispute = ctx.coll("dispute").get(dispute_id)
        if dispute is not None and not dispute["is_charge_refundable"]:
            raise errors.invalid(
                f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                param="charge", code="charge_disputed")


def refund_created(ctx: Any, refund: Obj, charge: Obj) -> None:
    """A fully refunded charge can no longer be refunded: its open inquiries say so."""
    if not charge.get("refunded"):
        return
    for dispute_id in ctx.coll("dispute").by("charge", charge["id"]):
        dispute = ctx.coll("dispute").get(dispute_id)
        if dispute is not None and dispute["is_charge_refundable"]:
            before = copy.deepcopy(dispute)
            dispute["is_charge_refundable"] = False
            _changed(ctx, dispute, before)


def install(emulator: Any) -> None:
    emulator.hooks.on("charge_succeeded", on_charge_succeeded)
    emulator.hooks.on("before_refund", before_refund)
    emulator.hooks.on("refund_created", refund_created)
    emulator.settings.setdefault("dispute_open_seconds", 0.5)
    emulator.settings.setdefault("dispute_outcome_seconds", 5.0)


# ----------------------------------------------------------------------------- handlers

def _get(ctx: Any) -> Obj:
    return ctx.get("dispute", ctx.path["dispute"], param="dispute", kind="dispute")


def retrieve(ctx: Any) -> Obj:
    return ctx.render(_get(ctx))


def update(ctx: Any) -> Obj:
    p = ctx.params
    dispute = _get(ctx)
    submit = params.boolean(p, "submit")
    intended = params.enum(p, "intended_submission_method",
                           ("manual", "prefer_manual", "prefer_smart_disputes", "smart_disputes"),
                           nullable=True)
    has_evidence_param = "evidence" in p
    status = dispute["status"]
    if (has_evidence_param or submit) and status in CLOSED:
        raise errors.invalid(
            f"This dispute is already closed ({status}); its evidence can no longer be changed "
            "or submitted.", param="evidence" if has_evidence_param else "submit")
    if (has_evidence_param or submit) and status in REVIEW:
        raise errors.invalid(
            "Evidence for this dispute has already been submitted; it can be submitted only "
            "once and can no longer be changed.",
            param="evidence" if has_evidence_param else "submit")
    before = copy.deepcopy(dispute)
    new_evidence = dispute["evidence"]
    if has_evidence_param:
        brand = dispute["payment_method_details"]["card"]["brand"] \
            if dispute.get("payment_method_details") else None
        from .files import file_facts  # sibling resource module

        new_evidence = evidence_rules.merge_evidence(
            dispute["evidence"], p["evidence"], lambda fid: file_facts(ctx, fid), brand=brand)
    metadata = params.apply_metadata(dispute["metadata"], p)
    staged = evidence_rules.has_any_evidence(new_evidence)
    submitting = status in OPEN and (submit is True or (submit is None and has_evidence_param))
    if submitting and not staged:
        raise errors.invalid("There is no evidence to submit: provide evidence[...] fields "
                             "(or stage them first with submit=false).", param="submit")
    # every check passed: apply
    details = dispute["evidence_details"]
    dispute["evidence"] = new_evidence
    dispute["metadata"] = metadata
    if "intended_submission_method" in p:
        dispute["intended_submission_method"] = intended
    details["has_evidence"] = staged
    if "visa_compelling_evidence_3" in dispute["enhanced_eligibility_types"]:
        if new_evidence.get("enhanced_evidence", {}).get("visa_compelling_evidence_3"):
            details["enhanced_eligibility"]["visa_compelling_evidence_3"] = \
                evidence_rules.ce3_eligibility(new_evidence["enhanced_evidence"])
    if submitting:
        now = ctx.now()
        details["submission_count"] += 1
        details["submission_method"] = "manual"
        details["past_due"] = bool(details["due_by"]) and now > details["due_by"]
        ce3 = details["enhanced_eligibility"].get("visa_compelling_evidence_3")
        if ce3 is not None and ce3["status"] != "qualified":
            details["enhanced_eligibility"]["visa_compelling_evidence_3"] = {
                "required_actions": [], "status": "not_qualified"}
        dispute["status"] = "warning_under_review" if status == "warning_needs_response" \
            else "under_review"
        outcome = evidence_rules.magic_outcome(new_evidence)
        if outcome is not None:
            ctx.schedule(float(ctx.emulator.settings.get("dispute_outcome_seconds", 5.0)),
                         _decide, dispute["id"], outcome)
    _changed(ctx, dispute, before)
    return ctx.render(dispute)


def close(ctx: Any) -> Obj:
    dispute = _get(ctx)
    status = dispute["status"]
    if status in CLOSED:
        raise errors.invalid(f"This dispute is already closed ({status}).", param="dispute")
    if status in REVIEW:
        raise errors.invalid("Evidence for this dispute has already been submitted; it can no "
                             "longer be accepted (closed). Wait for the issuer's decision.",
                             param="dispute")
    _close(ctx, dispute, "warning_closed" if status == "warning_needs_response" else "lost")
    return ctx.render(dispute)


def list_(ctx: Any) -> Obj:
    p = ctx.params
    coll = ctx.coll("dispute")
    charge = params.string(p, "charge", nullable=True)
    pi = params.string(p, "payment_intent", nullable=True)
    if charge:
        ids = coll.by("charge", charge)
        predicate = (lambda d: d.get("payment_intent") == pi) if pi else None
    elif pi:
        ids, predicate = coll.by("payment_intent", pi), None
    else:
        ids, predicate = coll.ids(), None
    objects, has_more = params.page(coll, ids, p, "/v1/disputes", predicate)
    return ctx.list_response(objects, has_more, "/v1/disputes")


def _charge_dispute(ctx: Any) -> Obj:
    """Legacy ``/v1/charges/{charge}/dispute``: the charge's latest dispute."""
    charge = ctx.get("charge", ctx.path["charge"], param="charge", kind="charge")
    ids = ctx.coll("dispute").by("charge", charge["id"])
    if not ids:
        raise errors.invalid(f"Charge {charge['id']} has no dispute.", param="charge",
                             code="resource_missing", status=404)
    ctx.path["dispute"] = ids[-1]
    return ctx.coll("dispute").get(ids[-1])


def charge_dispute_retrieve(ctx: Any) -> Obj:
    return ctx.render(_charge_dispute(ctx))


def charge_dispute_update(ctx: Any) -> Obj:
    _charge_dispute(ctx)
    return update(ctx)


def charge_dispute_close(ctx: Any) -> Obj:
    _charge_dispute(ctx)
    return close(ctx)


INDEXES = {"dispute": ("charge", "payment_intent")}
ROUTES = [
    Route("GET", "/v1/disputes", list_, params.LIST_PARAMS + ("charge", "payment_intent")),
    Route("GET", "/v1/disputes/{dispute}", retrieve),
    Route("POST", "/v1/disputes/{dispute}", update,
          ("evidence", "metadata", "submit", "intended_submission_method")),
    Route("POST", "/v1/disputes/{dispute}/close", close),
    Route("GET", "/v1/charges/{charge}/dispute", charge_dispute_retrieve),
    Route("POST", "/v1/charges/{charge}/dispute", charge_dispute_update,
          ("evidence", "metadata", "submit", "intended_submission_method")),
    Route("POST", "/v1/charges/{charge}/dispute/close", charge_dispute_close),
]
