"""The refunds report: how much was refunded, why, by whom, against sales; failed and pending
refunds; early fraud warnings refunded and the disputes that did not follow.

Origin: ``person`` (someone at the desk: dashboard, CLI, API), ``rule`` (an automation rule),
``bulk`` (a bulk refund file), ``outside`` (refunds the mirror holds that the desk did not make:
made in Stripe's Dashboard or by another system). The refund rate is the amount refunded (all
statuses but failed and canceled) over settled sales of the same month and currency.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from disputedesk.services.reports import cells
from disputedesk.services.reports.model import Column, Report, Table, ratio
from disputedesk.services.reports.periods import Period, account_label, label
from disputedesk.store.reports_tables import (
    REFUND_MEASURES,
    report_efws,
    report_refund_cells,
    report_refunds,
    report_sales,
)

C = Column
ORIGINS = ("person", "rule", "bulk", "outside")
ORIGIN_LABELS = {"person": "the desk's people", "rule": "automation rules",
                 "bulk": "bulk files", "outside": "outside the desk"}
AMOUNTS = [C("currency", "Currency", "text"), C("refunds", "Refunds"),
           C("amount", "Amount", "money"), C("succeeded", "Succeeded"),
           C("pending", "Pending"), C("pending_amount", "Pending amount", "money"),
           C("failed", "Failed"), C("failed_amount", "Failed amount", "money"),
           C("canceled", "Canceled")]
OPEN_LIMIT = 50


def _refunded(m: dict[str, int]) -> int:
    return m["amount"] - m["failed_amount"] - m["canceled_amount"]


def _sales(conn, period: Period, account: str | None) -> dict[tuple[int, str], tuple[int, int]]:
    t = report_sales.c
    query = (sa.select(t.month, t.currency, sa.func.sum(t.sales), sa.func.sum(t.amount))
             .where(*cells.where_period(report_sales, period, account))
             .group_by(t.month, t.currency))
    return {(m, c): (int(n), int(a)) for m, c, n, a in conn.execute(query)}


def build(conn, period: Period, account: str | None, zone: str) -> Report:
    rows = cells.read_cells(conn, report_refund_cells, REFUND_MEASURES, period, account)
    alls = [r for r in rows if r["dim"] == "all"]
    sales = _sales(conn, period, account)
    monthly_keys = sorted({(r["month"], r["currency"]) for r in alls} | set(sales))
    by_mc = cells.total(alls, REFUND_MEASURES, lambda r: (r["month"], r["currency"]))
    zero = dict.fromkeys(REFUND_MEASURES, 0)
    monthly = []
    for month, currency in monthly_keys:
        m = by_mc.get((month, currency), zero)
        n_sales, sales_amount = sales.get((month, currency), (0, 0))
        monthly.append({"month": label(month), "currency": currency, **m,
                        "refunded": _refunded(m), "sales": n_sales,
                        "sales_amount": sales_amount,
                        "rate": ratio(_refunded(m), sales_amount),
                        "count_rate": ratio(m["refunds"], n_sales)})
    by_origin = cells.total([r for r in rows if r["dim"] == "origin"], REFUND_MEASURES,
                            lambda r: (r["key"], r["currency"]))
    by_reason = cells.total([r for r in rows if r["dim"] == "reason"], REFUND_MEASURES,
                            lambda r: (r["key"], r["currency"]))
    by_currency = cells.total(alls, REFUND_MEASURES, lambda r: r["currency"])
    tables = [
        Table("monthly", "Refunds by month",
              [C("month", "Month", "month"), *AMOUNTS,
               C("refunded", "Refunded", "money"), C("sales", "Sales"),
               C("sales_amount", "Sales amount", "money"),
               C("rate", "Refund rate (amount)", "percent"),
               C("count_rate", "Refund rate (count)", "percent")], monthly,
              note="Refunded: every refund but failed and canceled ones. Rates against settled "
                   "sales of the same month and currency."),
        Table("by_origin", "By who made them",
              [C("key", "Made by", "text"), *AMOUNTS],
              [{"key": ORIGIN_LABELS.get(o, o), "origin": o, "currency": cur, **m}
               for (o, cur), m in sorted(by_origin.items(),
                                         key=lambda kv: (ORIGINS.index(kv[0][0])
                                                         if kv[0][0] in ORIGINS else 9, kv[0][1]))]),
        Table("by_reason", "By reason", [C("key", "Reason", "text"), *AMOUNTS],
              [{"key": k, "currency": cur, **m} for (k, cur), m in sorted(by_reason.items())]),
        Table("by_currency", "By currency", AMOUNTS,
              [{"currency": cur, **m} for cur, m in sorted(by_currency.items())]),
        Table("open", "Failed and pending refunds",
              [C("refund_id", "Refund", "text"), C("created", "Created", "text"),
               C("status", "Status", "text"), C("currency", "Currency", "text"),
               C("amount", "Amount", "money"), C("origin", "Made by", "text"),
               C("charge", "Charge", "text")], _open_refunds(conn, period, account),
              note=f"The {OPEN_LIMIT} newest of the period."),
        Table("efws", "Early fraud warnings",
              [C("month", "Month", "month"), C("efws", "Warnings"), C("refunded", "Refunded"),
               C("avoided", "Refunded, no dispute followed"), C("disputed", "Disputed"),
               C("refund_share", "Refunded share", "percent")], _efw_rows(conn, period, account),
              note="A refunded warning whose charge has no dispute is a dispute avoided."),
    ]
    if account is None:
        accounts = cells.total(alls, REFUND_MEASURES, lambda r: (r["account"], r["currency"]))
        if len({a for a, _ in accounts}) > 1:
            tables.append(Table("by_account", "By account", [C("key", "Account", "text"), *AMOUNTS],
                                [{"key": account_label(a), "currency": cur, **m}
                                 for (a, cur), m in sorted(accounts.items())]))
    summary = {"by_currency": tables[3].rows,
               "outside": sum(m["refunds"] for (o, _), m in by_origin.items() if o == "outside")}
    return Report("refunds", "Refunds", label(period.first), label(period.last), zone,
                  account_label(account), tables, summary=summary)


def _open_refunds(conn, period: Period, account: str | None) -> list[dict]:
    t = report_refunds.c
    query = (sa.select(t.refund_id, t.created, t.status, t.currency, t.amount, t.origin, t.charge)
             .where(*cells.where_period(report_refunds, period, account),
                    t.status.in_(("pending", "requires_action", "failed")))
             .order_by(t.created.desc(), t.refund_id).limit(OPEN_LIMIT))


    return [{**dict(r), "created": dt.datetime.fromtimestamp(r.created, dt.timezone.utc)
             .strftime("%Y-%m-%d %H:%M UTC")} for r in conn.execute(query).mappings()]


def _efw_rows(conn, period: Period, account: str | None) -> list[dict]:
    t = report_efws.c
    query = (sa.select(t.month, sa.func.count(),
                       sa.func.sum(sa.case((t.refunded, 1), else_=0)),
                       sa.func.sum(sa.case((sa.and_(t.refunded, sa.not_(t.disputed)), 1),
                                           else_=0)),
                       sa.func.sum(sa.case((t.disputed, 1), else_=0)))
             .where(*cells.where_period(report_efws, period, account)).group_by(t.month))
    found = {m: (int(n), int(r or 0), int(a or 0), int(d or 0))
             for m, n, r, a, d in conn.execute(query)}
    out = []
    for month in period.months:
        n, refunded, avoided, disputed = found.get(month, (0, 0, 0, 0))
        out.append({"month": label(month), "efws": n, "refunded": refunded, "avoided": avoided,
                    "disputed": disputed, "refund_share": ratio(refunded, n)})
    return out
