"""Rules files: TOML and YAML, every trigger and action, and errors that name file, line and rule."""

import textwrap
from decimal import Decimal

import pytest

from disputedesk.rules import RulesFileError, load_rules, parse_rules
from disputedesk.rules.context import TRIGGERS
from disputedesk.rules.model import ACTION_SPECS
from disputedesk.rules.values import Fees

EVERY_TRIGGER_TOML = textwrap.dedent('''\
    version = 1

    [fees.eur]
    dispute = "20.00 EUR"
    countered = "20"

    [conversion]
    base = "usd"
    rates = { eur = "1.08", jpy = 0.0067 }

    [[rules]]
    name = "on-created"
    why = "new disputes"
    trigger = "dispute.created"
    condition = 'reason == "fraudulent" and amount < money("15 USD")'
    priority = 5
    override_manual = true

    [[rules.actions]]
    kind = "accept_dispute"

    [[rules.actions]]
    kind = "build_evidence"
    stage = false

    [[rules]]
    name = "on-updated"
    description = "updates"
    trigger = "dispute.updated"
    enabled = false
    actions = [
      { kind = "tag", tags = ["updated", "x:y"] },
      { kind = "assign", user = "ana@example.com" },
    ]

    [[rules]]
    name = "on-inquiry"
    why = "inquiries"
    trigger = "inquiry.created"
    actions = [{ kind = "notify", channel = "slack", message = "Inquiry {dispute.id} for {amount} {{x}}" }]

    [[rules]]
    name = "on-efw"
    why = "warnings"
    trigger = "early_fraud_warning.created"
    condition = "amount <= dispute_fee"
    actions = [{ kind = "refund_charge" }]

    [[rules]]
    name = "on-refund-failed"
    why = "failed refunds"
    trigger = "refund.failed"
    actions = [{ kind = "notify", channel = "email", message = "{refund.id} failed" }]

    [[rules]]
    name = "on-deadline"
    why = "deadline"
    trigger = "deadline.approaching"
    hours_before = 72
    condition = """
      evidence.completeness >= 80
      and dispute.status == "needs_response"
    """
    actions = [{ kind = "submit_evidence", hours_before_due = 72, min_completeness = 80 }]
''')


def problems(text, filename="rules.toml"):
    with pytest.raises(RulesFileError) as err:
        parse_rules(text, filename=filename)
    return err.value


def test_every_trigger_and_action_kind_parses_from_toml():
    ruleset = parse_rules(EVERY_TRIGGER_TOML, filename="rules.toml")
    assert {r.trigger for r in ruleset.rules} == set(TRIGGERS)
    kinds = {a.kind for r in ruleset.rules for a in r.actions}
    assert kinds == set(ACTION_SPECS)
    created = ruleset.get("on-created")
    assert created.priority == 5 and created.override_manual is True and created.line == 11
    assert created.actions[1].params == {"stage": False}
    assert created.condition.names == ("reason", "amount")
    assert ruleset.get("on-updated").enabled is False
    assert ruleset.get("on-updated").why == "updates"
    assert ruleset.get("on-updated").actions[0]["tags"] == ("updated", "x:y")
    assert ruleset.get("on-efw").actions[0].params == {"reason": "fraudulent"}
    assert ruleset.get("on-deadline").hours_before == 72
    submit = ruleset.get("on-deadline").actions[0]
    assert (submit["hours_before_due"], submit["min_completeness"]) == (72, 80)
    assert ruleset.fees["eur"] == Fees(2000, 2000)
    assert ruleset.fees["usd"] == Fees(1500, 1500)
    assert ruleset.conversion.rates == {"eur": Decimal("1.08"), "jpy": Decimal("0.0067")}


def test_same_rules_parse_from_yaml():
    text = textwrap.dedent('''\
        version: 1
        fees:
          jpy: {dispute: "2000 JPY", countered: "0"}
        rules:
          - name: small-fraud
            why: cheaper to accept
            trigger: dispute.created
            condition: reason == "fraudulent" and amount < countered_fee
            actions:
              - kind: accept_dispute
          - name: deadline
            why: submit
            trigger: deadline.approaching
            hours_before: 48
            actions:
              - {kind: submit_evidence, hours_before_due: 48, min_completeness: 70}
        ''')
    ruleset = parse_rules(text, filename="rules.yaml")
    assert [r.name for r in ruleset.rules] == ["small-fraud", "deadline"]
    assert ruleset.fees["jpy"] == Fees(2000, 0)
    assert ruleset.get("small-fraud").line == 5


