"""The merchant's orders in the desk: import from CSV/JSON into the ``orders`` table, and finding
the order of a disputed charge (imported orders first, then the configured SQL/HTTP sources).

A charge is matched to an order by ``metadata[<order_metadata_key>]`` (the order id), then its
payment intent, its own id, then the customer's email; among several candidates the one with the
same amount, nearest in time, wins (``evidence.orders.model.closest``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.evidence.orders.errors import OrderSourceError
from disputedesk.evidence.orders.file_import import parse_orders_file
from disputedesk.evidence.orders.model import Order, OrderKeys, closest
from disputedesk.services.disputes.common import charge_id_of, upsert
from disputedesk.store import audit
from disputedesk.store.disputes_tables import orders as orders_table
from disputedesk.store.tables import charges as mirror_charges
from disputedesk.store.tables import disputes as mirror_disputes

log = logging.getLogger("disputedesk.disputes.orders")


@dataclass
class ImportReport:
    rows: int
    imported: int
    created: int
    updated: int
    problems: list[dict[str, Any]] = field(default_factory=list)
    disputes_matched: list[tuple[str, str]] = field(default_factory=list)   # (dispute, order)
    disputes_unmatched: list[str] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "imported": self.imported, "created": self.created,
                "updated": self.updated, "problems": self.problems,
                "disputes_matched": [{"dispute": d, "order": o} for d, o in self.disputes_matched],
                "disputes_unmatched": self.disputes_unmatched}


def _row(order: Order, *, source: str, actor: str, now: float) -> dict[str, Any]:
    return {"id": order.id, "charge": order.charge, "payment_intent": order.payment_intent,
            "customer_email": order.customer_email, "amount": order.amount,
            "currency": order.currency, "created": order.created, "data": order.to_dict(),
            "source": source, "imported_by": actor, "imported_at": now}


def import_orders(deps, path_or_bytes: str | Path | bytes, *, actor: str,
                  format: str | None = None, mapping: Mapping[str, str] | None = None,
                  default_currency: str | None = None, partial: bool = False,
                  filename: str | None = None) -> ImportReport:
    """Read a CSV/JSON/JSON-lines file and store its orders (all or nothing unless ``partial``).

    Orders with an id already stored are replaced (a re-export of the same orders updates them).
    """
    result = parse_orders_file(path_or_bytes, format, mapping=mapping,  # type: ignore[arg-type]
                               default_currency=default_currency)
    if not partial:
        result.raise_for_problems()
    now = deps.clock.now()
    source = f"import:{result.format}"
    created = updated = 0
    with deps.store.write() as conn:
        ids = [o.id for o in result.orders]
        existing: set[str] = set()
        for start in range(0, len(ids), 500):
            existing |= set(conn.execute(sa.select(orders_table.c.id).where(
                orders_table.c.id.in_(ids[start:start + 500]))).scalars())
        for order in result.orders:
            upsert(conn, orders_table, ["id"], _row(order, source=source, actor=actor, now=now))
            if order.id in existing:
                updated += 1
            else:
                created += 1
        audit.append(conn, at=now, actor=actor, action="orders.import", object_type="orders",
                     object_id=None, note=f"imported {len(result.orders)} orders"
                     + (f" from {filename}" if filename else ""),
                     details={"rows": result.rows, "created": created, "updated": updated,
                              "problems": len(result.problems), "format": result.format})
    report = ImportReport(rows=result.rows, imported=len(result.orders), created=created,
                          updated=updated, problems=[p.to_dict() for p in result.problems],
                          summary=result.summary(limit=20))
    matched, unmatched = match_open_disputes(deps)
    report.disputes_matched, report.disputes_unmatched = matched, unmatched
    return report


def keys_for(charge: Mapping[str, Any], metadata_key: str) -> OrderKeys:
    return OrderKeys.from_charge(charge, metadata_key)


def stored_candidates(conn: Connection, keys: OrderKeys) -> list[Order]:
    t = orders_table.c
    clauses = []
    if keys.order_id:
        clauses.append(t.id == keys.order_id)
    if keys.payment_intent:
        clauses.append(t.payment_intent == keys.payment_intent)
    if keys.charge_id:
        clauses.append(t.charge == keys.charge_id)
    if keys.email:
        clauses.append(t.customer_email == keys.email)
    if not clauses:
        return []
    rows = conn.execute(sa.select(t.id, t.data).where(sa.or_(*clauses)).order_by(t.id).limit(200))
    found = [(r.id, Order._from_normalized(dict(r.data))) for r in rows]
    # An exact key beats an email match: order id, payment intent, charge id first.
    exact = [o for i, o in found if i == keys.order_id or (keys.payment_intent and o.payment_intent
             == keys.payment_intent) or (keys.charge_id and o.charge == keys.charge_id)]
    return exact or [o for _i, o in found]


def configured_sources(deps) -> list[Any]:
    """The order source ``settings.order_source_file`` describes (SQL, HTTP or a file), if any.

    Built once per ``deps`` (a SQL source keeps its engine); see docs/order-sources.md."""
    cached = getattr(deps, "_dispute_order_sources", None)
    if cached is not None:
        return cached
    sources: list[Any] = []
    path = getattr(deps.settings, "order_source_file", None)
    if path:
        from disputedesk.evidence.orders import (
            build_order_source,
            load_order_source_config,
        )

        sources.append(build_order_source(load_order_source_config(path)))
    try:
        deps._dispute_order_sources = sources
    except AttributeError:
        pass
    return sources


def find_order(deps, conn: Connection, charge: Mapping[str, Any] | None
               ) -> tuple[Order | None, str | None]:
    """The merchant's order for ``charge`` and where it came from (``None`` when no order)."""
    if not charge:
        return None, None
    keys = keys_for(charge, deps.settings.order_metadata_key)
    order = closest(stored_candidates(conn, keys), keys)
    if order is not None:
        return order, "imported"
    for source in configured_sources(deps):
        try:
            order = source.lookup(keys)
        except OrderSourceError as exc:  # the merchant's system is down: compose without it
            log.warning("order source failed for %s: %s", charge.get("id"), exc)
            continue
        if order is not None:
            describe = getattr(source, "describe", None)
            return order, describe() if callable(describe) else type(source).__name__
    return None, None


