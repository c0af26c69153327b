"""Reminders before ``evidence_details.due_by``: planned per dispute, each sent at most once.

Planning (in the event's transaction): for a dispute that needs a response, one row per offset of
the desk setting ``reminder_schedule`` (default 7d, 72h, 24h, 6h) keyed by (dispute, due_by, offset) —
unique, so replays and restarts never add a second. A new deadline (an inquiry escalated to a
chargeback) supersedes the old rows; a dispute answered (submitted) or closed cancels them.

Sending (the ``disputes.reminders`` job, every minute) is two transactions around the network:

1. claim: due rows become ``sending`` (committed before anything is sent);
2. send through the notifier's channels (Slack-compatible webhook, generic signed webhook, SMTP,
   log);
3. record: ``sent`` (a channel that reaches a person took it); or ``retry`` with only the channels
   that failed; ``failed`` after 5 tries; ``undelivered`` when no such channel is configured (the
   log reaches no one, so it never makes a reminder ``sent``).

A crash between 1 and 3 leaves the row ``sending``; the next run marks it ``unknown`` instead of
sending again, so a reminder is never sent twice (at most once; ``unknown`` rows are listed for a
person to check). When several reminders of one dispute are due at once (the desk was down, or
the dispute arrived late), only the most urgent is sent and the others are ``skipped``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.domain import disputes as d
from disputedesk.domain.money import format_money
from disputedesk.notify import Notification, Notifier, build_notifier
from disputedesk.services.disputes.common import format_offset, get_work, parse_schedule
from disputedesk.store import mirror as repo
from disputedesk.store.disputes_tables import evidence_drafts, reminders

log = logging.getLogger("disputedesk.disputes.reminders")

JOB = "disputes.reminders"
JOB_INTERVAL_SECONDS = 60
SENDING_LEASE_SECONDS = 600
MAX_ATTEMPTS = 5
BATCH = 200
ACTIVE = ("pending", "retry")


@dataclass
class ReminderRun:
    sent: list[tuple[str, int]] = field(default_factory=list)      # (dispute, offset)
    skipped: int = 0
    canceled: int = 0
    failed: int = 0
    retrying: int = 0
    unknown: int = 0
    undelivered: int = 0


NO_CHANNEL = ("no notification channel is configured (only the log): set "
              "DISPUTEDESK_NOTIFY_WEBHOOK_URL, DISPUTEDESK_NOTIFY_SLACK_WEBHOOK_URL or "
              "DISPUTEDESK_SMTP_HOST")


def delivery(deps) -> dict[str, Any]:
    """Whether reminders reach anyone: the channels that do, or why none does."""
    notifier = notifier_for(deps)
    names = notifier.delivering_names()
    return {"delivering": bool(names), "channels": names,
            "why": "" if names else NO_CHANNEL}


def offsets(conn: Connection, settings=None) -> list[int]:
    """The schedule as stored now (desk setting ``reminder_schedule``; the variable seeds it)."""
    from disputedesk.services import policy

    return policy.reminder_offsets_in(conn, settings)


def plan(conn: Connection, dispute: dict, now: float, schedule: list[int],
         work: dict | None = None) -> None:
    """Make the dispute's reminder rows match its status and deadline (idempotent)."""
    dispute_id = dispute["id"]
    due = d.due_by(dispute)
    work = work if work is not None else get_work(conn, dispute_id)
    answered = work is not None and work.get("state") in ("submitted", "accepted", "closed")
    if not d.needs_response(dispute) or due is None or answered:
        why = "dispute closed" if d.is_closed(dispute) else "evidence submitted or no response due"
        _cancel(conn, dispute_id, now, why)
        return
    conn.execute(reminders.update().where(
        reminders.c.dispute_id == dispute_id, reminders.c.status.in_(ACTIVE),
        reminders.c.due_by != due).values(status="canceled", note="deadline changed",
                                          updated_at=now))
    existing = set(conn.execute(sa.select(reminders.c.offset_seconds).where(
        reminders.c.dispute_id == dispute_id, reminders.c.due_by == due)).scalars())
    for offset in schedule:
        if offset in existing:
            continue
        from disputedesk.services.disputes.common import upsert

        upsert(conn, reminders, ["dispute_id", "due_by", "offset_seconds"], {
            "dispute_id": dispute_id, "due_by": due, "offset_seconds": offset,
            "remind_at": float(due - offset), "status": "pending", "attempts": 0,
            "updated_at": now}, update={})