def test_load_rules_reads_a_file_and_picks_the_format_by_extension(tmp_path):
    path = tmp_path / "mine.yml"
    path.write_text("rules:\n  - {name: a, why: b, trigger: refund.failed, actions: "
                    "[{kind: notify, channel: log, message: hi}]}\n")
    assert load_rules(path).rules[0].name == "a"


def test_missing_file_is_a_rules_error_naming_it(tmp_path):
    with pytest.raises(RulesFileError, match="nope.toml"):
        load_rules(tmp_path / "nope.toml")


def test_toml_syntax_error_names_file_and_line():
    err = problems('version = 1\n\n[[rules]]\nname = "a"\nwhy = oops\n')
    assert err.line == 5
    assert str(err).startswith("rules.toml:5:")
    assert "TOML syntax error" in str(err)


def test_yaml_syntax_error_names_file_and_line():
    err = problems("rules:\n  - name: a\n    why: [unclosed\n  - name: b\n", filename="r.yaml")
    assert err.file == "r.yaml"
    assert err.line in (3, 4)
    assert "YAML syntax error" in str(err)


RULE = '''
[[rules]]
name = "{name}"
why = "because"
trigger = "{trigger}"
condition = '{condition}'
{extra}
[[rules.actions]]
kind = "{kind}"
{params}
'''


def rule(name="r", trigger="dispute.created", condition="true", extra="", kind="build_evidence", params=""):
    return RULE.format(name=name, trigger=trigger, condition=condition, extra=extra, kind=kind, params=params)


def test_bad_condition_names_file_line_rule_and_column():
    text = "version = 1\n" + rule(name="ok") + rule(name="bad", condition='amout < money("15 USD")')
    err = problems(text)
    assert len(err.problems) == 1
    problem = err.problems[0]
    assert (problem.file, problem.rule) == ("rules.toml", "bad")
    assert problem.line == text.splitlines().index("""condition = 'amout < money("15 USD")'""") + 1
    assert "unknown name `amout` at column 1" in problem.message
    assert "^" in problem.pointer
    assert str(err).startswith(f"rules.toml:{problem.line}: rule 'bad': condition: unknown name")


def test_multiline_condition_error_points_at_the_line_inside_the_string():
    text = textwrap.dedent('''\
        [[rules]]
        name = "m"
        why = "w"
        trigger = "dispute.created"
        condition = """
          reason == "fraudulent"
          and amount < 15
        """
        actions = [{ kind = "build_evidence" }]
        ''')
    err = problems(text)
    assert err.line == 7
    assert "cannot compare money with number" in str(err)


def test_python_internals_in_a_rules_file_are_refused_with_the_rule_named():
    err = problems(rule(name="evil", condition="().__class__.__bases__[0].__subclasses__()"))
    assert err.rule == "evil"
    assert "only the desk's functions can be called" in str(err)


def test_every_problem_is_reported_in_line_order():
    text = (rule(name="a", trigger="dispute.craeted")
            + rule(name="b", kind="refund_charge")
            + rule(name="c", kind="submit_evidence", params="hours_before_due = 0"))
    err = problems(text)
    messages = [(p.rule, p.message) for p in err.problems]
    assert messages[0][0] == "a" and "did you mean 'dispute.created'" in messages[0][1]
    assert messages[1][0] == "b" and "refund_charge cannot run on dispute.created" in messages[1][1]
    assert sorted(m for r, m in messages if r == "c") == [
        "submit_evidence needs 'min_completeness': submit only when evidence.completeness is at least this",
        "submit_evidence.hours_before_due must be a whole number from 1 to 504",
    ]
    lines = [p.line for p in err.problems]
    assert lines == sorted(lines)
    assert "more problems" in str(err)
    assert len(err.report().splitlines()) >= 4


