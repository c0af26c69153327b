"""Composing evidence from a charge, the customer's history, an order and text templates."""

from __future__ import annotations

import pytest

from disputedesk.errors import ValidationError
from disputedesk.evidence.composer import (
    TextTemplates,
    charge_checks,
    compose_evidence,
    customer_history,
    human_date,
    to_epoch,
)
from disputedesk.evidence.limits import validate_evidence

T0 = 1_780_000_000  # disputed charge time
DAY = 86_400
ADDRESS = {"line1": "12 Rue de la Paix", "line2": None, "city": "Paris", "state": None,
           "postal_code": "75002", "country": "FR"}


def charge(**kw):
    base = {
        "id": "ch_disputed", "object": "charge", "amount": 12900, "amount_captured": 12900,
        "currency": "eur", "created": T0, "status": "succeeded", "paid": True, "disputed": True,
        "description": "Order 1042", "receipt_email": "lea@example.fr",
        "billing_details": {"name": "Léa Martin", "email": "lea@example.fr", "phone": None, "address": ADDRESS},
        "shipping": {"name": "Léa Martin", "address": ADDRESS},
        "metadata": {"order_id": "1042", "customer_ip": "198.51.100.23"},
        "outcome": {"type": "authorized", "risk_level": "normal", "risk_score": 21,
                    "network_status": "approved_by_network"},
        "payment_method_details": {"type": "card", "card": {
            "brand": "visa", "last4": "4242", "fingerprint": "fpA",
            "checks": {"address_line1_check": "pass", "address_postal_code_check": "pass", "cvc_check": "pass"},
            "three_d_secure": {"result": "authenticated", "authentication_flow": "frictionless", "version": "2.2.0"},
        }},
    }
    base.update(kw)
    return base


def dispute(reason="fraudulent", **kw):
    base = {"id": "du_1", "object": "dispute", "amount": 12900, "currency": "eur", "reason": reason,
            "status": "needs_response", "created": T0 + 20 * DAY, "charge": "ch_disputed",
            "evidence_details": {"due_by": T0 + 30 * DAY, "submission_count": 0},
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "network_reason_code": "10.4"}}}
    base.update(kw)
    return base


ORDER = {
    "id": "1042",
    "items": [{"name": "Trail running shoes", "description": "size 39, blue", "quantity": 1}],
    "shipping": {"address": ADDRESS, "carrier": "Colissimo", "tracking_number": ["6A123", "6A124"],
                 "shipped_at": "2026-05-30", "delivered_at": T0 + 3 * DAY},
    "terms_accepted_at": T0 - 60,
}
def claim(source, fact="dispute"):
    """A merchant's template sentence, declared as resting on ``fact``."""
    return f'{{% claim "{fact}" %}}{source}{{% endclaim %}}'


POLICY = {"name": "Coureurs SARL", "refund_window_days": 30, "refund_policy_url": "https://c.example/refunds",
          "cancellation_policy_url": "https://c.example/terms", "policy_shown_at": "on the checkout page",
          "policy_shown_since": "2026-01-01"}

HISTORY = [
    charge(id="ch_old1", created=T0 - 200 * DAY, disputed=False),
    charge(id="ch_old2", created=T0 - 150 * DAY, disputed=False),
    charge(id="ch_old3", created=T0 - 100 * DAY, disputed=True),
    charge(id="ch_failed", created=T0 - 90 * DAY, status="failed", paid=False, disputed=False),
]


def test_fraud_evidence_for_physical_goods_is_filled_from_order_and_charge_with_sources():
    out = compose_evidence(dispute(), charge(), history=HISTORY, order=ORDER,
                           merchant={"name": "Coureurs SARL"})
    f, s = out.fields, out.sources
    assert f["customer_name"] == "Léa Martin" and s["customer_name"] == "charge"
    assert f["customer_email_address"] == "lea@example.fr"
    assert f["billing_address"] == "12 Rue de la Paix, Paris, 75002, FR"
    assert f["customer_purchase_ip"] == "198.51.100.23" and s["customer_purchase_ip"] == "charge"
    assert f["shipping_address"] == "12 Rue de la Paix, Paris, 75002, FR" and s["shipping_address"] == "order"
    assert f["shipping_carrier"] == "Colissimo"
    assert f["shipping_tracking_number"] == "6A123, 6A124"
    assert f["shipping_date"] == "May 30, 2026" and s["shipping_date"] == "order"
    assert f["product_description"] == "1 x Trail running shoes: size 39, blue"
    assert s["uncategorized_text"] == "template"
    letter = f["uncategorized_text"]
    assert "Coureurs SARL disputes chargeback du_1 (fraudulent, network reason code 10.4)" in letter
    assert "Address verification: street pass, postal code pass." in letter
    assert "authenticated (frictionless), version 2.2.0" in letter
    assert "paid 2 earlier times without dispute" in letter
    assert out.product_type == "physical_goods"
    assert set(out.completeness.missing_required) == {"shipping_documentation"}
    assert 0 < out.score < 100
    assert any("liability shift" in n for n in out.notes)
    assert validate_evidence(out.to_params()) == []