def match_open_disputes(deps, limit: int = 10_000) -> tuple[list[tuple[str, str]], list[str]]:
    """Which open disputes have an order in the desk and which do not."""
    from disputedesk.services.disputes.common import OPEN_STATUSES

    matched: list[tuple[str, str]] = []
    unmatched: list[str] = []
    with deps.store.read() as conn:
        rows = conn.execute(
            sa.select(mirror_disputes.c.id, mirror_charges.c.data)
            .select_from(mirror_disputes.outerjoin(
                mirror_charges, mirror_charges.c.id == mirror_disputes.c.charge))
            .where(mirror_disputes.c.status.in_(OPEN_STATUSES))
            .order_by(mirror_disputes.c.due_by).limit(limit)).all()
        for dispute_id, charge in rows:
            keys = keys_for(charge or {"id": None}, deps.settings.order_metadata_key)
            order = closest(stored_candidates(conn, keys), keys) if charge else None
            if order is not None:
                matched.append((dispute_id, order.id))
            else:
                unmatched.append(dispute_id)
    return matched, unmatched


def get_order(deps, order_id: str) -> dict | None:
    with deps.store.read() as conn:
        row = conn.execute(sa.select(orders_table).where(orders_table.c.id == order_id)
                           ).mappings().first()
    return dict(row) if row else None


__all__ = [
    "ImportReport",
    "charge_id_of",
    "find_order",
    "get_order",
    "import_orders",
    "match_open_disputes",
]
