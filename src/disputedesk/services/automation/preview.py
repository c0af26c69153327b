"""Looking without acting: the dry run over the mirror's open cases, and the backtest's history.

``dry_run`` builds the facts of every open dispute and every actionable early fraud warning as of
now and evaluates the triggers that apply; nothing is carried out and nothing is recorded.

``history`` turns the mirror into the backtest's cases: each dispute *as it opened* (status
``needs_response`` / ``warning_needs_response``, no evidence submitted), its final status, and
the evidence completeness it reached (the desk's draft score, else the score of the evidence
Stripe holds for it); each early fraud warning with its charge *as it was when the warning
arrived* (refunds and disputes before that moment) and whether a dispute followed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from disputedesk.domain import disputes as d
from disputedesk.rules import (
    DisputeCase,
    Report,
    RuleSet,
    WarningCase,
    backtest,
    evaluate,
)
from disputedesk.services import mirror as mirror_rules
from disputedesk.services.automation.facts import build_facts, customer_facts, order_for
from disputedesk.store.tables import charges as charges_table
from disputedesk.store.tables import disputes as disputes_table
from disputedesk.store.tables import early_fraud_warnings as efw_table
from disputedesk.store.tables import refunds as refunds_table

NEEDS_RESPONSE = ("needs_response", "warning_needs_response")


# --- dry run -----------------------------------------------------------------------------------

def dry_run(deps, rules: RuleSet, *, limit: int = 1000) -> list[dict[str, Any]]:
    """What the rules would decide now for the open cases; one entry per decision."""
    now = int(deps.clock.now())
    with deps.store.read() as conn:
        open_disputes = conn.execute(
            sa.select(disputes_table.c.id, disputes_table.c.status)
            .where(disputes_table.c.status.in_(mirror_rules.OPEN_DISPUTE_STATUSES))
            .order_by(disputes_table.c.due_by, disputes_table.c.id).limit(limit)).all()
        warnings = conn.execute(
            sa.select(efw_table.c.id).where(efw_table.c.actionable.is_(True))
            .order_by(efw_table.c.created, efw_table.c.id).limit(limit)).scalars().all()
    out: list[dict[str, Any]] = []
    for dispute_id, status in open_disputes:
        triggers = ["dispute.updated"]
        if status in NEEDS_RESPONSE:
            triggers = ["inquiry.created" if status.startswith("warning_") else "dispute.created",
                        *triggers, "deadline.approaching"]
        for trigger in triggers:
            out += _decide(deps, rules, trigger, dispute_id, now, "dispute")
    for efw_id in warnings:
        out += _decide(deps, rules, "early_fraud_warning.created", efw_id, now,
                       "radar.early_fraud_warning")
    return out


def _decide(deps, rules: RuleSet, trigger: str, object_id: str, now: int,
            object_type: str) -> list[dict[str, Any]]:
    built = build_facts(deps, trigger, object_id, fetch=False)
    if built is None or not rules.for_trigger(trigger):
        return []
    facts, _subject = built
    return [{"object_type": object_type, **decision.to_dict()}
            for decision in evaluate(rules, trigger, facts, now)]


# --- backtest ----------------------------------------------------------------------------------

def _evidence_score(dispute: Mapping[str, Any]) -> int | None:
    from disputedesk.evidence.limits import EVIDENCE_FIELDS
    from disputedesk.evidence.templates import completeness, template_for

    evidence = {k: v for k, v in (dispute.get("evidence") or {}).items()
                if k in EVIDENCE_FIELDS and v not in (None, "", [], {})}
    if not evidence:
        return None
    return completeness(template_for(str(dispute.get("reason") or "general")), evidence).score


def dispute_as_opened(dispute: Mapping[str, Any]) -> dict[str, Any]:
    opened = dict(dispute)
    opened["status"] = ("warning_needs_response" if str(dispute.get("status", "")).startswith("warning_")
                        else "needs_response")
    opened["evidence_details"] = {**(dispute.get("evidence_details") or {}),
                                  "submission_count": 0, "has_evidence": False, "past_due": False}
    return opened


def charge_as_of(charge: Mapping[str, Any], refunds: list[Mapping[str, Any]],
                 disputes: list[Mapping[str, Any]], moment: int) -> dict[str, Any]:
    """The charge as it stood at ``moment``: only the refunds and disputes made by then."""
    refunded = sum(int(r.get("amount") or 0) for r in refunds
                   if int(r.get("created") or 0) <= moment
                   and r.get("status") in ("succeeded", "pending", "requires_action"))
    captured = int(charge.get("amount_captured") or charge.get("amount") or 0)
    disputed = any(int(x.get("created") or 0) <= moment for x in disputes)
    return {**charge, "amount_refunded": refunded, "refunded": captured > 0 and refunded >= captured,
            "disputed": disputed}


def history(deps, *, since: int, now: int) -> list[DisputeCase | WarningCase]:
    """The backtest's cases created in ``[since, now]``, from the mirror."""
    cases: list[DisputeCase | WarningCase] = []
    with deps.store.read() as conn:
        dispute_docs = list(conn.execute(sa.select(disputes_table.c.data).where(
            disputes_table.c.created >= since, disputes_table.c.created <= now)
            .order_by(disputes_table.c.created, disputes_table.c.id)).scalars())
        efw_docs = list(conn.execute(sa.select(efw_table.c.data).where(
            efw_table.c.created >= since, efw_table.c.created <= now)
            .order_by(efw_table.c.created, efw_table.c.id)).scalars())
        charge_ids = sorted({_charge_id(x) for x in dispute_docs + efw_docs} - {None})
        charges = _by_id(conn, charges_table, charge_ids)
        refunds = _by_charge(conn, refunds_table, charge_ids)
        disputes_on = _by_charge(conn, disputes_table, charge_ids)
        scores = _draft_scores(conn, [x["id"] for x in dispute_docs])
        for dispute in dispute_docs:
            charge = charges.get(_charge_id(dispute) or "")
            created = int(dispute["created"])
            score = scores.get(dispute["id"])
            cases.append(DisputeCase(
                dispute=dispute_as_opened(dispute),
                outcome=dispute.get("status") if dispute.get("status") in d.CLOSED_STATUSES else None,
                charge=charge,
                customer=customer_facts(conn, charge, before=created, exclude_dispute=dispute["id"]),
                order=order_for(deps, conn, charge),
                evidence_completeness=score if score is not None else _evidence_score(dispute)))
        for efw in efw_docs:
            charge_id = _charge_id(efw)
            charge = charges.get(charge_id or "")
            if charge is None:
                continue  # the warned charge is not mirrored: nothing to judge it by
            created = int(efw["created"])
            on_charge = disputes_on.get(charge_id, [])
            then = charge_as_of(charge, refunds.get(charge_id, []), on_charge, created)
            warning = {**efw, "actionable": not (then["refunded"] or then["disputed"])}
            cases.append(WarningCase(
                early_fraud_warning=warning, charge=then,
                dispute_followed=any(int(x.get("created") or 0) > created for x in on_charge),
                customer=customer_facts(conn, charge, before=created),
                order=order_for(deps, conn, charge)))
    return cases


