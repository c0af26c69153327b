"""Keeping the report facts in step with the mirror and the desk's own records.

``refresh_rows`` turns mirrored objects into fact rows (store/reports_tables.py) with a few
set-based statements per call, whatever the number of objects: the worker's batch listener calls
it for every dispute, charge, refund and early fraud warning a batch touched; the catch-up job
calls it for whatever changed in the mirror by other roads (backfill, refetch) or in the desk's
records (a submission, an evidence build, a refund request) since its last run. Both are
idempotent: a fact is recomputed from the current state, and a charge's contribution to the
monthly sales moves out before its new one moves in, so running either twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from disputedesk.domain import disputes as d
from disputedesk.domain.money import exponent
from disputedesk.domain.refunds import REQUEST_METADATA_KEY
from disputedesk.errors import ValidationError
from disputedesk.store import mirror as repo
from disputedesk.store.automation_tables import actions as rule_actions
from disputedesk.store.disputes_tables import dispute_work, evidence_drafts
from disputedesk.store.refunds_tables import refund_requests
from disputedesk.store.reports_tables import (
    DISPUTE_MEASURES,
    REFUND_MEASURES,
    report_charges,
    report_dispute_cells,
    report_disputes,
    report_efws,
    report_refund_cells,
    report_refunds,
    report_sales,
)
from disputedesk.store.tables import charges as mirror_charges
from disputedesk.store.tables import disputes as mirror_disputes
from disputedesk.store.tables import early_fraud_warnings as mirror_efws
from disputedesk.store.tables import refunds as mirror_refunds

CHUNK = 500  # ids per IN (...) list
PLATFORM = ""  # the account key of the platform's own objects

# Amount bands in major units of two- and three-decimal currencies; zero-decimal currencies (JPY)
# use 100x the figures so a band holds roughly the same baskets (no exchange rates involved).
BAND_EDGES = (10, 50, 100, 500)
# Evidence completeness (the composer's 0-100 score) in bands; "none": no evidence was built.
COMPLETENESS_BANDS = (("none", "no evidence built"), ("low", "under 50"), ("medium", "50-79"),
                      ("high", "80 and over"))
RULE_DECIDING_KINDS = ("accept_dispute", "submit_evidence")
SALE_STATUS = "succeeded"


def month_of(ts: int | float, zone: ZoneInfo) -> int:
    """``YYYYMM`` of the calendar month ``ts`` (UTC epoch seconds) falls in, in ``zone``."""
    local = dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).astimezone(zone)
    return local.year * 100 + local.month


def band_edges(currency: str) -> tuple[int, ...]:
    """Band edges in the currency's minor units."""
    exp = exponent(currency)
    scale = 10 ** exp if exp else 100
    return tuple(edge * scale for edge in BAND_EDGES)


def amount_band(amount: int, currency: str) -> int:
    """0 .. len(BAND_EDGES): the band ``amount`` falls in (lower edge included)."""
    return sum(1 for edge in band_edges(currency) if amount >= edge)


def completeness_band(score: int | None) -> str:
    if score is None:
        return "none"
    return "low" if score < 50 else "medium" if score < 80 else "high"


def _brand_of_charge(charge: dict | None) -> str | None:
    card = (((charge or {}).get("payment_method_details") or {}).get("card") or {})
    return card.get("brand") or card.get("network") or None


def _account(value: str | None) -> str:
    return value or PLATFORM


def _money(dispute: dict) -> d.DisputeMoney | None:
    try:
        return d.dispute_money(dispute)
    except ValidationError:  # balance transactions held as ids only: amounts unknown
        return None


