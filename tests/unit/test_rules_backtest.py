"""Backtest over a seeded synthetic year; the expected report is computed here by a plain loop."""

import random
from collections import defaultdict
from importlib import resources

import pytest

from disputedesk.errors import ValidationError
from disputedesk.rules import DisputeCase, WarningCase, backtest, parse_duration, parse_rules

NOW = 1_800_000_000
DAY = 86400
FRAUD = ("fraudulent", "unrecognized")
REASONS = FRAUD + ("product_not_received", "duplicate", "general", "subscription_canceled")
# The fee table the test rule set uses: the default file's USD fees plus EUR; JPY has none.
FEES = {"usd": (1500, 1500), "eur": (2000, 2000)}

R_REFUND = "refund-small-early-fraud-warnings"
R_REVIEW = "review-larger-early-fraud-warnings"
R_ACCEPT = "accept-small-fraud-disputes"
R_BUILD = "build-evidence-for-new-disputes"
R_SUBMIT = "submit-complete-evidence-48h-before-due"
R_WARN = "warn-incomplete-evidence-48h-before-due"
R_INQUIRY = "answer-inquiries"
R_FAILED = "notify-failed-refunds"


def ruleset():
    text = resources.files("disputedesk.rules").joinpath("default_rules.toml").read_text("utf-8")
    text += '\n[fees.eur]\ndispute = "20.00 EUR"\ncountered = "20.00 EUR"\n'
    return parse_rules(text, filename="default+eur.toml")


