"""Radar early fraud warnings: opened by Stripe's EFW test card, read-only over the API.

``actionable`` is true until the charge is disputed or fully refunded (Stripe's definition);
the flip emits ``radar.early_fraud_warning.updated``.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import params
from ..routing import Route
from ..state import Obj

FRAUD_TYPES = ("card_never_received", "fraudulent_card_application", "made_with_counterfeit_card",
               "made_with_lost_card", "made_with_stolen_card", "misc", "unauthorized_use_of_card")
TEST_CARD_FRAUD_TYPE = "made_with_stolen_card"


def new_warning(ctx: Any, charge: Obj, *, fraud_type: str = TEST_CARD_FRAUD_TYPE,
                created: int | None = None, actionable: bool = True) -> Obj:
    """An EFW object for ``charge`` (not stored, no events); used by the hook and seeding."""
    return {
        "id": ctx.new_id("radar.early_fraud_warning"),
        "object": "radar.early_fraud_warning",
        "actionable": actionable,
        "charge": charge["id"],
        "created": ctx.now() if created is None else created,
        "fraud_type": fraud_type,
        "livemode": False,
        "payment_intent": charge.get("payment_intent"),
    }


def is_actionable(ctx: Any, charge: Obj) -> bool:
    if charge.get("refunded") or charge.get("disputed"):
        return False
    return not ctx.coll("dispute").by("charge", charge["id"])


def refresh_for_charge(ctx: Any, charge: Obj) -> None:
    """Re-derive ``actionable`` of the charge's warnings; emit ``.updated`` for each flip."""
    coll = ctx.coll("radar.early_fraud_warning")
    ids = coll.by("charge", charge["id"])
    if not ids:
        return
    actionable = is_actionable(ctx, charge)
    for efw_id in ids:
        efw = coll.get(efw_id)
        if efw is not None and efw["actionable"] != actionable:
            before = copy.deepcopy(efw)
            efw["actionable"] = actionable
            ctx.emit("radar.early_fraud_warning.updated", efw,
                     {"actionable": before["actionable"]})


def open_warning(ctx: Any, charge_id: str) -> Obj | None:
    charge = ctx.coll("charge").get(charge_id)
    if charge is None:
        return None
    efw = new_warning(ctx, charge, actionable=is_actionable(ctx, charge))
    ctx.coll("radar.early_fraud_warning").add(efw)
    ctx.emit("radar.early_fraud_warning.created", efw)
    return efw


# ----------------------------------------------------------------------------- hooks

def on_charge_succeeded(ctx: Any, charge: Obj, card: Any) -> None:
    behaviour = str(getattr(card, "behaviour", card))
    if behaviour in ("efw", "early_fraud_warning"):
        ctx.schedule(float(ctx.emulator.settings.get("efw_open_seconds", 0.5)), _open_timer,
                     charge["id"])


def _open_timer(ctx: Any, charge_id: str) -> None:
    open_warning(ctx, charge_id)


def on_refund(ctx: Any, refund: Obj, charge: Obj, *_: Any) -> None:
    refresh_for_charge(ctx, charge)


def install(emulator: Any) -> None:
    emulator.hooks.on("charge_succeeded", on_charge_succeeded)
    emulator.hooks.on("refund_created", on_refund)
    emulator.hooks.on("refund_status_changed", on_refund)
    emulator.settings.setdefault("efw_open_seconds", 0.5)


# ----------------------------------------------------------------------------- handlers

def retrieve(ctx: Any) -> Obj:
    return ctx.render(ctx.get("radar.early_fraud_warning", ctx.path["early_fraud_warning"],
                              param="early_fraud_warning", kind="early fraud warning"))


def list_(ctx: Any) -> Obj:
    p = ctx.params
    coll = ctx.coll("radar.early_fraud_warning")
    charge = params.string(p, "charge", nullable=True)
    pi = params.string(p, "payment_intent", nullable=True)
    if charge:
        ids = coll.by("charge", charge)
        predicate = (lambda e: e.get("payment_intent") == pi) if pi else None
    elif pi:
        ids, predicate = coll.by("payment_intent", pi), None
    else:
        ids, predicate = coll.ids(), None
    url = "/v1/radar/early_fraud_warnings"
    objects, has_more = params.page(coll, ids, p, url, predicate)
    return ctx.list_response(objects, has_more, url)


INDEXES = {"radar.early_fraud_warning": ("charge", "payment_intent")}
ROUTES = [
    Route("GET", "/v1/radar/early_fraud_warnings", list_,
          params.LIST_PARAMS + ("charge", "payment_intent")),
    Route("GET", "/v1/radar/early_fraud_warnings/{early_fraud_warning}", retrieve),
]
