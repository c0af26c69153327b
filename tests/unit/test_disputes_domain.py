"""Dispute reasons, statuses, deadlines, network codes and outcomes."""

from __future__ import annotations

import inspect
import re
import typing

import pytest
import stripe

from disputedesk.domain import disputes as d
from disputedesk.errors import ValidationError

NOW = 1_780_000_000


def dispute(**kw):
    base = {
        "id": "du_1", "object": "dispute", "amount": 4200, "currency": "usd", "created": NOW - 86400,
        "reason": "fraudulent", "status": "needs_response", "balance_transactions": [],
        "evidence_details": {"due_by": NOW + 3 * 86400 + 4 * 3600, "has_evidence": False,
                             "past_due": False, "submission_count": 0},
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "case_type": "chargeback",
                                                             "network_reason_code": "10.4"}},
    }
    base.update(kw)
    return base


def txn(amount, fee, *, desc="Dispute fee", id="txn_1"):
    details = [{"amount": fee, "currency": "usd", "description": desc, "type": "stripe_fee"}] if fee else []
    return {"id": id, "object": "balance_transaction", "amount": amount, "fee": fee, "net": amount - fee,
            "currency": "usd", "fee_details": details, "type": "adjustment"}


def test_statuses_and_reasons_match_the_installed_stripe_sdk():
    status_union = stripe.Dispute.__annotations__["status"]
    sdk_statuses = set(typing.get_args(typing.get_args(status_union)[0]))
    assert set(d.STATUSES) == sdk_statuses
    # ``reason`` is typed as an open str; the SDK's docstring lists the values.
    source = inspect.getsource(stripe.Dispute)
    listed = source[source.index("Possible values are `bank_cannot_process`"):].split(". Learn")[0]
    assert set(d.REASONS) == set(re.findall(r"`([a-z_]+)`", listed))


@pytest.mark.parametrize("status", ["warning_needs_response", "warning_under_review", "warning_closed"])
def test_warning_statuses_are_inquiries(status):
    assert d.is_inquiry(dispute(status=status, payment_method_details=None))


@pytest.mark.parametrize("status", ["needs_response", "under_review", "won", "lost"])
def test_chargeback_statuses_are_not_inquiries(status):
    assert not d.is_inquiry(dispute(status=status))


@pytest.mark.parametrize("status,closed", [("won", True), ("lost", True), ("warning_closed", True),
                                           ("prevented", True), ("needs_response", False),
                                           ("warning_under_review", False), ("appeal_needs_response", False)])
def test_open_and_closed_follow_the_status(status, closed):
    assert d.is_closed(dispute(status=status)) is closed
    assert d.is_open(dispute(status=status)) is not closed


def test_a_dispute_without_status_is_refused_with_a_hint():
    with pytest.raises(ValidationError, match="has no status"):
        d.is_open({"id": "du_x"})


def test_time_left_counts_down_to_due_by_with_an_injected_now():
    x = dispute()
    assert d.time_left(x, NOW) == 3 * 86400 + 4 * 3600
    assert d.format_time_left(d.time_left(x, NOW)) == "3d 4h"
    assert d.time_left(x, NOW + 4 * 86400) < 0
    assert d.is_past_due(x, NOW + 4 * 86400)
    assert d.format_time_left(-7500) == "overdue by 2h 5m"


def test_due_by_zero_means_no_response_is_allowed():
    x = dispute(evidence_details={"due_by": 0})
    assert d.time_left(x, NOW) is None
    assert d.format_time_left(None) == "no deadline"
    assert not d.is_remediable(x)


def test_visa_10_5_cannot_be_remedied():
    x = dispute(payment_method_details={"card": {"brand": "visa", "network_reason_code": "10.5"}})
    assert not d.is_remediable(x)
    assert d.is_remediable(dispute())


@pytest.mark.parametrize("brand,code,reason", [
    ("visa", "10.4", "fraudulent"), ("mastercard", "4837", "fraudulent"), ("visa", "13.1", "product_not_received"),
    ("mastercard", "4853", "product_unacceptable"), ("visa", "13.2", "subscription_canceled"),
    ("discover", "8002", "credit_not_processed"), ("visa", "12.6.1", "duplicate"), ("visa", "11.3", "general"),
    ("mastercard", "4999", "general"), ("mastercard", "4863", "unrecognized"), ("amex", "C08", "product_not_received"),
    ("visa", "C028", "noncompliant"),
])
def test_network_codes_map_to_stripe_reasons(brand, code, reason):
    assert d.reason_for_network_code(brand, code) == reason


def test_unknown_network_codes_map_to_nothing():
    assert d.reason_for_network_code("visa", "99.9") is None
    assert d.network_codes_for("fraudulent", "visa")[:4] == ("10.1", "10.2", "10.3", "10.4")
    assert d.network_codes_for("unrecognized", "visa") == ()


def test_network_reason_code_is_read_from_the_top_level_or_the_card():
    assert d.network_reason_code(dispute()) == "10.4"
    assert d.network_reason_code(dispute(network_reason_code="4837")) == "4837"


def test_an_open_dispute_has_no_outcome():
    assert d.classify_outcome(dispute()) is None


