"""Running the rules in the worker: event listeners enqueue, jobs evaluate and act, once per key.

1. **Listeners** (inside the event's transaction, after the mirror write) only enqueue a durable
   ``automation.evaluate`` job naming the trigger, the object and the event. No rules are loaded
   and Stripe is never called there, so a bad rules file or a slow Stripe cannot hold up the
   mirror.
2. **The evaluate job** reads fresh facts from the mirror, evaluates, records every decision, and
   carries out the actions whose status is ``run``. For each one it first *claims* the action key
   in ``automation_actions`` (status ``started``, committed), then calls the service, then marks
   it ``done`` with the outcome. A worker that dies between the two finds the claim ``started``
   on its retry and calls the service again: the services' own records (refund request client
   key, dispute submission rows) turn that into completing the first call, never a second one.
3. **Timers**: deadline rules and scheduled submissions become ``automation.evaluate`` jobs at
   their time (``automation_timers`` queues each once). At ``run_at`` the rule is evaluated again
   with fresh facts and the action is carried out only if the same key says ``run`` then.
   ``automation.scan`` (periodic) adds the deadline timers of disputes that came in by sync.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import sqlalchemy as sa

from disputedesk.errors import DisputeDeskError, StripeError, StripeInvalidRequest
from disputedesk.rules import (
    RUN,
    SCHEDULED,
    Decision,
    PlannedAction,
    deadline_times,
    evaluate,
    trigger_for_event,
)
from disputedesk.services import policy
from disputedesk.services.automation import records
from disputedesk.services.automation.facts import Subject, build_facts
from disputedesk.services.automation.port import ActionPort, DeskActions
from disputedesk.services.automation.rulesets import active_rules
from disputedesk.store import audit
from disputedesk.store import jobs as job_queue
from disputedesk.store.tables import disputes as disputes_table

log = logging.getLogger("disputedesk.automation")

EVALUATE_JOB = "automation.evaluate"
SCAN_JOB = "automation.scan"
SCAN_INTERVAL_SECONDS = 600.0
EVENTS = ("charge.dispute.created", "charge.dispute.updated",
          "radar.early_fraud_warning.created", "refund.failed")
DISPUTE_TRIGGERS_WITH_DEADLINES = ("dispute.created", "dispute.updated", "inquiry.created")
NEEDS_RESPONSE = ("needs_response", "warning_needs_response")
MONEY_OR_CLOSING = frozenset({"accept_dispute", "submit_evidence", "refund_charge"})

CRASH_ENV = "DISPUTEDESK_TEST_CRASH_AT"
CRASH_POINTS = ("after_claim", "after_side_effect")


def crash_point(name: str) -> None:
    """Crash tests: ``DISPUTEDESK_TEST_CRASH_AT=after_claim`` kills the process there (SIGKILL).

    In-process tests replace this function with one raising a ``BaseException``."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class ActionDeferred(Exception):
    """Another worker holds a fresh claim on an action key: try again later."""


def actor_for(rule: str) -> str:
    return f"rule:{rule}"


# --- 1. listeners ------------------------------------------------------------------------------

def on_events(conn, items, now: float) -> None:
    """Queue the evaluation of each event's trigger (a worker batch listener: one INSERT for the
    batch; runs inside the events' transaction). Keyed by event id, so a replayed event whose
    evaluation is still queued does not queue a second one."""
    new_jobs = []
    for event, _decision in items:
        obj = (event.get("data") or {}).get("object") or {}
        trigger = trigger_for_event(str(event.get("type")), obj)
        if trigger is None or not isinstance(obj.get("id"), str):
            continue
        new_jobs.append(job_queue.NewJob(EVALUATE_JOB, {
            "trigger": trigger, "object_id": obj["id"], "object_type": obj.get("object"),
            "event_id": event.get("id"), "snapshot": obj,
        }, dedupe_key=f"{EVALUATE_JOB}:{event.get('id')}"))
    if new_jobs:
        job_queue.enqueue_many(conn, new_jobs, now=now)


def on_event(conn, event: dict, decision, now: float) -> None:
    """The same for one event (per-event listener form)."""
    on_events(conn, [(event, decision)], now)


# --- 2. the evaluate job -----------------------------------------------------------------------