def test_action_parameter_error_points_at_the_parameter_line():
    text = rule(name="n", kind="notify", params='channel = "email"\nmessage = "hi {amout}"')
    err = problems(text)
    assert err.line == text.splitlines().index('message = "hi {amout}"') + 1
    assert "unknown name `{amout}`" in str(err)


@pytest.mark.parametrize("text,fragment", [
    (rule(extra="colour = 1"), "unknown key 'colour'"),
    (rule(extra="priorty = 1"), "did you mean 'priority'"),
    (rule(extra="enabled = 'yes'"), "enabled must be true or false"),
    (rule(extra="hours_before = 3"), "hours_before applies only to trigger deadline.approaching"),
    (rule(trigger="deadline.approaching"), "deadline.approaching needs hours_before"),
    (rule(kind="explode"), "unknown action kind 'explode'"),
    (rule(kind="accept_dispute", params="stage = true"), "accept_dispute has no parameter 'stage'"),
    (rule(kind="tag", params="tags = []"), "tag.tags must be a list"),
    (rule(kind="assign"), "assign needs 'user'"),
    (rule(kind="notify", params='channel = "Not A Channel"\nmessage = "x"'), "channel name"),
    (rule(kind="notify", params='channel = "email"\nmessage = "{0.__class__}"'), "unknown name"),
    (rule(trigger="early_fraud_warning.created", kind="refund_charge", params='reason = "duplicate"'),
     "refund_charge.reason must be one of: fraudulent"),
    (rule(trigger="inquiry.created", kind="accept_dispute"), "accept_dispute cannot run on inquiry.created"),
    (rule(name="has space"), "every rule needs a name"),
    (rule() + rule(), "duplicate rule name"),
    ('[[rules]]\nname = "x"\ntrigger = "refund.failed"\nactions = [{kind = "notify", channel = "log", message = "m"}]',
     "needs a 'why'"),
    ('[[rules]]\nname = "x"\nwhy = "y"\ntrigger = "refund.failed"\n', "at least one action"),
    ('surprise = 1\n', "unknown key 'surprise'"),
    ('version = 2\n', "version must be 1"),
    ('[fees.usd]\ndispute = 15\ncountered = "15"\n', "write the fee as text"),
    ('[fees.usd]\ndispute = "15 EUR"\ncountered = "15"\n', "cannot read the fee"),
    ('[fees.jpy]\ndispute = "1.5"\ncountered = "0"\n', "more decimals than JPY allows"),
    ('[conversion]\nbase = "usd"\nrates = { eur = -1 }\n', "must be a positive number"),
    ('[conversion]\nbase = "dollars"\n', "conversion.base must be a currency code"),
])
def test_semantic_errors_are_explained(text, fragment):
    err = problems(text)
    assert fragment in err.report()
    assert all(p.line for p in err.problems)


def test_yaml_semantic_error_names_the_line_of_the_key():
    text = textwrap.dedent('''\
        rules:
          - name: a
            why: b
            trigger: dispute.created
            actions:
              - kind: build_evidence
              - kind: submit_evidence
                hours_before_due: 48
                min_completeness: 180
        ''')
    err = problems(text, filename="r.yaml")
    assert err.line == 9
    assert err.rule == "a"


def test_yaml_block_condition_error_points_inside_the_block():
    text = textwrap.dedent('''\
        rules:
          - name: a
            why: b
            trigger: dispute.created
            condition: |
              reason == "fraudulent"
              and amount < 15
            actions: [{kind: build_evidence}]
        ''')
    err = problems(text, filename="r.yaml")
    assert err.line == 7


def test_empty_yaml_file_is_an_empty_rule_set():
    assert parse_rules("", filename="r.yaml").rules == ()


def test_a_string_inside_a_multiline_toml_string_does_not_confuse_line_numbers():
    text = textwrap.dedent('''\
        [[rules]]
        name = "a"
        why = """
        [[rules]]
        name = "not a rule"
        """
        trigger = "dispute.created"
        actions = [{ kind = "build_evidence" }]

        [[rules]]
        name = "b"
        why = "w"
        trigger = "dispute.created"
        condition = "nope"
        actions = [{ kind = "build_evidence" }]
        ''')
    err = problems(text)
    assert (err.rule, err.line) == ("b", 14)
