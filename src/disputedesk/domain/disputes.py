"""Disputes as Stripe describes them: reasons, statuses, deadlines, network codes and outcomes.

Pure functions over Stripe-shaped dicts (a ``dispute`` object as the API returns it, with
``balance_transactions`` expanded as Stripe always sends them). No I/O, no clock: callers pass
``now`` (UTC epoch seconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from disputedesk.errors import ValidationError

# --- reasons and statuses, verbatim from the API (stripe 16.1, API 2026-10-28.endive) -------------

REASONS: tuple[str, ...] = (
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "noncompliant",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
)
# Reasons that come from bank-debit returns (ACH, SEPA, ...): there is no issuer to argue with,
# so evidence rarely changes the outcome.
BANK_DEBIT_REASONS = frozenset(
    {"bank_cannot_process", "check_returned", "customer_initiated", "debit_not_authorized",
     "incorrect_account_details", "insufficient_funds"}
)
# Stripe treats ``unrecognized`` as effectively the same claim as ``fraudulent``.
FRAUD_REASONS = frozenset({"fraudulent", "unrecognized"})

INQUIRY_STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed")
CHARGEBACK_STATUSES = ("needs_response", "under_review", "won", "lost")
APPEAL_STATUSES = ("appeal_needs_response", "appeal_under_review")
STATUSES: tuple[str, ...] = (
    "warning_needs_response",
    "warning_under_review",
    "warning_closed",
    "needs_response",
    "under_review",
    "appeal_needs_response",
    "appeal_under_review",
    "won",
    "lost",
    "prevented",
)
CLOSED_STATUSES = frozenset({"won", "lost", "warning_closed", "prevented"})
# Statuses in which the merchant is expected to act before ``evidence_details.due_by``.
NEEDS_RESPONSE_STATUSES = frozenset(
    {"needs_response", "warning_needs_response", "appeal_needs_response"}
)
# Evidence sent, the issuer deciding (an appeal under review counts as under review).
UNDER_REVIEW_STATUSES = frozenset({"under_review", "warning_under_review", "appeal_under_review"})
# Every status in which the dispute can still change (the mirror reconciles these).
OPEN_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s not in CLOSED_STATUSES)
OUTCOMES = ("won", "lost", "warning_closed", "prevented")

CARD_BRANDS = ("amex", "cartes_bancaires", "diners", "discover", "eftpos_au", "jcb", "link",
               "mastercard", "unionpay", "visa", "unknown")


def status_of(dispute: Mapping[str, Any]) -> str:
    status = dispute.get("status")
    if not isinstance(status, str) or not status:
        raise ValidationError(
            f"dispute {dispute.get('id', '?')} has no status",
            param="status", object_id=dispute.get("id"),
            hint="pass the dispute object as Stripe returns it",
        )
    return status


def is_inquiry(dispute: Mapping[str, Any]) -> bool:
    """An inquiry (Stripe's ``warning_*`` statuses): no funds moved, no dispute fee yet."""
    status = status_of(dispute)
    if status.startswith("warning_"):
        return True
    card = ((dispute.get("payment_method_details") or {}).get("card") or {})
    # A dispute may report its case type before its status tells (e.g. a closed lost inquiry).
    return card.get("case_type") == "inquiry"


def is_closed(dispute: Mapping[str, Any]) -> bool:
    return status_of(dispute) in CLOSED_STATUSES


def is_open(dispute: Mapping[str, Any]) -> bool:
    return not is_closed(dispute)


def needs_response(dispute: Mapping[str, Any]) -> bool:
    """Open and waiting for the merchant (a chargeback, an inquiry or an appeal)."""
    return status_of(dispute) in NEEDS_RESPONSE_STATUSES


def due_by(dispute: Mapping[str, Any]) -> int | None:
    """``evidence_details.due_by``; ``None`` when absent or 0 (the issuer allows no response)."""
    value = (dispute.get("evidence_details") or {}).get("due_by")
    if not value:
        return None
    return int(value)


def time_left(dispute: Mapping[str, Any], now: int) -> int | None:
    """Seconds until ``due_by`` (negative once past); ``None`` when there is no deadline."""
    deadline = due_by(dispute)
    if deadline is None:
        return None
    return deadline - int(now)


def is_past_due(dispute: Mapping[str, Any], now: int) -> bool:
    left = time_left(dispute, now)
    return left is not None and left <= 0


def format_duration(seconds: int) -> str:
    """``273600`` -> ``"3d 4h"``, ``7500`` -> ``"2h 5m"``, ``300`` -> ``"5m"``."""
    s = abs(int(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {rest // 60}m"
    return f"{rest // 60}m"


def todo_text(dispute: Mapping[str, Any], now: float, submitted_at: float | None = None) -> str:
    """What the dispute asks of the merchant, in words: ``due in 3d 4h``, ``overdue by 2h 5m``
    (only a passed deadline with nothing submitted), ``submitted 2d 1h ago, awaiting the issuer``."""
    status = status_of(dispute)
    if status in CLOSED_STATUSES:
        return status.replace("_", " ")
    if status in UNDER_REVIEW_STATUSES or int((dispute.get("evidence_details") or {})
                                              .get("submission_count") or 0) > 0:
        if submitted_at:
            return f"submitted {format_duration(int(now - submitted_at))} ago, awaiting the issuer"
        return "submitted, awaiting the issuer"
    left = time_left(dispute, int(now))
    if left is None:
        return "no deadline"
    return f"overdue by {format_duration(left)}" if left <= 0 else f"due in {format_duration(left)}"


def format_time_left(seconds: int | None) -> str:
    """``273600`` -> ``"3d 4h"``; negative -> ``"overdue by 2h 5m"``; ``None`` -> ``"no deadline"``."""
    if seconds is None:
        return "no deadline"
    prefix = "overdue by " if seconds < 0 else ""
    return prefix + format_duration(seconds)


def card_brand(dispute: Mapping[str, Any], charge: Mapping[str, Any] | None = None) -> str | None:
    """The card brand from the dispute, else from the charge's ``payment_method_details``."""
    card = ((dispute.get("payment_method_details") or {}).get("card") or {})
    brand = card.get("brand") or card.get("network")
    if not brand and charge:
        ccard = ((charge.get("payment_method_details") or {}).get("card") or {})
        brand = ccard.get("brand") or ccard.get("network")
    return brand or None


def network_reason_code(dispute: Mapping[str, Any]) -> str | None:
    """The network's own code: top-level ``network_reason_code``, else the card sub-hash's."""
    code = dispute.get("network_reason_code")
    if not code:
        card = ((dispute.get("payment_method_details") or {}).get("card") or {})
        code = card.get("network_reason_code")
    return str(code) if code else None


# --- network reason codes (Stripe's category table, docs.stripe.com/disputes/categories) -----------
# Exact codes Stripe lists per reason and brand. Amex lists are Stripe's examples, not complete.
NETWORK_CODES: dict[str, dict[str, tuple[str, ...]]] = {
    "fraudulent": {
        "visa": ("10.1", "10.2", "10.3", "10.4", "10.5", "33"),
        "mastercard": ("4837", "4849", "4870", "4871", "6341"),
        "amex": ("F10", "F24", "F29", "F30", "F31", "FR2", "FR4", "FR5", "FR6", "177", "193"),
        "discover": ("6041", "4866", "4867", "7010", "7030"),
    },
    "unrecognized": {
        "mastercard": ("4863", "6321"),
        "amex": ("127", "176", "691"),
    },
    "product_not_received": {
        "visa": ("13.1", "13.9"),
        "mastercard": ("4855",),
        "amex": ("C08", "004", "155"),
        "discover": ("4755", "4864"),
    },
    "product_unacceptable": {
        "visa": ("13.3", "13.4", "13.5"),
        "mastercard": ("4853",),
        "amex": ("C31", "C32", "024", "059", "063"),
    },
    "subscription_canceled": {
        "visa": ("13.2",),
        "mastercard": ("4841",),
        "amex": ("C28", "021"),
        "discover": ("4541",),
    },
    "credit_not_processed": {
        "visa": ("13.6", "13.7"),
        "mastercard": ("4860",),
        "amex": ("C02", "C04", "C05", "C18", "P03", "P05"),
        "discover": ("8002",),
    },
    "duplicate": {
        "visa": ("12.6.1", "12.6.2"),
        "mastercard": ("4834",),
        "amex": ("P08", "C14", "173", "684"),
        "discover": ("4534", "4865"),
    },
    "general": {
        "visa": ("12.1", "12.2", "12.3", "12.4", "12.5", "12.7", "13.8", "28", "30", "34"),
        "mastercard": ("4808", "4831", "4859"),
        "amex": ("A02", "A08", "P01", "P07"),
        "discover": ("4542", "4550", "4553"),
    },
}
# Ranges Stripe writes as patterns: Visa 11.x (authorisation) and Mastercard 49xx are ``general``;
# Visa compliance cases (C0xx codes) are ``noncompliant``.
_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("visa", re.compile(r"^11\.\d+$"), "general"),
    ("mastercard", re.compile(r"^49\d\d$"), "general"),
    ("visa", re.compile(r"^C0\d{2,3}$"), "noncompliant"),
)

# Visa 10.5 (Visa Fraud Monitoring Program) cannot be remedied: Visa accepts no evidence.
UNREMEDIABLE_CODES = frozenset({("visa", "10.5")})


def network_codes_for(reason: str, brand: str) -> tuple[str, ...]:
    """The network codes Stripe files under ``reason`` for ``brand`` (empty when none are known)."""
    return NETWORK_CODES.get(reason, {}).get((brand or "").lower(), ())


def reason_for_network_code(brand: str, code: str) -> str | None:
    """Stripe's reason for a brand's network code, or ``None`` when the code is not in the table."""
    brand = (brand or "").lower()
    code = (code or "").strip().upper()
    for reason, by_brand in NETWORK_CODES.items():
        if code in by_brand.get(brand, ()):
            return reason
    for pattern_brand, pattern, reason in _PATTERNS:
        if brand == pattern_brand and pattern.match(code):
            return reason
    return None


def is_remediable(dispute: Mapping[str, Any]) -> bool:
    """False for disputes the network accepts no evidence for (Visa 10.5) or with ``due_by`` 0."""
    brand = (card_brand(dispute) or "").lower()
    code = network_reason_code(dispute)
    if code and (brand, code) in UNREMEDIABLE_CODES:
        return False
    details = dispute.get("evidence_details") or {}
    return not ("due_by" in details and details["due_by"] == 0)


# --- outcomes and the money they moved -----------------------------------------------------------

# Disputes opened on or after 17 June 2025 pay a separate "dispute countered fee" when countered;
# only that fee comes back, and only on a full win (outside Mexico the received fee never does).
COUNTERED_FEE_SINCE = 1750118400  # 2025-06-17T00:00:00Z
NO_COUNTERED_FEE_COUNTRIES = frozenset({"MX", "JP"})


@dataclass(frozen=True)
class DisputeMoney:
    """Money a dispute moved, read from its balance transactions (all amounts positive, minor units).

    ``net`` is the signed total effect on the balance (negative: the merchant is out of pocket).
    """

    currency: str | None
    withdrawn: int = 0
    reinstated: int = 0
    dispute_fee: int = 0
    dispute_fee_returned: int = 0
    countered_fee: int = 0
    countered_fee_returned: int = 0
    net: int = 0
    balance_transactions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """How a closed dispute ended. ``result`` is one of :data:`OUTCOMES`."""

    result: str
    dispute_id: str | None
    amount: int
    currency: str | None
    money: DisputeMoney
    countered: bool
    full_win: bool | None = None  # for ``won``: all of the disputed amount came back
    notes: tuple[str, ...] = field(default_factory=tuple)


def _is_countered_fee(detail: Mapping[str, Any]) -> bool:
    text = f"{detail.get('description') or ''} {detail.get('type') or ''}".lower()
    return "counter" in text


def dispute_money(dispute: Mapping[str, Any]) -> DisputeMoney:
    """Sum the dispute's balance transactions into withdrawn / reinstated amounts and fees.

    A fee line whose description mentions "counter" is the countered fee; every other fee line is
    the dispute (received) fee. A negative fee is a fee given back.
    """
    withdrawn = reinstated = 0
    fee = fee_back = counter = counter_back = net = 0
    currency = dispute.get("currency")
    ids: list[str] = []
    for txn in dispute.get("balance_transactions") or []:
        if isinstance(txn, str):
            raise ValidationError(
                f"balance transaction {txn} is only an id",
                param="balance_transactions", object_id=dispute.get("id"),
                hint="pass the dispute with its balance transactions as objects, as Stripe sends them",
            )
        ids.append(txn.get("id") or "")
        amount = int(txn.get("amount") or 0)
        if amount < 0:
            withdrawn += -amount
        else:
            reinstated += amount
        net += int(txn.get("net") if txn.get("net") is not None else amount - int(txn.get("fee") or 0))
        details = txn.get("fee_details") or []
        if details:
            for d in details:
                value = int(d.get("amount") or 0)
                if _is_countered_fee(d):
                    counter, counter_back = (counter + value, counter_back) if value >= 0 else (
                        counter, counter_back - value)
                else:
                    fee, fee_back = (fee + value, fee_back) if value >= 0 else (fee, fee_back - value)
        else:
            value = int(txn.get("fee") or 0)
            if value >= 0:
                fee += value
            else:
                fee_back -= value
    return DisputeMoney(
        currency=currency, withdrawn=withdrawn, reinstated=reinstated, dispute_fee=fee,
        dispute_fee_returned=fee_back, countered_fee=counter, countered_fee_returned=counter_back,
        net=net, balance_transactions=tuple(ids),
    )


def was_countered(dispute: Mapping[str, Any]) -> bool:
    """Evidence was submitted (not merely staged) at least once."""
    details = dispute.get("evidence_details") or {}
    return int(details.get("submission_count") or 0) > 0


def countered_fee_applies(dispute: Mapping[str, Any], *, country: str | None = None) -> bool:
    """Whether Stripe charges the countered fee: a chargeback opened on or after 17 June 2025 that
    was countered manually, outside Mexico and Japan (``country`` is the merchant's account country).
    Inquiries pay no fee; Smart Disputes submissions do not pay it.
    """
    if is_inquiry(dispute) or not was_countered(dispute):
        return False
    if int(dispute.get("created") or 0) < COUNTERED_FEE_SINCE:
        return False
    if country and country.upper() in NO_COUNTERED_FEE_COUNTRIES:
        return False
    method = (dispute.get("evidence_details") or {}).get("submission_method")
    return method != "smart_disputes"


def classify_outcome(dispute: Mapping[str, Any]) -> Outcome | None:
    """The outcome of a closed dispute with the money moved; ``None`` while it is still open."""
    status = status_of(dispute)
    if status not in OUTCOMES:
        return None
    money = dispute_money(dispute)
    notes: list[str] = []
    full_win: bool | None = None
    if status == "won":
        full_win = money.withdrawn == 0 or money.reinstated >= money.withdrawn
        if not full_win:
            notes.append("partial win: the countered fee is not returned")
        if money.dispute_fee and not money.dispute_fee_returned:
            notes.append("the dispute fee is not returned on a win")
    if countered_fee_applies(dispute) and not money.countered_fee:
        # Stripe charges it for a manual counter; never state an amount it did not book.
        notes.append("countered: no countered fee is booked in the dispute's balance "
                     "transactions, so the net does not include one")
    if status == "lost":
        if not money.withdrawn and not is_inquiry(dispute):
            notes.append("no withdrawal recorded in the balance transactions")
    elif status == "warning_closed":
        notes.append("inquiry closed without becoming a chargeback: no money moved")
    elif status == "prevented":
        notes.append("resolved or blocked before becoming a chargeback")
    return Outcome(
        result=status, dispute_id=dispute.get("id"), amount=int(dispute.get("amount") or 0),
        currency=dispute.get("currency"), money=money, countered=was_countered(dispute),
        full_win=full_win, notes=tuple(notes),
    )


def submit_confirmation(dispute_id: str, amount: int, currency: str, reason: str | None,
                        locale: str | None = None) -> str:
    """What submitting does, in the sentence people confirm."""
    from disputedesk.domain.money import format_amount

    return (f"Submit this evidence to Stripe for dispute {dispute_id} "
            f"({format_amount(amount, currency, locale)}, {reason or 'no reason given'}); "
            "it cannot be changed afterwards.")


def accept_confirmation(dispute_id: str, amount: int, currency: str,
                        locale: str | None = None) -> str:
    """What accepting does, in the sentence people confirm."""
    from disputedesk.domain.money import format_amount

    return (f"Accept dispute {dispute_id}: {format_amount(amount, currency, locale)} stays with "
            "the cardholder, the dispute closes as lost and no evidence can be sent afterwards.")
