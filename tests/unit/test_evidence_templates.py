"""Evidence templates per reason and product type, and the completeness score."""

from __future__ import annotations

import pytest
import stripe

from disputedesk.domain.disputes import BANK_DEBIT_REASONS, REASONS
from disputedesk.errors import ValidationError
from disputedesk.evidence.limits import EVIDENCE_FIELDS, FILE_FIELDS, TEXT_FIELDS
from disputedesk.evidence.templates import (
    PRODUCT_TYPES,
    RECOMMENDED,
    REQUIRED,
    all_templates,
    completeness,
    template_for,
)

SDK_FIELDS = set(stripe.params.DisputeUpdateParamsEvidence.__annotations__)


def test_evidence_field_catalog_is_exactly_the_sdk_update_params():
    assert EVIDENCE_FIELDS == SDK_FIELDS
    assert not TEXT_FIELDS & FILE_FIELDS


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("product_type", PRODUCT_TYPES)
def test_every_reason_has_a_template_of_real_fields_with_reasons(reason, product_type):
    t = template_for(reason, product_type)
    assert t.reason == reason and t.product_type == product_type
    assert t.items and t.advice
    assert len(set(t.fields)) == len(t.fields)
    for item in t.items:
        assert item.field in TEXT_FIELDS | FILE_FIELDS
        assert item.importance in (REQUIRED, RECOMMENDED)
        assert item.why
    assert t.contestable is (reason not in BANK_DEBIT_REASONS)


def test_there_are_45_templates():
    assert len(all_templates()) == len(REASONS) * 3 == 45


@pytest.mark.parametrize("reason,product_type,required", [
    ("fraudulent", "physical_goods", {"shipping_address", "shipping_tracking_number", "shipping_documentation"}),
    ("fraudulent", "digital_goods", {"customer_purchase_ip", "access_activity_log", "customer_email_address"}),
    ("fraudulent", "services", {"service_date", "service_documentation"}),
    ("unrecognized", "digital_goods", {"access_activity_log"}),
    ("product_not_received", "physical_goods", {"shipping_tracking_number", "shipping_carrier", "shipping_date"}),
    ("product_not_received", "digital_goods", {"access_activity_log"}),
    ("product_unacceptable", "physical_goods", {"product_description", "refund_policy", "refund_policy_disclosure"}),
    ("product_unacceptable", "digital_goods", {"access_activity_log"}),
    ("subscription_canceled", "services", {"cancellation_policy", "cancellation_policy_disclosure", "cancellation_rebuttal"}),
    ("credit_not_processed", "physical_goods", {"refund_policy", "refund_policy_disclosure", "refund_refusal_explanation"}),
    ("duplicate", "physical_goods", {"duplicate_charge_id", "duplicate_charge_explanation", "duplicate_charge_documentation"}),
    ("general", "services", {"uncategorized_text"}),
    ("noncompliant", "physical_goods", {"uncategorized_text", "uncategorized_file"}),
    ("debit_not_authorized", "services", {"customer_signature"}),
])
def test_templates_require_the_evidence_stripe_recommends(reason, product_type, required):
    t = template_for(reason, product_type)
    assert required <= {i.field for i in t.items if i.importance == REQUIRED}


def test_credit_not_processed_adds_cancellation_terms_for_digital_goods_and_services_only():
    assert "cancellation_policy" in template_for("credit_not_processed", "digital_goods").fields
    assert "cancellation_policy" in template_for("credit_not_processed", "services").fields
    assert "cancellation_policy" not in template_for("credit_not_processed", "physical_goods").fields


def test_bank_debit_returns_are_marked_uncontestable_with_nothing_required():
    t = template_for("insufficient_funds", "physical_goods")
    assert not t.contestable
    assert all(i.importance == RECOMMENDED for i in t.items)


def test_unknown_reason_falls_back_to_general_and_unknown_product_type_is_refused():
    assert template_for("some_future_reason").reason == "general"
    with pytest.raises(ValidationError, match="unknown product type 'hats'"):
        template_for("fraudulent", "hats")


def test_completeness_is_weighted_and_names_missing_fields_required_first():
    t = template_for("product_not_received", "physical_goods")
    empty = completeness(t, {})
    assert empty.score == 0
    assert empty.missing_fields[:5] == ("shipping_address", "shipping_date", "shipping_carrier",
                                        "shipping_tracking_number", "shipping_documentation")
    some = completeness(t, {"shipping_address": "1 Main St", "shipping_date": "May 1, 2026"})
    req_w = 3 * 5
    total = req_w + 1 * (len(t.items) - 5)
    assert some.score == round(100 * 6 / total)
    full = completeness(t, {f: "x" for f in t.fields if f not in FILE_FIELDS},
                        attached=[f for f in t.fields if f in FILE_FIELDS])
    assert full.score == 100 and not full.missing


def test_completeness_ignores_blank_text_and_refuses_unknown_fields():
    t = template_for("general", "digital_goods")
    assert "uncategorized_text" in completeness(t, {"uncategorized_text": "   "}).missing_required
    with pytest.raises(ValidationError, match="not Stripe evidence fields: shipping_adress"):
        completeness(t, {"shipping_adress": "typo"})
