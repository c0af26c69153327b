"""Reports against figures computed directly from a seeded year (tests/reports_history.py), on
SQLite and PostgreSQL: first built by the catch-up job from a backfilled mirror, then kept up
to date by the worker's listener as events arrive."""

from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa
from reports_history import (
    CONNECTED,
    ECM_MONTH,
    HECM_MONTH,
    MONTHS,
    NO_SALES,
    NOW,
    VAMP_MONTH,
    ZONE,
    build_history,
    expected,
    store_history,
)

from disputedesk.config import Settings
from disputedesk.errors import ValidationError
from disputedesk.services import reports
from disputedesk.services.events import event_row, process_batch
from disputedesk.services.reports.periods import label
from disputedesk.store import inbox
from disputedesk.store.reports_tables import report_sales
from disputedesk.testing import (
    TEST_WEBHOOK_SECRET,
    FakeStripe,
    ManualClock,
    event_body,
    make_event,
    make_refund,
)
from disputedesk.wiring import build_deps


@pytest.fixture
def rdeps(database_url, tmp_path):
    settings = Settings(database_url=database_url, data_dir=tmp_path, report_timezone=ZONE,
                        webhook_secrets=[TEST_WEBHOOK_SECRET])
    built = build_deps(settings, clock=ManualClock(NOW), gateway_factory=lambda _s: FakeStripe(),
                       migrate=False)
    yield built
    built.close()


@pytest.fixture(scope="module")
def history():
    return build_history()


def _rows(report, key):
    return report.table(key).rows


def _check_disputes(rdeps, h, account=None):
    want = expected(h, MONTHS, account)
    got = reports.report(rdeps, "disputes", account="platform" if account == "" else account)
    assert got.since == "2025-07" and got.until == "2026-06" and got.zone == ZONE
    monthly = {r["month"]: r for r in _rows(got, "monthly")}
    assert list(monthly) == [label(m) for m in MONTHS]
    for m in MONTHS:
        for key in ("counted", "contested", "accepted", "unanswered", "won", "lost", "open",
                    "inquiries", "inquiries_closed", "inquiries_escalated", "inquiries_open",
                    "prevented"):
            assert monthly[label(m)][key] == want["monthly"][m][key], (m, key)
    money = {r["currency"]: r for r in _rows(got, "money")}
    assert set(money) == set(want["money"])
    for currency, figures in want["money"].items():
        for key in ("disputed", "won_back", "lost_amount", "fees", "fees_returned", "net"):
            assert money[currency][key] == figures[key], (currency, key)
    by_reason = {r["key"]: r for r in _rows(got, "by_reason")}
    for reason, figures in want["by_reason"].items():
        for key in ("counted", "won", "lost"):
            assert by_reason[reason][key] == figures[key], (reason, key)
    by_rule = {r["key"]: r for r in _rows(got, "by_rule")}
    assert set(by_rule) == set(want["by_rule"])
    for rule, figures in want["by_rule"].items():
        assert (by_rule[rule]["won"], by_rule[rule]["lost"]) == (figures["won"], figures["lost"])
    timing = _rows(got, "timing")[0]
    assert timing["submitted"] == want["timing"]["submitted"]
    assert timing["under_48h"] == want["timing"]["under_48h"]
    assert timing["median_hours"] == pytest.approx(want["timing"]["median_hours"])
    assert got.summary["win_rate"] == pytest.approx(want["win_rate"])
    return got


def _check_monitoring(rdeps, h, account=None):
    want = expected(h, MONTHS, account)
    got = reports.report(rdeps, "monitoring", account="platform" if account == "" else account)
    vamp = {r["month"]: r for r in _rows(got, "vamp")}
    ecm = {r["month"]: r for r in _rows(got, "ecm")}
    for m in MONTHS:
        v, e = vamp[label(m)], ecm[label(m)]
        assert (v["counted"], v["sales"], v["status"]) == (
            want["vamp"][m]["counted"], want["vamp"][m]["sales"], want["vamp"][m]["status"]), m
        assert v["ratio"] == pytest.approx(want["vamp"][m]["ratio"])
        assert (e["chargebacks"], e["sales_last_month"], e["status"]) == (
            want["ecm"][m]["chargebacks"], want["ecm"][m]["sales_last_month"],
            want["ecm"][m]["status"]), m
        assert e["ratio"] == pytest.approx(want["ecm"][m]["ratio"])
    return got


def _check_refunds(rdeps, h, account=None):
    want = expected(h, MONTHS, account)
    got = reports.report(rdeps, "refunds", account="platform" if account == "" else account)
    origin = {(r["origin"], r["currency"]): r for r in _rows(got, "by_origin")}
    assert set(origin) == set(want["refund_origin"])
    for key, figures in want["refund_origin"].items():
        assert (origin[key]["refunds"], origin[key]["amount"]) == (figures["refunds"],
                                                                   figures["amount"]), key
    monthly = {(r["month"], r["currency"]): r for r in _rows(got, "monthly")}
    for (m, currency), figures in want["refund_monthly"].items():
        row = monthly[(label(m), currency)]
        assert row["refunds"] == figures["refunds"]
        assert row["failed"] == figures.get("failed", 0)
        assert row["pending"] == figures.get("pending", 0)
        assert row["refunded"] == figures.get("refunded", 0)
        assert row["rate"] == pytest.approx(figures["rate"])
    efws = {r["month"]: r for r in _rows(got, "efws")}
    for m, figures in want["efws"].items():
        for key in ("efws", "refunded", "disputed", "avoided"):
            assert efws[label(m)][key] == figures[key], (m, key)
    return got


