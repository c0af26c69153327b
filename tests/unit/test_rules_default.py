"""The shipped default rule set loads and does what docs/automation.md says."""

import pytest

from disputedesk.rules import RUN, SKIPPED, Facts, evaluate, load_default_rules

NOW = 1_800_000_000
DAY = 86400
DUE = NOW + 10 * DAY


@pytest.fixture(scope="module")
def rules():
    return load_default_rules()


def dispute(amount=5000, currency="usd", reason="fraudulent", status="needs_response"):
    return {"id": "du_1", "amount": amount, "currency": currency, "reason": reason, "status": status,
            "created": NOW, "evidence_details": {"due_by": DUE, "submission_count": 0},
            "charge": {"id": "ch_1", "amount": amount, "currency": currency, "disputed": True}}


def warning_facts(amount, currency="usd", **charge_over):
    charge = {"id": "ch_9", "amount": amount, "currency": currency, "captured": True, "status": "succeeded",
              "refunded": False, "disputed": False, "amount_refunded": 0}
    charge.update(charge_over)
    return Facts(early_fraud_warning={"id": "issfr_9", "actionable": True, "fraud_type": "misc"}, charge=charge)


def ran(decisions):
    """rule -> kinds of actions that would run now"""
    return {d.rule: [a.kind for a in d.actions if a.status == RUN] for d in decisions if d.matched}


def test_default_rules_load_with_a_why_for_every_rule(rules):
    assert len(rules.rules) == 8
    assert all(len(r.why) > 40 for r in rules.rules)
    assert rules.fees["usd"].dispute == 1500 and rules.fees["usd"].countered == 1500


@pytest.mark.parametrize("amount", [1, 1200, 1500])
def test_early_fraud_warning_at_or_below_the_dispute_fee_is_refunded(rules, amount):
    decisions = evaluate(rules, "early_fraud_warning.created", warning_facts(amount), NOW)
    assert ran(decisions) == {"refund-small-early-fraud-warnings": ["refund_charge", "tag", "notify"]}
    refund = decisions[0].actions[0]
    assert refund.params["amount"] == amount and refund.params["reason"] == "fraudulent"


def test_early_fraud_warning_above_the_fee_goes_to_a_person(rules):
    decisions = evaluate(rules, "early_fraud_warning.created", warning_facts(1501), NOW)
    assert ran(decisions) == {"review-larger-early-fraud-warnings": ["notify"]}


@pytest.mark.parametrize("over", [{"refunded": True, "amount_refunded": 900}, {"disputed": True}])
def test_early_fraud_warning_on_a_refunded_or_disputed_charge_is_not_refunded(rules, over):
    decisions = evaluate(rules, "early_fraud_warning.created", warning_facts(900, **over), NOW)
    assert ran(decisions) == {}


def test_early_fraud_warning_in_a_currency_without_fees_is_not_refunded_and_says_why(rules):
    decisions = evaluate(rules, "early_fraud_warning.created", warning_facts(1000, "eur"), NOW)
    assert ran(decisions) == {}
    assert "`dispute_fee` has no value" in decisions[0].error


@pytest.mark.parametrize("amount,reason,accepted", [
    (1000, "fraudulent", True),
    (1499, "unrecognized", True),
    (1500, "fraudulent", False),
    (1000, "product_not_received", False),
])
def test_small_fraud_disputes_are_accepted_and_others_get_evidence(rules, amount, reason, accepted):
    decisions = evaluate(rules, "dispute.created", Facts(dispute=dispute(amount, reason=reason)), NOW)
    if accepted:
        assert ran(decisions) == {"accept-small-fraud-disputes": ["accept_dispute", "notify"],
                                  "build-evidence-for-new-disputes": []}
        build = decisions[-1].actions[0]
        assert build.status == SKIPPED and "accept-small-fraud-disputes" in build.reason
    else:
        assert ran(decisions) == {"build-evidence-for-new-disputes": ["build_evidence"]}
        assert decisions[-1].actions[0].params == {"stage": True}


def test_a_dispute_someone_works_on_is_not_accepted(rules):
    decisions = evaluate(rules, "dispute.created", Facts(dispute=dispute(1000), assigned_to="ana"), NOW)
    assert ran(decisions)["accept-small-fraud-disputes"] == ["notify"]


def test_complete_evidence_is_submitted_48_hours_before_due_by(rules):
    at = DUE - 48 * 3600
    decisions = evaluate(rules, "deadline.approaching", Facts(dispute=dispute(), evidence_completeness=80), at)
    assert ran(decisions) == {"submit-complete-evidence-48h-before-due": ["submit_evidence"]}
    assert decisions[0].actions[0].key == f"submit-complete-evidence-48h-before-due|du_1|submit_evidence|due_by={DUE}"


def test_incomplete_evidence_is_not_submitted_and_a_person_is_warned(rules):
    at = DUE - 47 * 3600
    decisions = evaluate(rules, "deadline.approaching", Facts(dispute=dispute(), evidence_completeness=60), at)
    assert ran(decisions) == {"submit-complete-evidence-48h-before-due": [],
                              "warn-incomplete-evidence-48h-before-due": ["notify"]}
    message = decisions[1].actions[0].params["message"]
    assert message == "Dispute du_1 (fraudulent, 50.00 USD) is due in 1d 23h and its evidence is only 60% complete."


def test_inquiries_get_evidence_and_a_notification(rules):
    facts = Facts(dispute=dispute(1000, status="warning_needs_response"))
    decisions = evaluate(rules, "inquiry.created", facts, NOW)
    assert ran(decisions) == {"answer-inquiries": ["build_evidence", "notify"]}
    assert "Inquiry du_1 on ch_1" in decisions[0].actions[1].params["message"]


def test_failed_refunds_notify(rules):
    facts = Facts(refund={"id": "re_1", "amount": 700, "currency": "usd", "status": "failed",
                          "failure_reason": "expired_or_canceled_card", "charge": "ch_1"})
    decisions = evaluate(rules, "refund.failed", facts, NOW)
    assert decisions[0].actions[0].params["message"] == \
        "Refund re_1 of 7.00 USD on ch_1 failed (expired_or_canceled_card)."