def plan_many(conn: Connection, disputes: list[dict], now: float, schedule: list[int],
              works: dict[str, dict]) -> None:
    """``plan`` for many disputes (the worker's batch listener), with one statement per step
    for the whole batch instead of one per dispute. ``works``: each dispute's work row."""
    cancel: dict[str, list[str]] = {}
    keep: dict[str, int] = {}  # dispute -> the due_by its reminders are for
    for dispute in disputes:
        due = d.due_by(dispute)
        work = works.get(dispute["id"])
        answered = work is not None and work.get("state") in ("submitted", "accepted", "closed")
        if not d.needs_response(dispute) or due is None or answered:
            why = "dispute closed" if d.is_closed(dispute) else "evidence submitted or no response due"
            cancel.setdefault(why, []).append(dispute["id"])
        else:
            keep[dispute["id"]] = due
    for why, ids in cancel.items():
        for chunk in _chunks(sorted(ids)):
            conn.execute(reminders.update().where(
                reminders.c.dispute_id.in_(chunk), reminders.c.status.in_(ACTIVE)
            ).values(status="canceled", note=why, updated_at=now))
    if not keep:
        return
    conn.execute(_SUPERSEDE, [{"b_dispute": i, "b_due": due, "b_now": now}
                              for i, due in sorted(keep.items())])
    existing: set[tuple[str, int]] = set()
    for chunk in _chunks(sorted(keep)):
        existing.update((i, off) for i, due, off in conn.execute(
            sa.select(reminders.c.dispute_id, reminders.c.due_by, reminders.c.offset_seconds)
            .where(reminders.c.dispute_id.in_(chunk))) if due == keep[i])
    from disputedesk.services.disputes.common import upsert_many

    upsert_many(conn, reminders, ["dispute_id", "due_by", "offset_seconds"], [
        {"dispute_id": i, "due_by": due, "offset_seconds": offset,
         "remind_at": float(due - offset), "status": "pending", "attempts": 0, "updated_at": now}
        for i, due in sorted(keep.items()) for offset in schedule if (i, offset) not in existing
    ], update=[])


# A new deadline (an inquiry escalated) supersedes the reminders planned for the old one.
# (Run with many parameter sets: an IN list would be an "expanding" parameter, which cannot.)
_SUPERSEDE = reminders.update().where(
    reminders.c.dispute_id == sa.bindparam("b_dispute"),
    sa.or_(*(reminders.c.status == status for status in ACTIVE)),
    reminders.c.due_by != sa.bindparam("b_due"),
).values(status="canceled", note="deadline changed", updated_at=sa.bindparam("b_now"))


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _cancel(conn: Connection, dispute_id: str, now: float, why: str) -> int:
    result = conn.execute(reminders.update().where(
        reminders.c.dispute_id == dispute_id, reminders.c.status.in_(ACTIVE)
    ).values(status="canceled", note=why, updated_at=now))
    return result.rowcount or 0


def notifier_for(deps) -> Notifier:
    """The notifier: ``deps.notifier`` when a test or embedder set one, else from the settings."""
    existing = getattr(deps, "notifier", None)
    if existing is None:
        existing = build_notifier(deps.settings)
        try:
            deps.notifier = existing
        except AttributeError:
            pass
    return existing


@dataclass
class _Claimed:
    row_id: int
    dispute: dict
    offset: int
    only: set[str] | None
    attempts: int
    score: int | None
    missing: list[str]


def _claim(conn: Connection, now: float, run: ReminderRun) -> list[_Claimed]:
    stale = conn.execute(reminders.update().where(
        reminders.c.status == "sending", reminders.c.claimed_at < now - SENDING_LEASE_SECONDS
    ).values(status="unknown", updated_at=now,
             note="the process stopped while sending; not sent again to avoid a duplicate"))
    run.unknown += stale.rowcount or 0
    stmt = (sa.select(reminders).where(reminders.c.status.in_(ACTIVE), reminders.c.remind_at <= now)
            .order_by(reminders.c.remind_at).limit(BATCH))
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    by_dispute: dict[str, list[dict]] = {}
    for row in rows:
        by_dispute.setdefault(row["dispute_id"], []).append(row)
    claimed: list[_Claimed] = []
    for dispute_id, group in by_dispute.items():
        dispute = repo.get_object(conn, "dispute", dispute_id)
        work = get_work(conn, dispute_id)
        ids = [r["id"] for r in group]
        if dispute is None or not d.needs_response(dispute) or (
                work and work.get("state") in ("submitted", "accepted", "closed")):
            run.canceled += _set(conn, ids, now, "canceled", "evidence submitted or dispute closed")
            continue
        due = d.due_by(dispute)
        current = [r for r in group if r["due_by"] == due]
        old = [r["id"] for r in group if r["due_by"] != due]
        if old:
            run.canceled += _set(conn, old, now, "canceled", "deadline changed")
        if not current:
            continue
        if due is None or now >= due:
            run.skipped += _set(conn, [r["id"] for r in current], now, "skipped", "deadline passed")
            continue
        # The most urgent reminder speaks for the others due at the same time.
        chosen = min(current, key=lambda r: r["offset_seconds"])
        others = [r["id"] for r in current if r["id"] != chosen["id"] and r["status"] == "pending"]
        if others:
            run.skipped += _set(conn, others, now, "skipped",
                                f"superseded by the {format_offset(chosen['offset_seconds'])} reminder")
        conn.execute(reminders.update().where(reminders.c.id == chosen["id"]).values(
            status="sending", claimed_at=now, attempts=reminders.c.attempts + 1, updated_at=now))
        draft = conn.execute(sa.select(evidence_drafts.c.score, evidence_drafts.c.missing).where(
            evidence_drafts.c.dispute_id == dispute_id)).first()
        missing = [m["field"] for m in (draft.missing if draft else []) if m.get("importance") == "required"]
        claimed.append(_Claimed(chosen["id"], dispute, chosen["offset_seconds"],
                                set(chosen["pending_channels"]) if chosen["pending_channels"] else None,
                                chosen["attempts"] + 1, draft.score if draft else None, missing))
    return claimed


