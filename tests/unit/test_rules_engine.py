"""Evaluation: decisions explain their inputs, guard people's work, and carry idempotency keys."""

import textwrap

import pytest

from disputedesk.domain.money import Money
from disputedesk.errors import ValidationError
from disputedesk.rules import (
    ALREADY_DONE, RUN, SCHEDULED, SKIPPED, SCHEMA, CustomerFacts, Facts, build_context,
    deadline_times, evaluate, parse_rules, trigger_for_event,
)
from disputedesk.rules.values import DEFAULT_FEES

NOW = 1_800_000_000
DAY = 86400


def dispute(**over):
    base = {"id": "du_1", "object": "dispute", "amount": 5000, "currency": "usd", "reason": "fraudulent",
            "status": "needs_response", "created": NOW - DAY, "network_reason_code": "10.4",
            "evidence_details": {"due_by": NOW + 7 * DAY, "submission_count": 0, "has_evidence": False},
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "case_type": "chargeback"}},
            "metadata": {"plan": "pro"}, "is_charge_refundable": False,
            "charge": {"id": "ch_1", "amount": 5000, "currency": "usd", "disputed": True, "captured": True,
                       "status": "succeeded", "refunded": False, "amount_refunded": 0, "created": NOW - 30 * DAY,
                       "outcome": {"risk_level": "elevated", "risk_score": 70, "type": "authorized"},
                       "payment_method_details": {"card": {"brand": "visa", "country": "us", "funding": "credit",
                                                           "three_d_secure": {"result": "authenticated"}}},
                       "metadata": {"order_id": "o_9", "plan": "basic"}}}
    base.update(over)
    return base


def charge(**over):
    base = {"id": "ch_2", "amount": 1200, "currency": "usd", "captured": True, "status": "succeeded",
            "refunded": False, "disputed": False, "amount_refunded": 0, "created": NOW - 3600}
    base.update(over)
    return base


def efw(**over):
    base = {"id": "issfr_1", "object": "radar.early_fraud_warning", "actionable": True,
            "fraud_type": "made_with_stolen_card", "created": NOW}
    base.update(over)
    return base


def rules(body):
    return parse_rules(textwrap.dedent(body), filename="t.toml")


def one(ruleset, trigger, facts, now=NOW):
    decisions = evaluate(ruleset, trigger, facts, now)
    assert len(decisions) == 1
    return decisions[0]


def test_context_builds_every_schema_name_and_nothing_else():
    values = build_context("dispute.created", Facts(dispute=dispute()), NOW, DEFAULT_FEES)
    assert set(values) == {n.name for n in SCHEMA}


def test_context_derives_typed_values_from_stripe_objects():
    facts = Facts(dispute=dispute(), customer=CustomerFacts(id="cus_1", lifetime_value=Money(90000, "usd"),
                                                            dispute_count=2), evidence_completeness=55)
    v = build_context("dispute.created", facts, NOW, DEFAULT_FEES)
    assert v["amount"] == Money(5000, "usd") and v["currency"] == "usd"
    assert (v["card_brand"], v["card_country"], v["risk_level"], v["risk_score"]) == ("visa", "US", "elevated", 70)
    assert v["three_d_secure_result"] == "authenticated"
    assert v["dispute_fee"] == Money(1500, "usd") and v["countered_fee"] == Money(1500, "usd")
    assert v["dispute.time_to_due"].seconds == 7 * DAY and v["charge.age"].seconds == 30 * DAY
    assert v["dispute.is_inquiry"] is False and v["charge.refundable"] is False
    assert v["metadata"] == {"order_id": "o_9", "plan": "pro"}  # the dispute's metadata wins
    assert v["customer.lifetime_value"] == Money(90000, "usd") and v["evidence.completeness"] == 55


def test_decision_records_only_the_inputs_the_condition_referenced():
    ruleset = rules('''
        [[rules]]
        name = "big-visa"
        why = "big visa disputes need a person"
        trigger = "dispute.created"
        condition = 'card_brand == "visa" and amount > money("40 USD") and customer.dispute_count >= 2'
        actions = [{ kind = "assign", user = "ana" }]
        ''')
    facts = Facts(dispute=dispute(), customer=CustomerFacts(dispute_count=2))
    decision = one(ruleset, "dispute.created", facts)
    assert decision.matched is True
    assert decision.inputs == {"card_brand": "visa", "amount": "50.00 USD", "customer.dispute_count": 2}
    assert decision.object_id == "du_1" and decision.trigger == "dispute.created"
    assert "big visa disputes need a person" in decision.explanation
    assert "amount = 50.00 USD" in decision.explanation
    assert [(a.kind, a.status, a.params["user"]) for a in decision.actions] == [("assign", RUN, "ana")]
    assert decision.to_dict()["actions"][0]["key"] == "big-visa|du_1|assign"


