"""The condition language: what it computes, and everything it refuses."""

from decimal import Decimal

import pytest

from disputedesk.domain.money import Money
from disputedesk.rules.errors import EvaluationError, ExpressionError
from disputedesk.rules.expressions import MAX_LENGTH, evaluate_expression, parse_expression
from disputedesk.rules.values import Conversion, Duration


def run(text, conversion=None, **values):
    return evaluate_expression(parse_expression(text), values, conversion)


# ---- comparisons and arithmetic --------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ('amount < money("15 USD")', True),
    ('amount <= money("12 USD")', True),
    ('amount > money("12.00 USD")', False),
    ('amount == money("12 USD")', True),
    ('amount != money("12 USD")', False),
    ('amount * 2 > money("20 USD")', True),
    ('amount / 4 == money("3 USD")', True),
    ('amount + money("3 USD") == money("15 USD")', True),
    ('amount - money("13 USD") < money("0 USD")', True),
    ('-amount < money("1 USD")', True),
    ('amount / money("6 USD") == 2', True),
])
def test_money_comparisons_in_usd_use_minor_units(text, expected):
    assert run(text, amount=Money(1200, "usd")) is expected


def test_money_comparison_in_jpy_uses_zero_decimal_exponent():
    assert run('amount < money("1500 JPY")', amount=Money(1499, "jpy")) is True
    assert run('amount < money("1500 JPY")', amount=Money(1500, "jpy")) is False


def test_money_comparison_in_kwd_uses_three_decimal_exponent():
    assert run('amount >= money("1.234 KWD")', amount=Money(1234, "kwd")) is True
    assert run('amount > money("1.234 KWD")', amount=Money(1234, "kwd")) is False


def test_money_literal_with_too_many_decimals_is_refused_at_the_argument_column():
    with pytest.raises(ExpressionError) as err:
        parse_expression('amount < money("1.5 JPY")')
    assert err.value.column == 16
    assert "JPY" in str(err.value)


def test_comparing_two_currencies_without_rates_fails_naming_both_amounts():
    with pytest.raises(EvaluationError) as err:
        run('amount < money("15 USD")', amount=Money(1000, "eur"))
    assert "10.00 EUR" in str(err.value) and "15.00 USD" in str(err.value)
    assert "[conversion.rates]" in str(err.value)
    assert err.value.column == 1


def test_comparing_two_currencies_uses_the_conversion_table_exactly():
    rates = Conversion("usd", {"eur": Decimal("1.10"), "jpy": Decimal("0.0067")})
    # 10.00 EUR = 11.00 USD
    assert run('amount > money("10.99 USD")', rates, amount=Money(1000, "eur")) is True
    assert run('amount == money("11 USD")', rates, amount=Money(1000, "eur")) is True
    # 2000 JPY = 13.40 USD
    assert run('amount < money("13.41 USD")', rates, amount=Money(2000, "jpy")) is True
    assert run('amount < money("13.40 USD")', rates, amount=Money(2000, "jpy")) is False


def test_adding_two_currencies_converts_to_the_left_currency_rounding_half_even():
    rates = Conversion("usd", {"eur": Decimal("1.10")})
    assert run('amount + money("1.10 USD") == money("11 EUR")', rates, amount=Money(1000, "eur")) is True


def test_decimal_literals_are_exact_not_floats():
    assert run("risk_score * 0.1 == 6.5", risk_score=65) is True
    assert run("0.1 + 0.2 == 0.3") is True


def test_chained_comparison_and_boolean_operators():
    assert run("0 < risk_score <= 65 and not (reason == 'general')", risk_score=65, reason="fraudulent") is True
    assert run("risk_score > 90 or reason in ['fraudulent', 'unrecognized']", risk_score=1,
               reason="unrecognized") is True


def test_in_and_not_in_over_lists_and_text():
    assert run('card_brand not in ["amex", "discover"]', card_brand="visa") is True
    assert run('"10." in network_reason_code', network_reason_code="10.4") is True
    assert run('"vip" in tags', tags=("vip", "b2b")) is True


def test_durations_compare_with_hours_and_days():
    values = {"charge.age": Duration(119 * 86400), "dispute.time_to_due": Duration(48 * 3600)}
    assert evaluate_expression(parse_expression("charge.age < days(120)"), values) is True
    assert evaluate_expression(parse_expression("dispute.time_to_due <= hours(48)"), values) is True
    assert evaluate_expression(parse_expression("dispute.time_to_due > minutes(30) + hours(1)"), values) is True
    assert evaluate_expression(parse_expression("dispute.time_to_due / hours(1) == 48"), values) is True


