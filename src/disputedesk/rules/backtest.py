"""Backtest: replay history through a rule set and report what the rules would have done.

Pure. The services build the cases from the mirror (each dispute as it opened, each early fraud
warning with its charge) and pass them in; :func:`backtest` replays every case created in
``[since, now]`` on its own timeline:

* a dispute: its creation trigger (``dispute.created``, or ``inquiry.created`` for an inquiry) at
  ``created``; ``submit_evidence`` actions scheduled there are re-evaluated at their ``run_at``;
  ``deadline.approaching`` rules fire at ``due_by - hours_before``. Only moments up to ``now`` count.
  The replay carries state forward: an accepted dispute is ``lost`` and a submitted one is
  ``under_review`` for the later triggers, so a dispute is never both accepted and contested.
* an early fraud warning: ``early_fraud_warning.created`` at its ``created``.

Money is reported per currency in minor units. Fees come from the rule set's fee table; a currency
without fees counts 0 and is listed in ``missing_fee_currencies``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from disputedesk.errors import ValidationError
from disputedesk.rules.context import CustomerFacts, Facts
from disputedesk.rules.engine import RUN, SCHEDULED, Decision, deadline_times, evaluate
from disputedesk.rules.model import RuleSet
from disputedesk.rules.values import Fees


@dataclass(frozen=True)
class DisputeCase:
    """One historical dispute (or inquiry), as it was when it opened.

    ``dispute`` is the Stripe object at creation (status ``needs_response`` or
    ``warning_needs_response``, ``created``, ``amount``, ``currency``, ``reason``,
    ``evidence_details.due_by``). ``outcome`` is its final status in history (``won``, ``lost``,
    ``warning_closed``, ``prevented``) or ``None`` while open. ``evidence_completeness`` is what the
    evidence builder reached for it (used at the deadline).
    """

    dispute: Mapping[str, Any]
    outcome: str | None = None
    charge: Mapping[str, Any] | None = None
    customer: CustomerFacts = field(default_factory=CustomerFacts)
    order: Mapping[str, Any] = field(default_factory=dict)
    evidence_completeness: int | None = None

    @property
    def created(self) -> int:
        return int(self.dispute["created"])

    @property
    def is_inquiry(self) -> bool:
        return str(self.dispute.get("status", "")).startswith("warning_")

    def facts(self) -> Facts:
        return Facts(dispute=self.dispute, charge=self.charge, customer=self.customer, order=self.order,
                     evidence_completeness=self.evidence_completeness)


@dataclass(frozen=True)
class WarningCase:
    """One historical early fraud warning with its charge as it was when the warning arrived.

    ``dispute_followed``: the charge was disputed afterwards (in history).
    """

    early_fraud_warning: Mapping[str, Any]
    charge: Mapping[str, Any]
    dispute_followed: bool = False
    customer: CustomerFacts = field(default_factory=CustomerFacts)
    order: Mapping[str, Any] = field(default_factory=dict)

    @property
    def created(self) -> int:
        return int(self.early_fraud_warning["created"])

    def facts(self) -> Facts:
        return Facts(early_fraud_warning=self.early_fraud_warning, charge=self.charge,
                     customer=self.customer, order=self.order)


def _money() -> defaultdict[str, int]:
    return defaultdict(int)


@dataclass
class RuleReport:
    """What one rule would have done. Money maps are currency -> minor units.

    ``disputes`` / ``warnings``: cases where at least one of its actions would have run.
    ``refunded``: charge amounts refunded; ``accepted`` / ``contested``: disputed amounts accepted or
    submitted. ``dispute_fees``: received fees on the chargebacks it acted on (paid whatever the
    desk does). ``countered_fees``: countered fees it would pay by submitting (returned only on a full
    win). ``dispute_fees_avoided``: received fees of the disputes that followed warnings it refunded.
    ``errors``: decisions whose condition could not be evaluated.
    """

    rule: str
    disputes: int = 0
    warnings: int = 0
    refunded: dict[str, int] = field(default_factory=_money)
    accepted: dict[str, int] = field(default_factory=_money)
    contested: dict[str, int] = field(default_factory=_money)
    dispute_fees: dict[str, int] = field(default_factory=_money)
    countered_fees: dict[str, int] = field(default_factory=_money)
    dispute_fees_avoided: dict[str, int] = field(default_factory=_money)
    errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "disputes": self.disputes, "warnings": self.warnings,
                               "errors": self.errors}
        for name in ("refunded", "accepted", "contested", "dispute_fees", "countered_fees",
                     "dispute_fees_avoided"):
            out[name] = {k: v for k, v in sorted(getattr(self, name).items()) if v}
        return out


@dataclass
class Report:
    since: int
    now: int
    disputes_seen: int
    warnings_seen: int
    rules: list[RuleReport]
    totals: RuleReport                 # over distinct cases: nothing counted twice across rules
    missing_fee_currencies: list[str]

    def rule(self, name: str) -> RuleReport:
        for item in self.rules:
            if item.rule == name:
                return item
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since, "now": self.now, "disputes_seen": self.disputes_seen,
                "warnings_seen": self.warnings_seen, "rules": [r.to_dict() for r in self.rules],
                "totals": self.totals.to_dict(), "missing_fee_currencies": self.missing_fee_currencies}


def backtest(rules: RuleSet, history: list[DisputeCase | WarningCase], since: int, now: int) -> Report:
    """Replay the cases created in ``[since, now]`` through ``rules``; see the module docstring."""
    if since > now:
        raise ValidationError("since is after now", param="since")
    reports = {r.name: RuleReport(r.name) for r in rules.ordered()}
    totals = RuleReport("(all rules)")
    missing: set[str] = set()
    disputes_seen = warnings_seen = 0

    def fee(currency: str) -> Fees:
        fees = rules.fees.get(currency)
        if fees is None:
            missing.add(currency)
            return Fees(0, 0)
        return fees

    for case in sorted(history, key=lambda c: c.created):
        if not since <= case.created <= now:
            continue
        if isinstance(case, WarningCase):
            warnings_seen += 1
            decisions = evaluate(rules, "early_fraud_warning.created", case.facts(), case.created)
            _count_errors(decisions, reports)
            currency = str(case.charge.get("currency", "")).lower()
            touched_any = False
            for d in decisions:
                ran = d.to_run()
                if not ran:
                    continue
                touched_any = True
                report = reports[d.rule]
                report.warnings += 1
                for action in ran:
                    if action.kind == "refund_charge":
                        amount = int(action.params["amount"])
                        for target in (report, totals):
                            target.refunded[currency] += amount
                            if case.dispute_followed:
                                target.dispute_fees_avoided[currency] += fee(currency).dispute
            totals.warnings += touched_any
            continue
        disputes_seen += 1
        _replay_dispute(rules, case, now, reports, totals, fee)

    ordered = [reports[r.name] for r in rules.ordered()]
    totals.errors = sum(r.errors for r in ordered)
    return Report(since, now, disputes_seen, warnings_seen, ordered, totals, sorted(missing))


def _count_errors(decisions: list[Decision], reports: Mapping[str, RuleReport]) -> None:
    for d in decisions:
        if d.error:
            reports[d.rule].errors += 1


def _replay_dispute(rules: RuleSet, case: DisputeCase, now: int, reports: dict[str, RuleReport],
                    totals: RuleReport, fee: Any) -> None:
    dispute = dict(case.dispute)
    currency = str(dispute.get("currency", "")).lower()
    amount = int(dispute.get("amount", 0))
    chargeback = not case.is_inquiry
    trigger = "inquiry.created" if case.is_inquiry else "dispute.created"
    facts = case.facts()
    touched: set[str] = set()

    # (time, trigger, only this rule or None for all of the trigger's decisions)
    moments: list[tuple[int, str, str | None]] = [(case.created, trigger, None)]
    due_by = (dispute.get("evidence_details") or {}).get("due_by")
    if isinstance(due_by, int) and due_by:
        moments += [(at, "deadline.approaching", name) for name, at in deadline_times(rules, due_by)
                    if at >= case.created]
    pending = sorted(moments, key=lambda m: m[0])
    while pending:
        at, trig, only = pending.pop(0)
        if at > now:
            continue
        decisions = evaluate(rules, trig, replace(facts, dispute=dispute), at)
        for d in decisions:
            if only is not None and d.rule != only:
                continue
            if d.error:
                reports[d.rule].errors += 1
            for action in d.actions:
                if action.status == SCHEDULED and action.kind == "submit_evidence" and action.run_at:
                    pending.append((action.run_at, trig, d.rule))
                    pending.sort(key=lambda m: m[0])
                if action.status != RUN:
                    continue
                report = reports[d.rule]
                if d.rule not in touched:
                    touched.add(d.rule)
                    report.disputes += 1
                    if chargeback:
                        report.dispute_fees[currency] += fee(currency).dispute
                if action.kind == "accept_dispute":
                    dispute["status"] = "lost"
                    for target in (report, totals):
                        target.accepted[currency] += amount
                elif action.kind == "submit_evidence":
                    dispute["status"] = "warning_under_review" if case.is_inquiry else "under_review"
                    dispute["evidence_details"] = {**(dispute.get("evidence_details") or {}),
                                                   "submission_count": 1}
                    for target in (report, totals):
                        target.contested[currency] += amount
                        if chargeback:
                            target.countered_fees[currency] += fee(currency).countered
    if touched:
        totals.disputes += 1
        if chargeback:
            totals.dispute_fees[currency] += fee(currency).dispute