def run_backtest(deps, rules: RuleSet, *, since: int, now: int | None = None) -> Report:
    now = int(deps.clock.now()) if now is None else int(now)
    return backtest(rules, history(deps, since=since, now=now), since, now)


def _charge_id(obj: Mapping[str, Any]) -> str | None:
    value = obj.get("charge")
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _chunks(items: list[str], size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _by_id(conn, table, ids: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for chunk in _chunks(ids):
        for data in conn.execute(sa.select(table.c.data).where(table.c.id.in_(chunk))).scalars():
            out[data["id"]] = data
    return out


def _by_charge(conn, table, ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for chunk in _chunks(ids):
        for data in conn.execute(sa.select(table.c.data).where(table.c.charge.in_(chunk))).scalars():
            out[_charge_id(data) or ""].append(data)
    return out


def _draft_scores(conn, dispute_ids: list[str]) -> dict[str, int]:
    try:
        from disputedesk.store.disputes_tables import evidence_drafts
    except ImportError:
        return {}
    out: dict[str, int] = {}
    for chunk in _chunks(dispute_ids):
        rows = conn.execute(sa.select(evidence_drafts.c.dispute_id, evidence_drafts.c.score)
                            .where(evidence_drafts.c.dispute_id.in_(chunk)))
        out.update({i: s for i, s in rows})
    return out