def test_functions_lower_len_any_of_starts_with_coalesce():
    assert run('lower(card_country) == "us"', card_country="US") is True
    assert run("len(tags) == 2", tags=("a", "b")) is True
    assert run('any_of(tags, ["vip", "wholesale"])', tags=("b2b", "vip")) is True
    assert run('starts_with(network_reason_code, "10.")', network_reason_code="10.4") is True
    assert run("coalesce(risk_score, 0) < 10", risk_score=None) is True


def test_order_and_metadata_groups_allow_any_key():
    values = {"order": {"shipped": True, "items": ({"sku": "A"},), "total": Decimal("12.5"),
                        "ship-to": {"country": "DE"}},
              "metadata": {"order-id": "42", "plan": "pro"}}
    assert evaluate_expression(parse_expression('order.shipped and order["ship-to"].country == "DE"'), values)
    assert evaluate_expression(parse_expression('metadata["order-id"] == "42" and metadata.plan == "pro"'), values)
    assert evaluate_expression(parse_expression('order.total > 12 and "plan" in metadata'), values)
    assert evaluate_expression(parse_expression("order.missing == none"), values) is True


def test_lowercase_true_false_and_none_are_constants():
    assert run("true and not false") is True
    assert run("network_reason_code == none", network_reason_code=None) is True


# ---- names, types and missing values ---------------------------------------------------------

def test_unknown_name_is_refused_with_a_suggestion_and_column():
    with pytest.raises(ExpressionError) as err:
        parse_expression('reason == "fraudulent" and amout < money("15 USD")')
    assert "unknown name `amout`" in str(err.value)
    assert "did you mean `amount`" in str(err.value)
    assert err.value.column == 28


def test_unknown_member_of_a_fixed_group_is_refused():
    with pytest.raises(ExpressionError, match="unknown name `customer.lifetime`"):
        parse_expression("customer.lifetime > 3")


def test_group_used_as_a_value_is_refused_listing_its_names():
    with pytest.raises(ExpressionError, match="customer.lifetime_value"):
        parse_expression("customer == 3")


@pytest.mark.parametrize("text,fragment", [
    ("amount < 15", 'write amounts with money(...)'),
    ("charge.age < 48", "hours(...) or days(...)"),
    ('reason < 3', "cannot compare str with number"),
    ("amount", "must be true or false"),
    ("risk_score and true", "`and`/`or` need true/false"),
    ('lower(risk_score) == "x"', "lower() needs str"),
    ("tags < tags", "cannot be ordered"),
    ('reason * 3 == "x"', "cannot compute str * number"),
    ('money("15 USD") + 3 > money("1 USD")', "cannot compute money + number"),
    ('money(3) > amount', "money() needs str"),
    ('len(tags, 3) > 1', "takes 1 argument"),
])
def test_type_errors_are_found_when_the_rule_is_checked(text, fragment):
    with pytest.raises(ExpressionError) as err:
        parse_expression(text)
    assert fragment in str(err.value)
    assert err.value.column is not None


def test_missing_value_in_an_ordering_fails_at_evaluation_naming_it():
    expr = parse_expression('reason == "fraudulent" and amount < money("15 USD")')
    with pytest.raises(EvaluationError) as err:
        evaluate_expression(expr, {"reason": "fraudulent", "amount": None})
    assert "`amount` has no value" in str(err.value)
    assert err.value.column == 28


def test_missing_value_in_equality_is_simply_unequal():
    assert run('network_reason_code == "10.4"', network_reason_code=None) is False
    assert run("not manual_edits", manual_edits=None) is True


def test_mixed_types_in_a_list_fail_at_evaluation():
    with pytest.raises(EvaluationError, match="cannot compare"):
        run('risk_score in ["high"]', risk_score=3)


def test_division_by_zero_is_an_evaluation_error():
    with pytest.raises(EvaluationError, match="division by zero"):
        run("risk_score / 0 > 1", risk_score=3)


def test_multiline_condition_reports_line_and_column():
    with pytest.raises(ExpressionError) as err:
        parse_expression('reason == "fraudulent"\n  and amout > money("1 USD")')
    assert (err.value.line, err.value.column) == (2, 7)
    assert err.value.pointer().splitlines()[1].index("^") == 4 + 6


def test_syntax_error_points_at_its_column():
    with pytest.raises(ExpressionError) as err:
        parse_expression('amount < money("15 USD") and and')
    assert "syntax error" in str(err.value)
    assert err.value.column >= 26


def test_names_referenced_are_listed_once_in_order():
    expr = parse_expression('amount < dispute_fee and reason == "x" and amount > money("1 USD") and order.sku == "a"')
    assert expr.names == ("amount", "dispute_fee", "reason", "order.sku")


# ---- attempts to reach Python internals -------------------------------------------------------

