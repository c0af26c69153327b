"""Evidence rules without a server: limits, file checks, CE 3.0 eligibility, magic strings."""

from __future__ import annotations

import pytest

from disputedesk.emulator import errors, evidence_rules as rules

FILES = {
    "file_ok": {"purpose": "dispute_evidence", "size": 1000, "pages": 2},
    "file_big": {"purpose": "dispute_evidence", "size": 3_000_000, "pages": 1},
    "file_id": {"purpose": "identity_document", "size": 1000, "pages": 1},
    "file_long": {"purpose": "dispute_evidence", "size": 1000, "pages": 30},
}


def lookup(file_id: str):
    return FILES.get(file_id)


def merge(given, current=None, brand=None):
    return rules.merge_evidence(current or rules.empty_evidence(), given, lookup, brand=brand)


def test_empty_evidence_has_every_field_null_and_empty_enhanced_evidence():
    ev = rules.empty_evidence()
    assert len(ev) == 29
    assert ev["enhanced_evidence"] == {}
    assert all(v is None for k, v in ev.items() if k != "enhanced_evidence")


def test_merge_sets_text_and_keeps_other_fields():
    ev = merge({"customer_name": "Ada"}, current=merge({"service_date": "2026-01-01"}))
    assert ev["customer_name"] == "Ada"
    assert ev["service_date"] == "2026-01-01"


def test_empty_string_clears_a_field():
    ev = merge({"customer_name": ""}, current=merge({"customer_name": "Ada"}))
    assert ev["customer_name"] is None


def test_unknown_evidence_field_is_parameter_unknown():
    with pytest.raises(errors.APIError) as info:
        merge({"favourite_colour": "blue"})
    assert info.value.code == "parameter_unknown"
    assert info.value.param == "evidence[favourite_colour]"


@pytest.mark.parametrize("field,limit", [("customer_name", 5000), ("uncategorized_text", 20000),
                                         ("access_activity_log", 20000)])
def test_text_fields_accept_their_limit_and_refuse_one_more(field, limit):
    assert merge({field: "x" * limit})[field] == "x" * limit
    with pytest.raises(errors.APIError) as info:
        merge({field: "x" * (limit + 1)})
    assert info.value.status == 400
    assert info.value.param == f"evidence[{field}]"


def test_combined_text_above_150000_characters_is_refused():
    long_fields = ["access_activity_log", "cancellation_policy_disclosure",
                   "cancellation_rebuttal", "duplicate_charge_explanation",
                   "product_description", "refund_policy_disclosure",
                   "refund_refusal_explanation", "uncategorized_text"]
    given = {f: "y" * 19_000 for f in long_fields}  # 152,000 characters
    with pytest.raises(errors.APIError) as info:
        merge(given)
    assert "150000" in info.value.message
    given["uncategorized_text"] = "y" * 17_000  # 150,000 exactly
    assert merge(given)["uncategorized_text"]


def test_file_field_must_name_a_dispute_evidence_upload():
    assert merge({"receipt": "file_ok"})["receipt"] == "file_ok"
    with pytest.raises(errors.APIError) as missing:
        merge({"receipt": "file_nope"})
    assert missing.value.code == "resource_missing"
    with pytest.raises(errors.APIError) as wrong:
        merge({"receipt": "file_id"})
    assert "dispute_evidence" in wrong.value.message


def test_combined_file_size_counts_a_file_twice_when_used_twice():
    assert merge({"receipt": "file_big"})["receipt"] == "file_big"
    with pytest.raises(errors.APIError) as info:
        merge({"receipt": "file_big", "uncategorized_file": "file_big"})
    assert "5000000" in info.value.message


def test_combined_pages_must_stay_below_fifty_and_nineteen_for_mastercard():
    with pytest.raises(errors.APIError) as info:
        merge({"receipt": "file_long", "uncategorized_file": "file_long"})
    assert info.value.code == "dispute_evidence_page_limit_exceeded"
    with pytest.raises(errors.APIError):
        merge({"receipt": "file_long"}, brand="mastercard")
    assert merge({"receipt": "file_long"}, brand="visa")["receipt"] == "file_long"


def test_ce3_eligibility_requires_descriptions_and_two_matching_prior_transactions():
    assert rules.ce3_eligibility({})["status"] == "requires_action"
    disputed = {"product_description": "T-shirt", "merchandise_or_services": "merchandise",
                "customer_purchase_ip": "10.0.0.1",
                "customer_email_address": "a@example.com"}
    prior = {"product_description": "Mug", "customer_purchase_ip": "10.0.0.1",
             "customer_email_address": "a@example.com"}
    ev = merge({"enhanced_evidence": {"visa_compelling_evidence_3": {
        "disputed_transaction": disputed,
        "prior_undisputed_transactions": [dict(prior, charge="ch_1"), dict(prior, charge="ch_2")],
    }}})
    assert rules.ce3_eligibility(ev["enhanced_evidence"]) == {"required_actions": [],
                                                               "status": "qualified"}


def test_ce3_with_one_main_element_only_misses_customer_identifiers():
    disputed = {"product_description": "T-shirt", "merchandise_or_services": "merchandise",
                "customer_purchase_ip": "10.0.0.1"}
    prior = {"product_description": "Mug", "customer_purchase_ip": "10.0.0.1"}
    ev = merge({"enhanced_evidence": {"visa_compelling_evidence_3": {
        "disputed_transaction": disputed,
        "prior_undisputed_transactions": [dict(prior, charge="ch_1"), dict(prior, charge="ch_2")],
    }}})
    result = rules.ce3_eligibility(ev["enhanced_evidence"])
    assert result == {"required_actions": ["missing_customer_identifiers"],
                      "status": "requires_action"}


def test_ce3_prior_transaction_must_name_a_charge_not_a_payment_intent():
    with pytest.raises(errors.APIError) as info:
        merge({"enhanced_evidence": {"visa_compelling_evidence_3": {
            "prior_undisputed_transactions": [{"charge": "pi_123"}]}}})
    assert "charge" in info.value.param


def test_magic_strings_pick_the_outcome():
    assert rules.magic_outcome({"uncategorized_text": "winning_evidence"}) == rules.WINNING
    assert rules.magic_outcome({"uncategorized_text": "losing_evidence"}) == rules.LOSING
    assert rules.magic_outcome({"uncategorized_text": "escalate_inquiry_evidence"}) == rules.ESCALATE
    assert rules.magic_outcome({"uncategorized_text": "we shipped it"}) is None