def evaluate_job(deps, payload: dict) -> None:
    run_evaluation(deps, payload["trigger"], payload["object_id"],
                   source=_source(payload), snapshot=payload.get("snapshot"),
                   only_rule=payload.get("rule"), only_key=payload.get("key"))


def _source(payload: dict) -> str:
    if payload.get("event_id"):
        return f"event {payload['event_id']}"
    if payload.get("key"):
        return "scheduled submission"
    if payload.get("rule"):
        return "deadline timer"
    return "job"


def run_evaluation(deps, trigger: str, object_id: str, *, source: str,
                   snapshot: dict | None = None, only_rule: str | None = None,
                   only_key: str | None = None, port: ActionPort | None = None) -> list[dict]:
    """Evaluate ``trigger`` on ``object_id`` now, record the decisions and act on them.

    Returns the recorded decisions with their outcomes. Raises when an action failed in a way
    worth retrying (the job retries; finished keys are not redone).
    """
    rules = active_rules(deps.settings)
    port = port or DeskActions(deps)
    # First finish what a dead worker left claimed, so the fresh decision sees it done.
    retry = resume_interrupted(deps, port, rules, [object_id])
    built = build_facts(deps, trigger, object_id, snapshot=snapshot, fetch=True,
                        reads=rules.reads(trigger))
    if built is None:
        log.warning("automation: %s %s is not in the mirror; nothing to evaluate", trigger, object_id)
        return []
    facts, subject = built
    now = deps.clock.now()
    decisions = evaluate(rules, trigger, facts, int(now))
    if only_rule is not None:
        decisions = [d for d in decisions if d.rule == only_rule]
    stored: list[tuple[int, Decision]] = []
    with deps.store.write() as conn:
        for decision in decisions:
            stored.append((records.record_decision(
                conn, decision, object_type=subject.object_type, dispute_id=subject.dispute_id,
                charge_id=subject.charge_id, source=source, rules_source=rules.source, now=now),
                decision))
    for decision_id, decision in stored:
        for action in decision.actions:
            if only_key is not None and action.key != only_key:
                continue
            if action.status == RUN:
                error = _carry_out(deps, port, rules, decision_id, decision, action, subject)
                if error:
                    retry.append(error)
            elif action.status == SCHEDULED and action.run_at:
                _schedule(deps, key=f"scheduled|{action.key}", object_id=subject.object_id,
                          trigger=trigger, rule=decision.rule, run_at=action.run_at,
                          payload={"key": action.key})
    if subject.object_type == "dispute" and trigger in DISPUTE_TRIGGERS_WITH_DEADLINES:
        schedule_deadlines(deps, facts.dispute or {}, rules=rules)
    ids = [i for i, _ in stored]
    out = []
    if ids:
        with deps.store.read() as conn:
            out = records.list_decisions(conn, ids=ids, limit=len(ids))
    if retry:
        raise ActionDeferred("; ".join(retry))
    return out


def _target(action: PlannedAction, subject: Subject, facts_dispute: str | None) -> str:
    if action.kind in ("accept_dispute", "build_evidence", "submit_evidence"):
        return subject.dispute_id or subject.object_id
    if action.kind == "refund_charge":
        return str(action.params.get("charge") or subject.charge_id or subject.object_id)
    return subject.object_id


def _carry_out(deps, port: ActionPort, rules, decision_id: int, decision: Decision,
               action: PlannedAction, subject: Subject) -> str | None:
    """Carry out one action as its rule: audited with door ``rule``, the rule's name and the
    person who answers for the rules (setting ``rules_owner``), whose refund requests they are."""
    door = audit.Door(door="rule", credential=actor_for(decision.rule)[:100],
                      person=policy.rules_owner(deps))
    with audit.acting_through(door):
        return _carry_out_as_rule(deps, port, rules, decision_id, decision, action, subject)


