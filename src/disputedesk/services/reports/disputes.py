"""The disputes report: how many, how they ended, what they cost, by month and by dimension.

Counted are chargebacks (an inquiry that escalated counts from then on; a dispute prevented
before escalation does not); inquiries and their outcomes are counted beside them. The win rate
is won / (won + lost) over contested chargebacks that are decided. "Accepted" are chargebacks
closed lost with no evidence submitted before the deadline passed (conceded in the desk or in
Stripe); "unanswered" those lost because the deadline passed with no response. Money is per
currency, from each dispute's balance transactions: disputed (chargeback amounts), won back
(reinstated), lost (withdrawn and not reinstated, once closed), fees charged and returned, net.
"""

from __future__ import annotations

import statistics

import sqlalchemy as sa

from disputedesk.domain.money import format_money
from disputedesk.services.reports import cells
from disputedesk.services.reports.facts import BAND_EDGES, COMPLETENESS_BANDS, band_edges
from disputedesk.services.reports.model import Column, Report, Table, ratio
from disputedesk.services.reports.periods import Period, account_label, label
from disputedesk.store.reports_tables import DISPUTE_MEASURES, report_dispute_cells, report_disputes

C = Column
OUTCOME_COLUMNS = [C("counted", "Disputes"), C("contested", "Contested"),
                   C("accepted", "Accepted"), C("unanswered", "Unanswered"), C("won", "Won"),
                   C("lost", "Lost"), C("open", "Open"), C("win_rate", "Win rate", "percent")]
INQUIRY_COLUMNS = [C("inquiries", "Inquiries"), C("inquiries_closed", "Inquiries closed"),
                   C("inquiries_escalated", "Escalated"), C("inquiries_lost", "Inquiries lost"),
                   C("inquiries_open", "Inquiries open"), C("prevented", "Prevented")]
MONEY_COLUMNS = [C("currency", "Currency", "text"), C("disputed", "Disputed", "money"),
                 C("won_back", "Won back", "money"), C("lost_amount", "Lost", "money"),
                 C("fees", "Fees charged", "money"), C("fees_returned", "Fees returned", "money"),
                 C("net", "Net", "money")]
MONEY = ("disputed", "won_back", "lost_amount", "fees", "fees_returned", "net")
BREAKDOWNS = (("reason", "By reason", "Reason"), ("network", "By card network", "Network"),
              ("product_type", "By product type", "Product type"),
              ("completeness", "By evidence completeness", "Evidence completeness"))
COMPLETENESS_LABELS = dict(COMPLETENESS_BANDS)


def _win_rate(m: dict[str, int]) -> float | None:
    # decided = contested and won or lost; every "lost" outcome was contested
    return ratio(m["decided"] - m["lost"], m["decided"])


def _outcomes(m: dict[str, int]) -> dict:
    return {**{c.key: m[c.key] for c in OUTCOME_COLUMNS if c.key != "win_rate"},
            "win_rate": _win_rate(m)}


def band_label(band: int, currency: str) -> str:
    edges = band_edges(currency)
    if band == 0:
        return f"under {format_money(edges[0], currency)}"
    if band >= len(BAND_EDGES):
        return f"{format_money(edges[-1], currency)} and over"
    return f"{format_money(edges[band - 1], currency)} to {format_money(edges[band], currency)}"


