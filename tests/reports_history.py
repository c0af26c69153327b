"""A seeded year of history for the reports tests, and the figures computed from it directly.

``build_history`` makes charges, disputes, refunds and early fraud warnings over 2025-07..2026-06
(the merchant in America/New_York, "now" in mid June 2026) with: a month above Visa's VAMP line
(2026-02), one in Mastercard's ECM (2026-04) and one in HECM (2026-05), a month with no sales at
all (2025-09), refunds made outside the desk as well as by people, rules and bulk files,
disputes in JPY and KWD, a connected account. ``expected`` computes the report figures from
these objects with plain Python, sharing nothing with the desk's report code.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from collections import Counter, defaultdict
from fractions import Fraction
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from disputedesk.store import mirror as repo
from disputedesk.store.automation_tables import actions as rule_actions
from disputedesk.store.disputes_tables import dispute_work, evidence_drafts
from disputedesk.store.refunds_tables import refund_requests
from disputedesk.testing import make_charge, make_dispute, make_early_fraud_warning, make_refund

ZONE = "America/New_York"
NOW = 1_781_629_200  # 2026-06-16 17:00 UTC
MONTHS = [202507, 202508, 202509, 202510, 202511, 202512, 202601, 202602, 202603, 202604,
          202605, 202606]
NO_SALES = 202509
VAMP_MONTH, ECM_MONTH, HECM_MONTH = 202602, 202604, 202605
CONNECTED = "acct_1Connected"
DAY = 86_400
REASONS = ("fraudulent", "product_not_received", "product_unacceptable", "duplicate",
           "subscription_canceled", "general")
PRODUCTS = ("physical_goods", "digital_goods", "services")


def _tz() -> ZoneInfo:
    return ZoneInfo(ZONE)


def month_range(month: int) -> tuple[int, int]:
    start = dt.datetime(month // 100, month % 100, 1, tzinfo=_tz())
    nxt = month + 1 if month % 100 < 12 else (month // 100 + 1) * 100 + 1
    end = dt.datetime(nxt // 100, nxt % 100, 1, tzinfo=_tz())
    return int(start.timestamp()), int(end.timestamp())


def month_of(ts: int) -> int:
    local = dt.datetime.fromtimestamp(ts, _tz())
    return local.year * 100 + local.month


def prev_month(month: int) -> int:
    return month - 1 if month % 100 > 1 else (month // 100 - 1) * 100 + 12


class History:
    def __init__(self) -> None:
        self.charges: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.efws: dict[str, dict] = {}
        self.account: dict[str, str | None] = {}
        self.requests: list[dict] = []
        self.work: dict[str, dict] = {}
        self.drafts: dict[str, dict] = {}
        self.rules: dict[str, tuple[str, str]] = {}  # dispute -> (rule, kind)
        self.inquiries: set[str] = set()  # created as inquiries (some escalated later)


def _time_in(rng: random.Random, month: int, *, upto: int | None = None) -> int:
    start, end = month_range(month)
    end = min(end, upto or end)
    return rng.randrange(start, end - 60)


def _charge(h: History, rng, month: int, brand: str, *, currency: str = "usd",
            account: str | None = None, status: str = "succeeded") -> dict:
    created = _time_in(rng, month, upto=NOW - 3600)
    amount = {"jpy": rng.randrange(500, 20000), "kwd": rng.randrange(1000, 90000, 10)}.get(
        currency, rng.randrange(500, 30000))
    charge = make_charge(id=f"ch_{len(h.charges):06d}", amount=amount, currency=currency,
                         created=created, status=status)
    charge["payment_method_details"]["card"].update(brand=brand, network=brand)
    if status != "succeeded":
        charge["captured"] = False
        charge["amount_captured"] = 0
    h.charges[charge["id"]] = charge
    h.account[charge["id"]] = account
    return charge


def _balance(amount: int, currency: str, *, outcome: str, countered: bool) -> list[dict]:
    fee = 1500 if currency not in ("jpy", "kwd") else (2000 if currency == "jpy" else 5000)
    details = [{"amount": fee, "currency": currency, "description": "Dispute fee", "type": "stripe_fee"}]
    if countered:
        details.append({"amount": fee, "currency": currency, "description": "Dispute countered fee",
                        "type": "stripe_fee"})
    txns = [{"id": f"txn_w{amount}{fee}", "object": "balance_transaction", "amount": -amount,
             "currency": currency, "fee": sum(d["amount"] for d in details),
             "fee_details": details, "net": -amount - sum(d["amount"] for d in details)}]
    if outcome == "won":
        back = [{"amount": -fee, "currency": currency, "description": "Dispute countered fee returned",
                 "type": "stripe_fee"}] if countered else []
        txns.append({"id": f"txn_r{amount}{fee}", "object": "balance_transaction", "amount": amount,
                     "currency": currency, "fee": -fee if countered else 0, "fee_details": back,
                     "net": amount + (fee if countered else 0)})
    return txns


def _dispute(h: History, rng, charge: dict, *, month: int | None = None, status: str | None = None,
             reason: str | None = None, inquiry: bool = False) -> dict:
    month = month or month_of(charge["created"])
    start, end = month_range(month)
    low = max(start, charge["created"] + 60)
    created = rng.randrange(low, max(low + 1, min(end, NOW) - 60))
    status = status or rng.choice(("needs_response", "under_review", "won", "won", "lost",
                                   "lost_accepted", "lost_unanswered", "prevented"))
    lost_kind = None
    if status.startswith("lost"):
        lost_kind, status = status, "lost"
    contested = status in ("under_review", "won") or lost_kind == "lost"
    currency = charge["currency"]
    brand = charge["payment_method_details"]["card"]["brand"]
    dispute = make_dispute(id=f"du_{len(h.disputes):06d}", charge=charge["id"],
                           amount=charge["amount"], currency=currency, created=created,
                           status=status, reason=reason or rng.choice(REASONS))
    dispute["payment_method_details"]["card"]["brand"] = brand
    dispute["payment_method_details"]["card"]["case_type"] = "inquiry" if inquiry else "chargeback"
    dispute["evidence_details"]["submission_count"] = 1 if contested else 0
    dispute["evidence_details"]["past_due"] = lost_kind == "lost_unanswered"
    if not inquiry and status != "prevented":
        dispute["balance_transactions"] = _balance(
            dispute["amount"], currency, outcome=status, countered=contested)
    charge["disputed"] = True
    h.disputes[dispute["id"]] = dispute
    h.account[dispute["id"]] = h.account[charge["id"]]
    if inquiry:
        h.inquiries.add(dispute["id"])
    if contested:
        due = dispute["evidence_details"]["due_by"]
        submitted = float(rng.choice((created + 3 * 3600, due - 20 * 3600, created + 2 * DAY)))
        h.work[dispute["id"]] = {"product_type": rng.choice(PRODUCTS), "submitted_at": submitted}
    if rng.random() < 0.6:
        h.drafts[dispute["id"]] = {"score": rng.choice((20, 55, 70, 90, 100)),
                                   "product_type": rng.choice(PRODUCTS)}
    if contested and rng.random() < 0.3:
        h.rules[dispute["id"]] = ("submit_fraud_48h", "submit_evidence")
    elif lost_kind == "lost_accepted" and rng.random() < 0.5:
        h.rules[dispute["id"]] = ("accept_small", "accept_dispute")
    return dispute


def _refund(h: History, rng, charge: dict, *, origin: str, status: str = "succeeded") -> dict:
    created = rng.randrange(charge["created"] + 60, min(NOW - 60, charge["created"] + 20 * DAY))
    amount = charge["amount"] if rng.random() < 0.5 else max(charge["amount"] // 2, 1)
    if charge["currency"] == "kwd":
        amount -= amount % 10
    refund = make_refund(id=f"re_{len(h.refunds):06d}", charge=charge["id"], amount=amount,
                         currency=charge["currency"], created=created, status=status,
                         reason=rng.choice(("requested_by_customer", "duplicate", "fraudulent")))
    h.refunds[refund["id"]] = refund
    h.account[refund["id"]] = h.account[charge["id"]]
    if status == "succeeded":
        charge["amount_refunded"] = charge.get("amount_refunded", 0) + amount
    if origin != "outside":
        rid = f"req_{len(h.requests):05d}"
        h.requests.append({
            "id": rid, "source_key": None, "target_type": "charge", "target": charge["id"],
            "charge": charge["id"], "payment_intent": None, "account": h.account[charge["id"]],
            "amount": amount, "currency": charge["currency"], "full": False,
            "reason": refund["reason"], "metadata": {}, "note": None, "warnings": None,
            "requested_by": {"person": "alice", "rule": "rule:refund_small_efw",
                             "bulk": "bob"}[origin],
            "approval_reason": None, "approved_by": None, "decided_at": None,
            "status": "succeeded", "attempt": 1, "refund_id": refund["id"],
            "refund_status": status, "error_code": None, "error": None,
            "bulk_job_id": "bulk_1" if origin == "bulk" else None,
            "created": float(created), "updated": float(created), "submitted_at": float(created),
            "sending_until": None, "params_hash": None})
    return refund


def _efw(h: History, rng, charge: dict, *, month: int | None = None) -> dict:
    month = month or month_of(charge["created"])
    start, end = month_range(month)
    low = max(start, charge["created"] + 60)
    created = rng.randrange(low, max(low + 1, min(end, NOW) - 60))
    warning = make_early_fraud_warning(id=f"issfr_{len(h.efws):06d}", charge=charge["id"],
                                       created=created)
    h.efws[warning["id"]] = warning
    h.account[warning["id"]] = h.account[charge["id"]]
    return warning


def build_history(seed: int = 7) -> History:
    rng = random.Random(seed)
    h = History()
    by_month: dict[int, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for month in MONTHS:
        if month == NO_SALES:
            continue
        visa = 2000 if month == VAMP_MONTH else 40
        mc = {202603: 1000, ECM_MONTH: 1500}.get(month, 25)
        for brand, n in (("visa", visa), ("mastercard", mc), ("amex", 6)):
            for i in range(n):
                currency = "eur" if i % 9 == 0 else "usd"
                account = CONNECTED if i % 7 == 0 else None
                by_month[month][brand].append(_charge(h, rng, month, brand, currency=currency,
                                                      account=account))
        _charge(h, rng, month, "visa", status="failed")  # not a sale
        for currency in ("jpy", "kwd"):
            for brand in ("visa", "mastercard"):
                by_month[month][brand].append(_charge(h, rng, month, brand, currency=currency))
    # ordinary months: a few disputes of every kind, some inquiries, EFWs and refunds
    for month in MONTHS:
        charges = [c for cs in by_month[month].values() for c in cs]
        if month == NO_SALES:  # disputes this month on last month's sales: no sales history
            charges = list(by_month[prev_month(month)]["visa"][:5]
                           + by_month[prev_month(month)]["mastercard"][:3])
            for c in charges:
                _dispute(h, rng, c, month=month, status="needs_response")
            continue
        rng.shuffle(charges)
        picks = iter(charges)
        for _ in range(8):
            _dispute(h, rng, next(picks))
        for status in ("warning_needs_response", "warning_closed"):
            _dispute(h, rng, next(picks), status=status, inquiry=True)
        for currency in ("jpy", "kwd"):
            jk = [c for c in charges if c["currency"] == currency and not c["disputed"]]
            if jk:
                _dispute(h, rng, jk[0], status=rng.choice(("won", "lost")))
        for origin in ("outside", "outside", "person", "rule", "bulk"):
            _refund(h, rng, next(picks), origin=origin)
        _refund(h, rng, next(picks), origin="person", status="pending")
        _refund(h, rng, next(picks), origin="outside", status="failed")
        for _ in range(3):
            charge = next(picks)
            _efw(h, rng, charge)
            if rng.random() < 0.5:
                _refund(h, rng, charge, origin="rule")
        disputed_efw = next(picks)
        _efw(h, rng, disputed_efw)
        _dispute(h, rng, disputed_efw, reason="fraudulent")  # counted twice in VAMP
    # above Visa's VAMP line: 1,000 warnings and 520 disputes on 2,000 settled sales
    visa = by_month[VAMP_MONTH]["visa"]
    for charge in visa[:1000]:
        _efw(h, rng, charge)
    for charge in visa[500:1020]:
        if not charge["disputed"]:
            _dispute(h, rng, charge, status="needs_response", reason="fraudulent")
    # Mastercard: 120 chargebacks in 2026-04 on 1,000 sales in 2026-03 (ECM); 320 in 2026-05 on
    # 1,500 in 2026-04 (HECM)
    for month, n in ((ECM_MONTH, 120), (HECM_MONTH, 320)):
        pool = [c for c in by_month[prev_month(month)]["mastercard"] if not c["disputed"]]
        for charge in pool[:n]:
            _dispute(h, rng, charge, month=month, status="needs_response")
    return h


def mirror_row(obj: dict, account: str | None, now: float) -> dict:
    from disputedesk.services import mirror as rules

    return rules.row_for(obj["object"], obj, stripe_updated=int(obj.get("created") or 0),
                         account=account, now=now)


def store_history(deps, h: History, *, skip: set[str] = frozenset()) -> None:
    """Write the history to the mirror and the desk's tables directly (as a backfill does)."""
    now = deps.clock.now()
    with deps.store.write() as conn:
        for object_type, objs in (("charge", h.charges), ("dispute", h.disputes),
                                  ("refund", h.refunds), ("radar.early_fraud_warning", h.efws)):
            rows = [mirror_row(o, h.account[i], now) for i, o in objs.items() if i not in skip]
            for start in range(0, len(rows), 2000):
                repo.insert_rows(conn, object_type, rows[start:start + 2000])
        if h.requests:
            conn.execute(refund_requests.insert(), h.requests)
        work = [{"dispute_id": i, "state": "submitted", "stripe_status": h.disputes[i]["status"],
                 "reason": h.disputes[i]["reason"], "is_inquiry": False, "hand_edited": False,
                 "product_type": w["product_type"], "evidence_version": 0,
                 "submitted_at": w["submitted_at"], "created_at": now, "updated_at": now}
                for i, w in h.work.items()]
        if work:
            conn.execute(dispute_work.insert(), work)
        drafts = [{"dispute_id": i, "product_type": x["product_type"], "fields": {},
                   "sources": {}, "score": x["score"], "missing": [], "built_version": 0,
                   "built_by": "alice", "built_at": now} for i, x in h.drafts.items()]
        if drafts:
            conn.execute(evidence_drafts.insert(), drafts)
        acts = [{"key": f"k_{i}", "rule": rule, "kind": kind, "target": i, "subject": i,
                 "status": "done", "attempts": 1, "started_at": now}
                for i, (rule, kind) in h.rules.items()]
        if acts:
            conn.execute(rule_actions.insert(), acts)