def _set(conn: Connection, ids: list[int], now: float, status: str, note: str) -> int:
    if not ids:
        return 0
    conn.execute(reminders.update().where(reminders.c.id.in_(ids)).values(
        status=status, note=note, updated_at=now))
    return len(ids)


def notification(claimed: _Claimed, now: float, settings) -> Notification:
    dispute = claimed.dispute
    currency = str(dispute.get("currency") or "usd")
    amount = format_money(int(dispute.get("amount") or 0), currency)
    left = d.format_time_left(d.time_left(dispute, now))
    kind = "Inquiry" if d.is_inquiry(dispute) else "Chargeback"
    due = d.due_by(dispute) or 0
    due_text = datetime.fromtimestamp(due, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{kind} {dispute['id']} ({dispute.get('reason')}, {amount}) needs a response.",
        f"Evidence due: {due_text} (in {left}).",
        f"Status: {dispute.get('status')}; card: {d.card_brand(dispute) or 'unknown'}; "
        f"network reason code: {d.network_reason_code(dispute) or 'none'}.",
    ]
    if claimed.score is not None:
        lines.append(f"Evidence completeness: {claimed.score}/100"
                     + (f"; missing: {', '.join(claimed.missing)}" if claimed.missing else "."))
    else:
        lines.append("No evidence built yet: `disputedesk disputes build " + dispute["id"] + "`.")
    link = f"http://{settings.host}:{settings.port}/disputes/{dispute['id']}"
    return Notification(
        subject=f"Evidence due in {left}: {dispute['id']} ({dispute.get('reason')}, {amount})",
        body="\n".join(lines), kind="dispute.reminder", link=link,
        fields={"dispute": dispute["id"], "offset": format_offset(claimed.offset)})


def send_due_reminders(deps) -> ReminderRun:
    """Send every reminder that is due (the job's body; also callable directly)."""
    run = ReminderRun()
    now = deps.clock.now()
    with deps.store.write() as conn:
        claimed = _claim(conn, now, run)
    if not claimed:
        return run
    notifier = notifier_for(deps)
    for item in claimed:
        if not notifier.delivering:
            # Logged for the record, but no person was told: never "sent".
            notifier.send(notification(item, now, deps.settings), only=item.only)
            log.warning("reminder for %s not delivered: %s", item.dispute["id"], NO_CHANNEL)
            with deps.store.write() as conn:
                conn.execute(reminders.update().where(reminders.c.id == item.row_id).values(
                    status="undelivered", note=NO_CHANNEL, updated_at=deps.clock.now()))
            run.undelivered += 1
            continue
        failures = notifier.send(notification(item, now, deps.settings), only=item.only)
        done_at = deps.clock.now()
        with deps.store.write() as conn:
            if not failures:
                conn.execute(reminders.update().where(reminders.c.id == item.row_id).values(
                    status="sent", sent_at=done_at, pending_channels=None, failures=None,
                    updated_at=done_at))
                run.sent.append((item.dispute["id"], item.offset))
            elif item.attempts >= MAX_ATTEMPTS:
                conn.execute(reminders.update().where(reminders.c.id == item.row_id).values(
                    status="failed", failures=failures, pending_channels=sorted(failures),
                    updated_at=done_at, note="gave up after repeated channel failures"))
                run.failed += 1
            else:
                conn.execute(reminders.update().where(reminders.c.id == item.row_id).values(
                    status="retry", failures=failures, pending_channels=sorted(failures),
                    remind_at=done_at + 60 * 2 ** item.attempts, updated_at=done_at))
                run.retrying += 1
        if failures:
            log.warning("reminder for %s: channels failed: %s", item.dispute["id"], sorted(failures))
    return run


def list_reminders(deps, dispute_id: str | None = None, *, status: str | None = None,
                   limit: int = 200) -> list[dict[str, Any]]:
    stmt = sa.select(reminders)
    if dispute_id:
        stmt = stmt.where(reminders.c.dispute_id == dispute_id)
    if status:
        stmt = stmt.where(reminders.c.status == status)
    stmt = stmt.order_by(reminders.c.remind_at, reminders.c.id).limit(limit)
    with deps.store.read() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def reminder_job(ctx, payload: dict) -> None:
    send_due_reminders(ctx)