def test_unmatched_decision_explains_why_and_plans_nothing():
    ruleset = rules('''
        [[rules]]
        name = "tiny"
        why = "w"
        trigger = "dispute.created"
        condition = 'amount < money("10 USD")'
        actions = [{ kind = "accept_dispute" }]
        ''')
    decision = one(ruleset, "dispute.created", Facts(dispute=dispute()))
    assert decision.matched is False and decision.actions == ()
    assert "did not match" in decision.explanation and "is false" in decision.explanation


def test_evaluation_error_is_recorded_and_the_rule_does_not_match():
    ruleset = rules('''
        [[rules]]
        name = "jpy"
        why = "w"
        trigger = "dispute.created"
        condition = 'amount < money("10 USD")'
        actions = [{ kind = "accept_dispute" }]
        ''')
    decision = one(ruleset, "dispute.created", Facts(dispute=dispute(amount=1000, currency="jpy")))
    assert decision.matched is False
    assert "cannot compare 1000 JPY with 10.00 USD" in decision.error
    assert decision.inputs["amount"] == "1000 JPY"


def test_disabled_rules_and_other_triggers_are_not_evaluated():
    ruleset = rules('''
        [[rules]]
        name = "off"
        why = "w"
        trigger = "dispute.created"
        enabled = false
        actions = [{ kind = "accept_dispute" }]

        [[rules]]
        name = "other"
        why = "w"
        trigger = "dispute.updated"
        actions = [{ kind = "accept_dispute" }]
        ''')
    assert evaluate(ruleset, "dispute.created", Facts(dispute=dispute()), NOW) == []


def test_rules_run_in_priority_then_file_order():
    ruleset = rules('''
        [[rules]]
        name = "third"
        why = "w"
        trigger = "dispute.created"
        priority = 200
        actions = [{ kind = "tag", tags = ["c"] }]

        [[rules]]
        name = "first"
        why = "w"
        trigger = "dispute.created"
        priority = 1
        actions = [{ kind = "tag", tags = ["a"] }]

        [[rules]]
        name = "second"
        why = "w"
        trigger = "dispute.created"
        priority = 200
        actions = [{ kind = "tag", tags = ["b"] }]
        ''')
    names = [d.rule for d in evaluate(ruleset, "dispute.created", Facts(dispute=dispute()), NOW)]
    assert names == ["first", "third", "second"]


CASE_RULES = '''
    [[rules]]
    name = "accept"
    why = "w"
    trigger = "dispute.created"
    {flag}
    actions = [{{ kind = "accept_dispute" }}, {{ kind = "tag", tags = ["auto"] }},
               {{ kind = "notify", channel = "log", message = "accepted {{dispute.id}}" }}]
'''


@pytest.mark.parametrize("facts_over", [{"assigned_to": "ana"}, {"manual_edits": True}])
def test_a_case_a_person_works_is_left_to_them(facts_over):
    ruleset = rules(CASE_RULES.format(flag=""))
    decision = one(ruleset, "dispute.created", Facts(dispute=dispute(), **facts_over))
    statuses = {a.kind: a.status for a in decision.actions}
    assert statuses == {"accept_dispute": SKIPPED, "tag": RUN, "notify": RUN}
    assert "left to them" in decision.actions[0].reason


def test_override_manual_lets_the_rule_act_on_a_worked_case():
    ruleset = rules(CASE_RULES.format(flag="override_manual = true"))
    decision = one(ruleset, "dispute.created", Facts(dispute=dispute(), assigned_to="ana"))
    assert decision.actions[0].status == RUN


def test_action_keys_are_deterministic_and_done_actions_are_not_repeated():
    ruleset = rules(CASE_RULES.format(flag=""))
    first = one(ruleset, "dispute.created", Facts(dispute=dispute()))
    again = one(ruleset, "dispute.created", Facts(dispute=dispute()))
    keys = [a.key for a in first.actions]
    assert keys == [a.key for a in again.actions]
    assert keys == ["accept|du_1|accept_dispute", "accept|du_1|tag", "accept|du_1|notify"]
    replay = one(ruleset, "dispute.created", Facts(dispute=dispute(), done_actions=frozenset(keys)))
    assert [a.status for a in replay.actions] == [ALREADY_DONE] * 3