# --- the figures, computed directly ---------------------------------------------------------------

def _inquiry_now(d: dict) -> bool:
    return d["status"].startswith("warning_") or \
        d["payment_method_details"]["card"].get("case_type") == "inquiry"


def _outcome(d: dict) -> str:
    contested = d["evidence_details"]["submission_count"] > 0
    if d["status"] == "won":
        return "won"
    if d["status"] == "lost":
        return "lost" if contested else (
            "unanswered" if d["evidence_details"]["past_due"] else "accepted")
    if d["status"] in ("warning_closed", "prevented"):
        return d["status"]
    return "open"


def _money(d: dict) -> dict:
    withdrawn = sum(-t["amount"] for t in d["balance_transactions"] if t["amount"] < 0)
    back = sum(t["amount"] for t in d["balance_transactions"] if t["amount"] > 0)
    fees = sum(f["amount"] for t in d["balance_transactions"] for f in t["fee_details"]
               if f["amount"] > 0)
    returned = -sum(f["amount"] for t in d["balance_transactions"] for f in t["fee_details"]
                    if f["amount"] < 0)
    closed = d["status"] in ("won", "lost", "warning_closed", "prevented")
    return {"withdrawn": withdrawn, "won_back": back,
            "lost_amount": max(withdrawn - back, 0) if closed else 0,
            "fees": fees, "fees_returned": returned, "net": back - withdrawn - fees + returned}