def test_attaching_the_missing_documents_raises_the_score():
    before = compose_evidence(dispute(), charge(), order=ORDER)
    after = compose_evidence(dispute(), charge(), order=ORDER,
                             attachments={"shipping_documentation": "manual", "customer_signature": "order",
                                          "receipt": "charge", "customer_communication": "manual"})
    assert after.score == 100 > before.score
    assert after.attached["receipt"] == "charge"


def test_digital_goods_fill_the_access_log_and_ip_from_the_order():
    order = {"product_type": "digital_goods", "product_description": "E-book: Running Far (PDF)",
             "customer_purchase_ip": "203.0.113.9", "customer_email": "LEA@example.fr",
             "access_log": [{"at": T0 + 3600, "ip": "203.0.113.9", "action": "download", "detail": "running-far.pdf"},
                            {"at": T0 + 60, "ip": "203.0.113.9", "action": "login"}]}
    out = compose_evidence(dispute("product_not_received"), charge(metadata={}), order=order)
    assert out.sources["customer_purchase_ip"] == "order"
    assert out.fields["customer_email_address"] == "LEA@example.fr"
    log = out.fields["access_activity_log"].splitlines()
    assert log[0].startswith(human_date(T0 + 60)[:0] + "2026") and "login" in log[0]
    assert "download" in log[1] and "running-far.pdf" in log[1]
    assert "accessed the purchase 2 times" in out.fields["uncategorized_text"]
    assert out.completeness.missing_required == ()


def test_a_very_long_access_log_keeps_the_newest_entries_within_20000_characters():
    entries = [{"at": T0 + i, "ip": "203.0.113.9", "action": "page_view", "detail": "/library/" + "x" * 60}
               for i in range(1000)]
    out = compose_evidence(dispute("fraudulent"), charge(), order={"product_type": "digital_goods",
                                                                    "access_log": entries})
    log = out.fields["access_activity_log"]
    assert len(log) <= 20_000
    assert "earlier entries omitted" in log.splitlines()[0]
    assert log.splitlines()[-1].startswith("2026") and str(human_date(T0)) != ""


def test_services_fill_service_date():
    out = compose_evidence(dispute("product_not_received"), charge(),
                           order={"product_type": "services", "service_date": "2026-06-02T10:00:00Z"})
    assert out.fields["service_date"] == "June 2, 2026"
    assert out.fields["uncategorized_text"].count("service was provided on June 2, 2026") == 1


def test_policy_disclosures_are_rendered_only_where_the_reason_calls_for_them():
    merchant = POLICY
    unacceptable = compose_evidence(dispute("product_unacceptable"), charge(), order=ORDER, merchant=merchant)
    text = unacceptable.fields["refund_policy_disclosure"]
    assert unacceptable.sources["refund_policy_disclosure"] == "template"
    assert "refunds requested within 30 days of delivery" in text
    assert "on the checkout page before payment, and has since January 1, 2026" in text
    assert "https://c.example/refunds" in text
    assert "accepted the terms on" in text
    assert "merchant settings (refund policy)" in unacceptable.claims["refund_policy_disclosure"][0].sources
    assert "cancellation_policy_disclosure" not in unacceptable.fields
    sub = compose_evidence(dispute("subscription_canceled"), charge(), order={"product_type": "services"},
                           merchant=merchant)
    assert "published at https://c.example/terms" in sub.fields["cancellation_policy_disclosure"]
    fraud = compose_evidence(dispute("fraudulent"), charge(), order=ORDER, merchant=merchant)
    assert "refund_policy_disclosure" not in fraud.fields