def dispute_fact(dispute: dict, *, account: str | None, zone: ZoneInfo, updated: int | None,
                 work: dict | None, draft: dict | None, rule: str | None,
                 charge: dict | None, previous: dict | None) -> dict[str, Any]:
    status = d.status_of(dispute)
    inquiry = d.is_inquiry(dispute)
    contested = d.was_countered(dispute)
    closed = d.is_closed(dispute)
    if status == "won":
        outcome = "won"
    elif status == "lost":
        if contested:
            outcome = "lost"
        else:
            past_due = bool((dispute.get("evidence_details") or {}).get("past_due"))
            outcome = "unanswered" if past_due else "accepted"
    elif status in ("warning_closed", "prevented"):
        outcome = status
    else:
        outcome = "open"
    money = _money(dispute)
    withdrawn = money.withdrawn if money else 0
    reinstated = money.reinstated if money else 0
    fees = (money.dispute_fee + money.countered_fee) if money else 0
    returned = (money.dispute_fee_returned + money.countered_fee_returned) if money else 0
    amount = int(dispute.get("amount") or 0)
    currency = (dispute.get("currency") or "usd").lower()
    score = draft.get("score") if draft else None
    product = (work or {}).get("product_type") or (draft or {}).get("product_type") or "unknown"
    return {
        "dispute_id": dispute["id"], "account": _account(account),
        "month": month_of(dispute.get("created") or 0, zone),
        "created": int(dispute.get("created") or 0), "status": status, "outcome": outcome,
        "is_inquiry": inquiry,
        "was_inquiry": inquiry or status.startswith("warning_") or bool(
            previous and previous.get("was_inquiry")),
        "counts_for_programs": not inquiry and status != "prevented",
        "contested": contested, "reason": dispute.get("reason") or "general",
        "network": d.card_brand(dispute, charge) or "unknown", "product_type": product,
        "currency": currency, "amount": amount, "amount_band": amount_band(amount, currency),
        "completeness_band": completeness_band(score), "rule": rule,
        "withdrawn": withdrawn, "won_back": reinstated,
        "lost_amount": max(withdrawn - reinstated, 0) if closed else 0,
        "fees": fees, "fees_returned": returned,
        "net": reinstated - withdrawn - fees + returned,
        "due_by": d.due_by(dispute),
        "submitted_at": (work or {}).get("submitted_at"),
        "closed_at": updated if closed else None,
        "charge": _charge_id(dispute),
    }


def _charge_id(obj: dict) -> str | None:
    charge = obj.get("charge")
    if isinstance(charge, dict):
        return charge.get("id")
    return charge if isinstance(charge, str) else None


def refund_origin(refund: dict, request: dict | None) -> tuple[str, str | None]:
    """(origin, who): ``bulk``, ``rule``, ``person`` for refunds the desk made, else ``outside``."""
    if request is None:
        return "outside", None
    who = request.get("requested_by")
    if request.get("bulk_job_id"):
        return "bulk", who
    if (who or "").startswith("rule:"):
        return "rule", who[len("rule:"):]
    return "person", who


def refund_fact(refund: dict, *, account: str | None, zone: ZoneInfo,
                request: dict | None) -> dict[str, Any]:
    origin, who = refund_origin(refund, request)
    return {
        "refund_id": refund["id"], "account": _account(account),
        "month": month_of(refund.get("created") or 0, zone),
        "created": int(refund.get("created") or 0), "status": refund.get("status") or "pending",
        "reason": refund.get("reason") or "none", "origin": origin, "made_by": who,
        "currency": (refund.get("currency") or "usd").lower(),
        "amount": int(refund.get("amount") or 0), "charge": _charge_id(refund),
    }


def charge_fact(charge: dict, *, account: str | None, zone: ZoneInfo) -> dict[str, Any]:
    sale = charge.get("status") == SALE_STATUS and charge.get("captured", True) is not False
    amount = int(charge.get("amount_captured") if charge.get("amount_captured") is not None
                 else charge.get("amount") or 0)
    return {
        "charge_id": charge["id"], "account": _account(account),
        "month": month_of(charge.get("created") or 0, zone),
        "network": _brand_of_charge(charge) or "unknown",
        "currency": (charge.get("currency") or "usd").lower(),
        "amount": amount if sale else 0, "sale": sale,
    }


# --- what one fact adds to the monthly cells -----------------------------------------------------

UNDER_48H = 48 * 3600
CellKey = tuple[str, int, str, str, str]  # account, month, dim, key, currency