def _carry_out_as_rule(deps, port: ActionPort, rules, decision_id: int, decision: Decision,
                       action: PlannedAction, subject: Subject) -> str | None:
    """Claim, act, mark. Returns an error text when the action should be retried."""
    target = _target(action, subject, subject.dispute_id)
    now = deps.clock.now()
    with deps.store.write() as conn:
        verdict, row = records.claim(conn, key=action.key, rule=decision.rule, kind=action.kind,
                                     target=target, subject=subject.object_id,
                                     decision_id=decision_id, params=action.to_dict()["params"],
                                     now=now)
        if verdict in ("done", "failed", "busy"):
            detail = {"done": "already done", "failed": f"failed earlier: {(row or {}).get('error')}",
                      "busy": "another worker is carrying it out"}[verdict]
            records.set_outcome(conn, decision_id, action.key,
                                "already_done" if verdict == "done" else verdict, detail)
    if verdict == "busy":
        return f"{action.key}: another worker is carrying it out"
    if verdict in ("done", "failed"):
        return None
    crash_point("after_claim")
    rule = rules.get(decision.rule)
    actor = actor_for(decision.rule)
    try:
        result = _perform(port, action, decision, subject, target, actor,
                          override_manual=bool(rule and rule.override_manual))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded; unknown ones retried
        # Definite: the desk or Stripe refused (not open, past due, hand edited, invalid request).
        # Anything else (network, 5xx, a channel down) is retried; the call is idempotent.
        definite = (isinstance(exc, DisputeDeskError) and not isinstance(exc, StripeError)) or \
            isinstance(exc, StripeInvalidRequest)
        now = deps.clock.now()
        with deps.store.write() as conn:
            if definite:
                records.finish(conn, action.key, status=records.FAILED, now=now, error=str(exc))
                records.set_outcome(conn, decision_id, action.key, "failed", str(exc))
                audit.append(conn, at=now, actor=actor, action=f"automation.{action.kind}.failed",
                             object_type=subject.object_type, object_id=subject.object_id,
                             note=str(exc)[:500], details={"key": action.key})
            else:
                records.release(conn, action.key)
                records.set_outcome(conn, decision_id, action.key, "retrying", str(exc))
        log.warning("automation action %s failed (%s): %s", action.key,
                    "final" if definite else "will retry", exc)
        return None if definite else f"{action.key}: {exc}"
    crash_point("after_side_effect")
    now = deps.clock.now()
    with deps.store.write() as conn:
        records.finish(conn, action.key, status=records.DONE, now=now, result=result)
        records.set_outcome(conn, decision_id, action.key, "done",
                            "resumed after an interruption" if verdict == "resume" else None)
        audit.append(conn, at=now, actor=actor, action=f"automation.{action.kind}",
                     object_type=subject.object_type, object_id=subject.object_id,
                     note=decision.why[:500] if action.kind in MONEY_OR_CLOSING else None,
                     details={"key": action.key, "rule": decision.rule, "result": result,
                              "decision": decision_id})
    return None


def _perform(port: ActionPort, action: PlannedAction, decision: Decision, subject: Subject,
             target: str, actor: str, *, override_manual: bool) -> dict:
    kind, params = action.kind, action.params
    note = f"rule '{decision.rule}': {decision.why}"
    if kind == "accept_dispute":
        return port.accept_dispute(target, actor=actor, note=note[:2000])
    if kind == "build_evidence":
        return port.build_and_stage_evidence(target, actor=actor, stage=bool(params.get("stage", True)),
                                             override_manual=override_manual)
    if kind == "submit_evidence":
        return port.submit_evidence(target, actor=actor, note=note[:2000])
    if kind == "refund_charge":
        return port.refund_charge(target, actor=actor, reason=str(params.get("reason") or "fraudulent"),
                                  key=action.key, note=note)
    if kind == "notify":
        message = str(params.get("message") or "")
        subject_line = f"[disputedesk] {decision.rule}: {decision.object_id}"
        return port.notify(str(params.get("channel") or "log"), subject_line, message,
                           kind=f"automation.{decision.rule}")
    if kind == "tag":
        return port.tag(subject.object_id, list(params.get("tags") or ()), actor=actor)
    if kind == "assign":
        return port.assign(subject.object_id, str(params["user"]), actor=actor)
    raise ValueError(f"unknown action kind {kind}")


