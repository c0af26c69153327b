"""Refunds: Stripe's refund vocabulary, the desk's refund request lifecycle, and the checks run
before the desk asks Stripe to move money back to a customer.

Pure: inputs are Stripe-shaped dicts as the mirror stores them (``charge``, ``refund``,
``dispute``, ``radar.early_fraud_warning``) and the desk's own :class:`RefundRequest` records;
outputs are plain data. No database, no Stripe call, no clock (callers pass epoch seconds).

The services (later) use this module like so::

    plan = plan_refund(charge, amount=..., refunds=..., disputes=..., in_flight=...)
    record RefundRequest(state=requested, attempt=1)          # committed BEFORE any call
    decision = approval.needs_approval(request, totals, policy)
    transition(request.state, "submitted")                    # committed BEFORE the call
    POST /v1/refunds refund_create_params(plan, request.id)
         Idempotency-Key: idempotency_key(request.id, request.attempt)

See docs/refunds.md for why each step is where it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from disputedesk.domain.money import THREE_DECIMAL, Money, exponent, format_money, to_minor
from disputedesk.errors import Conflict, MoneyError, NotRefundable, ValidationError

# --- Stripe's vocabulary, verbatim ---------------------------------------------------------------

#: ``refund.status`` values (stripe 16.1, API 2026-10-28.endive).
REFUND_STATUSES: tuple[str, ...] = ("pending", "requires_action", "succeeded", "failed", "canceled")
#: Refunds that hold money of the charge: Stripe counts them in ``charge.amount_refunded`` until they
#: fail or are canceled (then the amount returns to the charge and to the merchant's balance).
#: ``requires_action`` is counted too: the refund exists and can still complete.
ACTIVE_REFUND_STATUSES = frozenset({"pending", "requires_action", "succeeded"})
#: ``reason`` values a caller may set; Stripe itself also writes ``expired_uncaptured_charge``.
REFUND_REASONS: tuple[str, ...] = ("duplicate", "fraudulent", "requested_by_customer")
#: ``refund.failure_reason`` values.
FAILURE_REASONS: tuple[str, ...] = (
    "lost_or_stolen_card", "expired_or_canceled_card", "charge_for_pending_refund_disputed",
    "insufficient_funds", "declined", "merchant_request", "unknown",
)

# Dispute statuses as they matter for a refund (kept in step with domain/disputes.py, which owns
# the full dispute vocabulary). Unknown future statuses are treated as open chargebacks: refusing
# a refund is recoverable, paying a customer twice is not.
_DISPUTE_CLOSED = frozenset({"won", "lost", "warning_closed", "prevented"})
_INQUIRY_OPEN = frozenset({"warning_needs_response", "warning_under_review"})

#: Metadata key the desk adds to every refund it creates: it links the refund back to the request
#: even when the idempotency key has been pruned by Stripe (after 24 hours).
REQUEST_METADATA_KEY = "disputedesk_request_id"
_RESERVED_METADATA_PREFIX = "disputedesk_"
# Stripe's metadata limits (50 keys, key <= 40 chars, value <= 500 chars).
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500


# --- errors (subclasses of the desk's tree, each with a stable code) ----------------------------

class IllegalTransition(Conflict):
    """The refund request cannot move from its state to the one asked for."""

    code = "illegal_transition"


class ChargeDisputed(NotRefundable):
    """The charge has a chargeback (or Stripe says it is not refundable): act on the dispute."""

    code = "charge_disputed"


class AmountTooLarge(NotRefundable):
    """More than is left to refund on the charge."""

    code = "amount_too_large"


class CurrencyMismatch(MoneyError):
    code = "currency_mismatch"


# --- the desk's refund request lifecycle -----------------------------------------------------------

class RequestState(StrEnum):
    """States of the desk's own refund request. The last five mirror ``refund.status``."""

    requested = "requested"                  # recorded, approval policy not yet applied
    awaiting_approval = "awaiting_approval"  # waits for a second person
    approved = "approved"                    # cleared (by policy or by a person); not yet sent
    rejected = "rejected"                    # a second person said no (final)
    submitted = "submitted"                  # about to be / being sent; idempotency key fixed
    pending = "pending"                      # Stripe: refund.status pending
    requires_action = "requires_action"      # Stripe: waits for the customer's bank details
    succeeded = "succeeded"                  # Stripe: succeeded (a card refund can still fail later)
    failed = "failed"                        # Stripe failed/refused it, or a re-check refused it
    canceled = "canceled"                    # withdrawn before sending, or canceled at Stripe


