"""``/api/v1/charges``: look before refunding (a charge with its refunds, disputes, early fraud
warnings and the amount left; search by e-mail, order id or last4)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from disputedesk.domain.permissions import Actor
from disputedesk.errors import DisputeDeskError
from disputedesk.services import refunds as svc
from disputedesk.web.auth import ERROR_RESPONSES, http_error, require

router = APIRouter(tags=["charges"], responses=ERROR_RESPONSES)
Reader = Annotated[Actor, Depends(require("refunds.read"))]


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DisputeDeskError as exc:
        raise http_error(exc) from None


@router.get("/charges/search")
def search(request: Request, actor: Reader, email: str | None = None,
           order_id: str | None = None, last4: str | None = None,
           limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
    """Charges in the desk's mirror matching every given criterion, newest first."""
    found = _call(svc.search_charges, request.app.state.deps, email=email, order_id=order_id,
                  last4=last4, limit=limit)
    return {"object": "list", "data": found}


@router.get("/charges/{charge_id}")
def show(request: Request, charge_id: str, actor: Reader,
         live: bool = Query(False, description="Fetch it fresh from Stripe.")) -> dict[str, Any]:
    """The charge (by charge, PaymentIntent or order id) and everything that decides a refund."""
    return _call(svc.show_charge, request.app.state.deps, charge_id, live=live)
