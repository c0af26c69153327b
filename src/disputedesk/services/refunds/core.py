"""Refund requests, exactly once: record -> (approve) -> submit -> follow.

One function per use case, each owning its transactions. The order of writes and calls is the
whole point (docs/refunds.md, "Exactly once"):

1. the request is recorded and committed (``approved`` or ``awaiting_approval``) before any call;
2. ``approved -> submitted`` is a conditional update, committed before the call: one process wins;
3. Stripe is called with ``Idempotency-Key: idempotency_key(request.id, request.attempt)``;
4. Stripe's answer (the refund id and status) is committed.

A crash between 2 and 4 leaves a ``submitted`` request without a refund id; :func:`heal` sends the
same parameters with the same key and Stripe answers with the refund it already made.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import IntegrityError

from disputedesk.domain.approval import (
    ApprovalPolicy,
    ensure_can_approve,
    needs_approval,
    operator_totals,
)
from disputedesk.domain.money import Money, format_money
from disputedesk.domain.refunds import (
    UNSENT_STATES,
    IllegalTransition,
    RefundRequest,
    RequestedAmount,
    RequestState,
    apply_stripe_status,
    find_refund_for_request,
    idempotency_key,
    parse_requested_amount,
    plan_refund,
    refund_create_params,
)
from disputedesk.errors import (
    DisputeDeskError,
    StripeError,
    StripeIdempotencyError,
    StripeInvalidRequest,
    ValidationError,
)
from disputedesk.services import mirror as mirror_rules
from disputedesk.services.refunds import records
from disputedesk.services.refunds.charges import (
    bundle_from_mirror,
    fetch_bundle,
    load_bundle,
    resolve_charge_id,
)
from disputedesk.services.refunds.faults import crash_point
from disputedesk.store import audit
from disputedesk.store import jobs as job_queue

log = logging.getLogger("disputedesk.refunds")

SUBMIT_JOB = "refunds.submit"
HEAL_JOB = "refunds.heal"
NOTIFY_JOB = "refunds.notify_failed"
SYSTEM_ACTOR = "disputedesk"
POLICY_ACTOR = "approval-policy"
STRIPE_ACTOR = "stripe"
OBJECT_TYPE = "refund_request"
NOTE_MAX = 2000
# Stripe may prune idempotency keys 24 hours after first use: older than this, look first.
KEY_PRUNE_AGE = 23 * 3600
# A replay that keeps failing with 5xx for this long: check Stripe and, if no refund exists for
# the request, move to a fresh key (Stripe replays a stored 500 for the key's lifetime).
STUCK_KEY_AGE = 600
TRANSIENT_RETRY_SECONDS = 30.0


@dataclass
class RefundOutcome:
    """What a request call did: the request row, the checks' warnings and the approval decision."""

    request: dict
    warnings: list[dict] = field(default_factory=list)
    approval: str | None = None
    existing: bool = False  # the client key named a request recorded earlier

    @property
    def status(self) -> str:
        return self.request["status"]

    def to_dict(self) -> dict[str, Any]:
        return {"request": public(self.request), "warnings": self.warnings,
                "approval": self.approval, "existing": self.existing}


def public(row: dict) -> dict[str, Any]:
    """A request row as the edges show it (amount also in major units)."""
    out = dict(row)
    out["amount_display"] = format_money(int(row["amount"]), row["currency"])
    out["idempotency_key"] = idempotency_key(row["id"], int(row["attempt"]))
    return out


def policy(settings) -> ApprovalPolicy:
    return ApprovalPolicy.from_settings(settings.approval_threshold, settings.approval_daily_limit)


def _actor(actor: str | None) -> str:
    name = (actor or "").strip()
    if not name:
        raise ValidationError("the desk must know who is acting", param="actor",
                              hint="pass --actor NAME or set DISPUTEDESK_ACTOR")
    return name


def _amount(amount: Any) -> Money | RequestedAmount | int | None:
    if isinstance(amount, str):
        return parse_requested_amount(amount)
    return amount