def dispute_measures(f: dict) -> dict[str, int]:
    chargeback = bool(f["counts_for_programs"])
    outcome = f["outcome"]
    submitted = f["submitted_at"] is not None
    left = (f["due_by"] - f["submitted_at"]) if submitted and f["due_by"] else None
    flags = {
        "counted": chargeback, "contested": chargeback and f["contested"],
        "won": chargeback and outcome == "won", "lost": chargeback and outcome == "lost",
        "accepted": chargeback and outcome == "accepted",
        "unanswered": chargeback and outcome == "unanswered",
        "open": chargeback and outcome == "open",
        "decided": chargeback and f["contested"] and outcome in ("won", "lost"),
        "inquiries": f["was_inquiry"],
        "inquiries_open": f["is_inquiry"] and outcome == "open",
        "inquiries_closed": outcome == "warning_closed",
        "inquiries_escalated": f["was_inquiry"] and not f["is_inquiry"],
        "inquiries_lost": f["is_inquiry"] and outcome in ("lost", "accepted", "unanswered"),
        "prevented": f["status"] == "prevented",
        "submitted": submitted, "under_48h": left is not None and left < UNDER_48H,
    }
    out = {k: int(bool(v)) for k, v in flags.items()}
    out.update(disputed=f["amount"] if chargeback else 0, withdrawn=f["withdrawn"],
               won_back=f["won_back"], lost_amount=f["lost_amount"], fees=f["fees"],
               fees_returned=f["fees_returned"], net=f["net"])
    return out


def dispute_cells(f: dict) -> list[CellKey]:
    dims = [("all", ""), ("reason", f["reason"]), ("network", f["network"]),
            ("product_type", f["product_type"]), ("amount_band", str(f["amount_band"])),
            ("completeness", f["completeness_band"])]
    if f["rule"]:
        dims.append(("rule", f["rule"]))
    return [(f["account"], f["month"], dim, key, f["currency"]) for dim, key in dims]


REFUND_STATUS_MEASURE = {"succeeded": "succeeded", "pending": "pending",
                         "requires_action": "pending", "failed": "failed", "canceled": "canceled"}


def refund_measures(f: dict) -> dict[str, int]:
    out = {m: 0 for m in REFUND_MEASURES}
    out["refunds"], out["amount"] = 1, f["amount"]
    status = REFUND_STATUS_MEASURE.get(f["status"])
    if status:
        out[status] += 1
        out[f"{status}_amount"] += f["amount"]
    return out


def refund_cells(f: dict) -> list[CellKey]:
    return [(f["account"], f["month"], dim, key, f["currency"])
            for dim, key in (("all", ""), ("origin", f["origin"]), ("reason", f["reason"]))]


def apply_cells(conn: Connection, table: sa.Table, measures: tuple[str, ...],
                old: Iterable[dict], new: Iterable[dict], cells, values) -> None:
    """Move the old facts' contributions out of ``table`` and the new ones in: one upsert."""
    delta: dict[CellKey, list[int]] = defaultdict(lambda: [0] * len(measures))
    for sign, facts in ((-1, old), (1, new)):
        for fact in facts:
            vector = values(fact)
            for cell in cells(fact):
                acc = delta[cell]
                for i, m in enumerate(measures):
                    acc[i] += sign * vector[m]
    rows = [{"account": k[0], "month": k[1], "dim": k[2], "key": k[3], "currency": k[4],
             **dict(zip(measures, v))} for k, v in sorted(delta.items()) if any(v)]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["account", "month", "dim", "key", "currency"],
        set_={m: table.c[m] + stmt.excluded[m] for m in measures}), rows)


# --- loading ------------------------------------------------------------------------------------

def chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ids = sorted(set(i for i in ids if i))
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _rows_by_id(conn: Connection, table: sa.Table, key: sa.Column, ids: Iterable[str],
                *columns: sa.Column) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chunk in chunks(ids):
        query = sa.select(*(columns or (table,))).where(key.in_(chunk))
        for row in conn.execute(query).mappings():
            out[row[key.name]] = dict(row)
    return out


def load_mirror(conn: Connection, table: sa.Table, ids: Iterable[str]) -> list[dict]:
    """[{id, account, stripe_updated, data}] for the ids the mirror holds."""
    rows = _rows_by_id(conn, table, table.c.id, ids, table.c.id, table.c.account,
                       table.c.stripe_updated, table.c.data)
    return list(rows.values())


def upsert_many(conn: Connection, table: sa.Table, keys: list[str], rows: list[dict]) -> None:
    if not rows:
        return
    unique = list({tuple(row[k] for k in keys): row for row in rows}.values())
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    columns = [c for c in unique[0] if c not in keys]
    conn.execute(stmt.on_conflict_do_update(index_elements=keys,
                                            set_={c: stmt.excluded[c] for c in columns}), unique)


