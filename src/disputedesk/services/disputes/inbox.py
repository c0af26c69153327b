"""The inbox, a to-do list: the one query the CLI, the REST API and the dashboard all use.

Order, in sections:

0. disputes that need a response (chargebacks, inquiries, appeals) by ``due_by``, soonest first;
1. those that need a response and have no deadline, by id;
2. those under review (evidence sent, the issuer deciding) by the date the desk submitted them,
   oldest first;
3. those under review that were answered outside the desk (no submission date), by id.

Each row carries the words for what it asks: "due in 3d 4h", "overdue by 2h 5m" (only a passed
deadline with nothing submitted), "submitted 2d 1h ago, awaiting the issuer".

Section 0 reads the partial index ``ix_disputes_open_due_by`` (``WHERE <open statuses> ORDER BY
due_by, id``), an index scan that stops after n rows however many disputes there are. Pages go
by offset (CLI, REST) or by a keyset cursor (the dashboard: no OFFSET however deep the page).
Totals per currency come from ``ix_disputes_open_currency_amount`` alone.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from disputedesk.domain import disputes as d
from disputedesk.domain.money import format_money
from disputedesk.errors import ValidationError
from disputedesk.store.disputes_tables import OPEN_STATUS_SQL, dispute_work
from disputedesk.store.tables import disputes as mirror_disputes

KINDS = ("inquiry", "chargeback")
MAX_LIMIT = 1000
NEEDS = sorted(d.NEEDS_RESPONSE_STATUSES)
SECTIONS = (0, 1, 2, 3)


@dataclass(frozen=True)
class InboxFilter:
    status: tuple[str, ...] = ()          # default: every open status
    kind: str | None = None               # inquiry | chargeback
    reason: tuple[str, ...] = ()
    brand: str | None = None
    currency: str | None = None
    due_within: int | None = None         # seconds from now
    include_closed: bool = False

    def check(self) -> None:
        bad = [s for s in self.status if s not in d.STATUSES]
        if bad:
            raise ValidationError(f"unknown dispute status '{bad[0]}'", param="status",
                                  hint="one of: " + ", ".join(d.STATUSES))
        if self.kind and self.kind not in KINDS:
            raise ValidationError(f"unknown kind '{self.kind}'", param="kind",
                                  hint="inquiry or chargeback")


@dataclass
class InboxRow:
    id: str
    kind: str
    status: str
    reason: str | None
    network_reason_code: str | None
    card_brand: str | None
    amount: int
    currency: str
    amount_text: str
    due_by: int | None
    time_left: int | None
    time_left_text: str
    todo: str                 # "due in 3d 4h", "submitted 2d ago, awaiting the issuer", ...
    submitted_at: float | None
    charge: str | None
    work_state: str | None
    hand_edited: bool
    score: int | None
    needs_response: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InboxPage:
    rows: list[InboxRow]
    total: int
    at_risk: dict[str, int] = field(default_factory=dict)  # currency -> amount in minor units
    limit: int = 50
    offset: int = 0
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"data": [r.to_dict() for r in self.rows], "total": self.total,
                "at_risk": self.at_risk, "limit": self.limit, "offset": self.offset,
                "has_more": self.next_cursor is not None, "next_cursor": self.next_cursor}


# --- the cursor: (section, sort key, id) of the last row --------------------------------------

def encode_cursor(section: int, key: float | None, dispute_id: str) -> str:
    raw = json.dumps([section, key, dispute_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[int, float | None, str] | None:
    """The position, or None for a cursor that is missing, too long or not one of ours."""
    if not text or len(text) > 600:
        return None
    try:
        section, key, dispute_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        return None
    if section not in SECTIONS or not isinstance(dispute_id, str):
        return None
    if section in (0, 2) and not (isinstance(key, (int, float)) and not isinstance(key, bool)
                                  and abs(key) < 2**53):
        return None  # a cursor is the desk's own text: a huge or odd key is not one of ours
    return section, key, dispute_id


# --- the query ----------------------------------------------------------------------------------

def _where(f: InboxFilter, now: float) -> tuple[list[Any], bool]:
    """WHERE clauses, and whether they need the ``dispute_work`` join (the brand filter)."""
    m, w = mirror_disputes.c, dispute_work.c
    clauses: list[Any] = []
    if not f.include_closed:
        # Verbatim, as the partial indexes' predicate: the planner then scans them in order.
        clauses.append(sa.text(f"disputes.{OPEN_STATUS_SQL}"))
    statuses = list(f.status)
    if f.kind == "inquiry":
        statuses = [s for s in (statuses or d.STATUSES) if s.startswith("warning_")]
    elif f.kind == "chargeback":
        statuses = [s for s in (statuses or d.STATUSES) if not s.startswith("warning_")]
    if statuses or f.kind:
        clauses.append(m.status.in_(statuses or ["-none-"]))
    if f.reason:
        clauses.append(m.reason.in_(list(f.reason)))
    if f.currency:
        clauses.append(m.currency == f.currency.lower())
    if f.brand:
        clauses.append(sa.func.lower(w.card_brand) == f.brand.lower())
    if f.due_within is not None:
        clauses.append(m.due_by <= int(now) + int(f.due_within))
    return clauses, bool(f.brand)


def _section(section: int) -> tuple[list[Any], tuple[Any, ...], Any | None, str | None]:
    """(extra WHERE, ORDER BY, sort-key column, SQLite index) of one section."""
    m, w = mirror_disputes.c, dispute_work.c
    needs = m.status.in_(NEEDS)
    if section == 0:
        return [needs, m.due_by.is_not(None)], (m.due_by, m.id), m.due_by, "ix_disputes_open_due_by"
    if section == 1:
        return [needs, m.due_by.is_(None)], (m.id,), None, None
    if section == 2:
        return [sa.not_(needs), w.submitted_at.is_not(None)], (w.submitted_at, m.id), w.submitted_at, None
    return [sa.not_(needs), w.submitted_at.is_(None)], (m.id,), None, None


def _run(conn, stmt, index: str | None):
    """Execute ``stmt``; on SQLite name ``index`` (``INDEXED BY``). Without ANALYZE statistics
    SQLite's planner prefers (status, due_by) and sorts every open dispute; PostgreSQL picks the
    partial index from its own statistics."""
    if index is None or conn.dialect.name != "sqlite":
        return conn.execute(stmt)
    compiled = stmt.compile(conn, compile_kwargs={"render_postcompile": True})
    sql = str(compiled).replace("FROM disputes", f"FROM disputes INDEXED BY {index}", 1)
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    return conn.exec_driver_sql(sql, params)


def _keys(conn, where: list[Any], join: bool, limit: int, offset: int,
          cursor: tuple[int, float | None, str] | None) -> list[tuple[int, float | None, str]]:
    """Up to ``limit`` (section, key, id) in inbox order, after ``cursor`` or ``offset`` rows."""
    m, w = mirror_disputes.c, dispute_work.c
    out: list[tuple[int, float | None, str]] = []
    start = cursor[0] if cursor else 0
    for section in SECTIONS[start:]:
        extra, order, key_col, index = _section(section)
        uses_work = join or section >= 2
        source = mirror_disputes.outerjoin(dispute_work, w.dispute_id == m.id) if uses_work \
            else mirror_disputes
        clauses = where + extra
        if cursor and cursor[0] == section:
            _s, key, last = cursor
            if key_col is None:
                clauses.append(m.id > last)
            else:
                clauses.append(sa.or_(key_col > key, sa.and_(key_col == key, m.id > last)))
        cols = [m.id] + ([key_col] if key_col is not None else [])
        if offset:
            count = conn.execute(sa.select(sa.func.count()).select_from(source).where(*clauses)).scalar()
            if offset >= count:
                offset -= int(count)
                continue
        stmt = sa.select(*cols).select_from(source).where(*clauses).order_by(*order) \
            .limit(limit - len(out)).offset(offset)
        offset = 0
        rows = _run(conn, stmt, None if uses_work else index)
        out += [(section, (r[1] if key_col is not None else None), r[0]) for r in rows]
        if len(out) >= limit:
            break
    return out


def list_inbox(store, now: float, flt: InboxFilter | None = None, *, limit: int = 50,
               offset: int = 0, cursor: str | None = None) -> InboxPage:
    """Open disputes as a to-do list (see the module's docstring for the order)."""
    flt = flt or InboxFilter()
    flt.check()
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be 1-{MAX_LIMIT}", param="limit")
    if offset < 0:
        raise ValidationError("offset cannot be negative", param="offset")
    m, w = mirror_disputes.c, dispute_work.c
    where, needs_join = _where(flt, now)
    source = (mirror_disputes.outerjoin(dispute_work, w.dispute_id == m.id) if needs_join
              else mirror_disputes)
    totals = (sa.select(m.currency, sa.func.count(), sa.func.coalesce(sa.func.sum(m.amount), 0))
              .select_from(source).where(*where).group_by(m.currency))
    covering = not flt.include_closed and len(where) == 1
    position = decode_cursor(cursor)
    with store.read() as conn:
        # The page's keys first (one more, to know whether another page follows), then the
        # documents of those few rows.
        keys = _keys(conn, where, needs_join, limit + 1, 0 if position else offset, position)
        more = len(keys) > limit
        keys = keys[:limit]
        ids = [k[2] for k in keys]
        found = {r.id: r for r in conn.execute(
            sa.select(m.id, m.data, w.state, w.hand_edited, w.score, w.card_brand,
                      w.network_reason_code, w.submitted_at)
            .select_from(mirror_disputes.outerjoin(dispute_work, w.dispute_id == m.id))
            .where(m.id.in_(ids)))} if ids else {}
        sums = _run(conn, totals, "ix_disputes_open_currency_amount" if covering else None).all()
    out = []
    for dispute_id in ids:
        row = found.get(dispute_id)
        if row is None:
            continue
        dispute = row.data
        left = d.time_left(dispute, int(now))
        currency = str(dispute.get("currency") or "usd")
        charge = dispute.get("charge")
        out.append(InboxRow(
            id=row.id, kind="inquiry" if d.is_inquiry(dispute) else "chargeback",
            status=dispute.get("status"), reason=dispute.get("reason"),
            network_reason_code=row.network_reason_code or d.network_reason_code(dispute),
            card_brand=row.card_brand or d.card_brand(dispute),
            amount=int(dispute.get("amount") or 0), currency=currency,
            amount_text=format_money(int(dispute.get("amount") or 0), currency),
            due_by=d.due_by(dispute), time_left=left, time_left_text=d.format_time_left(left),
            todo=d.todo_text(dispute, now, row.submitted_at), submitted_at=row.submitted_at,
            charge=charge if isinstance(charge, str) else (charge or {}).get("id"),
            work_state=row.state, hand_edited=bool(row.hand_edited), score=row.score,
            needs_response=d.needs_response(dispute),
        ))
    total = sum(int(n) for _c, n, _s in sums)
    at_risk = {str(c): int(s) for c, _n, s in sums if c}
    next_cursor = encode_cursor(*keys[-1]) if more and keys else None
    return InboxPage(rows=out, total=total, at_risk=at_risk, limit=limit, offset=offset,
                     next_cursor=next_cursor)