S = RequestState
#: Every legal move. Anything else is refused by :func:`transition`.
TRANSITIONS: Mapping[RequestState, frozenset[RequestState]] = {
    S.requested: frozenset({S.awaiting_approval, S.approved, S.canceled}),
    S.awaiting_approval: frozenset({S.approved, S.rejected, S.canceled}),
    # approved -> failed: the checks are re-run just before sending and refused (e.g. a dispute
    # opened meanwhile); Stripe was never called.
    S.approved: frozenset({S.submitted, S.failed, S.canceled}),
    # submitted -> failed also covers Stripe refusing the request (4xx: no refund created).
    S.submitted: frozenset({S.pending, S.requires_action, S.succeeded, S.failed, S.canceled}),
    S.pending: frozenset({S.succeeded, S.failed, S.canceled}),
    S.requires_action: frozenset({S.pending, S.succeeded, S.failed, S.canceled}),
    # Card refunds can fail weeks after succeeding; some can be canceled (Dashboard) shortly after.
    S.succeeded: frozenset({S.failed, S.canceled}),
    S.rejected: frozenset(),
    S.failed: frozenset(),
    S.canceled: frozenset(),
}
del S

FINAL_STATES = frozenset(state for state, nxt in TRANSITIONS.items() if not nxt)
#: States before anything was sent to Stripe.
UNSENT_STATES = frozenset({RequestState.requested, RequestState.awaiting_approval,
                           RequestState.approved})


def _state(value: str | RequestState, param: str = "state") -> RequestState:
    try:
        return RequestState(value)
    except ValueError:
        raise ValidationError(
            f"'{value}' is not a refund request state",
            param=param, hint="one of " + ", ".join(s.value for s in RequestState),
        ) from None


def can_transition(current: str | RequestState, target: str | RequestState) -> bool:
    return _state(target, "target") in TRANSITIONS[_state(current)]


def transition(current: str | RequestState, target: str | RequestState) -> RequestState:
    """Return ``target`` if a request in ``current`` may move there, else raise IllegalTransition."""
    cur, tgt = _state(current), _state(target, "target")
    allowed = TRANSITIONS[cur]
    if tgt in allowed:
        return tgt
    if not allowed:
        detail = f"'{cur.value}' is final"
    else:
        detail = "from " + cur.value + " it can only go to " + ", ".join(
            sorted(s.value for s in allowed))
    raise IllegalTransition(
        f"a refund request cannot go from '{cur.value}' to '{tgt.value}': {detail}",
        param="state",
    )


def apply_stripe_status(current: str | RequestState, stripe_status: str) -> RequestState:
    """The request's state after Stripe reported ``refund.status`` (from a webhook or a fetch).

    Stripe refunds only move forward (pending/requires_action -> succeeded/failed/canceled,
    succeeded -> failed/canceled), so a snapshot that would move the request backwards is an
    older one delivered late (webhooks arrive in any order): it is ignored and ``current`` is
    returned. A status for a request that was never sent is refused: the desk did not create
    that refund, a person must look.
    """
    cur = _state(current)
    if stripe_status not in REFUND_STATUSES:
        raise ValidationError(
            f"'{stripe_status}' is not a Stripe refund status",
            param="status", hint="one of " + ", ".join(REFUND_STATUSES),
        )
    new = RequestState(stripe_status)
    if cur in UNSENT_STATES or cur is RequestState.rejected:
        raise IllegalTransition(
            f"Stripe reports a refund in '{stripe_status}' for a request that was never sent "
            f"(state '{cur.value}')",
            param="state", hint="check which refund this is before changing the request",
        )
    if new == cur or new not in TRANSITIONS[cur]:
        return cur
    return new