def _audit(conn, now: float, actor: str, action: str, request_id: str, note: str | None = None,
           **details: Any) -> None:
    audit.append(conn, at=now, actor=actor, action=action, object_type=OBJECT_TYPE,
                 object_id=request_id, note=note, details=details or None)


def _enqueue_notify(conn, request_id: str, now: float) -> None:
    job_queue.enqueue(conn, NOTIFY_JOB, {"request_id": request_id}, now=now,
                      dedupe_key=f"{NOTIFY_JOB}:{request_id}")


# --- record ----------------------------------------------------------------------------------

def request_refund(deps, target: str, *, actor: str, amount: Any = None,
                   target_type: str | None = None, reason: str | None = None,
                   metadata: dict[str, str] | None = None, note: str | None = None,
                   client_key: str | None = None, live: bool | None = None,
                   submit: bool = True, request_id: str | None = None,
                   bulk_job_id: str | None = None, account: str | None = None) -> RefundOutcome:
    """Check and record a refund request, apply the approval policy, and send it if cleared.

    ``amount``: ``None``/"full" (everything left), text as people type it ("12.50 EUR"), an
    ``int`` of minor units (the API form), or Money. ``client_key`` makes the call idempotent:
    the same key returns the request recorded first (two presses of one button, an API retry).
    """
    actor = _actor(actor)
    requested = _amount(amount)
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationError(f"the note has {len(note)} characters", param="note",
                              hint=f"at most {NOTE_MAX}")
    if client_key is not None and not client_key.strip():
        client_key = None
    if client_key:
        with deps.store.read() as conn:
            existing = records.by_source_key(conn, client_key)
        if existing is not None:
            return _existing(deps, existing, actor, submit)
    charge_id, kind = resolve_charge_id(deps, target, target_type, live=live, account=account)
    bundle = load_bundle(deps, charge_id, live=live, account=account)
    rid = request_id or str(uuid.uuid4())
    idempotency_key(rid)  # refuses an id that cannot be part of a key, before anything is written
    approval_policy = policy(deps.settings)
    now = deps.clock.now()
    try:
        with deps.store.write() as conn:
            records.lock_charge(conn, charge_id)
            if client_key and (existing := records.by_source_key(conn, client_key)) is not None:
                raise _Existing(existing)
            in_flight = records.open_on_charge(conn, charge_id)
            plan = plan_refund(bundle.charge, amount=requested, reason=reason, metadata=metadata,
                               refunds=bundle.refunds, disputes=bundle.disputes,
                               early_fraud_warnings=bundle.early_fraud_warnings,
                               in_flight=in_flight, request_id=rid)
            draft = RefundRequest(id=rid, charge=charge_id, amount=plan.amount,
                                  currency=plan.currency, requested_by=actor, created=int(now),
                                  reason=plan.reason, metadata=plan.metadata, note=note)
            totals = (operator_totals(records.requested_today(conn, actor, now), actor,
                                      int(now), exclude_id=rid)
                      if approval_policy.daily_limits else {})
            decision = needs_approval(draft, totals, approval_policy)
            status = (RequestState.awaiting_approval if decision.required
                      else RequestState.approved)
            warnings = [{"code": w.code, "message": w.message, "object_id": w.object_id}
                        for w in plan.warnings]
            intent = bundle.charge.get("payment_intent")
            records.insert(conn, {
                "id": rid, "source_key": client_key, "target_type": kind, "target": target,
                "charge": charge_id, "account": account,
                "payment_intent": intent.get("id") if isinstance(intent, dict) else intent,
                "amount": plan.amount, "currency": plan.currency, "full": plan.full,
                "reason": plan.reason, "metadata": dict(plan.metadata), "note": note,
                "warnings": warnings, "requested_by": actor, "approval_reason": decision.reason,
                "status": status.value, "attempt": 1, "bulk_job_id": bulk_job_id,
                "created": now, "updated": now})
            _audit(conn, now, actor, "refund.requested", rid, note, charge=charge_id,
                   target=target, target_type=kind, amount=plan.amount, currency=plan.currency,
                   reason=plan.reason, metadata=dict(plan.metadata),
                   warnings=[w["code"] for w in warnings])
            if decision.required:
                records.add_approval(conn, rid, "required", POLICY_ACTOR, now, decision.reason)
                _audit(conn, now, POLICY_ACTOR, "refund.awaiting_approval", rid, decision.reason,
                       codes=list(decision.codes))
            else:
                _audit(conn, now, POLICY_ACTOR, "refund.approved", rid, decision.reason)
    except _Existing as found:
        return _existing(deps, found.row, actor, submit)
    except IntegrityError:
        # PostgreSQL: another transaction inserted the same client key first.
        if not client_key:
            raise
        with deps.store.read() as conn:
            existing = records.by_source_key(conn, client_key)
        if existing is None:
            raise
        return _existing(deps, existing, actor, submit)
    crash_point("after_record")
    row = submit_request(deps, rid, actor=actor) if status is RequestState.approved and submit \
        else _reload(deps, rid)
    return RefundOutcome(row, warnings, decision.reason)


