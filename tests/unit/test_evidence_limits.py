"""Stripe's evidence limits: text per field and in all, file sizes and pages."""

from __future__ import annotations

import inspect
import re

import pytest
import stripe

from disputedesk.evidence.limits import (
    LONG_TEXT_FIELDS,
    EvidenceLimitError,
    FileUse,
    check_evidence,
    validate_evidence,
)


def rules(violations):
    return [(v.field, v.rule) for v in violations]


def test_long_fields_are_those_the_sdk_documents_at_20000_characters():
    source = inspect.getsource(stripe.params.DisputeUpdateParamsEvidence)
    # Each field is declared as "    name: NotRequired[...]" followed by its docstring.
    blocks = re.split(r"\n    (?=[a-z_]+: NotRequired)", source)[1:]
    documented = {b.split(":")[0] for b in blocks if "20,000" in b}
    assert documented == LONG_TEXT_FIELDS


def test_text_within_limits_passes():
    assert validate_evidence({"customer_name": "a" * 5000, "uncategorized_text": "b" * 20000}) == []


def test_short_field_over_5000_characters_is_named_with_the_fix():
    [v] = validate_evidence({"shipping_address": "x" * 5001})
    assert (v.field, v.rule, v.limit, v.actual) == ("shipping_address", "text_too_long", 5000, 5001)
    assert "'shipping_address' has 5,001 characters, 1 over its 5,000 limit" in v.message
    assert "uncategorized_file" in v.fix


def test_long_field_allows_20000_but_not_more():
    assert validate_evidence({"access_activity_log": "x" * 20000}) == []
    assert rules(validate_evidence({"access_activity_log": "x" * 20001})) == [("access_activity_log", "text_too_long")]


def test_total_text_over_150000_is_reported_even_when_each_field_fits():
    fields = {name: "x" * 19_000 for name in LONG_TEXT_FIELDS}  # 8 x 19,000 = 152,000
    out = validate_evidence(fields)
    assert rules(out) == [(None, "total_text_too_long")]
    assert "2,000 over Stripe's 150,000 limit" in out[0].message


def test_unknown_fields_and_wrong_kinds_are_reported():
    out = validate_evidence({"shipping_adress": "x", "receipt": 12, "customer_name": ["a"]})
    assert set(rules(out)) == {("shipping_adress", "unknown_field"), ("receipt", "not_a_file_id"),
                               ("customer_name", "not_text")}


def test_a_file_over_5mb_and_a_packet_over_4_5mb_are_both_reported():
    out = validate_evidence({}, {"receipt": FileUse(5_200_000, 1, "pdf")})
    assert rules(out) == [("receipt", "file_too_large"), (None, "files_too_large")]
    assert "200.0 kB over the 5.00 MB limit" in out[0].message


def test_a_file_used_twice_counts_twice():
    same = FileUse(2_400_000, 2, "pdf", "policy.pdf")
    out = validate_evidence({}, {"refund_policy": same, "cancellation_policy": same})
    assert rules(out) == [(None, "files_too_large")]
    assert "4.80 MB" in out[0].message and "counts twice" in out[0].message


def test_pages_under_50_in_all():
    assert validate_evidence({}, {"receipt": FileUse(1000, 49)}) == []
    out = validate_evidence({}, {"receipt": FileUse(1000, 30), "uncategorized_file": FileUse(1000, 20)})
    assert rules(out) == [(None, "too_many_pages")]
    assert "50 pages in all, 1 over the 49" in out[0].message


def test_mastercard_allows_19_pages():
    files = {"receipt": FileUse(1000, 10), "uncategorized_file": FileUse(1000, 10)}
    assert validate_evidence({}, files, brand="visa") == []
    out = validate_evidence({}, files, brand="mastercard")
    assert rules(out) == [(None, "too_many_pages")]
    assert "over the 19 pages allowed for Mastercard disputes" in out[0].message


def test_files_on_text_fields_and_odd_types_are_reported():
    out = validate_evidence({}, {"customer_name": FileUse(10), "receipt": FileUse(10, 1, "gif")})
    assert set(rules(out)) == {("customer_name", "not_a_file_field"), ("receipt", "file_type")}


def test_check_evidence_raises_one_error_listing_every_violation():
    with pytest.raises(EvidenceLimitError) as info:
        check_evidence({"customer_name": "x" * 6000, "uncategorized_text": "y" * 25000})
    err = info.value
    assert len(err.violations) == 2
    assert "customer_name" in str(err) and "uncategorized_text" in str(err)
    assert err.to_dict()["violations"][0]["field"] == "customer_name"
    check_evidence({"customer_name": "ok"})  # no violation, no error


def test_sizes_are_shown_as_people_read_them():
    from disputedesk.evidence.limits import size_text

    assert [size_text(n) for n in (0, 1, 812, 12_300, 999_949, 4_512_000)] == [
        "0 bytes", "1 byte", "812 bytes", "12.3 kB", "999.9 kB", "4.51 MB"]