# --- the desk's request record (what the services persist) ---------------------------------------

@dataclass(frozen=True)
class RefundRequest:
    """The desk's record of one refund it was asked to make, stored before any Stripe call.

    ``id`` must be unique across every desk that uses the Stripe account (a UUID, not a table
    row number): the idempotency key is derived from it and Stripe scopes keys per account.
    ``amount``/``currency``/``charge``/``reason``/``metadata`` are frozen once submitted: Stripe
    compares the parameters of a replayed key with the first request and refuses a mismatch.
    """

    id: str
    charge: str
    amount: int
    currency: str
    requested_by: str
    created: int
    state: RequestState = RequestState.requested
    reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    note: str | None = None
    attempt: int = 1
    refund_id: str | None = None
    approved_by: str | None = None
    source_key: str | None = None  # e.g. the bulk row key (see domain/bulk.py)


# --- idempotency --------------------------------------------------------------------------------

_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")


def idempotency_key(request_id: str, attempt: int = 1) -> str:
    """``Idempotency-Key`` for the POST /v1/refunds of request ``request_id``, attempt ``attempt``.

    Deterministic: it is computed from the request record, which is committed *before* the call.
    After a crash anywhere between the commit and recording Stripe's answer, the desk re-sends the
    same parameters with the same key and Stripe replays its stored answer instead of refunding
    again. A random key made at call time would be lost with the crashed process.

    ``attempt`` starts at 1 and is raised only when the desk knows the previous key created no
    refund and can never succeed (Stripe stores failed answers, 500s included, and replays them for
    about 24 hours); the services confirm that first by listing the charge's refunds for
    :data:`REQUEST_METADATA_KEY`. Keys carry no personal data, as Stripe asks.
    """
    if not isinstance(request_id, str) or not _REQUEST_ID_RE.fullmatch(request_id):
        raise ValidationError(
            f"'{request_id}' cannot be used in an idempotency key",
            param="request_id", hint="use the request's UUID (letters, digits, '-' and '_')",
        )
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise ValidationError(f"attempt must be a positive integer, got {attempt!r}",
                              param="attempt")
    return f"disputedesk-refund-{request_id}-{attempt}"


# --- amounts people type ------------------------------------------------------------------------

_AMOUNT_RE = re.compile(
    r"^\s*(?:(?P<cur1>[A-Za-z]{3})\s+)?"
    r"(?P<num>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+)"
    r"\s*(?P<cur2>[A-Za-z]{3})?\s*$"
)
_DECIMAL_COMMA_RE = re.compile(r"^\s*(?:[A-Za-z]{3}\s+)?[-+]?\d+,\d{1,2}\s*(?:[A-Za-z]{3})?\s*$")


@dataclass(frozen=True)
class RequestedAmount:
    """An amount as a person typed it: ``full``, or major units with an optional currency.

    The currency may be left out ("12.50"); it is then the charge's, known only once the charge is
    looked up, which is why the conversion to minor units is a separate step (:meth:`resolve`).
    """

    full: bool
    major: Decimal | None = None
    currency: str | None = None

    def resolve(self, charge_currency: str) -> Money | None:
        """Minor units in the charge's currency, or ``None`` for "refund everything left"."""
        if self.full:
            return None
        currency = (self.currency or charge_currency).lower()
        if currency != charge_currency.lower():
            raise _currency_mismatch(currency, charge_currency.lower())
        return Money(to_minor(self.major, currency), currency)