# --- refreshing ---------------------------------------------------------------------------------

def refresh_rows(conn: Connection, object_type: str, rows: list[dict], zone: ZoneInfo, *,
                 cascade: bool = True) -> None:
    """Recompute the facts of mirrored objects (rows as ``load_mirror`` returns them).

    ``cascade``: also the early fraud warnings on the charges touched (refunded, disputed and
    the network are read from them); a full rebuild reads every warning last and skips it."""
    if not rows:
        return
    handlers = {"charge": _refresh_charges, "dispute": _refresh_disputes,
                "refund": _refresh_refunds, "radar.early_fraud_warning": _refresh_efws}
    handlers[object_type](conn, rows, zone)
    if cascade and object_type != "radar.early_fraud_warning":
        charge_ids = [r["id"] if object_type == "charge" else _charge_id(r["data"]) for r in rows]
        refresh_efws_of_charges(conn, charge_ids, zone)


def refresh_ids(conn: Connection, ids_by_type: dict[str, set[str]], zone: ZoneInfo) -> None:
    for object_type, table in (("charge", mirror_charges), ("dispute", mirror_disputes),
                               ("refund", mirror_refunds),
                               ("radar.early_fraud_warning", mirror_efws)):
        ids = ids_by_type.get(object_type)
        if ids:
            refresh_rows(conn, object_type, load_mirror(conn, table, ids), zone)


def _refresh_charges(conn: Connection, rows: list[dict], zone: ZoneInfo) -> None:
    # Two workers (a batch and the catch-up job) must not move one charge's delta twice.
    repo.lock_objects(conn, [("charge", r["id"]) for r in rows])
    old = _rows_by_id(conn, report_charges, report_charges.c.charge_id, [r["id"] for r in rows])
    delta: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    new_rows = []
    for row in rows:
        fact = charge_fact(row["data"], account=row["account"], zone=zone)
        before = old.get(row["id"])
        if before == fact:
            continue
        if before is not None and before["sale"]:
            key = (before["account"], before["month"], before["network"], before["currency"])
            delta[key][0] -= 1
            delta[key][1] -= before["amount"]
        if fact["sale"]:
            key = (fact["account"], fact["month"], fact["network"], fact["currency"])
            delta[key][0] += 1
            delta[key][1] += fact["amount"]
        new_rows.append(fact)
    upsert_many(conn, report_charges, ["charge_id"], new_rows)
    changes = [{"account": k[0], "month": k[1], "network": k[2], "currency": k[3],
                "sales": v[0], "amount": v[1]} for k, v in sorted(delta.items()) if v != [0, 0]]
    if changes:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(report_sales)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["account", "month", "network", "currency"],
            set_={"sales": report_sales.c.sales + stmt.excluded.sales,
                  "amount": report_sales.c.amount + stmt.excluded.amount}), changes)


def _refresh_disputes(conn: Connection, rows: list[dict], zone: ZoneInfo) -> None:
    ids = [r["id"] for r in rows]
    works = _rows_by_id(conn, dispute_work, dispute_work.c.dispute_id, ids,
                        dispute_work.c.dispute_id, dispute_work.c.product_type,
                        dispute_work.c.submitted_at)
    drafts = _rows_by_id(conn, evidence_drafts, evidence_drafts.c.dispute_id, ids,
                         evidence_drafts.c.dispute_id, evidence_drafts.c.score,
                         evidence_drafts.c.product_type)
    repo.lock_objects(conn, [("dispute", i) for i in ids])  # one delta per dispute at a time
    previous = _rows_by_id(conn, report_disputes, report_disputes.c.dispute_id, ids)
    rules: dict[str, str] = {}
    for chunk in chunks(ids):
        for target, rule in conn.execute(
                sa.select(rule_actions.c.target, rule_actions.c.rule)
                .where(rule_actions.c.target.in_(chunk),
                       rule_actions.c.kind.in_(RULE_DECIDING_KINDS),
                       rule_actions.c.status == "done")
                .order_by(rule_actions.c.started_at)):
            rules.setdefault(target, rule)
    need_charge = [_charge_id(r["data"]) for r in rows if not d.card_brand(r["data"])]
    charges = {r["id"]: r["data"] for r in load_mirror(conn, mirror_charges, need_charge)}
    facts = [dispute_fact(r["data"], account=r["account"], zone=zone,
                          updated=r["stripe_updated"], work=works.get(r["id"]),
                          draft=drafts.get(r["id"]), rule=rules.get(r["id"]),
                          charge=charges.get(_charge_id(r["data"]) or ""),
                          previous=previous.get(r["id"]))
             for r in rows]
    changed = [f for f in facts if previous.get(f["dispute_id"]) != f]
    upsert_many(conn, report_disputes, ["dispute_id"], changed)
    apply_cells(conn, report_dispute_cells, DISPUTE_MEASURES,
                [previous[f["dispute_id"]] for f in changed if f["dispute_id"] in previous],
                changed, dispute_cells, dispute_measures)