class _Existing(Exception):
    def __init__(self, row: dict) -> None:
        self.row = row


def _existing(deps, row: dict, actor: str, submit: bool) -> RefundOutcome:
    if submit and row["status"] == RequestState.approved.value:
        row = submit_request(deps, row["id"], actor=actor)
    return RefundOutcome(row, list(row.get("warnings") or []), row.get("approval_reason"),
                         existing=True)


def _reload(deps, request_id: str) -> dict:
    with deps.store.read() as conn:
        return records.require(conn, request_id)


# --- submit ------------------------------------------------------------------------------------

def submit_request(deps, request_id: str, *, actor: str = SYSTEM_ACTOR,
                   replay: bool = False) -> dict:
    """Send an approved request to Stripe (exactly one caller wins the right to send).

    ``replay=True`` (healing) also re-sends a ``submitted`` request that has no refund id yet,
    with the same parameters and the same idempotency key.
    """
    row = _reload(deps, request_id)
    if row["status"] == RequestState.approved.value:
        row, won = _mark_submitted(deps, row, actor)
        if not won:
            return row
    elif not (replay and row["status"] == RequestState.submitted.value
              and row["refund_id"] is None):
        return row
    return _call_stripe(deps, row, actor)


def _mark_submitted(deps, row: dict, actor: str) -> tuple[dict, bool]:
    """Re-run the checks on the mirror, then ``approved -> submitted``, committed."""
    rid = row["id"]
    now = deps.clock.now()
    with deps.store.write() as conn:
        records.lock_charge(conn, row["charge"])
        current = records.require(conn, rid, for_update=True)
        if current["status"] != RequestState.approved.value:
            return current, False
        bundle = bundle_from_mirror(conn, current["charge"])
        if bundle is not None:
            try:
                plan_refund(bundle.charge, amount=int(current["amount"]),
                            reason=current["reason"], metadata=current["metadata"],
                            refunds=bundle.refunds, disputes=bundle.disputes,
                            in_flight=records.open_on_charge(conn, current["charge"]),
                            request_id=rid)
            except DisputeDeskError as exc:
                records.update(conn, rid, expect_status="approved", status="failed",
                               error_code=exc.code, error=str(exc), updated=now)
                _audit(conn, now, actor, "refund.failed", rid, str(exc), stage="recheck",
                       code=exc.code)
                _enqueue_notify(conn, rid, now)
                return records.require(conn, rid), False
        records.update(conn, rid, expect_status="approved", status="submitted",
                       submitted_at=now, updated=now)
        key = idempotency_key(rid, int(current["attempt"]))
        _audit(conn, now, actor, "refund.submitted", rid, idempotency_key=key)
        current = records.require(conn, rid)
    crash_point("before_call")
    return current, True


