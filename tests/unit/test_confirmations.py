"""The sentences people confirm, and amounts as people read them (Babel, the desk's exponents)."""

from __future__ import annotations

import pytest

from disputedesk.domain.disputes import accept_confirmation, submit_confirmation
from disputedesk.domain.money import format_amount
from disputedesk.domain.refunds import RefundBalance, RefundPlan, refund_confirmation


@pytest.mark.parametrize(("amount", "currency", "locale", "shown"), [
    (1250, "usd", "en_US", "12.50 USD"),
    (123456789, "usd", "en_US", "1,234,567.89 USD"),
    (150000, "jpy", "en_US", "150,000 JPY"),        # zero-decimal: whole yen
    (1234560, "kwd", "en_US", "1,234.560 KWD"),     # three decimals
    (123456, "eur", "de_DE", "1.234,56 EUR"),
    (150000, "jpy", "de_DE", "150.000 JPY"),
    (1234560, "kwd", "fr_FR", "1\u202f234,560 KWD"),
    (-1250, "usd", "en_US", "-12.50 USD"),
    (1250, "usd", "not_a_locale", "12.50 USD"),
    (1000, "isk", "en_US", "10.00 ISK"),  # Stripe's two wire decimals, not CLDR's zero
])
def test_format_amount(amount, currency, locale, shown):
    assert format_amount(amount, currency, locale) == shown


def _plan(amount: int, left: int, currency: str, full: bool = False) -> RefundPlan:
    balance = RefundBalance(currency=currency, captured=left, refunded=0, reserved=0, left=left)
    return RefundPlan(charge="ch_1", amount=amount, currency=currency, reason=None, metadata={},
                      full=full, balance=balance)


@pytest.mark.parametrize(("plan", "sentence"), [
    (_plan(1250, 4000, "usd"), "Refund 12.50 USD of 40.00 USD on ch_1; 27.50 USD will remain."),
    (_plan(1500, 5000, "jpy"), "Refund 1,500 JPY of 5,000 JPY on ch_1; 3,500 JPY will remain."),
    (_plan(1250, 5000, "kwd"), "Refund 1.250 KWD of 5.000 KWD on ch_1; 3.750 KWD will remain."),
    (_plan(5000, 5000, "kwd", full=True), "Refund all 5.000 KWD left on ch_1; nothing will remain."),
    (_plan(4000, 4000, "usd"), "Refund all 40.00 USD left on ch_1; nothing will remain."),
])
def test_refund_confirmation(plan, sentence):
    assert refund_confirmation(plan, "en_US") == sentence


@pytest.mark.parametrize(("amount", "currency", "shown"), [
    (4200, "usd", "42.00 USD"), (4200, "jpy", "4,200 JPY"), (4200, "kwd", "4.200 KWD")])
def test_dispute_confirmations(amount, currency, shown):
    assert submit_confirmation("du_1", amount, currency, "fraudulent", "en_US") == (
        f"Submit this evidence to Stripe for dispute du_1 ({shown}, fraudulent); it cannot be "
        "changed afterwards.")
    assert accept_confirmation("du_1", amount, currency, "en_US") == (
        f"Accept dispute du_1: {shown} stays with the cardholder, the dispute closes as lost and "
        "no evidence can be sent afterwards.")