@pytest.mark.parametrize("text", [
    "().__class__.__bases__",
    "().__class__.__bases__[0].__subclasses__()",
    "__import__('os').system('echo hacked')",
    "getattr(amount, '__class__')",
    "eval('1')",
    "exec('1')",
    "open('/etc/passwd')",
    "(lambda: 1)()",
    "[x for x in tags]",
    "any(x for x in tags)",
    "{x: 1 for x in tags}",
    "f'{len(tags)}' == '1'",
    "f'{().__class__}' == ''",
    "'a'.upper.__globals__",
    "'a'.upper() == 'A'",
    "reason.lower() == 'x'",
    "amount.currency == 'usd'",
    "9**9**9",
    "2 ** 10 > 3",
    "(x := 1)",
    "tags[0] == 'a'",
    "tags[0:1] == []",
    "customer['id'] == 'x'",
    "amount.__class__",
    "_secret == 1",
    "metadata._x == '1'",
    "__builtins__",
    "1 if true else 2",
    "{'a': 1} == {}",
    "{1, 2} == {1}",
    "reason is None",
    "1 << 64 > 0",
    "b'abc' == b'abc'",
    "lower(reason, key=1) == 'x'",
    "lower(*tags) == 'x'",
    "money('15 USD').amount > 1",
    "days(1).seconds > 0",
    "order.__dict__ == 1",
    "[].__len__() == 0",
])
def test_attempts_to_reach_python_internals_are_refused(text):
    with pytest.raises(ExpressionError):
        parse_expression(text)


def test_power_operator_is_refused_without_computing_anything():
    with pytest.raises(ExpressionError, match=r"`\*\*` is not allowed"):
        parse_expression("9**9**9**9**9 > 1")


def test_dunder_attribute_error_points_at_the_attribute():
    with pytest.raises(ExpressionError) as err:
        parse_expression("order.__class__ == 1")
    assert err.value.column == 7


def test_very_long_expression_is_refused_before_parsing():
    with pytest.raises(ExpressionError, match="limit is"):
        parse_expression("risk_score > 1 and " * 200 + "true")
    assert len("risk_score > 1 and " * 200) > MAX_LENGTH


def test_deeply_nested_expression_is_refused():
    with pytest.raises(ExpressionError):
        parse_expression("not " * 400 + "true")
    with pytest.raises(ExpressionError):
        parse_expression("(" * 250 + "true" + ")" * 250)
    with pytest.raises(ExpressionError):
        parse_expression("-" * 1500 + "risk_score > 1")


def test_too_many_parts_is_refused():
    with pytest.raises(ExpressionError, match="too large"):
        parse_expression(" or ".join(["-1<1"] * 100))


def test_huge_multiplication_chain_is_refused_at_evaluation():
    expr = parse_expression("risk_score * 1000000000000 * 1000000000000 * 1000000000000 > 1")
    with pytest.raises(EvaluationError, match="too large"):
        evaluate_expression(expr, {"risk_score": 10**12})


def test_nul_bytes_and_non_text_are_refused():
    with pytest.raises(ExpressionError):
        parse_expression("true\x00")
    with pytest.raises(ExpressionError):
        parse_expression(42)  # type: ignore[arg-type]


def test_evaluation_never_uses_python_eval(monkeypatch):
    import builtins

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec/compile must not be used")

    expr = parse_expression('amount < money("15 USD") and lower(reason) in ["fraudulent"]')
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", forbidden)
    assert evaluate_expression(expr, {"amount": Money(100, "usd"), "reason": "FRAUDULENT"}) is True


# ---- fuzzing: whatever the text, the only failure is a clear ExpressionError ---------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TOKENS = st.sampled_from([
    "amount", "reason", "risk_score", "customer.lifetime_value", "order.x", "metadata['k']", "tags",
    "money('15 USD')", "money('1500 JPY')", "hours(2)", "days(1)", "charge.age", "none", "true", "3",
    "0.5", "'fraudulent'", "[1, 2]", "(", ")", "[", "]", ",", ".", "__class__", "_x", "lower(", "len(",
    " and ", " or ", " not ", " < ", " <= ", " == ", " != ", " in ", " + ", " - ", " * ", " / ", " ** ",
    "lambda", ":", "f'", "{", "}", "'", '"', "\\", "\n",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, max_size=12))
def test_random_token_soup_either_checks_and_evaluates_or_fails_cleanly(tokens):
    text = "".join(tokens)
    try:
        expr = parse_expression(text)
    except ExpressionError:
        return
    values = {"amount": Money(1200, "usd"), "reason": "fraudulent", "risk_score": 40, "tags": ("a",),
              "customer.lifetime_value": Money(99, "eur"), "order": {"x": 1}, "metadata": {"k": "v"},
              "charge.age": Duration(3600)}
    try:
        evaluate_expression(expr, values)
    except EvaluationError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_escapes_as_another_exception(text):
    try:
        parse_expression(text)
    except ExpressionError:
        pass