def _params(row: dict) -> dict[str, Any]:
    plan = SimpleNamespace(charge=row["charge"], amount=int(row["amount"]),
                           metadata=dict(row["metadata"] or {}), reason=row["reason"])
    return refund_create_params(plan, row["id"])  # type: ignore[arg-type]


def _call_stripe(deps, row: dict, actor: str) -> dict:
    rid = row["id"]
    key = idempotency_key(rid, int(row["attempt"]))
    try:
        refund = deps.gateway().create_refund(_params(row), idempotency_key=key,
                                              account=row["account"])
    except StripeIdempotencyError as exc:
        # The key was used with other parameters: a person must look; never guess.
        _note_error(deps, rid, exc, actor, retry=False)
        raise
    except StripeInvalidRequest as exc:
        return _fail(deps, rid, exc, actor)
    except StripeError as exc:
        _note_error(deps, rid, exc, actor, retry=True)
        return _reload(deps, rid)
    crash_point("after_stripe")
    return record_refund(deps, rid, refund, actor=actor)


def record_refund(deps, request_id: str, refund: dict, *, actor: str) -> dict:
    """Commit Stripe's answer: the refund id and the status it reports."""
    now = deps.clock.now()
    with deps.store.write() as conn:
        current = records.require(conn, request_id, for_update=True)
        apply_snapshot(conn, current, refund, now, actor=actor, action="refund.sent")
        mirror_rules.apply_fetched(conn, "refund", refund, account=current["account"],
                                   trigger_updated=int(now) - 1, now=now)
        crash_point("before_commit")
    return _reload(deps, request_id)


def apply_snapshot(conn, row: dict, refund: dict, now: float, *, actor: str,
                   action: str | None = None, source: str | None = None) -> str:
    """Move a request by a refund snapshot (Stripe's answer, a webhook, a fetch).

    Late or repeated snapshots change nothing (``apply_stripe_status``); a failure raises a
    notification once. Returns the request's state afterwards.
    """
    rid, old = row["id"], row["status"]
    try:
        new = apply_stripe_status(old, refund["status"]).value
    except IllegalTransition as exc:
        _audit(conn, now, actor, "refund.unexpected_status", rid, str(exc),
               refund_id=refund.get("id"), status=refund.get("status"), source=source)
        return old
    values: dict[str, Any] = {}
    if row["refund_id"] is None:
        values["refund_id"] = refund["id"]
    if new != old:
        values.update(status=new, refund_status=new)
        if new == RequestState.failed.value:
            values.update(error_code=refund.get("failure_reason") or "failed",
                          error=f"Stripe reports the refund failed "
                                f"({refund.get('failure_reason') or 'no reason given'})")
        else:
            values.update(error=None, error_code=None)
    if values:
        values["updated"] = now
        records.update(conn, rid, **values)
    if action is not None or new != old:
        _audit(conn, now, actor, action or f"refund.{new}", rid, refund_id=refund["id"],
               stripe_status=refund.get("status"), state=new, previous_state=old,
               failure_reason=refund.get("failure_reason"), source=source)
    if new == RequestState.failed.value and old != new:
        _enqueue_notify(conn, rid, now)
    return new


def _fail(deps, rid: str, exc: DisputeDeskError, actor: str) -> dict:
    now = deps.clock.now()
    code = getattr(exc, "stripe_code", None) or exc.code
    with deps.store.write() as conn:
        if records.update(conn, rid, expect_status=["submitted", "approved"], status="failed",
                          error_code=code, error=exc.message, updated=now):
            _audit(conn, now, actor, "refund.failed", rid, exc.message, stage="stripe",
                   code=code, request_id=getattr(exc, "request_id", None))
            _enqueue_notify(conn, rid, now)
    return _reload(deps, rid)


