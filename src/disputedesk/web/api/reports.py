"""``/api/v1/reports``: the disputes, monitoring and refunds reports (JSON, or any one table as
CSV with ``format=csv&table=...``) and the closed disputes list. Thin over
``disputedesk.services.reports``; read-only, so a viewer may use them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from disputedesk.domain.permissions import Actor
from disputedesk.errors import DisputeDeskError
from disputedesk.services import reports as svc
from disputedesk.web.auth import ERROR_RESPONSES, http_error, require

router = APIRouter(tags=["reports"], responses=ERROR_RESPONSES)

DisputesReader = Annotated[Actor, Depends(require("disputes.read"))]
RefundsReader = Annotated[Actor, Depends(require("refunds.read"))]
Since = Annotated[str | None, Query(max_length=20, description="12mo, 2026-01 or 2026-01-15 "
                                    "(whole months in the merchant's zone; default 12mo).")]
Until = Annotated[str | None, Query(max_length=20, description="2026-06 or a date (default: "
                                    "this month).")]
Account = Annotated[str | None, Query(max_length=260, description="all (default), platform, or "
                                      "a connected account id acct_...")]
Format = Annotated[Literal["json", "csv"], Query(description="csv: one table, named by table.")]
TableKey = Annotated[str | None, Query(max_length=64, description="The table for format=csv "
                                       "(default: the report's first).")]


def _answer(request: Request, kind: str, since, until, account, format: str,
            table: str | None) -> Any:
    try:
        report = svc.report(request.app.state.deps, kind, since=since, until=until,
                            account=account)
        if format == "json":
            return report.to_dict()
        chosen = report.table(table) if table else report.tables[0]
    except DisputeDeskError as exc:
        raise http_error(exc) from None
    name = f"{kind}-{chosen.key}-{report.since}-{report.until}.csv"
    return Response(svc.to_csv(chosen), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/reports/disputes")
def disputes_report(request: Request, actor: DisputesReader, since: Since = None,
                    until: Until = None, account: Account = None, format: Format = "json",
                    table: TableKey = None) -> Any:
    """Disputes by month: counted, contested, outcomes, inquiries, win rate, money per
    currency, breakdowns by reason, network, product type, amount, currency, evidence
    completeness and rule, and the time to submission."""
    return _answer(request, "disputes", since, until, account, format, table)


@router.get("/reports/monitoring")
def monitoring_report(request: Request, actor: DisputesReader, since: Since = None,
                      until: Until = None, account: Account = None, format: Format = "json",
                      table: TableKey = None) -> Any:
    """Visa VAMP and Mastercard ECP ratios by month against their thresholds, with headroom
    and a projection of this month."""
    return _answer(request, "monitoring", since, until, account, format, table)


@router.get("/reports/refunds")
def refunds_report(request: Request, actor: RefundsReader, since: Since = None,
                   until: Until = None, account: Account = None, format: Format = "json",
                   table: TableKey = None) -> Any:
    """Refunds by month, reason and origin (people, rules, bulk files, outside the desk),
    refund rate against sales, failed and pending refunds, early fraud warnings refunded."""
    return _answer(request, "refunds", since, until, account, format, table)


@router.get("/reports/closed-disputes")
def closed_disputes(request: Request, actor: DisputesReader, since: Since = None,
                    until: Until = None, account: Account = None,
                    q: Annotated[str | None, Query(max_length=255,
                                                   description="A dispute or charge id.")] = None,
                    outcome: Literal["won", "lost", "accepted", "unanswered", "warning_closed",
                                     "prevented"] | None = None,
                    reason: Annotated[str | None, Query(max_length=64)] = None,
                    network: Annotated[str | None, Query(max_length=32)] = None,
                    min_amount: Annotated[str | None, Query(max_length=40,
                                                            description='e.g. "10 USD"')] = None,
                    max_amount: Annotated[str | None, Query(max_length=40)] = None,
                    limit: int = Query(50, ge=1, le=200),
                    offset: int = Query(0, ge=0, le=100_000)) -> dict[str, Any]:
    """Closed disputes, newest first, with outcome and money; ``total`` counts every match."""
    flt = svc.ClosedFilter(q=q, outcome=outcome, reason=reason, network=network,
                           min_amount=min_amount, max_amount=max_amount, limit=limit,
                           offset=offset)
    try:
        return svc.closed_disputes(request.app.state.deps, flt, since=since, until=until,
                                   account=account)
    except DisputeDeskError as exc:
        raise http_error(exc) from None
