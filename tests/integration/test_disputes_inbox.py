"""The inbox query over many mirrored disputes: order, filters, pages, totals, and the index."""

from __future__ import annotations

import random

import sqlalchemy as sa

from disputedesk.services import disputes as svc
from disputedesk.services.disputes import inbox
from disputedesk.services.mirror import row_for
from disputedesk.store import mirror as repo
from disputedesk.testing import make_dispute

NOW = 1_760_000_000
STATUSES = ("needs_response", "warning_needs_response", "under_review", "won", "lost",
            "warning_closed")


def seed(deps, n: int = 400) -> list[dict]:
    rng = random.Random(4)
    disputes = []
    for i in range(n):
        status = rng.choice(STATUSES)
        card = {"brand": rng.choice(("visa", "mastercard")), "case_type":
                "inquiry" if status.startswith("warning_") else "chargeback",
                "network_reason_code": "10.4"}
        disputes.append(make_dispute(
            id=f"du_{i:05d}", status=status, created=NOW - 86400, amount=rng.randint(100, 9000),
            currency=rng.choice(("usd", "eur")), due_by=NOW + rng.randint(-3, 9) * 86400 + i,
            reason=rng.choice(("fraudulent", "duplicate")),
            payment_method_details={"card": card, "type": "card"}))
    with deps.store.write() as conn:
        repo.insert_rows(conn, "dispute", [row_for("dispute", d, stripe_updated=NOW, account=None,
                                                   now=NOW) for d in disputes])
    svc.refresh(deps)
    return disputes


def todo_order(disputes: list[dict]) -> list[str]:
    """Needing a response by due_by, then under review (none submitted by the desk here) by id."""
    open_ = [d for d in disputes if d["status"] not in ("won", "lost", "warning_closed")]
    needs = sorted((d for d in open_ if d["status"] in ("needs_response", "warning_needs_response")),
                   key=lambda d: (d["evidence_details"]["due_by"], d["id"]))
    review = sorted((d for d in open_ if d not in needs), key=lambda d: d["id"])
    return [d["id"] for d in needs + review]


def test_pages_walk_every_open_dispute_in_to_do_order_with_totals(deps):
    disputes = seed(deps)
    open_ = [d for d in disputes if d["status"] not in ("won", "lost", "warning_closed")]
    seen, offset = [], 0
    while True:
        page = svc.list_inbox(deps.store, NOW, limit=50, offset=offset)
        seen += [r.id for r in page.rows]
        offset += 50
        if not page.to_dict()["has_more"]:
            break
    assert seen == todo_order(disputes)
    # The keyset cursor walks the same order (the dashboard's pages).
    walked, cursor = [], None
    while True:
        page = svc.list_inbox(deps.store, NOW, limit=25, cursor=cursor)
        walked += [r.id for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert walked == seen
    assert page.total == len(open_)
    for currency in ("usd", "eur"):
        assert page.at_risk[currency] == sum(d["amount"] for d in open_ if d["currency"] == currency)


def test_filters_combine(deps):
    disputes = seed(deps)
    flt = svc.InboxFilter(kind="chargeback", reason=("duplicate",), brand="visa", currency="eur",
                          due_within=2 * 86400)
    got = [r.id for r in svc.list_inbox(deps.store, NOW, flt, limit=1000).rows]
    want = todo_order([d for d in disputes if d["status"] in ("needs_response", "under_review")
                       and d["reason"] == "duplicate" and d["currency"] == "eur"
                       and d["payment_method_details"]["card"]["brand"] == "visa"
                       and d["evidence_details"]["due_by"] <= NOW + 2 * 86400])
    assert got == want and got


def test_the_page_is_read_from_the_partial_index_in_deadline_order(deps):
    seed(deps, 50)
    where, _ = inbox._where(svc.InboxFilter(), NOW)
    m = inbox.mirror_disputes.c
    stmt = sa.select(m.id).where(*where).order_by(m.due_by, m.id).limit(50)
    with deps.store.read() as conn:
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "sqlite":
            sql = str(compiled).replace("FROM disputes", "FROM disputes INDEXED BY "
                                        "ix_disputes_open_due_by", 1)
            plan = " ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "ix_disputes_open_due_by" in plan and "TEMP B-TREE" not in plan
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # tiny table: force the choice
            conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(compiled)))
            assert "ix_disputes_open_due_by" in plan and "Sort" not in plan


def test_an_unknown_status_or_kind_is_refused_by_name(deps):
    import pytest

    from disputedesk.errors import ValidationError

    with pytest.raises(ValidationError, match="unknown dispute status 'open'"):
        svc.list_inbox(deps.store, NOW, svc.InboxFilter(status=("open",)))
    with pytest.raises(ValidationError, match="unknown kind"):
        svc.list_inbox(deps.store, NOW, svc.InboxFilter(kind="refund"))


def test_the_first_row_needs_a_response_and_only_an_unanswered_passed_deadline_is_overdue(deps):
    seed(deps)
    rows = svc.list_inbox(deps.store, NOW, limit=1000).rows
    assert rows[0].needs_response
    first_review = next(i for i, r in enumerate(rows) if not r.needs_response)
    assert all(r.needs_response for r in rows[:first_review])
    assert not any(r.needs_response for r in rows[first_review:])
    for r in rows:
        if r.needs_response:
            assert r.todo.startswith("overdue by" if r.time_left <= 0 else "due in"), r.todo
        else:  # submitted: never "overdue", whatever the old deadline
            assert r.todo == "submitted, awaiting the issuer", r.todo


def test_a_dispute_the_desk_submitted_says_when(deps):
    from disputedesk.services.disputes.common import sync_work

    disputes = seed(deps, 60)
    review = [d for d in disputes if d["status"] == "under_review"][:2]
    with deps.store.write() as conn:
        sync_work(conn, review[0], NOW, submitted_at=float(NOW - 2 * 86400 - 3600), submitted_by="ana")
        sync_work(conn, review[1], NOW, submitted_at=float(NOW - 86400), submitted_by="ana")
    rows = [r for r in svc.list_inbox(deps.store, NOW, limit=1000).rows if not r.needs_response]
    assert [r.id for r in rows[:2]] == [review[0]["id"], review[1]["id"]]  # by submission date
    assert rows[0].todo == "submitted 2d 1h ago, awaiting the issuer"
