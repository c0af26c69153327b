"""Money parsing and formatting with each currency's exponent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disputedesk.domain.money import Money, exponent, format_money, parse_money, to_major, to_minor
from disputedesk.errors import MoneyError


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("12.50 EUR", 1250, "eur"),
        ("EUR 12.50", 1250, "eur"),
        ("1500 JPY", 1500, "jpy"),
        ("1.234 KWD", 1234, "kwd"),
        ("1,000.00 usd", 100000, "usd"),
        ("7 GBP", 700, "gbp"),
        ("100 ISK", 10000, "isk"),
    ],
)
def test_parse_money_reads_amounts_as_people_write_them(text, amount, currency):
    assert parse_money(text) == Money(amount, currency)


def test_parse_money_uses_the_default_currency_when_none_is_written():
    assert parse_money("3.5", default_currency="usd") == Money(350, "usd")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("12.505 EUR", "more decimals"),
        ("1.5 JPY", "more decimals"),
        ("12.50", "no currency"),
        ("abc", "cannot read"),
        ("0 USD", "positive"),
        ("USD 10 EUR", "two currencies"),
        ("10 EURO", "cannot read"),
        ("12,50 EUR", "comma as the decimal separator"),
        ("100.50 ISK", "whole"),
        ("1,00,000 INR", "comma"),
    ],
)
def test_parse_money_refuses_bad_input_with_a_message_naming_the_problem(text, fragment):
    with pytest.raises(MoneyError) as info:
        parse_money(text)
    assert fragment in str(info.value)


def test_exponents_live_in_one_table():
    assert (exponent("JPY"), exponent("kwd"), exponent("usd")) == (0, 3, 2)


def test_format_money_shows_the_currencys_decimals():
    assert format_money(1250, "eur") == "12.50 EUR"
    assert format_money(1500, "jpy") == "1500 JPY"
    assert format_money(1234, "kwd") == "1.234 KWD"


def test_money_refuses_to_add_different_currencies():
    with pytest.raises(MoneyError):
        Money(1, "usd") + Money(1, "eur")


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["usd", "jpy", "kwd", "eur"]))
def test_minor_to_major_and_back_is_exact(amount, currency):
    assert to_minor(to_major(amount, currency), currency) == amount
    assert isinstance(to_major(amount, currency), Decimal)