def test_the_seeded_history_has_what_the_reports_must_show(history):
    want = expected(history, MONTHS)
    assert want["vamp"][VAMP_MONTH]["status"] == "VAMP excessive"
    assert want["ecm"][ECM_MONTH]["status"] == "ECM"
    assert want["ecm"][HECM_MONTH]["status"] == "HECM"
    assert want["vamp"][NO_SALES]["status"] == "no sales history"
    assert want["vamp"][NO_SALES]["counted"] > 0
    assert any(o == "outside" for o, _ in want["refund_origin"])
    assert {"jpy", "kwd"} <= set(want["money"])


def test_reports_match_figures_computed_from_the_history(rdeps, history):
    store_history(rdeps, history)
    reports.catch_up(rdeps)
    disputes = _check_disputes(rdeps, history)
    assert {"jpy", "kwd"} <= {r["currency"] for r in disputes.table("money").rows}
    monitoring = _check_monitoring(rdeps, history)
    _check_refunds(rdeps, history)
    # where the mirror holds no sales the report says so instead of a ratio
    vamp = {r["month"]: r for r in _rows(monitoring, "vamp")}
    assert vamp[label(NO_SALES)]["ratio"] is None
    assert any(label(NO_SALES) in n and "no settled Visa sales" in n for n in monitoring.notices)
    # running the catch-up again changes nothing (the deltas are idempotent)
    reports.catch_up(rdeps)
    _check_monitoring(rdeps, history)
    _check_disputes(rdeps, history)


def test_each_connected_account_and_the_platform_alone(rdeps, history):
    store_history(rdeps, history)
    reports.catch_up(rdeps)
    _check_disputes(rdeps, history, CONNECTED)
    _check_monitoring(rdeps, history, CONNECTED)
    _check_refunds(rdeps, history, CONNECTED)
    _check_monitoring(rdeps, history, "")
    platform = reports.report(rdeps, "disputes", account="platform")
    assert platform.account == "platform"
    whole = reports.report(rdeps, "disputes")
    assert [r["key"] for r in _rows(whole, "by_account")] == ["platform", CONNECTED]
    # monitoring per account for the last month of the period: each is its own merchant
    per = {r["key"]: r for r in _rows(reports.report(rdeps, "monitoring"), "by_account")}
    for key, acct in (("platform", ""), (CONNECTED, CONNECTED)):
        want = expected(history, MONTHS, acct)
        assert per[key]["vamp_counted"] == want["vamp"][MONTHS[-1]]["counted"]
        assert per[key]["chargebacks"] == want["ecm"][MONTHS[-1]]["chargebacks"]
        assert per[key]["ecp_status"] == want["ecm"][MONTHS[-1]]["status"]


def _deliver(rdeps, events):
    now = rdeps.clock.now()
    with rdeps.store.write() as conn:
        inbox.insert_events(conn, [event_row(event_body(e), now, rdeps.event_listeners)
                                   for e in events])
    while process_batch(rdeps.store, rdeps.clock, listeners=rdeps.event_listeners).claimed:
        pass


