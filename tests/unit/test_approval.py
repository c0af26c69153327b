"""The refund approval policy: thresholds, daily totals per operator (UTC days), who may approve."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disputedesk.domain.approval import (
    ApprovalPolicy,
    can_approve,
    can_reject,
    ensure_can_approve,
    needs_approval,
    operator_totals,
    parse_amount_list,
    utc_day_bounds,
)
from disputedesk.domain.refunds import IllegalTransition, RefundRequest, RequestState
from disputedesk.errors import ConfigError, PermissionDenied

NOON = 1_700_049_600  # 2023-11-15T12:00:00Z
MIDNIGHT = 1_700_006_400  # 2023-11-15T00:00:00Z


def make_request(amount, currency="usd", requested_by="alice", created=NOON,
                 state=RequestState.requested, rid="rq_1"):
    return RefundRequest(id=rid, charge="ch_1", amount=amount, currency=currency,
                         requested_by=requested_by, created=created, state=state)


POLICY = ApprovalPolicy.from_settings("100.00 USD, 10000 JPY, 25.000 KWD", "500 USD, 50000 JPY")


def test_parse_amount_list_reads_one_amount_per_currency():
    assert parse_amount_list("100.00 USD, 10000 JPY, 25.500 KWD") == {
        "usd": 10000, "jpy": 10000, "kwd": 25500}
    assert parse_amount_list("EUR 0") == {"eur": 0}
    assert parse_amount_list(None) == {} and parse_amount_list(" ") == {}


@pytest.mark.parametrize(("text", "message"), [
    ("100", "'100' has no currency"),
    ("100 USD, 5 usd", "USD is listed twice"),
    ("1,000.00 USD, 5 EUR", "uses a comma inside an amount"),
    ("abc USD", "cannot read 'abc USD'"),
    ("1.5 JPY", "more decimals than JPY allows"),
    ("-5 USD", "must be positive"),
])
def test_parse_amount_list_refuses_bad_settings_naming_the_setting(text, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_amount_list(text, setting="approval_daily_limit")
    assert info.value.message.startswith("approval_daily_limit: ")


def test_no_policy_means_no_approval():
    decision = needs_approval(make_request(10**9), {}, ApprovalPolicy())
    assert not decision and decision.reason == "no approval policy is configured"


def test_refund_above_the_threshold_needs_approval():
    decision = needs_approval(make_request(10001), {}, POLICY)
    assert decision.required
    assert decision.codes == ("above_threshold",)
    assert "100.01 USD is above the approval threshold of 100.00 USD" in decision.reason


def test_refund_equal_to_the_threshold_does_not_need_approval():
    decision = needs_approval(make_request(10000), {}, POLICY)
    assert not decision.required
    assert "100.00 USD is within the threshold of 100.00 USD" in decision.reason


def test_thresholds_apply_per_currency_zero_and_three_decimal():
    assert not needs_approval(make_request(10000, "jpy"), {}, POLICY)
    assert needs_approval(make_request(10001, "jpy"), {}, POLICY).codes == ("above_threshold",)
    assert needs_approval(make_request(25010, "kwd"), {}, POLICY).codes[0] == "above_threshold"


def test_a_currency_without_a_threshold_needs_approval_by_default():
    decision = needs_approval(make_request(100, "eur"), {}, POLICY)
    assert decision.codes == ("no_threshold_for_currency", "no_daily_limit_for_currency")
    assert "no approval threshold is set for EUR" in decision.reason


def test_a_currency_without_a_threshold_can_be_let_through():
    lenient = ApprovalPolicy(thresholds={"usd": 100}, unlisted_currency_needs_approval=False)
    assert not needs_approval(make_request(10**6, "eur"), {}, lenient)


def test_refund_beyond_the_operators_daily_total_needs_approval():
    decision = needs_approval(make_request(6000), {"usd": 45000}, POLICY)
    assert decision.codes == ("above_daily_limit",)
    assert ("alice has refunded 450.00 USD today (UTC); with this 60.00 USD it would be "
            "510.00 USD, above the daily limit of 500.00 USD") in decision.reason


def test_refund_that_reaches_exactly_the_daily_total_does_not_need_approval():
    assert not needs_approval(make_request(5000), {"usd": 45000}, POLICY)


def test_threshold_and_daily_total_reasons_are_both_given():
    decision = needs_approval(make_request(20000), {"usd": 40000}, POLICY)
    assert decision.codes == ("above_threshold", "above_daily_limit")


def test_totals_in_other_currencies_do_not_count():
    assert not needs_approval(make_request(5000), {"jpy": 10**6}, POLICY)


def test_operator_totals_count_the_operators_requests_of_the_utc_day():
    requests = [
        make_request(1000, rid="a"),
        make_request(2000, rid="b", created=MIDNIGHT),                  # first second of the day
        make_request(4000, rid="c", created=MIDNIGHT - 1),              # yesterday (UTC)
        make_request(8000, rid="d", requested_by="bob"),
        make_request(16000, rid="e", state=RequestState.rejected),
        make_request(32000, rid="f", state=RequestState.failed),
        make_request(500, "jpy", rid="g", state=RequestState.succeeded),
        make_request(64000, rid="h"),                                   # the request itself
        make_request(100, rid="i", requested_by=" ALICE "),
    ]
    assert operator_totals(requests, "alice", NOON, exclude_id="h") == {"usd": 3100, "jpy": 500}


def test_utc_day_bounds_are_utc_midnights():
    assert utc_day_bounds(NOON) == (MIDNIGHT, MIDNIGHT + 86_400)
    assert utc_day_bounds(MIDNIGHT) == (MIDNIGHT, MIDNIGHT + 86_400)
    assert utc_day_bounds(MIDNIGHT - 1) == (MIDNIGHT - 86_400, MIDNIGHT)


@given(st.integers(0, 4 * 10**9))
def test_every_moment_lies_in_its_utc_day(now):
    start, end = utc_day_bounds(now)
    assert start <= now < end and start % 86_400 == 0


def test_another_user_may_approve_a_waiting_request():
    request = make_request(20000, state=RequestState.awaiting_approval)
    check = can_approve("bob", request)
    assert check.allowed and check.reason == "bob may approve alice's request"
    ensure_can_approve("bob", request)  # does not raise


@pytest.mark.parametrize("actor", ["alice", "Alice", " alice "])
def test_the_requester_can_never_approve_their_own_refund(actor):
    request = make_request(20000, state=RequestState.awaiting_approval)
    check = can_approve(actor, request)
    assert not check.allowed and check.code == "self_approval"
    assert not can_reject(actor, request)
    with pytest.raises(PermissionDenied, match="asked for this refund and cannot approve it") as info:
        ensure_can_approve(actor, request)
    assert info.value.code == "self_approval"
    assert info.value.hint == "ask another user to approve it"


@pytest.mark.parametrize("state", [RequestState.requested, RequestState.approved,
                                   RequestState.rejected, RequestState.succeeded])
def test_only_a_request_awaiting_approval_can_be_approved(state):
    request = make_request(20000, state=state)
    assert can_approve("bob", request).code == "not_awaiting_approval"
    with pytest.raises(IllegalTransition, match="not awaiting approval"):
        ensure_can_approve("bob", request)


def test_an_unknown_approver_is_refused():
    request = make_request(20000, state=RequestState.awaiting_approval)
    with pytest.raises(PermissionDenied, match="the approver is not known"):
        ensure_can_approve("  ", request)
