"""The refund approval policy (maker-checker): which refunds wait for a second person, and who may
approve them. Pure: the services pass the request, the operator's totals and the policy.

Policy, from two desk settings stored in the database (``approval_threshold``,
``approval_daily_limit``; the ``DISPUTEDESK_*`` variables of the same names only seed them), each
a comma-separated list with one amount per currency, e.g. ``"100.00 USD, 10000 JPY"``:

- a refund **above** the currency's threshold needs approval (equal to it does not);
- a refund that takes the requester's total for the day **above** the daily limit needs approval;
  the day is the UTC calendar day (00:00:00 to 23:59:59 UTC), whatever the desk's display zone;
- when a list is configured but names no amount for the refund's currency, the refund needs
  approval (an unlisted currency is not a free pass; list every currency you take);
- the requester can never approve (or reject) their own request; they may cancel it instead.
  "Their own" means the person: any of their tokens, a rule they own, an account they created.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from disputedesk.domain.money import format_money, to_minor
from disputedesk.domain.refunds import (
    IllegalTransition,
    RefundRequest,
    RequestState,
    parse_requested_amount,
)
from disputedesk.errors import ConfigError, MoneyError, PermissionDenied

SECONDS_PER_DAY = 86_400

# Requests that moved no money: they do not count toward an operator's daily total.
_NOT_COUNTED = frozenset({RequestState.rejected, RequestState.canceled, RequestState.failed})


def parse_amount_list(text: str | None, *, setting: str = "approval_threshold") -> dict[str, int]:
    """``"100.00 USD, 10000 JPY, 25.500 KWD"`` -> ``{"usd": 10000, "jpy": 10000, "kwd": 25500}``.

    Every amount must name its currency; each currency may appear once; 0 is allowed (then every
    refund in that currency needs approval).
    """
    out: dict[str, int] = {}
    if re.search(r"\d,\d{3}(?!\d)", text or ""):
        # "1,000.00 USD, 500 EUR" cannot be split on commas unambiguously.
        raise ConfigError(f"{setting}: '{text}' uses a comma inside an amount", param=setting,
                          hint='commas separate currencies here; write 1000.00 USD, not 1,000.00 USD')
    for part in (text or "").split(","):
        item = part.strip()
        if not item:
            continue
        try:
            amount = parse_requested_amount(item, allow_zero=True)
        except MoneyError as exc:
            raise ConfigError(f"{setting}: cannot read '{item}': {exc.message}", param=setting,
                              hint='write it like "100.00 USD, 10000 JPY"') from exc
        if amount.full or amount.currency is None:
            raise ConfigError(f"{setting}: '{item}' has no currency", param=setting,
                              hint='write the currency after each amount, as in "100.00 USD"')
        if amount.currency in out:
            raise ConfigError(f"{setting}: {amount.currency.upper()} is listed twice",
                              param=setting, hint="give one amount per currency")
        out[amount.currency] = to_minor(amount.major, amount.currency)
    return out


@dataclass(frozen=True)
class ApprovalPolicy:
    """Thresholds and daily limits per currency (lowercase code -> minor units)."""

    thresholds: Mapping[str, int] = field(default_factory=dict)
    daily_limits: Mapping[str, int] = field(default_factory=dict)
    # When a list is configured, does a currency missing from it need approval? Yes by default.
    unlisted_currency_needs_approval: bool = True

    @classmethod
    def from_settings(cls, approval_threshold: str | None,
                      approval_daily_limit: str | None) -> ApprovalPolicy:
        return cls(
            thresholds=parse_amount_list(approval_threshold, setting="approval_threshold"),
            daily_limits=parse_amount_list(approval_daily_limit, setting="approval_daily_limit"),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.thresholds or self.daily_limits)


@dataclass(frozen=True)
class ApprovalDecision:
    """Whether a request waits for a second person, with the reasons in words and as codes."""

    required: bool
    reason: str
    codes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.required


def needs_approval(request: RefundRequest, operator_totals_today: Mapping[str, int],
                   policy: ApprovalPolicy) -> ApprovalDecision:
    """Does ``request`` need another user's approval?

    ``operator_totals_today``: the requester's refunds so far in the current UTC day, per
    currency, in minor units, *without* this request (see :func:`operator_totals`).
    """
    currency = request.currency.lower()
    amount = request.amount
    money = format_money(amount, currency)
    reasons: list[str] = []
    codes: list[str] = []
    fine: list[str] = []

    if policy.thresholds:
        threshold = policy.thresholds.get(currency)
        if threshold is None:
            if policy.unlisted_currency_needs_approval:
                codes.append("no_threshold_for_currency")
                reasons.append(f"no approval threshold is set for {currency.upper()}, so every "
                               f"{currency.upper()} refund needs approval")
        elif amount > threshold:
            codes.append("above_threshold")
            reasons.append(f"{money} is above the approval threshold of "
                           f"{format_money(threshold, currency)}")
        else:
            fine.append(f"{money} is within the threshold of {format_money(threshold, currency)}")

    if policy.daily_limits:
        limit = policy.daily_limits.get(currency)
        so_far = operator_totals_today.get(currency, 0)
        if limit is None:
            if policy.unlisted_currency_needs_approval:
                codes.append("no_daily_limit_for_currency")
                reasons.append(f"no daily limit is set for {currency.upper()}, so every "
                               f"{currency.upper()} refund needs approval")
        elif so_far + amount > limit:
            codes.append("above_daily_limit")
            reasons.append(
                f"{request.requested_by} has refunded {format_money(so_far, currency)} today "
                f"(UTC); with this {money} it would be {format_money(so_far + amount, currency)}, "
                f"above the daily limit of {format_money(limit, currency)}"
            )
        else:
            fine.append(f"{request.requested_by}'s total today (UTC) stays within "
                        f"{format_money(limit, currency)}")

    if codes:
        return ApprovalDecision(True, "needs approval: " + "; ".join(reasons), tuple(codes))
    if not policy.enabled:
        return ApprovalDecision(False, "no approval policy is configured")
    return ApprovalDecision(False, "no approval needed: " + "; ".join(fine))


# --- the operator's daily total --------------------------------------------------------------------

def utc_day_bounds(now: int) -> tuple[int, int]:
    """``[start, end)`` in epoch seconds of the UTC calendar day containing ``now``."""
    start = now - now % SECONDS_PER_DAY
    return start, start + SECONDS_PER_DAY


def _same_person(a: str | None, b: str | None) -> bool:
    # "Alice" and " alice " are one person: a case change must not pass for a second approver.
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def operator_totals(requests: Iterable[RefundRequest], operator: str, now: int,
                    *, exclude_id: str | None = None) -> dict[str, int]:
    """Per-currency total of ``operator``'s refund requests created in the UTC day of ``now``.

    Rejected, canceled and failed requests moved no money and are not counted; requests that
    were approved by someone else are (the limit is on what the operator started).
    """
    start, end = utc_day_bounds(now)
    totals: dict[str, int] = {}
    for request in requests:
        if request.id == exclude_id or not _same_person(request.requested_by, operator):
            continue
        if not start <= request.created < end or RequestState(request.state) in _NOT_COUNTED:
            continue
        currency = request.currency.lower()
        totals[currency] = totals.get(currency, 0) + request.amount
    return totals


# --- who may decide ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApproverCheck:
    allowed: bool
    reason: str
    code: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


def can_approve(actor: str, request: RefundRequest, *, requester_person: str | None = None,
                approver_created_by: str | None = None) -> ApproverCheck:
    """May ``actor`` (a person) approve (or reject) ``request``? Role checks are the services'.

    People are compared, not names: ``requester_person`` is who answers for the request (the
    person behind any of their tokens, or the owner of the rule that asked); an approver whose
    account ``requester_person`` created (``approver_created_by``) is not a second person either.
    """
    if not (actor or "").strip():
        return ApproverCheck(False, "the approver is not known", "approver_unknown")
    state = RequestState(request.state)
    if state is not RequestState.awaiting_approval:
        return ApproverCheck(False, f"request {request.id} is {state.value}, not awaiting "
                                    "approval", "not_awaiting_approval")
    if _same_person(actor, request.requested_by):
        return ApproverCheck(False, f"{actor} asked for this refund and cannot approve it: "
                                    "another user must", "self_approval")
    person = requester_person or request.requested_by
    if _same_person(actor, person):
        return ApproverCheck(False, f"{actor} cannot approve this refund: it was asked for by "
                                    f"{request.requested_by}, which acts for {actor} (a rule "
                                    f"{actor} owns); another user must", "self_approval")
    if approver_created_by and _same_person(approver_created_by, person):
        return ApproverCheck(False, f"{actor} cannot approve this refund: {person} asked for it "
                                    f"and created {actor}'s account, so {actor} is not a second "
                                    "person; a user that someone else created must approve",
                             "approver_created_by_requester")
    return ApproverCheck(True, f"{actor} may approve {request.requested_by}'s request")


can_reject = can_approve


def ensure_can_approve(actor: str, request: RefundRequest, *, requester_person: str | None = None,
                       approver_created_by: str | None = None) -> None:
    """Raise if ``actor`` may not approve ``request``: PermissionDenied or IllegalTransition."""
    check = can_approve(actor, request, requester_person=requester_person,
                        approver_created_by=approver_created_by)
    if check:
        return
    if check.code == "not_awaiting_approval":
        raise IllegalTransition(check.reason, code=check.code, object_id=request.id, param="state")
    raise PermissionDenied(check.reason, code=check.code, object_id=request.id,
                           hint="ask another user to approve it" if check.code != "approver_unknown"
                           else None)