def synthetic_year(seed=2026):
    rng = random.Random(seed)
    cases = []
    for i in range(500):
        currency = rng.choice(["usd"] * 7 + ["eur"] * 2 + ["jpy"])
        created = NOW - rng.randrange(365 * DAY)
        inquiry = rng.random() < 0.15
        completeness = rng.choice([None] + list(range(0, 101, 5)))
        amount = rng.randrange(100, 6000)
        dispute = {"id": f"du_{i}", "amount": amount, "currency": currency, "reason": rng.choice(REASONS),
                   "status": "warning_needs_response" if inquiry else "needs_response", "created": created,
                   "evidence_details": {"due_by": created + rng.randint(7, 21) * DAY, "submission_count": 0}}
        cases.append(DisputeCase(dispute, outcome=rng.choice(["won", "lost", None]),
                                 evidence_completeness=completeness))
    for i in range(400):
        currency = rng.choice(["usd"] * 7 + ["eur"] * 2 + ["jpy"])
        amount = rng.randrange(100, 4000)
        refunded = rng.random() < 0.1
        disputed = rng.random() < 0.1
        partial = 0 if refunded else rng.choice([0] * 9 + [amount // 2])
        charge = {"id": f"ch_w{i}", "amount": amount, "currency": currency, "captured": True,
                  "status": "succeeded", "refunded": refunded, "disputed": disputed,
                  "amount_refunded": amount if refunded else partial}
        efw = {"id": f"issfr_{i}", "created": NOW - rng.randrange(365 * DAY), "fraud_type": "misc",
               "actionable": not (refunded or disputed) and rng.random() > 0.05}
        cases.append(WarningCase(efw, charge, dispute_followed=rng.random() < 0.8))
    return cases


def expected_report(cases, since, now):
    """What the default rules should report, written out directly from their documented meaning."""
    names = [R_REFUND, R_ACCEPT, R_SUBMIT, R_INQUIRY, R_FAILED, R_REVIEW, R_WARN, R_BUILD]
    out = {n: {"rule": n, "disputes": 0, "warnings": 0, "errors": 0, "refunded": defaultdict(int),
               "accepted": defaultdict(int), "contested": defaultdict(int), "dispute_fees": defaultdict(int),
               "countered_fees": defaultdict(int), "dispute_fees_avoided": defaultdict(int)} for n in names}
    seen = {"disputes": 0, "warnings": 0}
    for case in cases:
        if not since <= case.created <= now:
            continue
        if isinstance(case, WarningCase):
            seen["warnings"] += 1
            ch, cur = case.charge, case.charge["currency"]
            fee = FEES.get(cur)
            refundable = not ch["refunded"] and not ch["disputed"] and ch["amount_refunded"] < ch["amount"]
            gate = refundable and case.early_fraud_warning["actionable"] is not False
            if gate and fee is None:
                out[R_REFUND]["errors"] += 1
            elif gate and ch["amount"] <= fee[0]:
                r = out[R_REFUND]
                r["warnings"] += 1
                r["refunded"][cur] += ch["amount"] - ch["amount_refunded"]
                if case.dispute_followed:
                    r["dispute_fees_avoided"][cur] += fee[0]
            if fee is None:
                out[R_REVIEW]["errors"] += 1
            elif ch["amount"] > fee[0]:
                out[R_REVIEW]["warnings"] += 1
            continue
        seen["disputes"] += 1
        d = case.dispute
        cur, amount = d["currency"], d["amount"]
        fee = FEES.get(cur)
        received, countered = fee if fee else (0, 0)
        chargeback = d["status"] == "needs_response"

        def touch(name):
            out[name]["disputes"] += 1
            if chargeback:
                out[name]["dispute_fees"][cur] += received

        accepted = False
        if chargeback:
            if d["reason"] in FRAUD and fee is None:
                out[R_ACCEPT]["errors"] += 1
            elif d["reason"] in FRAUD and amount < countered:
                accepted = True
                touch(R_ACCEPT)
                out[R_ACCEPT]["accepted"][cur] += amount
            if not accepted:
                touch(R_BUILD)
        else:
            touch(R_INQUIRY)
        deadline = d["evidence_details"]["due_by"] - 48 * 3600
        if accepted or deadline > now:
            continue
        completeness = case.evidence_completeness
        if completeness is not None and completeness >= 80:
            touch(R_SUBMIT)
            out[R_SUBMIT]["contested"][cur] += amount
            if chargeback:
                out[R_SUBMIT]["countered_fees"][cur] += countered
        elif chargeback:
            touch(R_WARN)
    for report in out.values():
        for key in ("refunded", "accepted", "contested", "dispute_fees", "countered_fees", "dispute_fees_avoided"):
            report[key] = {k: v for k, v in sorted(report[key].items()) if v}
    return seen, out


@pytest.mark.parametrize("window", ["180d", "365d", "30d"])
def test_backtest_over_a_seeded_year_matches_an_independent_computation(window):
    cases = synthetic_year()
    since = NOW - parse_duration(window)
    report = backtest(ruleset(), cases, since, NOW)
    seen, expected = expected_report(cases, since, NOW)
    assert (report.disputes_seen, report.warnings_seen) == (seen["disputes"], seen["warnings"])
    for name, want in expected.items():
        assert report.rule(name).to_dict() == want, name
    assert report.missing_fee_currencies == ["jpy"]


def test_backtest_totals_count_each_case_once():
    cases = synthetic_year(seed=7)
    since = NOW - 365 * DAY
    report = backtest(ruleset(), cases, since, NOW)
    _, expected = expected_report(cases, since, NOW)
    totals = report.totals.to_dict()
    # every dispute is touched by exactly one of accept / build / inquiry
    assert totals["disputes"] == report.disputes_seen
    assert totals["accepted"] == expected[R_ACCEPT]["accepted"]
    assert totals["contested"] == expected[R_SUBMIT]["contested"]
    assert totals["refunded"] == expected[R_REFUND]["refunded"]
    fees = defaultdict(int)
    for case in cases:
        if isinstance(case, DisputeCase) and case.dispute["status"] == "needs_response" \
                and case.dispute["currency"] in FEES:
            fees[case.dispute["currency"]] += FEES[case.dispute["currency"]][0]
    assert totals["dispute_fees"] == dict(sorted(fees.items()))
    assert totals["warnings"] == expected[R_REFUND]["warnings"] + expected[R_REVIEW]["warnings"]
    assert report.to_dict()["rules"][0]["rule"] == R_REFUND


def test_a_scheduled_submission_is_replayed_at_its_time():
    rules = parse_rules('''
        [[rules]]
        name = "submit-early"
        why = "w"
        trigger = "dispute.created"
        actions = [{ kind = "submit_evidence", hours_before_due = 24, min_completeness = 50 }]
        ''')
    created = NOW - 30 * DAY

    def case(i, due_in_days, completeness):
        d = {"id": f"du_{i}", "amount": 1000, "currency": "usd", "reason": "general", "status": "needs_response",
             "created": created, "evidence_details": {"due_by": created + due_in_days * DAY}}
        return DisputeCase(d, evidence_completeness=completeness)

    history = [case(1, 10, 90), case(2, 10, 10), case(3, 40, 90)]  # du_3's moment is after now
    report = backtest(rules, history, NOW - 60 * DAY, NOW)
    result = report.rule("submit-early").to_dict()
    assert result["disputes"] == 1
    assert result["contested"] == {"usd": 1000} and result["countered_fees"] == {"usd": 1500}


def test_backtest_refuses_since_after_now():
    with pytest.raises(ValidationError):
        backtest(ruleset(), [], NOW + 1, NOW)


@pytest.mark.parametrize("text,seconds", [("180d", 180 * DAY), ("12h", 43200), ("4w", 28 * DAY), ("90m", 5400)])
def test_parse_duration_reads_backtest_windows(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_refuses_nonsense():
    with pytest.raises(ValidationError):
        parse_duration("six months")