def test_a_policy_without_where_and_since_when_checkout_shows_it_is_not_claimed():
    merchant = {"name": "Coureurs SARL", "refund_window_days": 30, "refund_policy_url": "https://c.example/refunds"}
    out = compose_evidence(dispute("credit_not_processed"), charge(), order=ORDER, merchant=merchant)
    assert "refund_policy_disclosure" not in out.fields
    assert "refund policy" not in out.fields["uncategorized_text"]
    assert any(a["fact"] == "refund_policy" and "merchant_policy_shown_since" in a["add"] for a in out.to_add)
    # A policy shown only since after the payment was not what the customer saw.
    late = compose_evidence(dispute("credit_not_processed"), charge(), order=ORDER,
                            merchant={**POLICY, "policy_shown_since": "2026-12-01"})
    assert "refund_policy_disclosure" not in late.fields


def test_duplicate_finds_the_twin_charge_in_history():
    twin = charge(id="ch_twin", created=T0 - 3600, disputed=False, metadata={"order_id": "1041"})
    other = charge(id="ch_other", created=T0 - 7200, amount=500, disputed=False)
    out = compose_evidence(dispute("duplicate"), charge(), history=[other, twin], order=ORDER)
    assert out.fields["duplicate_charge_id"] == "ch_twin" and out.sources["duplicate_charge_id"] == "history"
    assert "paid for order 1041" in out.fields["duplicate_charge_explanation"]
    assert "separate order, 1042" in out.fields["duplicate_charge_explanation"]


def test_manual_values_override_composed_ones_and_can_clear_them():
    out = compose_evidence(dispute(), charge(), order=ORDER,
                           manual={"uncategorized_text": "winning_evidence", "shipping_carrier": None,
                                   "refund_refusal_explanation": "Final sale item."})
    assert out.fields["uncategorized_text"] == "winning_evidence"
    assert out.sources["uncategorized_text"] == "manual"
    assert "shipping_carrier" not in out.fields and "shipping_carrier" not in out.sources
    assert out.sources["refund_refusal_explanation"] == "manual"


def test_manual_values_for_file_fields_or_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="attach a document"):
        compose_evidence(dispute(), charge(), manual={"receipt": "file_123"})
    with pytest.raises(ValidationError, match="not an evidence text field"):
        compose_evidence(dispute(), charge(), manual={"notes": "x"})
    with pytest.raises(ValidationError, match="not evidence file fields: customer_name"):
        compose_evidence(dispute(), charge(), attachments=["customer_name"])


def test_order_may_carry_evidence_fields_by_their_stripe_names():
    out = compose_evidence(dispute("credit_not_processed"), charge(),
                           order={"refund_refusal_explanation": "The return arrived after 30 days."})
    assert out.fields["refund_refusal_explanation"] == "The return arrived after 30 days."
    assert out.sources["refund_refusal_explanation"] == "order"


def test_charge_checks_and_history_summary():
    checks = charge_checks(charge())
    assert checks["cvc_check"] == "pass" and checks["liability_shift"] and checks["risk_score"] == 21
    assert not charge_checks(charge(payment_method_details={"card": {}}))["liability_shift"]
    h = customer_history(charge(), HISTORY)
    assert (h.prior_count, h.undisputed_count, h.disputed_count, h.same_card_count) == (3, 2, 1, 2)
    assert h.first_at == T0 - 200 * DAY


def test_merchant_templates_replace_the_defaults():
    templates = TextTemplates({"rebuttal_letter": claim("Order {{ order.id }} for {{ dispute.amount_text }}; "
                                                        "{{ charge.created | date }}; {{ 1500 | money('jpy') }}",
                                                        "order")})
    out = compose_evidence(dispute(), charge(), order=ORDER, text_templates=templates)
    assert out.fields["uncategorized_text"] == "Order 1042 for 129.00 EUR; May 28, 2026; 1500 JPY"
    assert out.claims["uncategorized_text"][0].sources == ("order 1042",)
    # The same sentence with no order behind it is not written at all.
    assert "uncategorized_text" not in compose_evidence(dispute(), charge(), text_templates=templates).fields