def test_the_worker_keeps_the_reports_up_to_date_as_events_arrive(rdeps, history):
    h = copy.deepcopy(history)
    late = {i for i, d in h.disputes.items() if d["created"] > NOW - 20 * 86400}
    late_charges = {h.disputes[i]["charge"] for i in late}
    store_history(rdeps, h, skip=late)
    reports.catch_up(rdeps)
    # the late disputes arrive by webhook; one inquiry escalates, one chargeback is won, a charge
    # is refunded outside the desk, and a sale turns out to have failed
    events = [make_event("charge.dispute.created", h.disputes[i], account=h.account[i])
              for i in sorted(late)]
    inquiry = next(i for i in sorted(h.inquiries) if h.disputes[i]["status"] == "warning_needs_response"
                   and i not in late)
    escalated = copy.deepcopy(h.disputes[inquiry])
    escalated["status"] = "needs_response"
    escalated["payment_method_details"]["card"]["case_type"] = "chargeback"
    h.disputes[inquiry] = escalated
    events.append(make_event("charge.dispute.updated", escalated, created=NOW - 100,
                             account=h.account[inquiry]))
    opened = next(i for i, d in sorted(h.disputes.items())
                  if d["status"] == "under_review" and i not in late)
    won = copy.deepcopy(h.disputes[opened])
    won["status"] = "won"
    won["balance_transactions"] = won["balance_transactions"] + [{
        "id": "txn_back", "object": "balance_transaction", "amount": won["amount"],
        "currency": won["currency"], "fee": 0, "fee_details": [], "net": won["amount"]}]
    h.disputes[opened] = won
    events.append(make_event("charge.dispute.closed", won, created=NOW - 90,
                             account=h.account[opened]))
    sale = next(c for i, c in sorted(h.charges.items()) if c["status"] == "succeeded"
                and i not in late_charges and not c["disputed"]
                and c["payment_method_details"]["card"]["brand"] == "mastercard")
    failed = copy.deepcopy(sale)
    failed.update(status="failed", captured=False, amount_captured=0)
    h.charges[sale["id"]] = failed
    events.append(make_event("charge.updated", failed, created=NOW - 80,
                             account=h.account[sale["id"]]))
    outside = make_refund(id="re_outside_late", charge=sale["id"], amount=100, currency=sale["currency"],
                          created=NOW - 70)
    h.refunds[outside["id"]] = outside
    h.account[outside["id"]] = h.account[sale["id"]]
    events.append(make_event("refund.created", outside, account=h.account[sale["id"]]))
    h.inquiries.add(inquiry)
    _deliver(rdeps, events)
    _check_disputes(rdeps, h)
    _check_monitoring(rdeps, h)
    _check_refunds(rdeps, h)
    # the listener and a later catch-up agree
    with rdeps.store.read() as conn:
        before = conn.execute(sa.select(report_sales).order_by(*report_sales.primary_key)).all()
    reports.catch_up(rdeps)
    with rdeps.store.read() as conn:
        after = conn.execute(sa.select(report_sales).order_by(*report_sales.primary_key)).all()
    assert before == after
    _check_disputes(rdeps, h)


def test_closed_disputes_list_filters_and_carries_money(rdeps, history):
    store_history(rdeps, history)
    reports.catch_up(rdeps)
    found = reports.closed_disputes(rdeps, reports.ClosedFilter(limit=200))
    closed = [d for d in history.disputes.values()
              if d["status"] in ("won", "lost", "warning_closed", "prevented")]
    assert found["total"] == len(closed)
    won = reports.closed_disputes(rdeps, reports.ClosedFilter(outcome="won", network="visa"))
    assert won["total"] == sum(1 for d in closed if d["status"] == "won"
                               and d["payment_method_details"]["card"]["brand"] == "visa")
    assert all(r["outcome"] == "won" and r["network"] == "visa" for r in won["rows"])
    jpy = reports.closed_disputes(rdeps, reports.ClosedFilter(min_amount="1 JPY"))
    assert jpy["total"] == sum(1 for d in closed if d["currency"] == "jpy")
    one = closed[0]
    by_id = reports.closed_disputes(rdeps, reports.ClosedFilter(q=one["id"]))
    assert [r["dispute_id"] for r in by_id["rows"]] == [one["id"]]
    with pytest.raises(ValidationError, match="outcome"):
        reports.closed_disputes(rdeps, reports.ClosedFilter(outcome="maybe"))


def test_periods_and_accounts_are_checked_before_any_work(rdeps):
    with pytest.raises(ValidationError, match="not a month"):
        reports.report(rdeps, "disputes", since="last year")
    with pytest.raises(ValidationError, match="after until"):
        reports.report(rdeps, "disputes", since="2026-05", until="2026-01")
    with pytest.raises(ValidationError, match="at most"):
        reports.report(rdeps, "disputes", since="1990-01")
    with pytest.raises(ValidationError, match="not an account"):
        reports.report(rdeps, "refunds", account="bob; drop table")
    got = reports.report(rdeps, "monitoring", since="3mo")
    assert [r["month"] for r in got.table("vamp").rows] == ["2026-04", "2026-05", "2026-06"]


def test_changing_the_report_zone_rebuilds_the_months(rdeps, history, tmp_path):
    store_history(rdeps, history)
    reports.catch_up(rdeps)
    utc = build_deps(rdeps.settings.model_copy(update={"report_timezone": "UTC"}),
                     clock=rdeps.clock, gateway_factory=None, migrate=False)
    try:
        stale = reports.report(utc, "disputes")
        assert any("rebuilt" in n for n in stale.notices)
        reports.catch_up(utc)
        fresh = reports.report(utc, "disputes")
        assert fresh.zone == "UTC" and not fresh.notices
        # months now follow UTC: count chargebacks by UTC month directly
        import datetime as dt
        from collections import Counter

        by_utc = Counter(
            int(dt.datetime.fromtimestamp(d["created"], dt.timezone.utc).strftime("%Y%m"))
            for d in history.disputes.values()
            if not (d["status"].startswith("warning_") or d["status"] == "prevented"
                    or d["payment_method_details"]["card"]["case_type"] == "inquiry"))
        got = {r["month"]: r["counted"] for r in fresh.table("monthly").rows}
        assert got == {label(m): by_utc.get(m, 0) for m in MONTHS}
    finally:
        utc.close()