def _note_error(deps, rid: str, exc: DisputeDeskError, actor: str, *, retry: bool) -> None:
    now = deps.clock.now()
    with deps.store.write() as conn:
        records.update(conn, rid, error_code=exc.code, error=str(exc), updated=now)
        _audit(conn, now, actor, "refund.send_error", rid, str(exc), code=exc.code,
               retry=retry, request_id=getattr(exc, "request_id", None))
        if retry:
            job_queue.enqueue(conn, SUBMIT_JOB, {"request_id": rid}, now=now,
                              run_at=now + TRANSIENT_RETRY_SECONDS,
                              dedupe_key=f"{SUBMIT_JOB}:{rid}")


# --- heal --------------------------------------------------------------------------------------

def heal(deps, *, older_than: float = 0.0, actor: str = SYSTEM_ACTOR) -> dict[str, int]:
    """After a crash or restart: send approved requests nobody sent, replay stuck ``submitted``
    ones with their own key, and refresh refunds still ``pending``/``requires_action``."""
    now = deps.clock.now()
    before = now - older_than
    with deps.store.read() as conn:
        approved = records.ids_in_status(conn, ["approved"], updated_before=before)
        stuck = records.ids_in_status(conn, ["submitted"], updated_before=before,
                                      without_refund=True)
        open_ = records.ids_in_status(conn, ["pending", "requires_action"],
                                      updated_before=before)
    counts = {"sent": 0, "replayed": 0, "adopted": 0, "refreshed": 0, "errors": 0}
    for rid in approved:
        try:
            submit_request(deps, rid, actor=actor)
            counts["sent"] += 1
        except DisputeDeskError as exc:
            counts["errors"] += 1
            log.warning("heal: sending %s failed: %s", rid, exc)
    for rid in stuck:
        try:
            counts[_heal_stuck(deps, rid, actor, now)] += 1
        except DisputeDeskError as exc:
            counts["errors"] += 1
            log.warning("heal: replaying %s failed: %s", rid, exc)
    for rid in open_:
        try:
            refresh_request(deps, rid)
            counts["refreshed"] += 1
        except DisputeDeskError as exc:
            counts["errors"] += 1
            log.warning("heal: refreshing %s failed: %s", rid, exc)
    return counts


def _heal_stuck(deps, rid: str, actor: str, now: float) -> str:
    row = _reload(deps, rid)
    if row["status"] != "submitted" or row["refund_id"] is not None:
        return "replayed"
    age = now - (row["submitted_at"] or row["updated"])
    if age > KEY_PRUNE_AGE or (age > STUCK_KEY_AGE and row["error_code"] == "stripe_unavailable"):
        listed = deps.gateway().list_objects("refund", {"charge": row["charge"]}, row["account"])
        found = find_refund_for_request(listed, rid)
        if found is not None:
            record_refund(deps, rid, dict(found), actor=actor)
            return "adopted"
        # No refund carries the request: the old key made none; a fresh key is safe.
        with deps.store.write() as conn:
            records.update(conn, rid, expect_status="submitted", attempt=int(row["attempt"]) + 1,
                           updated=now)
            _audit(conn, now, actor, "refund.new_attempt", rid, attempt=int(row["attempt"]) + 1,
                   reason="no refund at Stripe for the previous idempotency key")
        row = _reload(deps, rid)
    _call_stripe(deps, row, actor)
    return "replayed"


def refresh_request(deps, request_id: str, *, actor: str = STRIPE_ACTOR) -> dict:
    """Fetch the request's refund from Stripe and apply its status."""
    row = _reload(deps, request_id)
    if row["refund_id"] is None:
        return row
    refund = deps.gateway().fetch_object("refund", row["refund_id"], account=row["account"])
    now = deps.clock.now()
    with deps.store.write() as conn:
        current = records.require(conn, request_id, for_update=True)
        apply_snapshot(conn, current, refund, now, actor=actor, source="fetch")
        mirror_rules.apply_fetched(conn, "refund", refund, account=row["account"],
                                   trigger_updated=int(now) - 1, now=now)
    return _reload(deps, request_id)


# --- approve, reject, cancel ----------------------------------------------------------------------