def build(conn, period: Period, account: str | None, zone: str) -> Report:
    rows = cells.read_cells(conn, report_dispute_cells, DISPUTE_MEASURES, period, account)
    alls = [r for r in rows if r["dim"] == "all"]
    by_month = cells.total(alls, DISPUTE_MEASURES, lambda r: r["month"])
    zero = dict.fromkeys(DISPUTE_MEASURES, 0)
    monthly = [{"month": label(m), **_outcomes(by_month.get(m, zero)),
                **{c.key: by_month.get(m, zero)[c.key] for c in INQUIRY_COLUMNS}}
               for m in period.months]
    money_monthly = [{"month": label(m), "currency": cur, **{k: v[k] for k in MONEY}}
                     for (m, cur), v in sorted(cells.total(
                         alls, DISPUTE_MEASURES, lambda r: (r["month"], r["currency"])).items())]
    by_currency = cells.total(alls, DISPUTE_MEASURES, lambda r: r["currency"])
    money_total = [{"currency": cur, **{k: m[k] for k in MONEY}}
                   for cur, m in sorted(by_currency.items())]
    tables = [
        Table("monthly", "Disputes by month", [C("month", "Month", "month"), *OUTCOME_COLUMNS,
                                                 *INQUIRY_COLUMNS], monthly),
        Table("money", "Money by currency", MONEY_COLUMNS, money_total,
              note="Per currency; amounts in different currencies are never added together."),
        Table("money_monthly", "Money by month", [C("month", "Month", "month"), *MONEY_COLUMNS],
              money_monthly),
        Table("by_currency", "By currency", [C("currency", "Currency", "text"), *OUTCOME_COLUMNS],
              [{"currency": cur, **_outcomes(m)} for cur, m in sorted(by_currency.items())]),
    ]
    for dim, title, heading in BREAKDOWNS:
        found = cells.total([r for r in rows if r["dim"] == dim], DISPUTE_MEASURES,
                            lambda r: r["key"])
        order = ([k for k, _ in COMPLETENESS_BANDS if k in found] if dim == "completeness"
                 else sorted(found, key=lambda k: (-found[k]["counted"], k)))
        tables.append(Table(f"by_{dim}", title, [C("key", heading, "text"), *OUTCOME_COLUMNS],
                            [{"key": COMPLETENESS_LABELS.get(k, k) if dim == "completeness" else k,
                              **_outcomes(found[k])} for k in order]))
    bands = cells.total([r for r in rows if r["dim"] == "amount_band"], DISPUTE_MEASURES,
                        lambda r: (r["currency"], int(r["key"])))
    tables.append(Table(
        "by_amount_band", "By amount band",
        [C("currency", "Currency", "text"), C("key", "Amount", "text"), *OUTCOME_COLUMNS],
        [{"currency": cur, "key": band_label(band, cur), **_outcomes(m)}
         for (cur, band), m in sorted(bands.items())]))
    reason_money = cells.total([r for r in rows if r["dim"] == "reason"], DISPUTE_MEASURES,
                               lambda r: (r["key"], r["currency"]))
    tables.append(Table("money_by_reason", "Money by reason",
                        [C("key", "Reason", "text"), *MONEY_COLUMNS],
                        [{"key": k, "currency": cur, **{x: m[x] for x in MONEY}}
                         for (k, cur), m in sorted(reason_money.items())]))
    rules = cells.total([r for r in rows if r["dim"] == "rule"], DISPUTE_MEASURES,
                        lambda r: r["key"])
    tables.append(Table(
        "by_rule", "Decided by automation rules",
        [C("key", "Rule", "text"), C("counted", "Disputes"), C("inquiries", "Inquiries"),
         C("contested", "Submitted"), C("accepted", "Accepted"), C("won", "Won"),
         C("lost", "Lost"), C("open", "Open"), C("win_rate", "Win rate", "percent")],
        [{"key": k, **_outcomes(m), "inquiries": m["inquiries"]}
         for k, m in sorted(rules.items())],
        note="A rule decided a dispute when it accepted it or submitted its evidence."))
    total_m = cells.total(alls, DISPUTE_MEASURES, lambda r: "all").get("all", zero)
    lead = _submission_hours(conn, period, account)
    timing = {"submitted": total_m["submitted"],
              "median_hours": statistics.median(lead) if lead else None,
              "under_48h": total_m["under_48h"]}
    tables.append(Table(
        "timing", "Time to submission",
        [C("submitted", "Submitted by the desk"),
         C("median_hours", "Median time from dispute to submission", "hours"),
         C("under_48h", "Submitted with under 48 h left")], [timing],
        note="Submissions the desk made (their time is known); evidence submitted elsewhere "
             "counts as contested but has no submission time."))
    if account is None:
        accounts = cells.total(alls, DISPUTE_MEASURES, lambda r: r["account"])
        if len(accounts) > 1:
            tables.append(Table("by_account", "By account",
                                [C("key", "Account", "text"), *OUTCOME_COLUMNS],
                                [{"key": account_label(a), **_outcomes(m)}
                                 for a, m in sorted(accounts.items())]))
    summary = {**_outcomes(total_m), "inquiries": total_m["inquiries"],
               "money": money_total, **timing}
    return Report("disputes", "Disputes", label(period.first), label(period.last), zone,
                  account_label(account), tables, summary=summary)


def _submission_hours(conn, period: Period, account: str | None) -> list[float]:
    t = report_disputes.c
    query = (sa.select(t.submitted_at - t.created)
             .where(*cells.where_period(report_disputes, period, account),
                    t.submitted_at.is_not(None)))
    return [float(v) / 3600 for v in conn.execute(query).scalars()]
