"""Looking before refunding: a charge with its refunds, disputes and early fraud warnings,
from the mirror or fresh from Stripe, and finding charges by e-mail, order id or last4."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.domain.money import format_money
from disputedesk.domain.refunds import RefundBalance, refund_balance
from disputedesk.errors import NotFound, ValidationError
from disputedesk.services import mirror as mirror_rules
from disputedesk.services.refunds import records
from disputedesk.store import mirror as mirror_repo
from disputedesk.store import tables

TARGET_TYPES = ("charge", "payment_intent", "order_id")


@dataclass
class ChargeBundle:
    """A charge and the objects that decide whether it can be refunded."""

    charge: dict
    refunds: list[dict] = field(default_factory=list)
    disputes: list[dict] = field(default_factory=list)
    early_fraud_warnings: list[dict] = field(default_factory=list)
    source: str = "mirror"  # mirror | stripe

    @property
    def id(self) -> str:
        return self.charge["id"]


def detect_target_type(target: str) -> str:
    """``ch_``/``py_`` are charges, ``pi_`` PaymentIntents, anything else an order id."""
    if target.startswith(("ch_", "py_")):
        return "charge"
    if target.startswith("pi_"):
        return "payment_intent"
    return "order_id"


def _by_charge(conn: Connection, table: sa.Table, charge_id: str) -> list[dict]:
    rows = conn.execute(sa.select(table.c.data).where(table.c.charge == charge_id)
                        .order_by(table.c.created)).scalars()
    return [dict(r) for r in rows]


def bundle_from_mirror(conn: Connection, charge_id: str) -> ChargeBundle | None:
    charge = mirror_repo.get_object(conn, "charge", charge_id)
    if charge is None:
        return None
    return ChargeBundle(
        charge=dict(charge),
        refunds=_by_charge(conn, tables.refunds, charge_id),
        disputes=_by_charge(conn, tables.disputes, charge_id),
        early_fraud_warnings=_by_charge(conn, tables.early_fraud_warnings, charge_id),
        source="mirror")


def _store(deps, objects: list[dict], account: str | None) -> None:
    """Keep what Stripe just said in the mirror. Stored one second before now, so any event of
    this second or later still replaces it (services/mirror.py ordering rule)."""
    now = deps.clock.now()
    with deps.store.write() as conn:
        for obj in objects:
            mirror_rules.apply_fetched(conn, obj["object"], obj, account=account,
                                       trigger_updated=int(now) - 1, now=now)


def fetch_bundle(deps, charge_id: str, *, account: str | None = None,
                 with_fraud_warnings: bool = True) -> ChargeBundle:
    """The charge fresh from Stripe (and into the mirror): refunds, disputes if it is disputed,
    and early fraud warnings."""
    gateway = deps.gateway()
    charge = gateway.fetch_object("charge", charge_id, account=account)
    refunds = list(gateway.list_objects("refund", {"charge": charge_id}, account))
    disputes = (list(gateway.list_objects("dispute", {"charge": charge_id}, account))
                if charge.get("disputed") else [])
    warnings = (list(gateway.list_objects("radar.early_fraud_warning", {"charge": charge_id},
                                          account)) if with_fraud_warnings else [])
    _store(deps, [charge, *refunds, *disputes, *warnings], account)
    return ChargeBundle(charge, refunds, disputes, warnings, source="stripe")


def load_bundle(deps, charge_id: str, *, live: bool | None = None,
                account: str | None = None) -> ChargeBundle:
    """``live=True``: from Stripe; ``False``: the mirror only; ``None``: mirror, else Stripe."""
    if live is not True:
        with deps.store.read() as conn:
            bundle = bundle_from_mirror(conn, charge_id)
        if bundle is not None:
            return bundle
        if live is False:
            raise NotFound(f"the desk holds no charge '{charge_id}'", object_id=charge_id,
                           hint="look it up in Stripe with --live")
    return fetch_bundle(deps, charge_id, account=account)


def _order_key(deps) -> str:
    return deps.settings.order_metadata_key


def _charges_for_order(conn: Connection, key: str, order_id: str) -> list[dict]:
    charges = tables.charges
    rows = list(conn.execute(sa.select(charges.c.data).where(
        charges.c.data[("metadata", key)].as_string() == order_id)).scalars())
    if rows:
        return [dict(r) for r in rows]
    intents = tables.payment_intents
    latest = list(conn.execute(sa.select(intents.c.latest_charge).where(
        intents.c.data[("metadata", key)].as_string() == order_id,
        intents.c.latest_charge.is_not(None))).scalars())
    if not latest:
        return []
    return [dict(r) for r in conn.execute(sa.select(charges.c.data).where(
        charges.c.id.in_(latest))).scalars()]


def resolve_charge_id(deps, target: str, target_type: str | None = None, *,
                      live: bool | None = None, account: str | None = None) -> tuple[str, str]:
    """(charge id, target type) for a charge id, a PaymentIntent id or the merchant's order id.

    Order ids are looked up in the mirror's charge (then PaymentIntent) metadata under
    ``settings.order_metadata_key``; Stripe has no exact lookup by metadata outside its
    eventually consistent Search API, so the mirror is the source here.
    """
    target = (target or "").strip()
    if not target:
        raise ValidationError("say which payment to refund", param="target",
                              hint="give a charge id (ch_...), a PaymentIntent id (pi_...) or "
                                   "an order id")
    kind = target_type or detect_target_type(target)
    if kind not in TARGET_TYPES:
        raise ValidationError(f"'{kind}' is not a kind of refund target", param="target_type",
                              hint="one of " + ", ".join(TARGET_TYPES))
    if kind == "charge":
        return target, kind
    if kind == "payment_intent":
        if live is not True:
            with deps.store.read() as conn:
                row = mirror_repo.get_row(conn, "payment_intent", target)
            if row is not None and row.get("latest_charge"):
                return row["latest_charge"], kind
        intent = deps.gateway().fetch_object("payment_intent", target, account=account)
        latest = intent.get("latest_charge")
        latest = latest.get("id") if isinstance(latest, dict) else latest
        if not latest:
            raise NotFound(f"PaymentIntent {target} has no charge to refund",
                           object_id=target, hint="only a PaymentIntent that was paid can be "
                                                  "refunded")
        return latest, kind
    key = _order_key(deps)
    with deps.store.read() as conn:
        found = _charges_for_order(conn, key, target)
    if not found:
        raise NotFound(
            f"no charge has order id '{target}' (charge metadata '{key}')", object_id=target,
            param="order_id", hint="use the charge or PaymentIntent id, or check the setting "
                                   "order_metadata_key; the desk looks order ids up in its mirror")
    paid = [c for c in found if c.get("status") == "succeeded"] or found
    if len({c["id"] for c in paid}) > 1:
        ids = ", ".join(sorted(c["id"] for c in paid))
        raise ValidationError(f"order id '{target}' matches several paid charges: {ids}",
                              param="order_id", code="ambiguous_order_id",
                              hint="refund by charge id instead")
    return paid[0]["id"], kind


# --- show and search -------------------------------------------------------------------------

def show_charge(deps, target: str, *, live: bool = False) -> dict[str, Any]:
    """Everything to look at before refunding: the charge, its refunds, disputes, early fraud
    warnings, what is left to refund and the desk's own requests on it."""
    charge_id, _ = resolve_charge_id(deps, target, live=live or None)
    bundle = load_bundle(deps, charge_id, live=True if live else None)
    with deps.store.read() as conn:
        requests = records.all_on_charge(conn, charge_id)
        in_flight = records.open_on_charge(conn, charge_id)
    balance = refund_balance(bundle.charge, bundle.refunds, in_flight)
    return {"charge": bundle.charge, "refunds": bundle.refunds, "disputes": bundle.disputes,
            "early_fraud_warnings": bundle.early_fraud_warnings, "source": bundle.source,
            "balance": balance_dict(balance), "requests": requests}