def test_a_merchant_template_with_a_sentence_outside_a_claim_is_refused():
    with pytest.raises(ValidationError, match=r"line 1: \"The order was delivered.\" is outside a claim"):
        TextTemplates({"rebuttal_letter": "The order was delivered."})
    with pytest.raises(ValidationError, match="unknown fact 'vibes'"):
        TextTemplates({"rebuttal_letter": '{% claim "vibes" %}It was fine.{% endclaim %}'})
    with pytest.raises(ValidationError, match="must name the facts"):
        TextTemplates({"rebuttal_letter": "{% claim %}It was fine.{% endclaim %}"})


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ order.__class__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ order.update({'id': 'x'}) }}",
    "{% for i in range(10**8) %}{% endfor %}",
])
def test_sandbox_refuses_templates_that_reach_python_internals(source):
    templates = TextTemplates({"rebuttal_letter": claim(source)})
    with pytest.raises(ValidationError, match="template 'rebuttal_letter'"):
        compose_evidence(dispute(), charge(), order=ORDER, text_templates=templates)


def test_template_syntax_errors_are_refused_when_saved():
    with pytest.raises(ValidationError, match=r"template 'refund_policy_disclosure' line 1"):
        TextTemplates({"refund_policy_disclosure": "{% if %}"})
    with pytest.raises(ValidationError, match="no text template named 'letter'"):
        TextTemplates({"letter": "x"})


def test_missing_values_render_as_nothing_rather_than_failing():
    templates = TextTemplates({"rebuttal_letter": claim("[{{ order.shipping.carrier }}][{{ merchant.name }}]")})
    out = compose_evidence(dispute(), charge(), text_templates=templates)
    assert out.fields.get("uncategorized_text") == "[][]"


def test_dates_are_read_from_epochs_and_iso_strings():
    assert to_epoch("2026-05-30") == to_epoch(1_780_099_200) == 1_780_099_200
    assert human_date("2026-05-30T23:00:00-02:00") == "May 31, 2026"
    with pytest.raises(ValidationError, match="cannot read the date"):
        to_epoch("next tuesday")


# A template renders on every evidence view, build, preview and automation run: one written to
# burn CPU or memory must be stopped at once with a message saying what went over. (The timeout
# only keeps a regression from hanging the suite; it asserts nothing about speed.)
@pytest.mark.timeout(30)
@pytest.mark.parametrize("source,message", [
    ("{{ 'x' * 300000000 }}", "repeating a string or list would make 300,000,000"),
    ("{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
     "more than 200,000 steps"),
    ("{% for a in range(1000000) %}{% endfor %}", "range() of 1,000,000 items"),
    ("{% set s = 'x' * 50000 %}{{ s + s + s }}", "joining strings or lists"),
    ("{{ 'x'.ljust(300000000) }}", "ljust(300,000,000)"),
    ("{{ 'x' | center(300000000) }}", "center(300,000,000)"),
    ("{{ '%300000000d' % 1 }}", "format width of 300000000"),
    ("{{ '{:>300000000}'.format(1) }}", "format width of 300000000"),
    ("{{ 2 ** 100000000 }}", "the number would be too large"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
     "more than 200,000 steps"),
    ("{% set s = 'x' * 90000 %}{{ s.replace('x', s) }}", "replace() would make"),
    ("{% for i in range(10000) %}{{ 'abc' }}{% endfor %}", "renders more than 20,000 characters"),
])
def test_templates_that_would_burn_cpu_or_memory_are_stopped_with_a_clear_message(source, message):
    templates = TextTemplates({"rebuttal_letter": claim(source)})
    with pytest.raises(ValidationError, match="template 'rebuttal_letter' was stopped") as info:
        compose_evidence(dispute(), charge(), order=ORDER, text_templates=templates)
    assert message in str(info.value) and "simplify the template" in (info.value.hint or "")


def test_ordinary_loops_arithmetic_and_string_methods_still_render():
    source = ("{% for c in history.charges if false %}{% endfor %}"
              "{% for i in range(3) %}{{ i * 2 }},{% endfor %} {{ ('ab' * 3) | upper }} "
              "{{ 'a-b'.replace('-', '+') }} {{ ', '.join(['x', 'y']) }} {{ '%05d' % 42 }}")
    templates = TextTemplates({"rebuttal_letter": claim(source)})
    out = compose_evidence(dispute(), charge(), order=ORDER, text_templates=templates)
    assert out.fields["uncategorized_text"] == "0,2,4, ABABAB a+b x, y 00042"
