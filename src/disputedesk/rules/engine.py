"""Evaluating rules: one trigger, the facts as known now -> explainable, idempotent decisions.

:func:`evaluate` is pure. It returns one :class:`Decision` per enabled rule of the trigger, in
priority order, each with the inputs its condition saw, whether it matched, and the actions it
*would* take with a status:

``run``           do it now
``scheduled``     do it at ``run_at`` (submit_evidence before due_by): the worker re-evaluates then
                  and acts only if the fresh decision says ``run`` for the same key
``skipped``       not possible or not wanted (reason says why: a person works the case, the charge is
                  not refundable, another rule already accepts the dispute, ...)
``already_done``  its key is in ``facts.done_actions``

Each action carries a deterministic key (rule | object | action [| due_by=...]) so the services can
record it and run it at most once, across event replays and worker restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from disputedesk.errors import ValidationError
from disputedesk.rules.context import (
    TRIGGERS, Facts, build_context, charge_refundable, subject_id,
)
from disputedesk.rules.errors import EvaluationError
from disputedesk.rules.expressions import evaluate_expression, lookup, render_template
from disputedesk.rules.model import ACTION_SPECS, Action, Rule, RuleSet
from disputedesk.rules.values import display, to_record

RUN, SCHEDULED, SKIPPED, ALREADY_DONE = "run", "scheduled", "skipped", "already_done"
ACCEPTABLE_STATUSES = frozenset({"needs_response"})
RESPONDABLE_STATUSES = frozenset({"needs_response", "warning_needs_response", "appeal_needs_response"})


@dataclass(frozen=True)
class PlannedAction:
    kind: str
    params: Mapping[str, Any]
    status: str
    key: str
    reason: str = ""
    run_at: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": to_record(dict(self.params)), "status": self.status,
                "key": self.key, "reason": self.reason, "run_at": self.run_at}


@dataclass(frozen=True)
class Decision:
    """What one rule decided for one trigger on one object, and why."""

    rule: str
    why: str
    trigger: str
    object_id: str
    evaluated_at: int
    condition: str | None
    inputs: Mapping[str, Any]          # only the names the rule looked at, JSON-friendly
    matched: bool
    actions: tuple[PlannedAction, ...]
    explanation: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "why": self.why, "trigger": self.trigger,
                "object_id": self.object_id, "evaluated_at": self.evaluated_at,
                "condition": self.condition, "inputs": dict(self.inputs), "matched": self.matched,
                "error": self.error, "actions": [a.to_dict() for a in self.actions],
                "explanation": self.explanation}

    def to_run(self) -> list[PlannedAction]:
        return [a for a in self.actions if a.status == RUN]


@dataclass
class _State:
    """What earlier (higher-priority) rules already plan for this object in this evaluation."""

    accepted_by: str | None = None
    contested_by: str | None = None
    refunded_by: str | None = None
    tags: set[str] = field(default_factory=set)
    assigned: str | None = None


def evaluate(rules: RuleSet, trigger: str, facts: Facts, now: int) -> list[Decision]:
    """Decisions of every enabled rule for ``trigger``, in priority order. Pure: acts on nothing."""
    if trigger not in TRIGGERS:
        raise ValidationError(f"unknown trigger '{trigger}'", param="trigger",
                              hint="one of: " + ", ".join(TRIGGERS))
    object_id = subject_id(trigger, facts)
    if object_id is None:
        what = {"early_fraud_warning.created": "early_fraud_warning",
                "refund.failed": "refund"}.get(trigger, "dispute")
        raise ValidationError(f"{trigger} needs facts.{what} with an id", param=what)
    values = build_context(trigger, facts, int(now), rules.fees)
    state = _State(tags=set(facts.tags), assigned=facts.assigned_to)
    return [_decide(rule, trigger, facts, values, int(now), rules, object_id, state)
            for rule in rules.for_trigger(trigger)]


def deadline_times(rules: RuleSet, due_by: int) -> list[tuple[str, int]]:
    """When each enabled deadline.approaching rule should fire for a dispute due at ``due_by``."""
    return [(r.name, due_by - r.hours_before * 3600) for r in rules.for_trigger("deadline.approaching")
            if r.hours_before]


def trigger_for_event(event_type: str, data_object: Mapping[str, Any]) -> str | None:
    """The rules trigger of a Stripe event (``None`` when no trigger applies)."""
    if event_type == "charge.dispute.created":
        status = str(data_object.get("status", ""))
        return "inquiry.created" if status.startswith("warning_") else "dispute.created"
    return {"charge.dispute.updated": "dispute.updated",
            "radar.early_fraud_warning.created": "early_fraud_warning.created",
            "refund.failed": "refund.failed"}.get(event_type)


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _decide(rule: Rule, trigger: str, facts: Facts, values: Mapping[str, Any], now: int,
            rules: RuleSet, object_id: str, state: _State) -> Decision:
    paths = list(rule.condition.paths) if rule.condition else []
    if trigger == "deadline.approaching":
        paths.append(("dispute.time_to_due",))
    inputs = {".".join(p): to_record(lookup(values, p)) for p in dict.fromkeys(paths)}
    shown = ", ".join(f"{'.'.join(p)} = {display(lookup(values, p))}" for p in dict.fromkeys(paths))
    matched, error, why_not = True, None, ""
    due_by = _due_by(facts)

    if trigger == "deadline.approaching":
        if due_by is None:
            matched, why_not = False, "the dispute has no due_by"
        elif now >= due_by:
            matched, why_not = False, f"due_by ({iso(due_by)}) has passed"
        elif now < due_by - rule.hours_before * 3600:  # type: ignore[operator]
            matched, why_not = False, (f"its window opens {rule.hours_before} h before due_by, at "
                                       f"{iso(due_by - rule.hours_before * 3600)}")  # type: ignore[operator]
    if matched and rule.condition is not None:
        try:
            result = evaluate_expression(rule.condition, values, rules.conversion)
            matched = result is True
            if not matched:
                why_not = f"`{rule.condition.text.strip()}` is false"
        except EvaluationError as exc:
            matched, error = False, str(exc)
            why_not = f"`{rule.condition.text.strip()}` could not be evaluated: {exc}"

    planned: list[PlannedAction] = []
    if matched:
        counts: dict[str, int] = {}
        for action in rule.actions:
            counts[action.kind] = counts.get(action.kind, 0) + 1
            planned.append(_plan(rule, action, counts[action.kind], facts, values, now, object_id,
                                 due_by, state))

    noun = {"inquiry.created": "inquiry", "early_fraud_warning.created": "early fraud warning",
            "refund.failed": "refund"}.get(trigger, "dispute")
    subject = f"{noun} {object_id}"
    if matched:
        because = (f" because `{rule.condition.text.strip()}` is true" if rule.condition else "")
        head = f"Rule '{rule.name}' matched {subject} on {trigger}{because}"
    else:
        head = f"Rule '{rule.name}' did not match {subject} on {trigger}: {why_not}"
    parts = [head + (f" (with {shown})." if shown else ".")]
    parts.append(f"Why this rule exists: {rule.why}")
    for item in planned:
        line = f"{item.kind}: {item.status.replace('_', ' ')}"
        if item.reason:
            line += f" ({item.reason})"
        parts.append(line + ".")
    return Decision(rule=rule.name, why=rule.why, trigger=trigger, object_id=object_id,
                    evaluated_at=now, condition=rule.condition.text if rule.condition else None,
                    inputs=inputs, matched=matched, actions=tuple(planned),
                    explanation=" ".join(parts), error=error)


def _due_by(facts: Facts) -> int | None:
    value = ((facts.dispute or {}).get("evidence_details") or {}).get("due_by")
    return int(value) if isinstance(value, int) and value else None


def _plan(rule: Rule, action: Action, nth: int, facts: Facts, values: Mapping[str, Any], now: int,
          object_id: str, due_by: int | None, state: _State) -> PlannedAction:
    kind = action.kind
    params = dict(action.params)
    dispute = facts.dispute or {}
    charge = facts.charge_object() or {}
    target = object_id
    if kind in ("accept_dispute", "build_evidence", "submit_evidence"):
        target = dispute.get("id") or object_id
    elif kind == "refund_charge":
        target = charge.get("id") or object_id
    key = f"{rule.name}|{target}|{kind}" + (f"#{nth}" if nth > 1 else "")
    if kind == "submit_evidence":
        key += f"|due_by={due_by}"

    def out(status: str, reason: str = "", run_at: int | None = None) -> PlannedAction:
        return PlannedAction(kind, params, status, key, reason, run_at)

    if key in facts.done_actions:
        return out(ALREADY_DONE, "this rule already did it for this object")
    # state.assigned starts as facts.assigned_to and includes an assignment made by an earlier
    # rule of this evaluation: once a rule hands the case to a person, later rules leave it.
    if ACTION_SPECS[kind].changes_case and not rule.override_manual and (
            state.assigned or facts.manual_edits):
        who = f"assigned to {state.assigned}" if state.assigned else "edited by hand"
        return out(SKIPPED, f"the case is {who}; it is left to them (set override_manual = true "
                            "to let this rule act)")
    status = dispute.get("status")

    if kind == "accept_dispute":
        if state.accepted_by:
            return out(SKIPPED, f"rule '{state.accepted_by}' already accepts this dispute")
        if state.contested_by:
            return out(SKIPPED, f"rule '{state.contested_by}' contests this dispute")
        if status not in ACCEPTABLE_STATUSES:
            extra = "; inquiries are resolved by answering or refunding" if str(status).startswith("warning_") else ""
            return out(SKIPPED, f"the dispute is {status}; only a needs_response dispute can be accepted{extra}")
        state.accepted_by = rule.name
        return out(RUN)

    if kind == "build_evidence":
        if state.accepted_by:
            return out(SKIPPED, f"rule '{state.accepted_by}' accepts this dispute")
        if status not in RESPONDABLE_STATUSES:
            return out(SKIPPED, f"the dispute is {status}; evidence can no longer be changed")
        return out(RUN)

    if kind == "submit_evidence":
        hours, minimum = params["hours_before_due"], params["min_completeness"]
        completeness = facts.evidence_completeness
        shown = "unknown" if completeness is None else f"{completeness}%"
        if state.accepted_by:
            return out(SKIPPED, f"rule '{state.accepted_by}' accepts this dispute")
        if state.contested_by:
            return out(SKIPPED, f"rule '{state.contested_by}' already submits this dispute's evidence")
        if status not in RESPONDABLE_STATUSES:
            return out(SKIPPED, f"the dispute is {status}; there is nothing to submit")
        if (dispute.get("evidence_details") or {}).get("submission_count"):
            return out(SKIPPED, "evidence was already submitted")
        if due_by is None:
            return out(SKIPPED, "the dispute has no due_by (the issuer allows no response)")
        if now >= due_by:
            return out(SKIPPED, f"due_by ({iso(due_by)}) has passed")
        at = due_by - hours * 3600
        params.update(due_by=due_by, submit_at=at)
        if now < at:
            state.contested_by = rule.name
            return out(SCHEDULED, f"submits at {iso(at)}, {hours} h before due_by, if the evidence is at "
                                  f"least {minimum}% complete then (now {shown})", run_at=at)
        if completeness is None or completeness < minimum:
            return out(SKIPPED, f"the evidence is {shown} complete; this rule needs {minimum}%")
        state.contested_by = rule.name
        return out(RUN, f"{hours} h before due_by ({iso(due_by)}) with the evidence {shown} complete")

    if kind == "refund_charge":
        if state.refunded_by:
            return out(SKIPPED, f"rule '{state.refunded_by}' already refunds this charge")
        if not charge:
            return out(SKIPPED, "the charge is unknown")
        if (facts.early_fraud_warning or {}).get("actionable") is False:
            return out(SKIPPED, "Stripe marks the warning not actionable (charge disputed or fully refunded)")
        if not charge_refundable(charge):
            return out(SKIPPED, _not_refundable(charge))
        amount = (charge.get("amount_captured") or charge.get("amount") or 0) - (charge.get("amount_refunded") or 0)
        params.update(charge=charge.get("id"), amount=amount, currency=charge.get("currency"))
        state.refunded_by = rule.name
        return out(RUN, f"refunds the whole {display(values.get('charge.amount'))} charge with reason "
                        f"{params['reason']}" if amount == charge.get("amount") else
                   f"refunds the remaining {amount} minor units with reason {params['reason']}")

    if kind == "notify":
        params["message"] = render_template(params["message"], values)
        return out(RUN)

    if kind == "tag":
        new = [t for t in params["tags"] if t not in state.tags]
        if not new:
            return out(SKIPPED, "the case already has these tags")
        state.tags.update(new)
        return out(RUN)

    if kind == "assign":
        if state.assigned == params["user"]:
            return out(SKIPPED, f"already assigned to {params['user']}")
        state.assigned = params["user"]
        return out(RUN)
    raise ValidationError(f"unknown action kind {kind}")  # the loader refuses these


def _not_refundable(charge: Mapping[str, Any]) -> str:
    if charge.get("refunded"):
        return "the charge is already fully refunded"
    if charge.get("disputed"):
        return "the charge is disputed; refunds go through the dispute"
    if charge.get("captured") is False:
        return "the charge is not captured"
    if charge.get("status", "succeeded") != "succeeded":
        return f"the charge is {charge.get('status')}"
    return "nothing is left to refund on the charge"