def parse_requested_amount(text: str, *, allow_zero: bool = False) -> RequestedAmount:
    """Read ``full``, ``12.50``, ``12.50 EUR``, ``EUR 12.50``, ``1500 JPY``, ``1.234 KWD``.

    A comma is accepted only as a thousands separator (``1,234.50``): ``12,50`` is refused rather
    than read as 1250, which is what a European spreadsheet would otherwise turn into a refund 100
    times too large.
    """
    raw = (text or "").strip()
    if raw.lower() == "full":
        return RequestedAmount(full=True)
    if not raw:
        raise MoneyError("the amount is empty", param="amount",
                         hint='write "full" or an amount such as 12.50 or "12.50 EUR"')
    if _DECIMAL_COMMA_RE.match(raw):
        raise MoneyError(
            f"'{raw}' uses a comma as the decimal separator", param="amount",
            hint=f"write it with a dot: {raw.replace(',', '.')}",
        )
    match = _AMOUNT_RE.match(raw)
    if not match:
        raise MoneyError(f"cannot read the amount '{raw}'", param="amount",
                         hint='write "full" or an amount such as 12.50, "12.50 EUR" or "1500 JPY"')
    cur1, cur2 = match["cur1"], match["cur2"]
    if cur1 and cur2:
        raise MoneyError(f"'{raw}' names two currencies", param="amount",
                         hint='write one, as in "12.50 EUR"')
    try:
        major = Decimal(match["num"].replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the regex admits only numbers
        raise MoneyError(f"'{raw}' is not a number", param="amount") from None
    if major < 0 or (major == 0 and not allow_zero):
        raise MoneyError(
            f"the amount must be positive, got '{raw}'", code="amount_not_positive", param="amount",
            hint='write a positive amount, or "full" to refund everything left',
        )
    currency = (cur1 or cur2 or "").lower() or None
    if currency is not None:
        exponent(currency)  # refuses something that is not a currency code
        to_minor(major, currency)  # refuses more decimals than the currency has
    return RequestedAmount(full=False, major=major, currency=currency)


# --- what is left to refund ------------------------------------------------------------------------

@dataclass(frozen=True)
class RefundBalance:
    """How much of a charge can still be refunded, and why (all minor units, charge currency)."""

    currency: str
    captured: int      # charge.amount_captured: what the customer actually paid
    refunded: int      # pending + requires_action + succeeded refunds (Stripe's amount_refunded)
    reserved: int      # the desk's own requests not yet visible as Stripe refunds
    left: int          # captured - refunded - reserved, never below 0

    def breakdown(self) -> str:
        text = (f"paid {format_money(self.captured, self.currency)}, "
                f"refunded {format_money(self.refunded, self.currency)}")
        if self.reserved:
            text += (f", {format_money(self.reserved, self.currency)} in other refund requests "
                     "not yet at Stripe")
        return text

    def describe(self) -> str:
        return f"{format_money(self.left, self.currency)} left to refund ({self.breakdown()})"


def _int_field(obj: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = obj.get(name, default)
    if value is None and default is not None:
        value = default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(
            f"{obj.get('object', 'object')} {obj.get('id', '?')} has no valid '{name}' "
            f"(got {value!r})",
            param=name, object_id=obj.get("id"), hint="pass the object as Stripe returns it",
        )
    return value


def _charge_id_of(obj: Mapping[str, Any]) -> str | None:
    charge = obj.get("charge")
    if isinstance(charge, Mapping):
        return charge.get("id")
    return charge


def _charge(charge: Mapping[str, Any]) -> tuple[str, str]:
    if not isinstance(charge, Mapping) or not isinstance(charge.get("id"), str):
        raise ValidationError("the charge must be a Stripe charge object with an id",
                              code="invalid_charge", param="charge")
    currency = charge.get("currency")
    if not isinstance(currency, str) or not currency:
        raise ValidationError(f"charge {charge['id']} has no currency", code="invalid_charge",
                              param="currency", object_id=charge["id"])
    return charge["id"], currency.lower()


def charge_refunds(charge: Mapping[str, Any],
                   refunds: Iterable[Mapping[str, Any]] | None = None) -> list[Mapping[str, Any]]:
    """The refunds of ``charge``: ``refunds`` if given, else the expanded ``charge.refunds`` list.

    Refunds that name another charge are dropped, so a caller may pass a wider list.
    """
    charge_id = charge.get("id")
    if refunds is None:
        embedded = charge.get("refunds")
        if isinstance(embedded, Mapping):
            refunds = embedded.get("data") or []
        elif isinstance(embedded, list):
            refunds = embedded
        else:
            refunds = []
    return [r for r in refunds if _charge_id_of(r) in (None, charge_id)]


def refund_balance(charge: Mapping[str, Any],
                   refunds: Iterable[Mapping[str, Any]] | None = None,
                   in_flight: Iterable[RefundRequest] = ()) -> RefundBalance:
    """What is left to refund on ``charge``.

    Stripe's ``charge.amount_refunded`` counts pending, requires_action and succeeded refunds and
    drops a refund again when it fails or is canceled. The desk computes the same sum from the
    refund objects and takes the larger of the two, so a mirror where one of them lags can only
    make the desk refuse too early, never refund too much. ``in_flight`` are the desk's own
    requests on this charge that Stripe may not show yet (not yet sent, or sent and not yet
    mirrored); counting them is what stops two people refunding the same money at once.
    """
    _, currency = _charge(charge)
    captured = _int_field(charge, "amount_captured", charge.get("amount"))
    listed = charge_refunds(charge, refunds)
    from_refunds = sum(
        _int_field(r, "amount") for r in listed if (r.get("status") or "pending")
        in ACTIVE_REFUND_STATUSES
    )
    refunded = max(_int_field(charge, "amount_refunded", 0), from_refunds)
    known_ids = {r.get("id") for r in listed}
    reserved = 0
    for request in in_flight:
        if request.state in (RequestState.rejected, RequestState.failed, RequestState.canceled):
            continue
        if request.refund_id is None or (refunds is not None and request.refund_id not in known_ids):
            reserved += request.amount
    return RefundBalance(currency=currency, captured=captured, refunded=refunded,
                         reserved=reserved, left=max(0, captured - refunded - reserved))


def amount_left(charge: Mapping[str, Any], refunds: Iterable[Mapping[str, Any]] | None = None,
                in_flight: Iterable[RefundRequest] = ()) -> int:
    """Minor units still refundable on ``charge`` (never negative)."""
    return refund_balance(charge, refunds, in_flight).left


# --- checks before the call --------------------------------------------------------------------------

@dataclass(frozen=True)
class RefundWarning:
    """Something a person should read before confirming; it does not stop the refund."""

    code: str
    message: str
    object_id: str | None = None


@dataclass(frozen=True)
class RefundPlan:
    """A refund that passed every check: what the desk will ask Stripe for."""

    charge: str
    amount: int                       # minor units, always explicit (also for "full")
    currency: str
    reason: str | None
    metadata: Mapping[str, str]
    full: bool                        # refunds everything that was left
    balance: RefundBalance            # the balance the checks saw
    warnings: tuple[RefundWarning, ...] = ()

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


def _currency_mismatch(given: str, charge_currency: str, charge_id: str | None = None) -> MoneyError:
    which = f"charge {charge_id}" if charge_id else "the charge"
    return CurrencyMismatch(
        f"the amount is in {given.upper()} but {which} is in {charge_currency.upper()}",
        param="currency", object_id=charge_id,
        hint=f"refunds go back in the charge's currency: enter the amount in {charge_currency.upper()}",
    )


def check_stripe_precision(amount: int, currency: str) -> None:
    """Stripe wants three-decimal currencies (bhd jod kwd omr tnd) in multiples of 10 minor units."""
    if currency.lower() in THREE_DECIMAL and amount % 10:
        lower = amount - amount % 10
        raise MoneyError(
            f"{format_money(amount, currency)} cannot be refunded: Stripe takes "
            f"{currency.upper()} amounts only in multiples of 10 minor units (the last decimal "
            "must be 0)",
            code="amount_not_multiple_of_10", param="amount",
            hint=f"use {format_money(lower, currency)} or {format_money(lower + 10, currency)}",
        )


def validate_reason(reason: str | None) -> str | None:
    if reason is None or reason == "":
        return None
    if reason not in REFUND_REASONS:
        raise ValidationError(
            f"'{reason}' is not a refund reason", code="invalid_reason", param="reason",
            hint="use " + ", ".join(REFUND_REASONS) + ", or none (keep details in the note)",
        )
    return reason


def validate_metadata(metadata: Mapping[str, Any] | None, *, param: str = "metadata") -> dict[str, str]:
    """Stripe's metadata rules, plus: keys starting with ``disputedesk_`` belong to the desk."""
    out: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError("metadata keys must be non-empty text", code="invalid_metadata",
                                  param=param)
        if len(key) > METADATA_KEY_MAX or "[" in key or "]" in key:
            raise ValidationError(
                f"metadata key '{key}' is not allowed", code="invalid_metadata", param=param,
                hint=f"at most {METADATA_KEY_MAX} characters and no square brackets",
            )
        if key.startswith(_RESERVED_METADATA_PREFIX):
            raise ValidationError(
                f"metadata key '{key}' is reserved for the desk", code="invalid_metadata",
                param=param, hint=f"rename it; keys starting with '{_RESERVED_METADATA_PREFIX}' "
                "are set by disputedesk",
            )
        if not isinstance(value, str):
            raise ValidationError(f"metadata value of '{key}' must be text",
                                  code="invalid_metadata", param=param)
        if len(value) > METADATA_VALUE_MAX:
            raise ValidationError(
                f"metadata value of '{key}' has {len(value)} characters", code="invalid_metadata",
                param=param, hint=f"at most {METADATA_VALUE_MAX}",
            )
        out[key] = value
    # One key is kept free for REQUEST_METADATA_KEY.
    if len(out) > METADATA_MAX_KEYS - 1:
        raise ValidationError(
            f"{len(out)} metadata keys given", code="invalid_metadata", param=param,
            hint=f"at most {METADATA_MAX_KEYS - 1} (Stripe allows {METADATA_MAX_KEYS}; the desk "
            "uses one)",
        )
    return out


def _check_charge_state(charge: Mapping[str, Any], charge_id: str) -> None:
    status = charge.get("status")
    if status == "failed":
        raise NotRefundable(
            f"charge {charge_id} failed: no money was taken, so there is nothing to refund",
            code="charge_failed", param="charge", object_id=charge_id,
            hint="check that this is the payment you mean; a failed charge needs no refund",
        )
    if status == "pending" or charge.get("paid") is False:
        raise NotRefundable(
            f"charge {charge_id} is not paid yet (status {status})",
            code="charge_not_paid", param="charge", object_id=charge_id,
            hint="wait until its status is succeeded; Stripe would hold the refund as pending "
                 "(pending_reason charge_pending) and fail it if the payment fails",
        )
    if charge.get("captured") is False:
        raise NotRefundable(
            f"charge {charge_id} is authorized but not captured: no money was taken",
            code="charge_not_captured", param="charge", object_id=charge_id,
            hint="cancel the PaymentIntent to release the authorization, or capture it first",
        )


def _check_disputes(charge: Mapping[str, Any], charge_id: str,
                    disputes: Iterable[Mapping[str, Any]] | None) -> list[RefundWarning]:
    warnings: list[RefundWarning] = []
    listed = [d for d in (disputes or []) if _charge_id_of(d) in (None, charge_id)]
    for dispute in listed:
        dispute_id = dispute.get("id", "?")
        status = dispute.get("status") or "unknown"
        refundable = dispute.get("is_charge_refundable")
        if refundable is False or (status not in _DISPUTE_CLOSED and status not in _INQUIRY_OPEN):
            raise ChargeDisputed(
                f"charge {charge_id} is disputed ({dispute_id}, status {status}): Stripe does not "
                "refund a charged-back payment outside the dispute, and a refund would pay the "
                "customer twice",
                param="charge", object_id=dispute_id,
                hint=f"handle it in dispute {dispute_id}: accept it, or counter it with evidence",
            )
        if status in _INQUIRY_OPEN:
            warnings.append(RefundWarning(
                code="open_inquiry", object_id=dispute_id,
                message=(
                    f"charge {charge_id} has an open inquiry ({dispute_id}, {status}). A refund "
                    "now is allowed, but if the inquiry escalates to a chargeback while the refund "
                    "is still pending, Stripe fails the refund with failure_reason "
                    "charge_for_pending_refund_disputed; if the refund went through, the "
                    "customer can be paid twice. Consider answering the inquiry instead."
                ),
            ))
    if charge.get("disputed") and not listed:
        raise ChargeDisputed(
            f"charge {charge_id} is marked disputed but the desk holds no dispute for it",
            param="charge", object_id=charge_id,
            hint="sync its disputes (or look it up with --live) and handle the refund there",
        )
    return warnings


def plan_refund(
    charge: Mapping[str, Any],
    *,
    amount: Money | RequestedAmount | int | None = None,
    reason: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    refunds: Iterable[Mapping[str, Any]] | None = None,
    disputes: Iterable[Mapping[str, Any]] | None = None,
    early_fraud_warnings: Iterable[Mapping[str, Any]] | None = None,
    in_flight: Sequence[RefundRequest] = (),
    request_id: str | None = None,
) -> RefundPlan:
    """Run every check before a refund and return what to send, or raise why not.

    ``amount``: ``None`` (or ``RequestedAmount(full=True)``) refunds everything left; an ``int``
    is minor units in the charge's currency (the API form); :class:`Money` or
    :class:`RequestedAmount` must be in the charge's currency. ``refunds``/``disputes``/
    ``early_fraud_warnings`` are the charge's objects from the mirror; ``in_flight`` the desk's
    other open requests on the charge (``request_id``, the request being checked, is skipped).

    Order: the charge's state, disputes, reason and metadata, currency, the amount itself, then
    what is left. Raises NotRefundable (codes charge_failed, charge_not_paid,
    charge_not_captured, charge_already_refunded), ChargeDisputed, AmountTooLarge, MoneyError
    (amount_not_positive, amount_not_multiple_of_10), CurrencyMismatch, ValidationError.
    """
    charge_id, currency = _charge(charge)
    _check_charge_state(charge, charge_id)
    warnings = _check_disputes(charge, charge_id, disputes)
    reason = validate_reason(reason)
    clean_metadata = validate_metadata(metadata)

    requested: int | None
    if amount is None:
        requested = None
    elif isinstance(amount, RequestedAmount):
        money = amount.resolve(currency)
        requested = None if money is None else money.amount
    elif isinstance(amount, Money):
        if amount.currency != currency:
            raise _currency_mismatch(amount.currency, currency, charge_id)
        requested = amount.amount
    elif isinstance(amount, int) and not isinstance(amount, bool):
        requested = amount
    else:
        raise MoneyError(f"cannot use {amount!r} as a refund amount", param="amount")
    if requested is not None and requested <= 0:
        raise MoneyError(
            f"the refund amount must be positive, got {format_money(requested, currency)}",
            code="amount_not_positive", param="amount",
            hint="leave the amount out (or write full) to refund everything left",
        )
    if requested is not None:
        check_stripe_precision(requested, currency)

    others = [r for r in in_flight if r.id != request_id and r.charge in (None, charge_id)]
    charge_refund_list = charge_refunds(charge, refunds)
    balance = refund_balance(charge, refunds, others)
    if charge.get("refunded") is True or balance.refunded >= balance.captured:
        raise NotRefundable(
            f"charge {charge_id} is already fully refunded "
            f"({format_money(balance.refunded, currency)})",
            code="charge_already_refunded", param="charge", object_id=charge_id,
            hint="nothing is left to refund; its refunds are listed by 'disputedesk charges show'",
        )
    if balance.left == 0:
        raise AmountTooLarge(
            f"nothing is left to refund on charge {charge_id}: {balance.describe()}",
            param="amount", object_id=charge_id,
            hint="wait for the open refund requests on this charge to finish or be rejected",
        )
    if requested is not None and requested > balance.left:
        raise AmountTooLarge(
            f"{format_money(requested, currency)} is more than the "
            f"{format_money(balance.left, currency)} left to refund on charge {charge_id} "
            f"({balance.breakdown()})",
            param="amount", object_id=charge_id,
            hint=f"refund at most {format_money(balance.left, currency)}, or write full",
        )

    final = balance.left if requested is None else requested
    warnings.extend(_duplicate_warnings(final, currency, charge_refund_list, others))
    if reason == "fraudulent":
        warnings.append(RefundWarning(
            code="fraudulent_blocks_card",
            message="reason fraudulent also adds the card and the customer's e-mail to your "
                    "Radar block lists",
        ))
    if final < balance.left and any(
        efw.get("actionable") for efw in (early_fraud_warnings or [])
        if _charge_id_of(efw) in (None, charge_id)
    ):
        warnings.append(RefundWarning(
            code="partial_refund_with_early_fraud_warning",
            message=f"charge {charge_id} has an early fraud warning: a partial refund does not "
                    "prevent the fraud dispute that usually follows; a fully refunded card charge "
                    "cannot be disputed",
        ))
    return RefundPlan(charge=charge_id, amount=final, currency=currency, reason=reason,
                      metadata=clean_metadata, full=final == balance.left, balance=balance,
                      warnings=tuple(warnings))


def _duplicate_warnings(amount: int, currency: str, refunds: Iterable[Mapping[str, Any]],
                        others: Iterable[RefundRequest]) -> list[RefundWarning]:
    out: list[RefundWarning] = []
    for refund in refunds:
        if refund.get("amount") == amount and (refund.get("status") or "pending") in \
                ACTIVE_REFUND_STATUSES:
            out.append(RefundWarning(
                code="possible_duplicate", object_id=refund.get("id"),
                message=f"refund {refund.get('id')} of {format_money(amount, currency)} already "
                        f"exists on this charge ({refund.get('status')}): make sure this is not "
                        "the same refund twice",
            ))
    for request in others:
        if request.amount == amount and request.state not in FINAL_STATES:
            out.append(RefundWarning(
                code="possible_duplicate", object_id=request.id,
                message=f"{request.requested_by} already asked to refund "
                        f"{format_money(amount, currency)} on this charge (request {request.id}, "
                        f"{request.state.value}): make sure this is not the same refund twice",
            ))
    return out


def refund_create_params(plan: RefundPlan, request_id: str) -> dict[str, Any]:
    """Parameters of POST /v1/refunds for ``plan``, tagged with the desk's request id.

    Always the same for the same request, so a replayed idempotency key matches (Stripe refuses a
    key reused with different parameters).
    """
    params: dict[str, Any] = {
        "charge": plan.charge,
        "amount": plan.amount,
        "metadata": {**plan.metadata, REQUEST_METADATA_KEY: request_id},
    }
    if plan.reason:
        params["reason"] = plan.reason
    return params


def find_refund_for_request(refunds: Iterable[Mapping[str, Any]],
                            request_id: str) -> Mapping[str, Any] | None:
    """The refund Stripe holds for ``request_id`` (found by metadata), if any.

    Used when healing a ``submitted`` request whose key may have been pruned (older than 24
    hours): list the charge's refunds (GET /v1/refunds?charge=..., not the eventually consistent
    Search API) and adopt the one tagged with the request id instead of creating a second.
    """
    for refund in refunds:
        if (refund.get("metadata") or {}).get(REQUEST_METADATA_KEY) == request_id:
            return refund
    return None


def refund_confirmation(plan: RefundPlan, locale: str | None = None) -> str:
    """What a refund will do, in one sentence people confirm: "Refund 12.50 EUR of 40.00 EUR on
    ch_...; 27.50 EUR will remain." (amounts in the reader's locale, always with the currency)."""
    from disputedesk.domain.money import format_amount

    left = plan.balance.left
    remain = left - plan.amount

    def show(minor: int) -> str:
        return format_amount(minor, plan.currency, locale)

    if plan.full or remain <= 0:
        return f"Refund all {show(plan.amount)} left on {plan.charge}; nothing will remain."
    return (f"Refund {show(plan.amount)} of {show(left)} on {plan.charge}; "
            f"{show(remain)} will remain.")