def resume_interrupted(deps, port: ActionPort, rules, object_ids: list[str | None]) -> list[str]:
    """Complete the actions a dead worker claimed but did not mark (their lease ran out).

    The fresh facts may no longer say ``run`` (the dispute is already closed because the accept
    went through before the crash), so a claimed key is finished from what was claimed, not
    re-decided: the idempotent call either does it or recognises it as done.
    """
    now = deps.clock.now()
    with deps.store.read() as conn:
        claimed = [a for oid in dict.fromkeys(i for i in object_ids if i)
                   for a in records.list_actions(conn, object_id=oid, status=records.STARTED)
                   if a["started_at"] + records.CLAIM_LEASE_SECONDS <= now]
        found = {a["key"]: a for a in claimed}
        stored = {d["id"]: d for d in (records.get_decision(conn, a["decision_id"])
                                       for a in found.values() if a["decision_id"]) if d}
    errors = []
    for row in found.values():
        made = stored.get(row["decision_id"])
        if made is None:
            continue
        decision = Decision(rule=made["rule"], why=(rules.get(made["rule"]).why if rules.get(made["rule"])
                                                    else made["explanation"]),
                            trigger=made["trigger"], object_id=made["object_id"],
                            evaluated_at=made["evaluated_at"], condition=made["condition"],
                            inputs=made["inputs"], matched=True, actions=(),
                            explanation=made["explanation"])
        action = PlannedAction(row["kind"], dict(row["params"] or {}), RUN, row["key"])
        subject = Subject(made["object_type"], made["object_id"], made["dispute_id"],
                          made["charge_id"])
        error = _carry_out(deps, port, rules, made["id"], decision, action, subject)
        if error:
            errors.append(error)
    return errors


# --- 3. timers ---------------------------------------------------------------------------------

def _schedule(deps, *, key: str, object_id: str, trigger: str, rule: str, run_at: float,
              payload: dict[str, Any]) -> bool:
    return bool(_schedule_all(deps, [(key, object_id, trigger, rule, run_at, payload)]))


def _schedule_all(deps, timers: list[tuple[str, str, str, str, float, dict[str, Any]]]) -> int:
    """Remember each (key, object_id, trigger, rule, run_at, payload) timer and queue its job,
    all in one transaction (one write lock on SQLite); returns how many were new."""
    if not timers:
        return 0
    now = deps.clock.now()
    queued = 0
    with deps.store.write() as conn:
        for key, object_id, trigger, rule, run_at, payload in timers:
            if not records.add_timer(conn, key=key, object_id=object_id, trigger=trigger,
                                     rule=rule, run_at=run_at, now=now):
                continue
            job_queue.enqueue(conn, EVALUATE_JOB, {"trigger": trigger, "object_id": object_id,
                                                   "rule": rule, **payload},
                              now=now, run_at=max(run_at, now))
            queued += 1
    return queued


def schedule_deadlines(deps, dispute: dict, *, rules=None) -> int:
    """Queue each deadline rule's evaluation for ``dispute`` at ``due_by - hours_before``."""
    if dispute.get("status") not in NEEDS_RESPONSE:
        return 0
    due_by = (dispute.get("evidence_details") or {}).get("due_by")
    if not isinstance(due_by, int) or not due_by or due_by <= deps.clock.now():
        return 0
    rules = rules or active_rules(deps.settings)
    return _schedule_all(deps, [
        (f"deadline|{rule}|{dispute['id']}|{due_by}", dispute["id"], "deadline.approaching", rule,
         at, {"due_by": due_by}) for rule, at in deadline_times(rules, due_by)])


def scan_job(deps, _payload: dict) -> None:
    """Deadline timers for every open dispute (those that came by sync have had no event)."""
    now = int(deps.clock.now())
    with deps.store.read() as conn:
        rows = conn.execute(sa.select(disputes_table.c.data).where(
            disputes_table.c.status.in_(NEEDS_RESPONSE), disputes_table.c.due_by > now)).scalars()
        disputes = list(rows)
    rules = active_rules(deps.settings)
    queued = sum(schedule_deadlines(deps, d, rules=rules) for d in disputes)
    # Claims left by a worker that died and whose job was parked: finish them too.
    with deps.store.read() as conn:
        stale = {a["subject"] for a in records.list_actions(conn, status=records.STARTED, limit=500)
                 if a["started_at"] + records.CLAIM_LEASE_SECONDS <= now}
    port = DeskActions(deps)
    for subject_id in sorted(stale):
        resume_interrupted(deps, port, rules, [subject_id])
    if queued:
        log.info("automation scan queued %d deadline evaluations", queued)
