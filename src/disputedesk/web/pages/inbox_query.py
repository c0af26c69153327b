"""The inbox page's query: open disputes by deadline, keyset-paginated, never touching charges.

One page is ``WHERE <open statuses> [AND filters] AND (due_by, id) > cursor ORDER BY due_by, id
LIMIT n`` on the mirror's ``disputes``, answered by the partial index ``ix_disputes_open_due_by``
(see store/disputes_tables.py): an index range scan that stops after n rows however many disputes
there are, and however deep the page (no OFFSET). The documents of those n rows and their
``dispute_work`` rows are read after. Disputes without a deadline come after the dated ones.

Totals (count and amount at risk per currency) come from ``ix_disputes_open_currency_amount``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from disputedesk.domain import disputes as d
from disputedesk.store.disputes_tables import OPEN_STATUS_LIST, OPEN_STATUS_SQL, dispute_work
from disputedesk.store.tables import disputes as mirror

PAGE_SIZES = (25, 50, 100, 200)
KINDS = ("inquiry", "chargeback")


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    reason: str | None = None
    kind: str | None = None
    brand: str | None = None
    currency: str | None = None

    def clean(self) -> Filters:
        return Filters(
            status=self.status if self.status in OPEN_STATUS_LIST else None,
            reason=self.reason if self.reason in d.REASONS else None,
            kind=self.kind if self.kind in KINDS else None,
            brand=(self.brand or "").strip().lower()[:32] or None,
            currency=(self.currency or "").strip().lower()[:3] or None,
        )

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class Row:
    id: str
    kind: str
    status: str
    reason: str | None
    network_reason_code: str | None
    card_brand: str | None
    amount: int
    currency: str
    due_by: int | None
    time_left: int | None
    charge: str | None
    work_state: str | None
    score: int | None
    hand_edited: bool


@dataclass
class Page:
    rows: list[Row]
    total: int
    at_risk: dict[str, int] = field(default_factory=dict)
    next_cursor: str | None = None


def encode_cursor(phase: int, due: int | None, dispute_id: str) -> str:
    raw = json.dumps([phase, due, dispute_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[int, int | None, str] | None:
    if not text or len(text) > 600:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        phase, due, dispute_id = json.loads(raw)
        if phase not in (0, 1) or not isinstance(dispute_id, str):
            return None
        if phase == 0 and not (isinstance(due, int) and abs(due) < 2**63):
            return None  # a cursor is the desk's own text: anything else is not one
        return phase, due, dispute_id
    except (ValueError, TypeError):
        return None


def _filters(f: Filters, *, join: bool) -> list[Any]:
    m, w = mirror.c, dispute_work.c
    # Verbatim, as the partial indexes' predicate, so the planners use them.
    clauses: list[Any] = [sa.text(f"disputes.{OPEN_STATUS_SQL}")]
    if f.status:
        clauses.append(m.status == f.status)
    if f.kind == "inquiry":
        clauses.append(m.status.like("warning\\_%", escape="\\"))
    elif f.kind == "chargeback":
        clauses.append(sa.not_(m.status.like("warning\\_%", escape="\\")))
    if f.reason:
        clauses.append(m.reason == f.reason)
    if f.currency:
        clauses.append(m.currency == f.currency)
    if join and f.brand:
        clauses.append(sa.func.lower(w.card_brand) == f.brand)
    return clauses


def _run(conn, stmt, index: str):
    """On SQLite, name the partial index (without ANALYZE statistics its planner would rather
    use (status, due_by) and sort every open dispute); PostgreSQL chooses it by itself."""
    if conn.dialect.name != "sqlite":
        return conn.execute(stmt)
    compiled = stmt.compile(conn, compile_kwargs={"render_postcompile": True})
    sql = str(compiled).replace("FROM disputes", f"FROM disputes INDEXED BY {index}", 1)
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    return conn.exec_driver_sql(sql, params)


def _ids(conn, f: Filters, *, descending: bool, limit: int,
         cursor: tuple[int, int | None, str] | None) -> list[tuple[int, int | None, str]]:
    m, w = mirror.c, dispute_work.c
    source = mirror.outerjoin(dispute_work, w.dispute_id == m.id) if f.brand else mirror
    out: list[tuple[int, int | None, str]] = []
    phase = cursor[0] if cursor else 0
    if phase == 0:
        where = _filters(f, join=True) + [m.due_by.is_not(None)]
        if cursor:
            _p, due, last = cursor
            if descending:
                where.append(sa.or_(m.due_by < due, sa.and_(m.due_by == due, m.id < last)))
            else:
                where.append(sa.or_(m.due_by > due, sa.and_(m.due_by == due, m.id > last)))
        order = (m.due_by.desc(), m.id.desc()) if descending else (m.due_by, m.id)
        stmt = sa.select(m.id, m.due_by).select_from(source).where(*where).order_by(*order) \
            .limit(limit)
        out = [(0, r.due_by, r.id) for r in _run(conn, stmt, "ix_disputes_open_due_by")]
        if len(out) == limit:
            return out
        cursor = None
    where = _filters(f, join=True) + [m.due_by.is_(None)]
    if cursor and cursor[0] == 1:
        where.append(m.id > cursor[2])
    stmt = sa.select(m.id).select_from(source).where(*where).order_by(m.id).limit(limit - len(out))
    out += [(1, None, r.id) for r in conn.execute(stmt)]
    return out


def inbox_page(store, now: float, f: Filters, *, descending: bool = False, limit: int = 50,
               cursor: str | None = None) -> Page:
    f = f.clean()
    limit = limit if limit in PAGE_SIZES else 50
    m, w = mirror.c, dispute_work.c
    position = decode_cursor(cursor)
    with store.read() as conn:
        keys = _ids(conn, f, descending=descending, limit=limit + 1, cursor=position)
        more = len(keys) > limit
        keys = keys[:limit]
        ids = [k[2] for k in keys]
        found = {r.id: r for r in conn.execute(
            sa.select(m.id, m.data, w.state, w.hand_edited, w.score, w.card_brand,
                      w.network_reason_code)
            .select_from(mirror.outerjoin(dispute_work, w.dispute_id == m.id))
            .where(m.id.in_(ids)))} if ids else {}
        source = mirror.outerjoin(dispute_work, w.dispute_id == m.id) if f.brand else mirror
        totals = (sa.select(m.currency, sa.func.count(), sa.func.coalesce(sa.func.sum(m.amount), 0))
                  .select_from(source).where(*_filters(f, join=True)).group_by(m.currency))
        sums = (_run(conn, totals, "ix_disputes_open_currency_amount")
                if not f.brand else conn.execute(totals)).all()
    rows = []
    for dispute_id in ids:
        r = found.get(dispute_id)
        if r is None:
            continue
        doc = r.data
        charge = doc.get("charge")
        rows.append(Row(
            id=dispute_id, kind="inquiry" if d.is_inquiry(doc) else "chargeback",
            status=doc.get("status"), reason=doc.get("reason"),
            network_reason_code=r.network_reason_code or d.network_reason_code(doc),
            card_brand=r.card_brand or d.card_brand(doc), amount=int(doc.get("amount") or 0),
            currency=str(doc.get("currency") or "usd"), due_by=d.due_by(doc),
            time_left=d.time_left(doc, int(now)),
            charge=charge if isinstance(charge, str) else (charge or {}).get("id"),
            work_state=r.state, score=r.score, hand_edited=bool(r.hand_edited)))
    next_cursor = encode_cursor(*keys[-1]) if more and keys else None
    return Page(rows=rows, total=sum(int(n) for _c, n, _s in sums),
                at_risk={str(c): int(s) for c, _n, s in sums if c}, next_cursor=next_cursor)