def _in(h: History, object_id: str, account: str | None) -> bool:
    return account is None or (h.account[object_id] or "") == account


def expected(h: History, months: list[int], account: str | None = None) -> dict:
    """The figures of the three reports for ``months`` (None account: every account)."""
    out: dict = {}
    disputes = [d for i, d in h.disputes.items()
                if month_of(d["created"]) in months and _in(h, i, account)]
    monthly = {m: Counter() for m in months}
    money = defaultdict(Counter)
    reason = defaultdict(Counter)
    rules = defaultdict(Counter)
    lead, under48 = [], 0
    for d in disputes:
        m = month_of(d["created"])
        c = monthly[m]
        inquiry = _inquiry_now(d)
        chargeback = not inquiry and d["status"] != "prevented"
        outcome = _outcome(d)
        contested = d["evidence_details"]["submission_count"] > 0
        keys = []
        if chargeback:
            keys.append("counted")
            if contested:
                keys.append("contested")
            if outcome in ("won", "lost", "accepted", "unanswered", "open"):
                keys.append(outcome)
        if d["id"] in h.inquiries or inquiry:
            keys.append("inquiries")
            if d["id"] in h.inquiries and not inquiry:
                keys.append("inquiries_escalated")
        if outcome == "warning_closed":
            keys.append("inquiries_closed")
        if inquiry and outcome == "open":
            keys.append("inquiries_open")
        if d["status"] == "prevented":
            keys.append("prevented")
        c.update(keys)
        mon = _money(d)
        mon["disputed"] = d["amount"] if chargeback else 0
        money[d["currency"]].update(mon)
        if chargeback:
            reason[d["reason"]].update(k for k in keys if k in ("counted", "won", "lost"))
        if d["id"] in h.rules:
            rules[h.rules[d["id"]][0]].update(k for k in keys if k in ("counted", "won", "lost"))
        work = h.work.get(d["id"])
        if work:
            lead.append((work["submitted_at"] - d["created"]) / 3600)
            if d["evidence_details"]["due_by"] - work["submitted_at"] < 48 * 3600:
                under48 += 1
    out["monthly"] = monthly
    out["money"] = {cur: dict(v) for cur, v in money.items()}
    out["by_reason"] = reason
    out["by_rule"] = rules
    out["timing"] = {"submitted": len(lead), "under_48h": under48,
                     "median_hours": statistics.median(lead) if lead else None}
    won = sum(c["won"] for c in monthly.values())
    lost = sum(c["lost"] for c in monthly.values())
    out["win_rate"] = won_contested(disputes) if (won + lost) else None

    # monitoring
    sales = Counter()
    sales_amount = Counter()
    for i, c in h.charges.items():
        if c["status"] == "succeeded" and c["captured"] and _in(h, i, account):
            sales[(month_of(c["created"]), c["payment_method_details"]["card"]["brand"])] += 1
            sales_amount[(month_of(c["created"]), c["currency"])] += c["amount_captured"]
    efw = Counter()
    for i, w in h.efws.items():
        if _in(h, i, account):
            brand = h.charges[w["charge"]]["payment_method_details"]["card"]["brand"]
            efw[(month_of(w["created"]), brand)] += 1
    programs = Counter()
    for i, d in h.disputes.items():
        if _in(h, i, account) and not _inquiry_now(d) and d["status"] != "prevented":
            programs[(month_of(d["created"]), d["payment_method_details"]["card"]["brand"])] += 1
    vamp, ecm = {}, {}
    for m in months:
        count = efw[(m, "visa")] + programs[(m, "visa")]
        s = sales[(m, "visa")]
        vamp[m] = {"counted": count, "sales": s,
                   "ratio": count / s if s else None,
                   "status": "no sales history" if not s else (
                       "VAMP excessive" if count >= 1500 and Fraction(count, s) >= Fraction(15, 1000)
                       else "below")}
        cb, last = programs[(m, "mastercard")], sales[(prev_month(m), "mastercard")]
        if not last:
            status = "no sales history"
        elif cb >= 300 and Fraction(cb, last) >= Fraction(3, 100):
            status = "HECM"
        elif cb >= 100 and Fraction(cb, last) >= Fraction(15, 1000):
            status = "ECM"
        else:
            status = "below"
        ecm[m] = {"chargebacks": cb, "sales_last_month": last,
                  "ratio": cb / last if last else None, "status": status,
                  "to_ecm": max(max(100, math.ceil(Fraction(15, 1000) * last)) - cb, 0)}
    out["vamp"], out["ecm"] = vamp, ecm

    # refunds
    refunds = [r for i, r in h.refunds.items()
               if month_of(r["created"]) in months and _in(h, i, account)]
    by_request = {q["refund_id"]: q for q in h.requests}
    origin = defaultdict(Counter)
    monthly_refunds = defaultdict(Counter)
    for r in refunds:
        q = by_request.get(r["id"])
        o = "outside" if q is None else "bulk" if q["bulk_job_id"] else (
            "rule" if q["requested_by"].startswith("rule:") else "person")
        origin[(o, r["currency"])].update({"refunds": 1, "amount": r["amount"]})
        mc = monthly_refunds[(month_of(r["created"]), r["currency"])]
        mc.update({"refunds": 1, r["status"]: 1})
        if r["status"] not in ("failed", "canceled"):
            mc["refunded"] += r["amount"]
    out["refund_origin"] = origin
    out["refund_monthly"] = {k: {**v, "rate": (v["refunded"] / sales_amount[k])
                                 if sales_amount[k] else None}
                             for k, v in monthly_refunds.items()}
    refunded_charges = {r["charge"] for r in h.refunds.values() if r["status"] == "succeeded"}
    disputed_charges = {d["charge"] for d in h.disputes.values()}
    efw_rows = {m: Counter() for m in months}
    for i, w in h.efws.items():
        m = month_of(w["created"])
        if m in months and _in(h, i, account):
            refunded = w["charge"] in refunded_charges
            disputed = w["charge"] in disputed_charges
            efw_rows[m].update({"efws": 1, "refunded": int(refunded), "disputed": int(disputed),
                                "avoided": int(refunded and not disputed)})
    out["efws"] = efw_rows
    return out


def won_contested(disputes: list[dict]) -> float | None:
    decided = [d for d in disputes if not _inquiry_now(d) and d["status"] in ("won", "lost")
               and d["evidence_details"]["submission_count"] > 0]
    if not decided:
        return None
    return sum(1 for d in decided if d["status"] == "won") / len(decided)


def count_rows(conn, table: sa.Table) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
