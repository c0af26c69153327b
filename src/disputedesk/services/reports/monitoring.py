"""The card networks' monitoring programs, month by month, against their lines.

Visa VAMP: (early fraud warnings on Visa charges + Visa disputes) / settled Visa sales of the
month. A charge with both a warning and a dispute counts twice, as Visa counts it; inquiries and
disputes prevented before escalation are not counted. Excessive (outside CEMEA): at least 1,500
counted and a ratio of at least 1.5%.

Mastercard ECP: Mastercard chargebacks of the month / Mastercard sales of the month before.
Excessive Chargeback Merchant (ECM): at least 100 and 1.5%; High Excessive (HECM): at least 300
and 3%. Both conditions must hold. Chargebacks count whether they were later refunded or won.

A month whose sales the mirror does not hold has no ratio: the report says so. The current
month is projected from the month so far (counts and sales grow with the share elapsed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from disputedesk.services.reports import cells
from disputedesk.services.reports.model import Column, Report, Table, ratio
from disputedesk.services.reports.periods import (
    Period,
    account_label,
    add_months,
    current_month,
    label,
    month_bounds,
)
from disputedesk.store.reports_tables import (
    report_dispute_cells,
    report_efws,
    report_sales,
)

C = Column


@dataclass(frozen=True)
class Line:
    name: str
    ratio: Fraction
    count: int


VAMP_EXCESSIVE = Line("VAMP excessive", Fraction(15, 1000), 1500)
ECM = Line("ECM", Fraction(15, 1000), 100)
HECM = Line("HECM", Fraction(3, 100), 300)
NO_SALES = "no sales history"
MIN_PROJECTION_SECONDS = 86400  # a day of the month, at least, before projecting


def crosses(line: Line, count: int, sales: int) -> bool:
    return count >= line.count and sales > 0 and Fraction(count, sales) >= line.ratio


def more_needed(line: Line, count: int, sales: int) -> int:
    """How many more counted items this month put the merchant over ``line`` (0: already)."""
    needed = max(line.count, math.ceil(line.ratio * sales))
    return max(needed - count, 0)


def _status(count: int, sales: int, lines: tuple[Line, ...]) -> str:
    if not sales:
        return NO_SALES
    for line in lines:  # highest first
        if crosses(line, count, sales):
            return line.name
    return "below"


def _headroom(count: int, sales: int, lines: tuple[Line, ...], what: str) -> str:
    if not sales:
        return ""
    for line in reversed(lines):  # the lowest line not yet crossed
        if not crosses(line, count, sales):
            n = more_needed(line, count, sales)
            return f"{n:,} more {what} this month puts you in {line.name}"
    return f"in {lines[0].name}"


def _sales(conn, months: list[int], account: str | None) -> dict[tuple[str, int, str], int]:
    t = report_sales.c
    conds = [t.month >= min(months), t.month <= max(months)]
    if account is not None:
        conds.append(t.account == account)
    query = sa.select(t.account, t.month, t.network, sa.func.sum(t.sales)).where(
        *conds).group_by(t.account, t.month, t.network)
    return {(a, m, n): int(s) for a, m, n, s in conn.execute(query)}


def _efws(conn, period: Period, account: str | None) -> dict[tuple[str, int, str], int]:
    t = report_efws.c
    query = (sa.select(t.account, t.month, t.network, sa.func.count())
             .where(*cells.where_period(report_efws, period, account))
             .group_by(t.account, t.month, t.network))
    return {(a, m, n): int(c) for a, m, n, c in conn.execute(query)}


def _summed(by_account: dict[tuple, int]) -> dict[tuple, int]:
    out: dict[tuple, int] = {}
    for (_account, *key), value in by_account.items():
        out[tuple(key)] = out.get(tuple(key), 0) + value
    return out


def build(conn, period: Period, account: str | None, zone: str, now: float) -> Report:
    tz = ZoneInfo(zone)
    months = list(period.months)
    sales_acct = _sales(conn, [add_months(months[0], -1), *months], account)
    efws_acct = _efws(conn, period, account)
    network_cells = [r for r in cells.read_cells(conn, report_dispute_cells, ("counted",),
                                                 period, account) if r["dim"] == "network"]
    sales, efws = _summed(sales_acct), _summed(efws_acct)
    disputes = cells.total(network_cells, ("counted",), lambda r: (r["month"], r["key"]))
    notices: list[str] = []
    vamp_rows, ecm_rows = [], []
    this = current_month(now, tz)
    for m in months:
        v_efw = efws.get((m, "visa"), 0)
        v_disp = disputes.get((m, "visa"), {}).get("counted", 0)
        v_sales = sales.get((m, "visa"), 0)
        v_count = v_efw + v_disp
        vamp_rows.append({
            "month": label(m), "efws": v_efw, "disputes": v_disp, "counted": v_count,
            "sales": v_sales, "ratio": ratio(v_count, v_sales),
            "status": _status(v_count, v_sales, (VAMP_EXCESSIVE,)),
            "headroom": _headroom(v_count, v_sales, (VAMP_EXCESSIVE,),
                                  "disputes or fraud warnings") if m == this else "",
        })
        if not v_sales and v_count:
            notices.append(f"{label(m)}: the mirror holds no settled Visa sales, so there is "
                           "no VAMP ratio; backfill the charges with `disputedesk sync "
                           "--objects charges --since ...` to compute it.")
        prev = add_months(m, -1)
        m_cb = disputes.get((m, "mastercard"), {}).get("counted", 0)
        m_sales = sales.get((prev, "mastercard"), 0)
        ecm_rows.append({
            "month": label(m), "chargebacks": m_cb, "sales_last_month": m_sales,
            "ratio": ratio(m_cb, m_sales), "status": _status(m_cb, m_sales, (HECM, ECM)),
            "headroom": _headroom(m_cb, m_sales, (HECM, ECM), "Mastercard chargebacks")
            if m == this else "",
        })
        if not m_sales and m_cb:
            notices.append(f"{label(m)}: the mirror holds no Mastercard sales for {label(prev)}, "
                           "so there is no ECP ratio.")
    status_cols = [C("ratio", "Ratio", "percent"), C("status", "Status", "text"),
                   C("headroom", "Headroom", "text")]
    tables = [
        Table("vamp", "Visa VAMP", [C("month", "Month", "month"),
                                    C("efws", "Early fraud warnings"), C("disputes", "Disputes"),
                                    C("counted", "Counted"), C("sales", "Settled sales"),
                                    *status_cols], vamp_rows,
              note="Excessive (outside CEMEA): 1,500 counted and 1.5%, both. A charge with a "
                   "fraud warning and a dispute counts twice."),
        Table("ecm", "Mastercard ECP", [C("month", "Month", "month"),
                                        C("chargebacks", "Chargebacks"),
                                        C("sales_last_month", "Sales last month"),
                                        *status_cols], ecm_rows,
              note="ECM: 100 chargebacks and 1.5%; HECM: 300 and 3%, both conditions."),
    ]
    projection = _projection(this, now, tz, period, sales, efws, disputes)
    if projection:
        tables.append(Table("projection", "This month, projected",
                            [C("program", "Program", "text"), C("so_far", "So far"),
                             C("projected", "Projected"), C("denominator", "Sales"),
                             C("ratio", "Projected ratio", "percent"),
                             C("status", "Projected status", "text")], projection["rows"],
                            note=projection["note"]))
    if account is None:
        per = _per_account(months[-1], sales_acct, efws_acct, network_cells)
        if len(per) > 1:
            tables.append(Table(
                "by_account", f"By account, {label(months[-1])}",
                [C("key", "Account", "text"), C("vamp_counted", "VAMP counted"),
                 C("visa_sales", "Visa sales"), C("vamp_ratio", "VAMP ratio", "percent"),
                 C("vamp_status", "VAMP status", "text"), C("chargebacks", "MC chargebacks"),
                 C("mc_sales_last_month", "MC sales last month"),
                 C("ecp_ratio", "ECP ratio", "percent"), C("ecp_status", "ECP status", "text")],
                per, note="Each account is its own merchant to the networks."))
    summary = {"vamp": vamp_rows[-1], "ecm": ecm_rows[-1]}
    return Report("monitoring", "Monitoring programs", label(period.first), label(period.last),
                  zone, account_label(account), tables, notices, summary)


def _per_account(month: int, sales, efws, network_cells) -> list[dict]:
    counted = cells.total(network_cells, ("counted",),
                          lambda r: (r["account"], r["month"], r["key"]))
    accounts = sorted({k[0] for k in sales} | {k[0] for k in efws} | {k[0] for k in counted})
    rows = []
    for acct in accounts:
        v_count = efws.get((acct, month, "visa"), 0) + counted.get(
            (acct, month, "visa"), {}).get("counted", 0)
        v_sales = sales.get((acct, month, "visa"), 0)
        cb = counted.get((acct, month, "mastercard"), {}).get("counted", 0)
        m_sales = sales.get((acct, add_months(month, -1), "mastercard"), 0)
        rows.append({"key": account_label(acct), "vamp_counted": v_count, "visa_sales": v_sales,
                     "vamp_ratio": ratio(v_count, v_sales),
                     "vamp_status": _status(v_count, v_sales, (VAMP_EXCESSIVE,)),
                     "chargebacks": cb, "mc_sales_last_month": m_sales,
                     "ecp_ratio": ratio(cb, m_sales), "ecp_status": _status(cb, m_sales, (HECM, ECM))})
    return rows


def _projection(this: int, now: float, tz: ZoneInfo, period: Period, sales, efws,
                disputes) -> dict | None:
    if this not in period.months:
        return None
    start, end = month_bounds(this, tz)
    elapsed = now - start
    if elapsed < MIN_PROJECTION_SECONDS:
        return {"rows": [], "note": "Too early in the month to project (less than a day)."}
    share = Fraction(int(elapsed), int(end - start))
    v_so_far = efws.get((this, "visa"), 0) + disputes.get((this, "visa"), {}).get("counted", 0)
    v_sales = sales.get((this, "visa"), 0)
    v_proj, v_sales_proj = round(v_so_far / share), round(v_sales / share)
    m_so_far = disputes.get((this, "mastercard"), {}).get("counted", 0)
    m_sales = sales.get((add_months(this, -1), "mastercard"), 0)
    m_proj = round(m_so_far / share)
    rows = [
        {"program": "Visa VAMP", "so_far": v_so_far, "projected": v_proj,
         "denominator": v_sales_proj, "ratio": ratio(v_proj, v_sales_proj),
         "status": _status(v_proj, v_sales_proj, (VAMP_EXCESSIVE,))},
        {"program": "Mastercard ECP", "so_far": m_so_far, "projected": m_proj,
         "denominator": m_sales, "ratio": ratio(m_proj, m_sales),
         "status": _status(m_proj, m_sales, (HECM, ECM))},
    ]
    pct = float(share) * 100
    return {"rows": rows, "note": f"{label(this)} is {pct:.0f}% over; counts (and Visa sales) "
                                  "are scaled from the month so far."}
