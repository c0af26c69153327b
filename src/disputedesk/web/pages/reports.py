"""Report pages: the reports (charts drawn on the server, every figure in a table beneath,
CSV links to the API) and the closed disputes list. Read-only, over
``disputedesk.services.reports``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from disputedesk.domain.money import format_money
from disputedesk.errors import DisputeDeskError
from disputedesk.services import reports as svc
from disputedesk.services.reports.closed import OUTCOMES
from disputedesk.services.reports.monitoring import ECM, VAMP_EXCESSIVE
from disputedesk.services.reports.model import cell_text
from disputedesk.web.pages import charts
from disputedesk.web.pages.common import PageContext, PageError, error_text, page, render

router = APIRouter(include_in_schema=False)
NETWORKS = ("visa", "mastercard", "amex", "discover", "jcb", "unionpay", "diners",
            "cartes_bancaires", "unknown")


def _report(ctx: PageContext, kind: str, since, until, account):
    try:
        return svc.report(ctx.deps, kind, since=since, until=until, account=account)
    except DisputeDeskError as exc:
        raise PageError(400, error_text(exc)) from None


def _chart(draw, title: str, *args) -> tuple[str, object]:
    """(caption, svg): the chart's title shown above it as well as inside it."""
    return title, draw(title, *args)


def _dispute_charts(report) -> list:
    monthly = report.table("monthly").rows
    labels = [r["month"] for r in monthly]
    out = [_chart(charts.stacked_bars, "Disputes by month and outcome", labels, [
        ("won", "won", [r["won"] for r in monthly]),
        ("lost", "lost", [r["lost"] for r in monthly]),
        ("accepted or unanswered", "accepted", [r["accepted"] + r["unanswered"] for r in monthly]),
        ("open", "open", [r["open"] for r in monthly])])]
    reasons = report.table("by_reason").rows
    out.append(_chart(charts.hbars, "Win rate by reason", [
        (r["key"], r["win_rate"], "no decided disputes" if r["win_rate"] is None
         else f"{r['win_rate'] * 100:.0f}% of {r['won'] + r['lost']} decided") for r in reasons]))
    out.append(_chart(charts.money_pairs, "Money won back and lost, per currency", [
        (r["currency"], r["won_back"], format_money(r["won_back"], r["currency"]),
         r["lost_amount"], format_money(r["lost_amount"], r["currency"]))
        for r in report.table("money").rows]))
    return out


def _monitoring_charts(report) -> list:
    vamp, ecm = report.table("vamp").rows, report.table("ecm").rows
    return [
        _chart(charts.ratio_lines, "Visa VAMP ratio by month", [r["month"] for r in vamp],
                           [r["ratio"] for r in vamp], float(VAMP_EXCESSIVE.ratio),
                           "excessive"),
        _chart(charts.ratio_lines, "Mastercard ECP ratio by month", [r["month"] for r in ecm],
                           [r["ratio"] for r in ecm], float(ECM.ratio), "ECM"),
    ]


@router.get("/reports", response_class=HTMLResponse)
def reports_page(ctx: PageContext = Depends(page("disputes.read")), since: str | None = None,
                 until: str | None = None, account: str | None = None) -> Response:
    since, until, account = (v[:260] if v else None for v in (since, until, account))
    sections = []
    disputes = _report(ctx, "disputes", since, until, account)
    sections.append(("disputes", disputes, _dispute_charts(disputes)))
    monitoring = _report(ctx, "monitoring", since, until, account)
    sections.append(("monitoring", monitoring, _monitoring_charts(monitoring)))
    if ctx.can("refunds.read"):
        sections.append(("refunds", _report(ctx, "refunds", since, until, account), []))
    query = "&".join(f"{k}={v}" for k, v in (("since", since), ("until", until),
                                             ("account", account)) if v)
    return render(ctx, "reports.html", "reports", sections=sections, cell=cell_text,
                  filters={"since": since or "", "until": until or "", "account": account or ""},
                  query=query)


@router.get("/closed-disputes", response_class=HTMLResponse)
def closed_page(ctx: PageContext = Depends(page("disputes.read")), q: str | None = None,
                outcome: str | None = None, reason: str | None = None,
                network: str | None = None, since: str | None = None, until: str | None = None,
                min_amount: str | None = None, max_amount: str | None = None,
                account: str | None = None, page_no: int = 1) -> Response:
    page_no = min(max(page_no, 1), 2000)
    flt = svc.ClosedFilter(q=(q or "").strip()[:255] or None,
                           outcome=outcome if outcome in OUTCOMES else None,
                           reason=(reason or "").strip()[:64] or None,
                           network=network if network in NETWORKS else None,
                           min_amount=(min_amount or "")[:40] or None,
                           max_amount=(max_amount or "")[:40] or None,
                           limit=50, offset=(page_no - 1) * 50)
    error = None
    found = {"total": 0, "rows": [], "zone": ""}
    try:
        found = svc.closed_disputes(ctx.deps, flt, since=(since or "")[:20] or "12mo",
                                    until=(until or "")[:20] or None,
                                    account=(account or "")[:260] or None)
    except DisputeDeskError as exc:
        error = error_text(exc)
    filters = {"q": q or "", "outcome": flt.outcome or "", "reason": flt.reason or "",
               "network": flt.network or "", "since": since or "", "until": until or "",
               "min_amount": min_amount or "", "max_amount": max_amount or "",
               "account": account or ""}
    keep = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(ctx, "closed_disputes.html", "closed", found=found, filters=filters,
                  outcomes=OUTCOMES, networks=NETWORKS, error=error, page_no=page_no,
                  keep=keep, pages=(found["total"] + 49) // 50)
