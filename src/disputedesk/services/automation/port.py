"""What the rules may do, as one small interface, and the adapter onto the desk's services.

:class:`ActionPort` is everything the runner needs; :class:`DeskActions` carries it out with the
refunds and disputes services, whose own records make every call idempotent:

- a refund is a refund request whose ``client_key`` is the action key (and whose request id is
  derived from it), so a second call finds the first request and at most finishes sending it with
  the same Stripe idempotency key;
- accept and submit go through ``dispute_submissions`` (one live final action per dispute, the
  row id in the Stripe idempotency key); a call after our own completed one is recognised and
  reported as done instead of failing;
- build and stage may repeat harmlessly (``submit=false``); tags and the assignee are set
  operations on the desk's own rows.

Each method returns a small JSON-friendly dict describing what happened.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from disputedesk.errors import AlreadyDone, Conflict
from disputedesk.services.automation import records

KEY_NAMESPACE = uuid.UUID("6f1d9a52-4c1e-4f7e-9d7a-0a6e2d7c5b31")


class ActionPort(Protocol):
    def accept_dispute(self, dispute_id: str, *, actor: str, note: str) -> dict: ...

    def build_and_stage_evidence(self, dispute_id: str, *, actor: str, stage: bool,
                                 override_manual: bool) -> dict: ...

    def submit_evidence(self, dispute_id: str, *, actor: str, note: str) -> dict: ...

    def refund_charge(self, charge_id: str, *, actor: str, reason: str, key: str,
                      note: str) -> dict: ...

    def notify(self, channel: str, subject: str, message: str, *, kind: str,
               link: str | None = None) -> dict: ...

    def tag(self, object_id: str, tags: list[str], *, actor: str) -> dict: ...

    def assign(self, object_id: str, user: str, *, actor: str) -> dict: ...


class NotificationUndelivered(Exception):
    """Every channel failed: the job retries (the key stays claimed, so the rest is not redone)."""


def refund_request_id(key: str) -> str:
    """The refund request id of an action key: the same key always names the same request."""
    return str(uuid.uuid5(KEY_NAMESPACE, key))


class DeskActions:
    """:class:`ActionPort` over the desk's services (``deps`` is ``wiring.Deps``)."""

    def __init__(self, deps) -> None:
        self.deps = deps

    # -- disputes ---------------------------------------------------------------------------------

    def _our_final(self, dispute_id: str, kind: str, actor: str) -> dict | None:
        from disputedesk.services.disputes import list_submissions

        for row in list_submissions(self.deps, dispute_id):
            if row["kind"] == kind and row["status"] == "done" and row["actor"] == actor:
                return row
        return None

    def accept_dispute(self, dispute_id: str, *, actor: str, note: str) -> dict:
        from disputedesk.services import disputes

        try:
            sub = disputes.accept(self.deps, dispute_id, actor=actor, confirm=True, note=note)
        except Conflict:
            row = self._our_final(dispute_id, "accept", actor)
            if row is None:
                raise
            return {"submission": row["id"], "resumed": True}
        return {"submission": sub.id, "dispute_status": sub.dispute_status}

    def build_and_stage_evidence(self, dispute_id: str, *, actor: str, stage: bool,
                                 override_manual: bool) -> dict:
        from disputedesk.services import disputes

        result = disputes.build(self.deps, dispute_id, actor=actor, automated=not override_manual)
        out: dict[str, Any] = {"score": result.view.score,
                               "missing": [m["field"] for m in result.view.missing]}
        if stage:
            sub = disputes.stage(self.deps, dispute_id, actor=actor,
                                 note="staged by an automation rule")
            out["staged"] = sub.id
        return out

    def submit_evidence(self, dispute_id: str, *, actor: str, note: str) -> dict:
        from disputedesk.services import disputes

        try:
            sub = disputes.submit(self.deps, dispute_id, actor=actor, note=note)
        except AlreadyDone:
            row = self._our_final(dispute_id, "submit", actor)
            if row is None:
                raise
            return {"submission": row["id"], "resumed": True}
        return {"submission": sub.id, "dispute_status": sub.dispute_status}

    # -- refunds ----------------------------------------------------------------------------------

    def refund_charge(self, charge_id: str, *, actor: str, reason: str, key: str,
                      note: str) -> dict:
        from disputedesk.services import refunds

        outcome = refunds.request_refund(
            self.deps, charge_id, actor=actor, target_type="charge", reason=reason,
            note=note[:2000], client_key=f"automation:{key}"[:255],
            request_id=refund_request_id(key))
        row = outcome.request
        return {"request": row["id"], "status": row["status"], "refund": row.get("refund_id"),
                "amount": row["amount"], "currency": row["currency"],
                "existing": outcome.existing}

    # -- notifications and labels -----------------------------------------------------------------

    def notify(self, channel: str, subject: str, message: str, *, kind: str,
               link: str | None = None) -> dict:
        from disputedesk.notify import Notification
        from disputedesk.services.disputes.reminders import notifier_for

        notifier = notifier_for(self.deps)
        names = [c.name for c in notifier.channels]
        only = {channel} if channel in names else None  # unknown channel: every configured one
        failures = notifier.send(Notification(subject=subject, body=message, kind=kind, link=link),
                                 only=only)
        sent = [n for n in names if (only is None or n in only) and n not in failures]
        if not sent:
            raise NotificationUndelivered("; ".join(f"{k}: {v}" for k, v in failures.items())
                                          or f"no channel named {channel}")
        out: dict[str, Any] = {"sent": sent}
        if only is None:
            out["note"] = f"channel '{channel}' is not configured; sent to {', '.join(sent)}"
        if failures:
            out["failed"] = failures
        return out

    def tag(self, object_id: str, tags: list[str], *, actor: str) -> dict:
        with self.deps.store.write() as conn:
            merged = records.add_tags(conn, object_id, tags, actor=actor, now=self.deps.clock.now())
        return {"tags": merged}

    def assign(self, object_id: str, user: str, *, actor: str) -> dict:
        with self.deps.store.write() as conn:
            records.assign(conn, object_id, user, actor=actor, now=self.deps.clock.now())
        return {"assigned_to": user}
