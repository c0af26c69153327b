"""The search query parser and evaluator (unit level), with hypothesis round trips."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from disputedesk.emulator.resources.search import FIELDS
from disputedesk.emulator.search_query import Clause, QueryError, parse

CHARGES = FIELDS["charges"]


def q(text: str, fields: dict[str, str] = CHARGES) -> Any:
    return parse(text, fields, "charges")


CHARGE = {"id": "ch_1", "amount": 2500, "created": 1_700_000_000, "currency": "usd",
          "customer": "cus_A", "disputed": False, "refunded": True, "status": "succeeded",
          "metadata": {"order_id": "6735", "Tag": "Blue"},
          "billing_details": {"address": {"postal_code": "SW1A 1AA"}},
          "payment_method_details": {"card": {"brand": "visa", "last4": "4242",
                                              "exp_month": 12, "exp_year": 2034}}}


@pytest.mark.parametrize(("text", "expected"), [
    ("status:'succeeded'", True),
    ('status:"SUCCEEDED"', True),                      # exact match ignores case
    ("status:'failed'", False),
    ("-status:'failed'", True),
    ("amount>1000", True), ("amount>2500", False), ("amount>=2500", True),
    ("amount<2500", False), ("amount<=2500", True), ("amount:2500", True),
    ("created>=1700000000 AND created<1700000001", True),
    ("metadata['order_id']:'6735'", True),
    ('metadata["order_id"]:"6736"', False),
    ("metadata['missing']:null", True), ("-metadata['order_id']:null", True),
    ("status:'succeeded' AND metadata['order_id']:'6735'", True),
    ("status:'succeeded' metadata['order_id']:'1'", False),   # space joins with AND
    ("status:'failed' OR metadata['order_id']:'6735'", True),
    ("status:'failed' or currency:'eur'", False),             # keywords in any case
    ("payment_method_details.card.last4:4242", True),
    ("payment_method_details.card.brand:'visa' AND refunded:'true'", True),
    ("disputed:true", False), ("disputed:false", True),
    ("billing_details.address.postal_code~'sw1a'", True),
    ("billing_details.address.postal_code~'xyz'", False),
    ("customer:'cus_A'", True), ("customer:null", False),
    ('metadata["Tag"]:"blue"', True),
    ("status:'it\\'s'", False),
])
def test_queries_match_as_stripe_documents(text: str, expected: bool) -> None:
    assert q(text).matches(CHARGE) is expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "must not be empty"),
    ("nosuchfield:'x'", "unsupported search field"),
    ("status:'a' AND currency:'usd' OR amount>1", "cannot combine `AND` and `OR`"),
    ("status:'a' currency:'usd' OR amount>1", "cannot combine `AND` and `OR`"),
    ("(status:'a' OR status:'b') AND amount>1", "Parentheses"),
    ("status:'unclosed", "never closed"),
    ("status", "operator"),
    ("status:", "no value"),
    ("status~'suc'", "substring"),
    ("billing_details.address.postal_code~'sw'", "at least 3"),
    ("status>'a'", "not numeric"),
    ("amount>abc", "not a number"),
    ("disputed:maybe", "true or false"),
    ("metadata:'x'", "metadata["),
    ("metadata[key]:'x'", "must be quoted"),
    ("status:'a' AND", "a clause must follow"),
    ("amount>null", "`null` can only be used with `:`"),
    (" AND ".join(["amount>1"] * 11), "at most 10"),
    ("status:'a'currency:'b'", "unable to parse"),
])
def test_bad_queries_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        q(text)
    assert fragment.lower() in str(info.value).lower()


# ---------------------------------------------------------------------------- hypothesis

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=3, max_size=12)
_token = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=8)


@st.composite
def clauses(draw: Any) -> Clause:
    kind = draw(st.sampled_from(["numeric", "token", "string", "boolean", "metadata"]))
    negated = draw(st.booleans())
    if kind == "numeric":
        field = draw(st.sampled_from(["amount", "created"]))
        op = draw(st.sampled_from([":", ">", "<", ">=", "<="]))
        return Clause(field, op, draw(st.integers(0, 10**10)), negated)
    if kind == "boolean":
        return Clause(draw(st.sampled_from(["disputed", "refunded"])), ":", draw(st.booleans()),
                      negated)
    if kind == "metadata":
        return Clause("metadata", ":", draw(_text), negated, key=draw(_text))
    if kind == "string":
        return Clause("billing_details.address.postal_code", draw(st.sampled_from([":", "~"])),
                      draw(_text), negated)
    return Clause(draw(st.sampled_from(["status", "currency", "customer"])), ":",
                  draw(_token), negated)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(clause: Clause) -> str:
    if isinstance(clause.value, bool):
        value = "true" if clause.value else "false"
    elif isinstance(clause.value, int):
        value = str(clause.value)
    else:
        value = _quote(clause.value)
    field = f"metadata[{_quote(clause.key or '')}]" if clause.field == "metadata" else clause.field
    return ("-" if clause.negated else "") + field + clause.op + value


@settings(max_examples=300, deadline=None)
@given(st.lists(clauses(), min_size=1, max_size=10), st.sampled_from([" ", " AND ", " OR ",
                                                                      " and "]))
def test_rendered_queries_parse_back_to_the_same_clauses(items: list[Clause], sep: str) -> None:
    parsed = q(sep.join(render(c) for c in items))
    assert parsed.clauses == tuple(items)
    assert parsed.joiner == ("OR" if sep == " OR " and len(items) > 1 else "AND")


def reference(clause: Clause, obj: dict[str, Any]) -> bool:
    """What the clause means, written out plainly."""
    if clause.field == "metadata":
        actual: Any = obj["metadata"].get(clause.key)
    else:
        actual = obj
        for part in clause.field.split("."):
            actual = actual.get(part) if isinstance(actual, dict) else None
    if actual is None:
        hit = False
    elif isinstance(clause.value, bool):
        hit = actual is clause.value
    elif isinstance(clause.value, int):
        hit = {":": actual == clause.value, ">": actual > clause.value,
               "<": actual < clause.value, ">=": actual >= clause.value,
               "<=": actual <= clause.value}[clause.op]
    elif clause.op == "~":
        hit = clause.value.lower() in str(actual).lower()
    else:
        hit = str(actual).lower() == clause.value.lower()
    return hit != clause.negated


@settings(max_examples=300, deadline=None)
@given(st.lists(clauses(), min_size=1, max_size=10), st.booleans(),
       st.integers(0, 10**10), st.sampled_from(["succeeded", "failed", "pending"]), _text)
def test_evaluation_matches_the_plain_meaning(items: list[Clause], use_or: bool, amount: int,
                                              status: str, meta_value: str) -> None:
    obj = dict(CHARGE, amount=amount, status=status,
               metadata={items[0].key or "k": meta_value} if items[0].key else {"k": meta_value})
    parsed = q((" OR " if use_or else " AND ").join(render(c) for c in items))
    results = [reference(c, obj) for c in items]
    assert parsed.matches(obj) is (any(results) if use_or else all(results))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_is_a_query_error(text: str) -> None:
    try:
        q(text)
    except QueryError:
        pass