def test_accept_is_skipped_unless_the_dispute_needs_a_response():
    ruleset = rules(CASE_RULES.format(flag=""))
    for status in ("under_review", "won", "lost", "warning_needs_response"):
        decision = one(ruleset, "dispute.created", Facts(dispute=dispute(status=status)))
        assert decision.actions[0].status == SKIPPED, status
    inquiry = one(ruleset, "dispute.created", Facts(dispute=dispute(status="warning_needs_response")))
    assert "inquiries are resolved by answering or refunding" in inquiry.actions[0].reason


SUBMIT = '''
    [[rules]]
    name = "submit"
    why = "w"
    trigger = "dispute.created"
    actions = [{ kind = "submit_evidence", hours_before_due = 48, min_completeness = 80 }]
'''


def test_submit_is_scheduled_before_due_by_with_the_due_by_in_its_key():
    decision = one(rules(SUBMIT), "dispute.created", Facts(dispute=dispute(), evidence_completeness=10))
    action = decision.actions[0]
    due = NOW + 7 * DAY
    assert action.status == SCHEDULED and action.run_at == due - 48 * 3600
    assert action.key == f"submit|du_1|submit_evidence|due_by={due}"
    assert action.params["due_by"] == due
    moved = one(rules(SUBMIT), "dispute.created",
                Facts(dispute=dispute(evidence_details={"due_by": due + DAY}), evidence_completeness=10))
    assert moved.actions[0].key != action.key


def test_submit_runs_at_its_time_only_when_complete_enough():
    due = NOW + 7 * DAY
    at = due - 48 * 3600
    ready = one(rules(SUBMIT), "dispute.created", Facts(dispute=dispute(), evidence_completeness=80), at)
    assert ready.actions[0].status == RUN
    thin = one(rules(SUBMIT), "dispute.created", Facts(dispute=dispute(), evidence_completeness=79), at)
    assert thin.actions[0].status == SKIPPED and "79% complete" in thin.actions[0].reason


@pytest.mark.parametrize("over,reason", [
    ({"evidence_details": {"due_by": NOW + DAY, "submission_count": 1}}, "already submitted"),
    ({"evidence_details": {"due_by": NOW - 1}}, "has passed"),
    ({"evidence_details": {"due_by": 0}}, "no due_by"),
    ({"status": "under_review"}, "nothing to submit"),
])
def test_submit_is_skipped_when_it_cannot_happen(over, reason):
    decision = one(rules(SUBMIT), "dispute.created", Facts(dispute=dispute(**over), evidence_completeness=100))
    assert decision.actions[0].status == SKIPPED
    assert reason in decision.actions[0].reason


def test_a_dispute_is_never_both_accepted_and_contested():
    ruleset = rules(CASE_RULES.format(flag="priority = 1") + SUBMIT + '''
    [[rules]]
    name = "build"
    why = "w"
    trigger = "dispute.created"
    actions = [{ kind = "build_evidence" }]
    ''')
    decisions = evaluate(ruleset, "dispute.created", Facts(dispute=dispute()), NOW)
    by_rule = {d.rule: d.actions[0] for d in decisions}
    assert by_rule["accept"].status == RUN
    assert by_rule["submit"].status == SKIPPED and "rule 'accept'" in by_rule["submit"].reason
    assert by_rule["build"].status == SKIPPED


REFUND = '''
    [[rules]]
    name = "refund"
    why = "w"
    trigger = "early_fraud_warning.created"
    actions = [{ kind = "refund_charge" }]

    [[rules]]
    name = "refund-again"
    why = "w"
    trigger = "early_fraud_warning.created"
    actions = [{ kind = "refund_charge" }]
'''


def test_refund_runs_once_with_the_remaining_amount_keyed_by_charge():
    decisions = evaluate(rules(REFUND), "early_fraud_warning.created",
                         Facts(early_fraud_warning=efw(), charge=charge(amount_refunded=200)), NOW)
    first, second = (d.actions[0] for d in decisions)
    assert first.status == RUN and first.key == "refund|ch_2|refund_charge"
    assert first.params == {"reason": "fraudulent", "charge": "ch_2", "amount": 1000, "currency": "usd"}
    assert second.status == SKIPPED and "already refunds" in second.reason