def approve_request(deps, request_id: str, *, actor: str, note: str | None = None,
                    submit: bool = True) -> dict:
    """Another user approves; the request is re-checked against fresh data and sent."""
    actor = _actor(actor)
    now = deps.clock.now()
    with deps.store.write() as conn:
        row = records.require(conn, request_id, for_update=True)
        ensure_can_approve(actor, records.to_domain(row))
        records.update(conn, request_id, expect_status="awaiting_approval", status="approved",
                       approved_by=actor, decided_at=now, updated=now)
        records.add_approval(conn, request_id, "approved", actor, now, note)
        _audit(conn, now, actor, "refund.approved", request_id, note,
               requested_by=row["requested_by"])
    if not submit:
        return _reload(deps, request_id)
    try:
        fetch_bundle(deps, row["charge"], account=row["account"], with_fraud_warnings=False)
    except StripeError as exc:  # the re-check then uses the mirror; Stripe still has the last word
        log.warning("approve: could not refresh charge %s: %s", row["charge"], exc)
    return submit_request(deps, request_id, actor=actor)


def reject_request(deps, request_id: str, *, actor: str, note: str | None = None) -> dict:
    actor = _actor(actor)
    now = deps.clock.now()
    with deps.store.write() as conn:
        row = records.require(conn, request_id, for_update=True)
        ensure_can_approve(actor, records.to_domain(row))
        records.update(conn, request_id, expect_status="awaiting_approval", status="rejected",
                       approved_by=actor, decided_at=now, updated=now)
        records.add_approval(conn, request_id, "rejected", actor, now, note)
        _audit(conn, now, actor, "refund.rejected", request_id, note,
               requested_by=row["requested_by"])
    return _reload(deps, request_id)


def cancel_request(deps, request_id: str, *, actor: str, note: str | None = None) -> dict:
    """Withdraw a request not yet sent, or cancel its refund at Stripe if it is
    ``requires_action`` (the only refunds Stripe lets you cancel)."""
    actor = _actor(actor)
    row = _reload(deps, request_id)
    unsent = [s.value for s in UNSENT_STATES]
    now = deps.clock.now()
    if row["status"] in unsent:
        with deps.store.write() as conn:
            if records.update(conn, request_id, expect_status=unsent, status="canceled",
                              updated=now):
                _audit(conn, now, actor, "refund.canceled", request_id, note, stage="unsent")
                return records.require(conn, request_id)
        row = _reload(deps, request_id)
    if row["status"] == "requires_action" and row["refund_id"]:
        refund = deps.gateway().cancel_refund(
            row["refund_id"], idempotency_key=f"disputedesk-refund-cancel-{request_id}",
            account=row["account"])
        now = deps.clock.now()
        with deps.store.write() as conn:
            current = records.require(conn, request_id, for_update=True)
            apply_snapshot(conn, current, refund, now, actor=actor, action="refund.canceled")
            if note:
                _audit(conn, now, actor, "refund.cancel_note", request_id, note)
            mirror_rules.apply_fetched(conn, "refund", refund, account=row["account"],
                                       trigger_updated=int(now) - 1, now=now)
        return _reload(deps, request_id)
    raise IllegalTransition(
        f"refund request {request_id} is {row['status']}: only requests not yet sent, or "
        "refunds in requires_action, can be canceled",
        object_id=request_id, param="state",
        hint="a refund that went through cannot be undone; charge the customer again instead")


# --- read ----------------------------------------------------------------------------------------

def list_requests(deps, **filters: Any) -> list[dict]:
    with deps.store.read() as conn:
        return [public(r) for r in records.list_requests(conn, **filters)]


def show_request(deps, request_id: str) -> dict[str, Any]:
    with deps.store.read() as conn:
        row = records.require(conn, request_id)
        history = records.approvals(conn, request_id)
        trail = audit.for_object(conn, OBJECT_TYPE, request_id, limit=500)
    return {"request": public(row), "approvals": history, "audit": trail}