def test_a_won_dispute_returns_the_amount_and_the_countered_fee_but_not_the_dispute_fee():
    x = dispute(status="won", created=d.COUNTERED_FEE_SINCE + 10,
                evidence_details={"submission_count": 1, "due_by": NOW},
                balance_transactions=[
                    txn(-4200, 1500, id="txn_w"),
                    txn(0, 1500, desc="Dispute countered fee", id="txn_c"),
                    txn(4200, -1500, desc="Dispute countered fee refund", id="txn_r"),
                ])
    out = d.classify_outcome(x)
    assert out.result == "won" and out.full_win and out.countered
    m = out.money
    assert (m.withdrawn, m.reinstated) == (4200, 4200)
    assert (m.dispute_fee, m.dispute_fee_returned) == (1500, 0)
    assert (m.countered_fee, m.countered_fee_returned) == (1500, 1500)
    assert m.net == -1500
    assert "the dispute fee is not returned on a win" in out.notes


def test_a_lost_dispute_keeps_amount_and_fees():
    x = dispute(status="lost", balance_transactions=[txn(-4200, 1500)])
    out = d.classify_outcome(x)
    assert out.result == "lost" and out.money.net == -5700 and out.full_win is None


def test_a_partial_win_is_told_apart():
    x = dispute(status="won", balance_transactions=[txn(-4200, 1500, id="a"), txn(2000, 0, id="b")])
    out = d.classify_outcome(x)
    assert out.full_win is False and any("partial win" in n for n in out.notes)


def test_closed_inquiries_and_prevented_disputes_moved_no_money():
    for status in ("warning_closed", "prevented"):
        out = d.classify_outcome(dispute(status=status))
        assert out.result == status and out.money.net == 0


def test_balance_transactions_given_as_ids_are_refused():
    with pytest.raises(ValidationError, match="only an id"):
        d.dispute_money(dispute(balance_transactions=["txn_1"]))


def test_countered_fee_applies_only_to_countered_chargebacks_since_june_2025_outside_mx_jp():
    countered = dispute(created=d.COUNTERED_FEE_SINCE + 1, evidence_details={"submission_count": 1})
    assert d.countered_fee_applies(countered, country="US")
    assert not d.countered_fee_applies(countered, country="MX")
    assert not d.countered_fee_applies(countered, country="jp")
    assert not d.countered_fee_applies(dict(countered, created=d.COUNTERED_FEE_SINCE - 1))
    assert not d.countered_fee_applies(dispute(created=d.COUNTERED_FEE_SINCE + 1))
    assert not d.countered_fee_applies(dict(countered, status="warning_under_review"))
    smart = dict(countered, evidence_details={"submission_count": 1, "submission_method": "smart_disputes"})
    assert not d.countered_fee_applies(smart)


def test_a_countered_dispute_with_no_countered_fee_booked_says_so_and_counts_none():
    x = dispute(status="lost", created=d.COUNTERED_FEE_SINCE + 10,
                evidence_details={"submission_count": 1, "due_by": NOW},
                balance_transactions=[txn(-4200, 1500, id="txn_w")])
    out = d.classify_outcome(x)
    assert out.money.countered_fee == 0 and out.money.net == -5700
    assert any("no countered fee is booked" in n for n in out.notes)
    booked = dispute(status="lost", created=d.COUNTERED_FEE_SINCE + 10,
                     evidence_details={"submission_count": 1, "due_by": NOW},
                     balance_transactions=[txn(-4200, 1500, id="txn_w"),
                                           txn(0, 1500, desc="Dispute countered fee", id="txn_c")])
    out = d.classify_outcome(booked)
    assert out.money.countered_fee == 1500 and not any("no countered fee" in n for n in out.notes)


def test_the_to_do_words_say_due_overdue_only_unanswered_and_submitted():
    open_ = dispute(status="needs_response", evidence_details={"due_by": NOW + 3 * 86400 + 3600})
    assert d.todo_text(open_, NOW) == "due in 3d 1h"
    late = dispute(status="needs_response", evidence_details={"due_by": NOW - 7200})
    assert d.todo_text(late, NOW) == "overdue by 2h 0m"
    sent = dispute(status="under_review", evidence_details={"due_by": NOW - 50 * 86400,
                                                            "submission_count": 1})
    assert d.todo_text(sent, NOW) == "submitted, awaiting the issuer"
    assert d.todo_text(sent, NOW, NOW - 2 * 86400) == "submitted 2d 0h ago, awaiting the issuer"
    appeal = dispute(status="appeal_under_review", evidence_details={"due_by": NOW - 86400})
    assert "awaiting the issuer" in d.todo_text(appeal, NOW)
    assert "appeal_needs_response" in d.OPEN_STATUSES and "appeal_under_review" in d.OPEN_STATUSES


def test_the_mirror_reconciles_appeals_as_open_disputes():
    from disputedesk.services.mirror import OPEN_DISPUTE_STATUSES

    assert {"appeal_needs_response", "appeal_under_review"} <= set(OPEN_DISPUTE_STATUSES)
    assert not set(OPEN_DISPUTE_STATUSES) & d.CLOSED_STATUSES
