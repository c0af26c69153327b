"""Stripe's bracket form encoding."""

from __future__ import annotations

import pytest

from disputedesk.emulator.form import FormError, parse_form


def test_nested_hashes_arrays_and_indexed_arrays_parse_into_python_shapes() -> None:
    raw = ("metadata[a]=1&metadata[b]=&expand[]=charge&expand[]=balance_transaction"
           "&items[0][price]=p1&items[1][price]=p2&items[1][quantity]=3"
           "&evidence[customer_name]=Ada+L&plain=x%26y")
    assert parse_form(raw) == {
        "metadata": {"a": "1", "b": ""},
        "expand": ["charge", "balance_transaction"],
        "items": [{"price": "p1"}, {"price": "p2", "quantity": "3"}],
        "evidence": {"customer_name": "Ada L"},
        "plain": "x&y",
    }


def test_indexed_arrays_keep_numeric_order_past_nine() -> None:
    raw = "&".join(f"types[{i}]=t{i}" for i in range(12))
    assert parse_form(raw)["types"] == [f"t{i}" for i in range(12)]


@pytest.mark.parametrize("raw", ["a=1&a[b]=2", "a[b]=2&a=1", "a]=1", "a[]=1&a[x]=2"])
def test_conflicting_shapes_are_form_errors(raw: str) -> None:
    with pytest.raises(FormError):
        parse_form(raw)
