"""The automation caches: a rule set parsed once per file content, and facts built only as far as
the rules read them - with the same decisions as building everything, and a fresh rule set as
soon as the file's content changes (even when its size and mtime do not)."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.emulator.testing import running_emulator
from disputedesk.rules import evaluate, parse_rules
from disputedesk.services import sync
from disputedesk.services.automation import rulesets, runner
from disputedesk.services.automation.facts import build_facts
from disputedesk.store.tables import disputes as disputes_table
from disputedesk.testing import ManualClock
from disputedesk.wiring import build_deps
from disputedesk.worker import Worker

# Rules that read each costly fact (customer history, order, evidence completeness) and rules
# that read none of them, on the same trigger.
RULES = """
version = 1

[[rules]]
name = "repeat-customers"
why = "a customer who disputed before"
trigger = "dispute.created"
condition = "customer.dispute_count >= 1 or customer.charge_count > 2"
[[rules.actions]]
kind = "tag"
tags = ["repeat"]

[[rules]]
name = "complete-enough"
why = "the evidence is there"
trigger = "dispute.created"
condition = "evidence.completeness >= 10"
[[rules.actions]]
kind = "notify"
channel = "log"
message = "{dispute.id} is {evidence.completeness}% complete for {customer.email}"

[[rules]]
name = "small"
why = "a small one"
trigger = "dispute.created"
condition = "amount < countered_fee"
[[rules.actions]]
kind = "tag"
tags = ["small"]

[[rules]]
name = "updated"
why = "nothing costly"
trigger = "dispute.updated"
condition = "reason == 'fraudulent'"
[[rules.actions]]
kind = "tag"
tags = ["fraud"]
"""


def test_a_rule_set_knows_what_each_trigger_reads():
    rules = parse_rules(RULES)
    created = rules.reads("dispute.created")
    assert {"customer.dispute_count", "customer.charge_count", "evidence.completeness",
            "dispute.id", "customer.email", "amount", "countered_fee"} <= created
    assert rules.reads("dispute.updated") == frozenset({"reason"})
    assert rules.reads("refund.failed") == frozenset()
    submit = parse_rules("""
version = 1
[[rules]]
name = "submit"
why = "w"
trigger = "deadline.approaching"
hours_before = 48
[[rules.actions]]
kind = "submit_evidence"
hours_before_due = 48
min_completeness = 80
""")
    assert {"evidence.completeness", "dispute.time_to_due"} <= submit.reads("deadline.approaching")


@pytest.fixture
def emulator():
    with running_emulator(seed=5) as server:
        yield server


def _desk(emulator, database_url, tmp_path, rules_text: str):
    path = tmp_path / "rules.toml"
    path.write_text(rules_text)
    settings = Settings(database_url=database_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr("sk_test_cache"), rules_file=path,
                        stripe_api_base=emulator.base_url, stripe_rate_limit=1000)
    return build_deps(settings, clock=ManualClock(emulator.emulator.clock.now()), migrate=False)


def test_facts_built_as_far_as_the_rules_read_give_the_same_decisions(emulator, database_url,
                                                                        tmp_path):
    client = emulator.stripe_client()
    emulator.emulator.account().collection("customer").add({  # a known customer of the account
        "id": "cus_cachetest0001", "object": "customer", "email": "jenny@example.com",
        "created": emulator.emulator.clock.now(), "metadata": {}})
    for amount in (900, 2500, 4000):
        client.v1.payment_intents.create(params={
            "amount": amount, "currency": "usd", "confirm": True, "customer": "cus_cachetest0001",
            "payment_method": "pm_card_createDispute"})
    emulator.advance(2)  # the disputes open
    deps = _desk(emulator, database_url, tmp_path, RULES)
    try:
        sync.catch_up(deps)
        worker = Worker(deps)
        while worker.process_events().claimed:
            pass
        with deps.store.read() as conn:
            ids = list(conn.execute(sa.select(disputes_table.c.id)).scalars())
        assert len(ids) == 3
        rules = rulesets.active_rules(deps.settings)
        now = int(deps.clock.now())
        for trigger in ("dispute.created", "dispute.updated"):
            for dispute_id in ids:
                full, _ = build_facts(deps, trigger, dispute_id)
                lean, _ = build_facts(deps, trigger, dispute_id, reads=rules.reads(trigger))
                assert ([d.to_dict() for d in evaluate(rules, trigger, lean, now)]
                        == [d.to_dict() for d in evaluate(rules, trigger, full, now)])
        # the costly facts were really looked at where a rule reads them ...
        lean, _ = build_facts(deps, "dispute.created", ids[-1],
                              reads=rules.reads("dispute.created"))
        assert lean.customer.charge_count == 3 and lean.evidence_completeness is not None
        # ... and skipped where none does
        skipped, _ = build_facts(deps, "dispute.updated", ids[-1],
                                 reads=rules.reads("dispute.updated"))
        assert skipped.customer.charge_count is None and skipped.evidence_completeness is None
        # the job itself records the same decisions
        out = runner.run_evaluation(deps, "dispute.created", ids[-1], source="test")
        assert {d["rule"]: d["matched"] for d in out} == {
            d.rule: d.matched for d in evaluate(rules, "dispute.created", full, now)}
    finally:
        deps.close()


def test_the_rule_set_is_cached_by_content_and_refreshed_when_it_changes(tmp_path):
    path = tmp_path / "rules.toml"
    first = RULES
    second = RULES.replace('tags = ["small"]', 'tags = ["SMALL"]')  # same size
    assert len(first) == len(second)
    path.write_text(first)
    stamp = os.stat(path)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=tmp_path,
                        rules_file=path)
    loaded = rulesets.active_rules(settings)
    assert rulesets.active_rules(settings) is loaded  # parsed once
    path.write_text(second)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same size, same mtime
    changed = rulesets.active_rules(settings)
    assert changed is not loaded
    assert changed.get("small").actions[0].params["tags"] == ("SMALL",)
    path.write_text(first)
    assert rulesets.active_rules(settings).get("small").actions[0].params["tags"] == ("small",)
