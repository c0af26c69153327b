"""The pure refund domain: lifecycle, idempotency keys, amounts left and every check before a call."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disputedesk.domain.money import Money
from disputedesk.domain.refunds import (
    FINAL_STATES,
    REFUND_STATUSES,
    REQUEST_METADATA_KEY,
    TRANSITIONS,
    AmountTooLarge,
    ChargeDisputed,
    CurrencyMismatch,
    IllegalTransition,
    RefundRequest,
    RequestedAmount,
    RequestState,
    amount_left,
    apply_stripe_status,
    can_transition,
    find_refund_for_request,
    idempotency_key,
    parse_requested_amount,
    plan_refund,
    refund_balance,
    refund_create_params,
    transition,
)
from disputedesk.errors import Conflict, MoneyError, NotRefundable, ValidationError


def make_charge(amount=5000, currency="usd", refunded=0, **extra):
    charge = {
        "id": "ch_1", "object": "charge", "amount": amount, "amount_captured": amount,
        "amount_refunded": refunded, "currency": currency, "status": "succeeded", "paid": True,
        "captured": True, "refunded": False, "disputed": False,
    }
    charge.update(extra)
    return charge


def make_refund(amount, status="succeeded", rid="re_1", charge="ch_1", **extra):
    return {"id": rid, "object": "refund", "amount": amount, "status": status, "charge": charge,
            "currency": "usd", **extra}


def make_dispute(status, refundable, did="du_1"):
    return {"id": did, "object": "dispute", "charge": "ch_1", "status": status,
            "is_charge_refundable": refundable}


def make_request(rid="rq_1", amount=1000, state=RequestState.approved, **extra):
    fields = {"id": rid, "charge": "ch_1", "amount": amount, "currency": "usd",
              "requested_by": "alice", "created": 1_700_000_000, "state": state}
    fields.update(extra)
    return RefundRequest(**fields)


# --- vocabulary and lifecycle -------------------------------------------------------------------------

def test_refund_statuses_are_stripes_verbatim():
    assert REFUND_STATUSES == ("pending", "requires_action", "succeeded", "failed", "canceled")
    assert {s for s in REFUND_STATUSES} <= {s.value for s in RequestState}


@pytest.mark.parametrize("path", [
    ["requested", "approved", "submitted", "succeeded"],
    ["requested", "awaiting_approval", "approved", "submitted", "pending", "succeeded"],
    ["requested", "awaiting_approval", "rejected"],
    ["requested", "approved", "submitted", "succeeded", "failed"],
    ["requested", "approved", "submitted", "requires_action", "canceled"],
    ["requested", "approved", "submitted", "requires_action", "pending", "failed"],
    ["requested", "approved", "failed"],
    ["requested", "awaiting_approval", "canceled"],
    ["requested", "approved", "submitted", "failed"],
])
def test_transition_allows_the_lifecycle_paths(path):
    state = RequestState(path[0])
    for nxt in path[1:]:
        state = transition(state, nxt)
    assert state == RequestState(path[-1])


@pytest.mark.parametrize(("current", "target"), [
    ("requested", "submitted"),           # skipping the approval policy
    ("awaiting_approval", "submitted"),   # nobody approved it
    ("approved", "succeeded"),            # never sent
    ("succeeded", "pending"),
    ("failed", "succeeded"),
    ("pending", "approved"),
    ("submitted", "approved"),
])
def test_transition_refuses_illegal_moves_naming_both_states(current, target):
    with pytest.raises(IllegalTransition) as info:
        transition(current, target)
    assert f"from '{current}' to '{target}'" in info.value.message
    assert info.value.code == "illegal_transition"
    assert isinstance(info.value, Conflict)


@pytest.mark.parametrize("final", ["rejected", "failed", "canceled"])
def test_transition_says_a_final_state_is_final(final):
    with pytest.raises(IllegalTransition, match=f"'{final}' is final"):
        transition(final, "approved")
    assert RequestState(final) in FINAL_STATES


def test_transition_lists_the_allowed_next_states():
    with pytest.raises(IllegalTransition, match="can only go to canceled, failed, submitted"):
        transition("approved", "pending")


def test_transition_rejects_an_unknown_state():
    with pytest.raises(ValidationError, match="'sent' is not a refund request state"):
        transition("sent", "approved")


def test_every_state_has_an_entry_in_the_transition_table():
    assert set(TRANSITIONS) == set(RequestState)
    assert can_transition("submitted", "pending") and not can_transition("pending", "submitted")


@pytest.mark.parametrize(("current", "stripe_status", "expected"), [
    ("submitted", "pending", "pending"),
    ("submitted", "succeeded", "succeeded"),
    ("pending", "succeeded", "succeeded"),
    ("succeeded", "failed", "failed"),        # card refund failing weeks later
    ("requires_action", "canceled", "canceled"),
    ("pending", "pending", "pending"),        # the same snapshot twice
    ("failed", "succeeded", "failed"),        # an older snapshot delivered late
    ("succeeded", "pending", "succeeded"),
])
def test_apply_stripe_status_moves_forward_and_ignores_stale_snapshots(current, stripe_status,
                                                                       expected):
    assert apply_stripe_status(current, stripe_status) == RequestState(expected)


def test_apply_stripe_status_refuses_a_refund_for_a_request_never_sent():
    with pytest.raises(IllegalTransition, match="never sent"):
        apply_stripe_status("approved", "succeeded")


def test_apply_stripe_status_rejects_an_unknown_stripe_status():
    with pytest.raises(ValidationError, match="'done' is not a Stripe refund status"):
        apply_stripe_status("submitted", "done")


@given(st.lists(st.sampled_from(REFUND_STATUSES), max_size=12))
def test_stripe_updates_never_leave_a_final_state(statuses):
    state = RequestState.submitted
    for status in statuses:
        before = state
        state = apply_stripe_status(state, status)
        if before in FINAL_STATES:
            assert state == before


# --- idempotency keys -----------------------------------------------------------------------------------

def test_idempotency_key_is_derived_from_the_request_record():
    key = idempotency_key("3f2a9c1e-7b4d-4e7a-9a51-0c2d8e6f1b23", 1)
    assert key == "disputedesk-refund-3f2a9c1e-7b4d-4e7a-9a51-0c2d8e6f1b23-1"
    assert key == idempotency_key("3f2a9c1e-7b4d-4e7a-9a51-0c2d8e6f1b23", 1)  # replay after crash
    assert key != idempotency_key("3f2a9c1e-7b4d-4e7a-9a51-0c2d8e6f1b23", 2)
    assert len(idempotency_key("x" * 100, 10**9)) <= 255


@pytest.mark.parametrize("bad_id", ["", "has space", "a/b", "x" * 101, None])
def test_idempotency_key_refuses_request_ids_that_are_not_safe(bad_id):
    with pytest.raises(ValidationError, match="cannot be used in an idempotency key"):
        idempotency_key(bad_id, 1)


@pytest.mark.parametrize("attempt", [0, -1, True, "1"])
def test_idempotency_key_refuses_an_attempt_that_is_not_a_positive_integer(attempt):
    with pytest.raises(ValidationError, match="attempt must be a positive integer"):
        idempotency_key("rq_1", attempt)


def test_refund_create_params_tag_the_refund_with_the_request_and_are_stable():
    plan = plan_refund(make_charge(), amount=1250, reason="duplicate", metadata={"ticket": "T-9"})
    params = refund_create_params(plan, "rq_7")
    assert params == {"charge": "ch_1", "amount": 1250, "reason": "duplicate",
                      "metadata": {"ticket": "T-9", REQUEST_METADATA_KEY: "rq_7"}}
    assert params == refund_create_params(plan, "rq_7")


def test_find_refund_for_request_finds_it_by_metadata():
    refunds = [make_refund(100, rid="re_a", metadata={}),
               make_refund(200, rid="re_b", metadata={REQUEST_METADATA_KEY: "rq_7"})]
    assert find_refund_for_request(refunds, "rq_7")["id"] == "re_b"
    assert find_refund_for_request(refunds, "rq_8") is None


# --- amounts as typed -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("full", RequestedAmount(full=True)),
    ("FULL", RequestedAmount(full=True)),
    ("12.50", RequestedAmount(False, Decimal("12.50"), None)),
    ("12.50 EUR", RequestedAmount(False, Decimal("12.50"), "eur")),
    ("EUR 12.50", RequestedAmount(False, Decimal("12.50"), "eur")),
    ("1,234.50 usd", RequestedAmount(False, Decimal("1234.50"), "usd")),
    ("1500 JPY", RequestedAmount(False, Decimal("1500"), "jpy")),
    ("1.230 KWD", RequestedAmount(False, Decimal("1.230"), "kwd")),
])
def test_parse_requested_amount_reads_amounts_as_people_write_them(text, expected):
    assert parse_requested_amount(text) == expected


@pytest.mark.parametrize(("text", "code", "message"), [
    ("12,50", "invalid_amount", "comma as the decimal separator"),
    ("12,50 EUR", "invalid_amount", "comma as the decimal separator"),
    ("0", "amount_not_positive", "must be positive"),
    ("-5 USD", "amount_not_positive", "must be positive"),
    ("", "invalid_amount", "empty"),
    ("twelve", "invalid_amount", "cannot read"),
    ("EUR 5 USD", "invalid_amount", "two currencies"),
    ("12.5 JPY", "invalid_amount", "more decimals than JPY allows"),
    ("1.2345 KWD", "invalid_amount", "more decimals than KWD allows"),
])
def test_parse_requested_amount_refuses_unreadable_amounts(text, code, message):
    with pytest.raises(MoneyError, match=message) as info:
        parse_requested_amount(text)
    assert info.value.code == code


def test_a_comma_decimal_is_refused_with_the_dotted_form_as_the_fix():
    with pytest.raises(MoneyError) as info:
        parse_requested_amount("12,50")
    assert info.value.hint == "write it with a dot: 12.50"


# --- what is left -----------------------------------------------------------------------------------------

def test_amount_left_counts_pending_and_succeeded_refunds_but_not_failed_or_canceled():
    refunds = [make_refund(1000, "succeeded", "re_1"), make_refund(500, "pending", "re_2"),
               make_refund(200, "requires_action", "re_3"), make_refund(700, "failed", "re_4"),
               make_refund(300, "canceled", "re_5")]
    balance = refund_balance(make_charge(5000), refunds)
    assert (balance.refunded, balance.left) == (1700, 3300)


def test_amount_left_trusts_the_larger_of_amount_refunded_and_the_refund_list():
    stale_list = refund_balance(make_charge(5000, refunded=3000), [make_refund(1000)])
    stale_charge = refund_balance(make_charge(5000, refunded=0), [make_refund(1000)])
    assert (stale_list.left, stale_charge.left) == (2000, 4000)


def test_amount_left_reads_the_expanded_refunds_list_and_ignores_other_charges():
    charge = make_charge(5000, refunds={"object": "list", "data": [
        make_refund(1000), make_refund(4000, rid="re_x", charge="ch_other")]})
    assert amount_left(charge) == 4000


def test_amount_left_reserves_the_desks_own_requests_not_yet_at_stripe():
    in_flight = [make_request("rq_a", 1500, RequestState.awaiting_approval),
                 make_request("rq_b", 1000, RequestState.submitted),
                 make_request("rq_c", 900, RequestState.rejected),
                 make_request("rq_d", 800, RequestState.succeeded, refund_id="re_1")]
    balance = refund_balance(make_charge(5000), [make_refund(800, rid="re_1")], in_flight)
    assert (balance.refunded, balance.reserved, balance.left) == (800, 2500, 1700)


def test_amount_left_uses_the_captured_amount_of_a_partially_captured_charge():
    assert amount_left(make_charge(5000, amount_captured=3000)) == 3000


@given(
    captured=st.integers(1, 10**8),
    refunded=st.integers(0, 10**8),
    refunds=st.lists(st.tuples(st.integers(0, 10**8), st.sampled_from(REFUND_STATUSES)),
                     max_size=8),
    reserved=st.lists(st.integers(1, 10**8), max_size=3),
)
def test_amount_left_is_never_negative(captured, refunded, refunds, reserved):
    charge = make_charge(captured, refunded=refunded)
    listed = [make_refund(a, s, f"re_{i}") for i, (a, s) in enumerate(refunds)]
    in_flight = [make_request(f"rq_{i}", a) for i, a in enumerate(reserved)]
    left = amount_left(charge, listed, in_flight)
    assert 0 <= left <= captured


# --- the checks -------------------------------------------------------------------------------------------

def test_refund_rejects_amount_above_refundable_saying_how_much_is_left():
    with pytest.raises(AmountTooLarge) as info:
        plan_refund(make_charge(5000, refunded=4000), amount=Money(1250, "usd"))
    error = info.value
    assert error.code == "amount_too_large"
    assert error.message.startswith(
        "12.50 USD is more than the 10.00 USD left to refund on charge ch_1")
    assert "paid 50.00 USD, refunded 40.00 USD" in error.message
    assert error.hint == "refund at most 10.00 USD, or write full"
    assert isinstance(error, NotRefundable)


def test_refund_rejects_a_fully_refunded_charge():
    with pytest.raises(NotRefundable, match="ch_1 is already fully refunded") as info:
        plan_refund(make_charge(5000, refunded=5000))
    assert info.value.code == "charge_already_refunded"
    flagged = {**make_charge(5000, refunded=5000), "refunded": True}
    with pytest.raises(NotRefundable, match="already fully refunded"):
        plan_refund(flagged, amount=100)


def test_refund_says_nothing_is_left_when_open_requests_take_the_rest():
    in_flight = [make_request("rq_a", 5000, RequestState.awaiting_approval)]
    with pytest.raises(AmountTooLarge, match="nothing is left to refund") as info:
        plan_refund(make_charge(5000), amount=100, in_flight=in_flight)
    assert "not yet at Stripe" in info.value.message


def test_refund_does_not_reserve_against_the_request_being_checked():
    own = make_request("rq_self", 5000, RequestState.approved)
    plan = plan_refund(make_charge(5000), amount=5000, in_flight=[own], request_id="rq_self")
    assert plan.amount == 5000 and plan.full


@pytest.mark.parametrize("status", ["needs_response", "under_review"])
def test_refund_rejects_a_charged_back_charge_and_points_to_the_dispute(status):
    with pytest.raises(ChargeDisputed) as info:
        plan_refund(make_charge(disputed=True), disputes=[make_dispute(status, False, "du_42")])
    error = info.value
    assert error.code == "charge_disputed"
    assert error.object_id == "du_42"
    assert f"charge ch_1 is disputed (du_42, status {status})" in error.message
    assert "pay the customer twice" in error.message
    assert error.hint == "handle it in dispute du_42: accept it, or counter it with evidence"


def test_refund_rejects_when_the_dispute_says_the_charge_is_not_refundable_even_if_closed():
    with pytest.raises(ChargeDisputed, match="du_1, status lost"):
        plan_refund(make_charge(disputed=True), disputes=[make_dispute("lost", False)])


def test_refund_rejects_an_open_chargeback_even_if_is_charge_refundable_is_true():
    with pytest.raises(ChargeDisputed):
        plan_refund(make_charge(disputed=True), disputes=[make_dispute("needs_response", True)])


def test_refund_rejects_a_charge_marked_disputed_whose_dispute_the_desk_lacks():
    with pytest.raises(ChargeDisputed, match="marked disputed but the desk holds no dispute"):
        plan_refund(make_charge(disputed=True), disputes=[])


@pytest.mark.parametrize("status", ["warning_needs_response", "warning_under_review"])
def test_refund_during_an_open_inquiry_warns_about_charge_for_pending_refund_disputed(status):
    plan = plan_refund(make_charge(disputed=True), amount=1000,
                       disputes=[make_dispute(status, True, "du_9")])
    assert [w.code for w in plan.warnings] == ["open_inquiry"]
    warning = plan.warnings[0]
    assert warning.object_id == "du_9"
    assert "charge_for_pending_refund_disputed" in warning.message
    assert "escalates to a chargeback" in warning.message


def test_refund_after_a_closed_inquiry_needs_no_warning():
    plan = plan_refund(make_charge(disputed=True), amount=1000,
                       disputes=[make_dispute("warning_closed", True)])
    assert plan.warnings == ()


def test_refund_rejects_an_amount_in_another_currency():
    with pytest.raises(CurrencyMismatch) as info:
        plan_refund(make_charge(currency="usd"), amount=Money(1000, "eur"))
    assert info.value.code == "currency_mismatch"
    assert info.value.message == "the amount is in EUR but charge ch_1 is in USD"
    assert info.value.hint == "refunds go back in the charge's currency: enter the amount in USD"
    with pytest.raises(CurrencyMismatch):
        plan_refund(make_charge(currency="usd"), amount=parse_requested_amount("10 EUR"))


@pytest.mark.parametrize(("changes", "code", "message"), [
    ({"status": "failed", "paid": False}, "charge_failed", "failed: no money was taken"),
    ({"status": "pending", "paid": False}, "charge_not_paid", "is not paid yet"),
    ({"captured": False, "amount_captured": 0}, "charge_not_captured",
     "authorized but not captured"),
])
def test_refund_rejects_charges_that_took_no_money(changes, code, message):
    with pytest.raises(NotRefundable, match=message) as info:
        plan_refund(make_charge(**changes))
    assert info.value.code == code
    assert info.value.object_id == "ch_1"


@pytest.mark.parametrize("amount", [0, -100])
def test_refund_rejects_a_zero_or_negative_amount(amount):
    with pytest.raises(MoneyError, match="must be positive") as info:
        plan_refund(make_charge(), amount=amount)
    assert info.value.code == "amount_not_positive"


def test_refund_in_a_three_decimal_currency_needs_a_multiple_of_ten():
    with pytest.raises(MoneyError) as info:
        plan_refund(make_charge(10_000, "kwd"), amount=parse_requested_amount("1.235 KWD"))
    assert info.value.code == "amount_not_multiple_of_10"
    assert "1.235 KWD cannot be refunded" in info.value.message
    assert info.value.hint == "use 1.230 KWD or 1.240 KWD"


def test_partial_refunds_in_a_zero_decimal_currency():
    charge = make_charge(10_000, "jpy")
    plan = plan_refund(charge, amount=parse_requested_amount("1500 JPY"))
    assert (plan.amount, plan.currency, plan.full) == (1500, "jpy", False)
    refunds = [make_refund(1500, rid="re_a")]
    with pytest.raises(AmountTooLarge, match="9000 JPY is more than the 8500 JPY left"):
        plan_refund(charge, amount=parse_requested_amount("9000"), refunds=refunds)
    assert plan_refund(charge, refunds=refunds).amount == 8500


def test_partial_refunds_in_a_three_decimal_currency():
    charge = make_charge(10_000, "kwd")  # 10.000 KWD
    plan = plan_refund(charge, amount=parse_requested_amount("1.230 KWD"))
    assert plan.amount == 1230
    refunds = [make_refund(1230, rid="re_a")]
    with pytest.raises(AmountTooLarge, match="9.000 KWD is more than the 8.770 KWD left"):
        plan_refund(charge, amount=parse_requested_amount("9"), refunds=refunds)
    full = plan_refund(charge, refunds=refunds)
    assert (full.amount, full.full) == (8770, True)


def test_partial_refunds_in_usd_and_the_full_remainder():
    charge = make_charge(5000)
    first = plan_refund(charge, amount=parse_requested_amount("12.50"))
    assert (first.amount, first.full) == (1250, False)
    rest = plan_refund(charge, amount=None, refunds=[make_refund(1250)])
    assert (rest.amount, rest.full) == (3750, True)
    assert rest.balance.describe() == \
        "37.50 USD left to refund (paid 50.00 USD, refunded 12.50 USD)"


def test_refund_rejects_an_unknown_reason():
    with pytest.raises(ValidationError, match="'customer_unhappy' is not a refund reason") as info:
        plan_refund(make_charge(), amount=100, reason="customer_unhappy")
    assert info.value.code == "invalid_reason"


@pytest.mark.parametrize(("metadata", "message"), [
    ({"disputedesk_request_id": "x"}, "reserved for the desk"),
    ({"k" * 41: "v"}, "is not allowed"),
    ({"a[b]": "v"}, "is not allowed"),
    ({"note": "v" * 501}, "has 501 characters"),
    ({"n": 5}, "must be text"),
    ({f"k{i}": "v" for i in range(50)}, "50 metadata keys given"),
])
def test_refund_rejects_metadata_stripe_would_refuse(metadata, message):
    with pytest.raises(ValidationError, match=message) as info:
        plan_refund(make_charge(), amount=100, metadata=metadata)
    assert info.value.code == "invalid_metadata"


def test_refund_warns_that_fraudulent_blocks_the_card():
    plan = plan_refund(make_charge(), amount=100, reason="fraudulent")
    assert [w.code for w in plan.warnings] == ["fraudulent_blocks_card"]


def test_refund_warns_about_a_refund_of_the_same_amount_already_on_the_charge():
    plan = plan_refund(make_charge(), amount=1000, refunds=[make_refund(1000, rid="re_dup")],
                       in_flight=[make_request("rq_2", 1000, RequestState.awaiting_approval,
                                               requested_by="bob")])
    codes = [(w.code, w.object_id) for w in plan.warnings]
    assert codes == [("possible_duplicate", "re_dup"), ("possible_duplicate", "rq_2")]
    assert "bob already asked to refund 10.00 USD" in plan.warnings[1].message


def test_partial_refund_with_an_early_fraud_warning_suggests_a_full_refund():
    efw = {"id": "issfr_1", "object": "radar.early_fraud_warning", "charge": "ch_1",
           "actionable": True, "fraud_type": "made_with_stolen_card"}
    partial = plan_refund(make_charge(), amount=100, early_fraud_warnings=[efw])
    full = plan_refund(make_charge(), early_fraud_warnings=[efw])
    assert [w.code for w in partial.warnings] == ["partial_refund_with_early_fraud_warning"]
    assert full.warnings == ()


def test_refund_rejects_a_malformed_charge():
    with pytest.raises(ValidationError, match="has no currency"):
        plan_refund({"id": "ch_1", "amount": 100})
    with pytest.raises(ValidationError, match="no valid 'amount_captured'"):
        plan_refund({"id": "ch_1", "currency": "usd"})


# --- properties ----------------------------------------------------------------------------------------------

@settings(max_examples=150)
@given(
    currency=st.sampled_from(["usd", "jpy", "kwd"]),
    charge_amount=st.integers(10, 10**7),
    asks=st.lists(st.integers(-10, 10**7), min_size=1, max_size=12),
)
def test_planned_partial_refunds_never_exceed_the_charge(currency, charge_amount, asks):
    if currency == "kwd":
        charge_amount -= charge_amount % 10
        charge_amount = max(charge_amount, 10)
    charge = make_charge(charge_amount, currency)
    refunds: list[dict] = []
    for i, ask in enumerate(asks):
        left = amount_left(charge, refunds)
        try:
            plan = plan_refund(charge, amount=ask, refunds=refunds)
        except NotRefundable:
            assert ask > left or left == 0
            continue
        except MoneyError:
            assert ask <= 0 or (currency == "kwd" and ask % 10)
            continue
        assert 0 < plan.amount <= left
        refunds.append(make_refund(plan.amount, rid=f"re_{i}"))
        assert sum(r["amount"] for r in refunds) <= charge_amount


@settings(max_examples=100)
@given(charge_amount=st.integers(1, 10**6),
       asks=st.lists(st.one_of(st.none(), st.integers(1, 10**6)), min_size=1, max_size=10))
def test_requests_not_yet_at_stripe_never_add_up_to_more_than_the_charge(charge_amount, asks):
    # Several people plan refunds before any reaches Stripe: each plan reserves its amount.
    charge = make_charge(charge_amount)
    in_flight: list[RefundRequest] = []
    for i, ask in enumerate(asks):
        try:
            plan = plan_refund(charge, amount=ask, in_flight=in_flight)
        except NotRefundable:
            continue
        in_flight.append(make_request(f"rq_{i}", plan.amount, RequestState.submitted))
    assert sum(r.amount for r in in_flight) <= charge_amount