def balance_dict(balance: RefundBalance) -> dict[str, Any]:
    return {"currency": balance.currency, "captured": balance.captured,
            "refunded": balance.refunded, "reserved": balance.reserved, "left": balance.left,
            "left_display": format_money(balance.left, balance.currency),
            "summary": balance.describe()}


def summarize_charge(charge: dict) -> dict[str, Any]:
    card = ((charge.get("payment_method_details") or {}).get("card") or {})
    billing = charge.get("billing_details") or {}
    return {
        "id": charge["id"], "created": charge.get("created"), "status": charge.get("status"),
        "amount": charge.get("amount"), "currency": charge.get("currency"),
        "amount_display": format_money(int(charge.get("amount") or 0), charge.get("currency")
                                       or "usd"),
        "amount_refunded": charge.get("amount_refunded"), "refunded": charge.get("refunded"),
        "disputed": charge.get("disputed"), "payment_intent": charge.get("payment_intent"),
        "email": billing.get("email") or charge.get("receipt_email"),
        "last4": card.get("last4"),
        "order_id": (charge.get("metadata") or {}).get("order_id"),
    }


def search_charges(deps, *, email: str | None = None, order_id: str | None = None,
                   last4: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Charges in the mirror matching every given criterion, newest first."""
    if not (email or order_id or last4):
        raise ValidationError("say what to search for: an e-mail, an order id or last4",
                              hint="e.g. disputedesk charges search --email jenny@example.com")
    if last4 is not None and not (len(last4) == 4 and last4.isdigit()):
        raise ValidationError(f"'{last4}' is not the last four digits of a card", param="last4",
                              hint="give exactly four digits")
    charges = tables.charges
    stmt = sa.select(charges.c.data)
    if email:
        wanted = email.strip().lower()
        stmt = stmt.where(sa.or_(
            sa.func.lower(charges.c.data[("billing_details", "email")].as_string()) == wanted,
            sa.func.lower(charges.c.data["receipt_email"].as_string()) == wanted))
    if order_id:
        stmt = stmt.where(
            charges.c.data[("metadata", _order_key(deps))].as_string() == order_id.strip())
    if last4:
        stmt = stmt.where(
            charges.c.data[("payment_method_details", "card", "last4")].as_string() == last4)
    stmt = stmt.order_by(charges.c.created.desc()).limit(limit)
    with deps.store.read() as conn:
        found = [dict(r) for r in conn.execute(stmt).scalars()]
    key = _order_key(deps)
    out = []
    for charge in found:
        summary = summarize_charge(charge)
        summary["order_id"] = (charge.get("metadata") or {}).get(key)
        out.append(summary)
    return out
