"""Facts for the rules engine, read from the mirror and the desk's own tables.

The engine's context schema (rules/context.py) needs the Stripe objects (dispute, charge, early
fraud warning, refund) as mirrored, the customer's history, the order, the evidence completeness
of the disputes service's draft, who works the case (assignee, hand edits), the case's tags and
the action keys already carried out. Everything here reads; ``fetch=True`` (the worker) may fetch
a charge the mirror does not hold yet from Stripe, a dry run never does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.domain.money import Money
from disputedesk.rules import CustomerFacts, Facts
from disputedesk.services import mirror as mirror_rules
from disputedesk.services.automation import records
from disputedesk.store import mirror as repo
from disputedesk.store.tables import charges as charges_table
from disputedesk.store.tables import disputes as disputes_table

log = logging.getLogger("disputedesk.automation")

OBJECT_TYPES = {
    "dispute.created": "dispute", "dispute.updated": "dispute", "inquiry.created": "dispute",
    "deadline.approaching": "dispute", "early_fraud_warning.created": "radar.early_fraud_warning",
    "refund.failed": "refund",
}


@dataclass(frozen=True)
class Subject:
    """What an evaluation is about, with the ids the decision rows are filed under."""

    object_type: str
    object_id: str
    dispute_id: str | None
    charge_id: str | None


def _id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def customer_facts(conn: Connection, charge: Mapping[str, Any] | None, *,
                   before: int | None = None, exclude_dispute: str | None = None) -> CustomerFacts:
    """Lifetime value (succeeded charges net of refunds, in the charge's currency), charge count
    and earlier disputes of the charge's customer; ``before`` limits the history to that moment."""
    if not charge:
        return CustomerFacts()
    customer = _id(charge.get("customer"))
    email = (charge.get("billing_details") or {}).get("email") or charge.get("receipt_email")
    if not customer:
        return CustomerFacts(email=email)
    c = charges_table.c
    where = [c.customer == customer]
    if before is not None:
        where.append(c.created <= before)
    rows = conn.execute(sa.select(c.id, c.status, c.amount_captured, c.amount, c.amount_refunded,
                                  c.currency).where(*where)).all()
    currency = str(charge.get("currency") or "").lower()
    value = sum((r.amount_captured if r.amount_captured is not None else r.amount or 0)
                - (r.amount_refunded or 0)
                for r in rows if r.status == "succeeded" and (r.currency or "").lower() == currency)
    ids = [r.id for r in rows]
    d = disputes_table.c
    dispute_where = [d.charge.in_(ids)] if ids else [sa.false()]
    if before is not None:
        dispute_where.append(d.created < before)
    if exclude_dispute:
        dispute_where.append(d.id != exclude_dispute)
    disputes = conn.execute(sa.select(sa.func.count()).select_from(disputes_table)
                            .where(*dispute_where)).scalar() or 0
    return CustomerFacts(id=customer, email=email,
                         lifetime_value=Money(int(value), currency) if currency else None,
                         charge_count=len(rows), dispute_count=int(disputes))


def draft_score(conn: Connection, dispute_id: str) -> int | None:
    """The score of the disputes service's last build (``None`` before anything was built)."""
    try:
        from disputedesk.store.disputes_tables import evidence_drafts
    except ImportError:  # the disputes feature is not installed
        return None
    return conn.execute(sa.select(evidence_drafts.c.score).where(
        evidence_drafts.c.dispute_id == dispute_id)).scalar()


def evidence_completeness(deps, dispute_id: str) -> int | None:
    """How complete the dispute's evidence is *now*: the disputes service composes it from the
    desk's data (order, uploads, edits) as it stands, which is the last build's draft plus
    whatever changed since; the draft's stored score when that cannot be done."""
    try:
        from disputedesk.services.disputes import get_evidence

        return int(get_evidence(deps, dispute_id).score)
    except Exception:  # noqa: BLE001 - no disputes service, charge not mirrored, order source down
        with deps.store.read() as conn:
            return draft_score(conn, dispute_id)


def hand_edited(conn: Connection, dispute_id: str) -> bool:
    try:
        from disputedesk.store.disputes_tables import dispute_work
    except ImportError:
        return False
    return bool(conn.execute(sa.select(dispute_work.c.hand_edited).where(
        dispute_work.c.dispute_id == dispute_id)).scalar())


def order_for(deps, conn: Connection, charge: Mapping[str, Any] | None) -> dict:
    if not charge:
        return {}
    try:
        from disputedesk.services.disputes import find_order
    except ImportError:
        return {}
    try:
        order, _source = find_order(deps, conn, charge)
    except Exception:  # noqa: BLE001 - an order source being down must not stop the rules
        return {}
    if order is None:
        return {}
    to_dict = getattr(order, "to_dict", None)
    return dict(to_dict() if callable(to_dict) else order)


def load_subject(conn: Connection, object_type: str, object_id: str,
                 snapshot: Mapping[str, Any] | None = None) -> dict | None:
    obj = repo.get_object(conn, object_type, object_id)
    if obj is None and snapshot and snapshot.get("id") == object_id:
        obj = dict(snapshot)
    return obj


def fetch_charge(deps, charge_id: str, account: str | None = None) -> None:
    """Bring a charge the mirror lacks in from Stripe (worker only), from the subject's account."""
    charge = deps.gateway().fetch_object("charge", charge_id, account=account)
    with deps.store.write() as conn:
        mirror_rules.apply_fetched(conn, "charge", charge, account=account,
                                   trigger_updated=int(charge.get("created") or 0),
                                   now=deps.clock.now())


def _reads_group(reads: frozenset[str] | None, name: str) -> bool:
    return reads is None or any(r == name or r.startswith(name + ".") for r in reads)


def build_facts(deps, trigger: str, object_id: str, *, snapshot: Mapping[str, Any] | None = None,
                fetch: bool = False, reads: frozenset[str] | None = None
                ) -> tuple[Facts, Subject] | None:
    """The facts for ``trigger`` on ``object_id`` as the desk knows them now (``None`` when the
    object is unknown).

    ``reads`` (``RuleSet.reads(trigger)``) names what the rules look at: the costly facts no rule
    reads (evidence completeness, the customer's history, the order) are left at their empty
    values. ``None`` builds everything (previews show every fact)."""
    object_type = OBJECT_TYPES[trigger]
    with deps.store.read() as conn:
        obj = load_subject(conn, object_type, object_id, snapshot)
        if obj is None:
            return None
        charge_id = _id(obj.get("charge"))
        charge = repo.get_object(conn, "charge", charge_id) if charge_id else None
        subject_row = repo.get_row(conn, object_type, object_id)
    if charge is None and charge_id and fetch:
        try:
            fetch_charge(deps, charge_id, (subject_row or {}).get("account"))
        except Exception as exc:  # noqa: BLE001 - decide on what is known; charge.* are missing
            log.warning("automation: cannot fetch charge %s for %s: %s", charge_id, object_id, exc)
    completeness = (evidence_completeness(deps, object_id)
                    if object_type == "dispute" and _reads_group(reads, "evidence.completeness")
                    else None)
    with deps.store.read() as conn:
        if charge is None and charge_id:
            charge = repo.get_object(conn, "charge", charge_id)
        if charge is None and isinstance(obj.get("charge"), Mapping):
            charge = dict(obj["charge"])
        dispute_id = obj["id"] if object_type == "dispute" else None
        created = obj.get("created") if isinstance(obj.get("created"), int) else None
        customer = (customer_facts(conn, charge, exclude_dispute=dispute_id,
                                   before=created if object_type == "dispute" else None)
                    if _reads_group(reads, "customer") else CustomerFacts())
        label = records.get_labels(conn, object_id)
        facts = Facts(
            dispute=obj if object_type == "dispute" else None,
            early_fraud_warning=obj if object_type == "radar.early_fraud_warning" else None,
            refund=obj if object_type == "refund" else None,
            charge=charge,
            customer=customer,
            order=order_for(deps, conn, charge) if _reads_group(reads, "order") else {},
            evidence_completeness=completeness,
            assigned_to=label.get("assigned_to"),
            manual_edits=hand_edited(conn, object_id) if dispute_id else False,
            tags=tuple(label.get("tags") or ()),
            done_actions=records.done_keys(conn, [object_id, charge_id]),
        )
    return facts, Subject(object_type, object_id, dispute_id, charge_id)