def _refresh_refunds(conn: Connection, rows: list[dict], zone: ZoneInfo) -> None:
    by_refund = _rows_by_id(conn, refund_requests, refund_requests.c.refund_id,
                            [r["id"] for r in rows], refund_requests.c.refund_id,
                            refund_requests.c.id, refund_requests.c.requested_by,
                            refund_requests.c.bulk_job_id)
    # A refund the desk sent whose id is not yet written back is found by its metadata.
    wanted = {r["id"]: ((r["data"].get("metadata") or {}).get(REQUEST_METADATA_KEY))
              for r in rows if r["id"] not in by_refund}
    by_request = _rows_by_id(conn, refund_requests, refund_requests.c.id,
                             [v for v in wanted.values() if v], refund_requests.c.id,
                             refund_requests.c.requested_by, refund_requests.c.bulk_job_id)
    repo.lock_objects(conn, [("refund", r["id"]) for r in rows])
    previous = _rows_by_id(conn, report_refunds, report_refunds.c.refund_id, [r["id"] for r in rows])
    changed = []
    for r in rows:
        request = by_refund.get(r["id"]) or by_request.get(wanted.get(r["id"]) or "")
        fact = refund_fact(r["data"], account=r["account"], zone=zone, request=request)
        if previous.get(r["id"]) != fact:
            changed.append(fact)
    upsert_many(conn, report_refunds, ["refund_id"], changed)
    apply_cells(conn, report_refund_cells, REFUND_MEASURES,
                [previous[f["refund_id"]] for f in changed if f["refund_id"] in previous],
                changed, refund_cells, refund_measures)


def refresh_efws_of_charges(conn: Connection, charge_ids: Iterable[str | None],
                            zone: ZoneInfo) -> None:
    ids: set[str] = set()
    for chunk in chunks(c for c in charge_ids if c):
        ids.update(conn.execute(sa.select(mirror_efws.c.id)
                                .where(mirror_efws.c.charge.in_(chunk))).scalars())
    if ids:
        _refresh_efws(conn, load_mirror(conn, mirror_efws, ids), zone)


def _refresh_efws(conn: Connection, rows: list[dict], zone: ZoneInfo) -> None:
    charge_ids = [_charge_id(r["data"]) for r in rows]
    charges = {r["id"]: r["data"] for r in load_mirror(conn, mirror_charges, charge_ids)}
    refunded: set[str] = set()
    disputed: set[str] = set()
    for chunk in chunks(c for c in charge_ids if c):
        refunded.update(conn.execute(
            sa.select(mirror_refunds.c.charge).where(mirror_refunds.c.charge.in_(chunk),
                                                     mirror_refunds.c.status == "succeeded")
        ).scalars())
        disputed.update(conn.execute(
            sa.select(mirror_disputes.c.charge).where(mirror_disputes.c.charge.in_(chunk))
        ).scalars())
    facts = []
    for r in rows:
        charge_id = _charge_id(r["data"])
        charge = charges.get(charge_id or "")
        facts.append({
            "efw_id": r["id"], "account": _account(r["account"]),
            "month": month_of(r["data"].get("created") or 0, zone),
            "network": _brand_of_charge(charge) or "unknown", "charge": charge_id,
            "refunded": charge_id in refunded or bool((charge or {}).get("amount_refunded")),
            "disputed": charge_id in disputed or bool((charge or {}).get("disputed")),
        })
    upsert_many(conn, report_efws, ["efw_id"], facts)