@pytest.mark.parametrize("charge_over,efw_over,reason", [
    ({"refunded": True, "amount_refunded": 1200}, {}, "already fully refunded"),
    ({"disputed": True}, {}, "disputed"),
    ({"captured": False}, {}, "not captured"),
    ({"status": "failed"}, {}, "failed"),
    ({}, {"actionable": False}, "not actionable"),
])
def test_refund_is_skipped_when_the_charge_is_not_refundable(charge_over, efw_over, reason):
    decision = evaluate(rules(REFUND), "early_fraud_warning.created",
                        Facts(early_fraud_warning=efw(**efw_over), charge=charge(**charge_over)), NOW)[0]
    assert decision.actions[0].status == SKIPPED
    assert reason in decision.actions[0].reason


def test_refund_reads_the_charge_expanded_inside_the_warning():
    facts = Facts(early_fraud_warning=efw(charge=charge()))
    assert evaluate(rules(REFUND), "early_fraud_warning.created", facts, NOW)[0].actions[0].status == RUN


def test_deadline_rules_match_only_inside_their_window():
    ruleset = rules('''
        [[rules]]
        name = "late"
        why = "w"
        trigger = "deadline.approaching"
        hours_before = 24
        actions = [{ kind = "notify", channel = "log", message = "{dispute.id} due in {dispute.time_to_due}" }]
        ''')
    due = NOW + 7 * DAY
    assert deadline_times(ruleset, due) == [("late", due - 24 * 3600)]
    early = one(ruleset, "deadline.approaching", Facts(dispute=dispute()), due - 25 * 3600)
    assert early.matched is False and "window opens" in early.explanation
    inside = one(ruleset, "deadline.approaching", Facts(dispute=dispute()), due - 24 * 3600)
    assert inside.matched is True
    assert inside.actions[0].params["message"] == "du_1 due in 1d"
    assert inside.inputs == {"dispute.time_to_due": "1d"}
    after = one(ruleset, "deadline.approaching", Facts(dispute=dispute()), due)
    assert after.matched is False and "has passed" in after.explanation


def test_notify_renders_missing_values_as_none_and_keeps_braces():
    ruleset = rules('''
        [[rules]]
        name = "n"
        why = "w"
        trigger = "refund.failed"
        actions = [{ kind = "notify", channel = "log", message = "{{ {refund.id} }} {refund.failure_reason} {order.sku}" }]
        ''')
    facts = Facts(refund={"id": "re_1", "amount": 500, "currency": "eur", "status": "failed"})
    decision = one(ruleset, "refund.failed", facts)
    assert decision.object_id == "re_1"
    assert decision.actions[0].params["message"] == "{ re_1 } (none) (none)"


def test_tag_and_assign_skip_what_is_already_true():
    ruleset = rules('''
        [[rules]]
        name = "t"
        why = "w"
        trigger = "dispute.updated"
        override_manual = true
        actions = [{ kind = "tag", tags = ["vip"] }, { kind = "assign", user = "ana" }]
        ''')
    decision = one(ruleset, "dispute.updated", Facts(dispute=dispute(), tags=("vip",), assigned_to="ana"))
    assert [a.status for a in decision.actions] == [SKIPPED, SKIPPED]


def test_unknown_trigger_and_missing_subject_are_refused():
    ruleset = rules(SUBMIT)
    with pytest.raises(ValidationError, match="unknown trigger"):
        evaluate(ruleset, "dispute.exploded", Facts(dispute=dispute()), NOW)
    with pytest.raises(ValidationError, match="needs facts.early_fraud_warning"):
        evaluate(ruleset, "early_fraud_warning.created", Facts(charge=charge()), NOW)


@pytest.mark.parametrize("event,obj,trigger", [
    ("charge.dispute.created", {"status": "needs_response"}, "dispute.created"),
    ("charge.dispute.created", {"status": "warning_needs_response"}, "inquiry.created"),
    ("charge.dispute.updated", {"status": "under_review"}, "dispute.updated"),
    ("radar.early_fraud_warning.created", {}, "early_fraud_warning.created"),
    ("refund.failed", {}, "refund.failed"),
    ("charge.refunded", {}, None),
])
def test_stripe_events_map_to_triggers(event, obj, trigger):
    assert trigger_for_event(event, obj) == trigger


def test_every_context_name_is_documented():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "automation.md").read_text(encoding="utf-8")
    missing = [n.name for n in SCHEMA if f"`{n.name}`" not in doc]
    assert missing == []
