"""Disputes: the inbox by deadline, evidence work, reminders, stage/submit/accept, outcomes.

Library functions (each owns its transaction; ``deps`` is ``wiring.Deps``):

- inbox:      :func:`list_inbox`, :func:`show`
- evidence:   :func:`get_evidence`, :func:`edit_fields`, :func:`attach`, :func:`detach`,
              :func:`build`, :func:`set_product_type`, :func:`set_text_template`
- answering:  :func:`preview`, :func:`stage`, :func:`submit`, :func:`accept`
- reminders:  :func:`send_due_reminders`, :func:`list_reminders`, :func:`reminder_delivery`
- outcomes:   :func:`list_outcomes`, :func:`get_outcome`
- orders:     :func:`import_orders`, :func:`find_order`
- upkeep:     :func:`refresh` (track disputes that came by backfill), :func:`fetch_dispute`

``install(deps)`` subscribes to ``charge.dispute.*`` and registers the reminder and refresh jobs.
See docs/disputes.md.
"""

from __future__ import annotations

from typing import Any

from disputedesk.services.disputes.common import (
    DisputeNotOpen,
    HandEdited,
    PastDue,
    load_dispute,
)
from disputedesk.services.disputes.evidence_work import (
    attach,
    build,
    detach,
    draft_of,
    edit_fields,
    get_evidence,
    get_text_template,
    is_hand_edited,
    reset_text_template,
    set_product_type,
    set_text_template,
    text_template_names,
)
from disputedesk.services.disputes.inbox import InboxFilter, InboxPage, list_inbox
from disputedesk.services.disputes.orders import (
    find_order,
    import_orders,
    match_open_disputes,
)
from disputedesk.services.disputes.outcomes import get_outcome, list_outcomes
from disputedesk.services.disputes.reminders import delivery as reminder_delivery
from disputedesk.services.disputes.reminders import list_reminders, send_due_reminders
from disputedesk.services.disputes.submission import (
    accept,
    list_submissions,
    preview,
    stage,
    submit,
)
from disputedesk.services.disputes.tracking import (
    DISPUTE_EVENTS,
    fetch_dispute,
    refresh,
)


def install(deps) -> None:
    from disputedesk.services.disputes import reminders, tracking

    deps.event_listeners.on_batch(list(DISPUTE_EVENTS), tracking.make_listener(deps.settings))
    deps.jobs.register(reminders.JOB, reminders.reminder_job, max_attempts=3)
    deps.jobs.every(reminders.JOB, reminders.JOB_INTERVAL_SECONDS)
    deps.jobs.register(tracking.REFRESH_JOB, tracking.refresh_job)
    deps.jobs.every(tracking.REFRESH_JOB, 3600)


def show(deps, dispute_id: str) -> dict[str, Any]:
    """Everything the desk knows about one dispute: Stripe's facts, the work, reminders, audit."""
    from disputedesk.domain import disputes as d
    from disputedesk.services.disputes.common import get_work
    from disputedesk.store import audit

    now = deps.clock.now()
    with deps.store.read() as conn:
        dispute = load_dispute(conn, dispute_id)
        work = get_work(conn, dispute_id)
        history = audit.for_object(conn, "dispute", dispute_id)
    left = d.time_left(dispute, now)
    draft = draft_of(deps, dispute_id)
    return {
        "id": dispute_id,
        "kind": "inquiry" if d.is_inquiry(dispute) else "chargeback",
        "status": dispute.get("status"), "reason": dispute.get("reason"),
        "amount": dispute.get("amount"), "currency": dispute.get("currency"),
        "charge": dispute.get("charge"), "network_reason_code": d.network_reason_code(dispute),
        "card_brand": d.card_brand(dispute), "due_by": d.due_by(dispute), "time_left": left,
        "time_left_text": d.format_time_left(left), "remediable": d.is_remediable(dispute),
        "evidence_details": dispute.get("evidence_details"),
        "work": work,
        "draft": {k: draft[k] for k in ("score", "missing", "ce3", "packet", "built_at", "built_by",
                                        "order_id")} if draft else None,
        "submissions": list_submissions(deps, dispute_id),
        "reminders": list_reminders(deps, dispute_id),
        "outcome": get_outcome(deps, dispute_id),
        "audit": history,
    }


__all__ = [
    "DisputeNotOpen",
    "HandEdited",
    "InboxFilter",
    "InboxPage",
    "PastDue",
    "accept",
    "attach",
    "build",
    "detach",
    "edit_fields",
    "fetch_dispute",
    "find_order",
    "get_evidence",
    "get_outcome",
    "get_text_template",
    "import_orders",
    "install",
    "is_hand_edited",
    "list_inbox",
    "list_outcomes",
    "list_reminders",
    "list_submissions",
    "match_open_disputes",
    "preview",
    "refresh",
    "reset_text_template",
    "send_due_reminders",
    "set_product_type",
    "set_text_template",
    "show",
    "stage",
    "submit",
    "text_template_names",
]
