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

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from disputedesk.domain.approval import (
    ensure_can_approve,
    needs_approval,
    operator_totals,
)
from disputedesk.domain.money import Money, format_money
from disputedesk.domain.refunds import (
    UNSENT_STATES,
    IllegalTransition,
    RefundPlan,
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
    Conflict,
    DisputeDeskError,
    StripeError,
    StripeIdempotencyError,
    StripeInvalidRequest,
    StripeRateLimited,
    StripeUnavailable,
    ValidationError,
)
from disputedesk.services import mirror as mirror_rules
from disputedesk.services import policy
from disputedesk.services.refunds import lease, records
from disputedesk.services.refunds.charges import (
    bundle_from_mirror,
    fetch_bundle,
    load_bundle,
    resolve_charge_id,
)
from disputedesk.services.refunds.faults import crash_point
from disputedesk.store import audit
from disputedesk.store import jobs as job_queue
from disputedesk.store import mirror as mirror_repo
from disputedesk.store.accounts_tables import users

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
    # bulk: an earlier bulk request for the same charge and amount, returned instead of a new one
    repeat_of: dict | None = None

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


def _actor(actor: str | None) -> str:
    name = (actor or "").strip()
    if not name:
        raise ValidationError("the desk must know who is acting", param="actor",
                              hint="sign in: `disputedesk login`, DISPUTEDESK_TOKEN or --actor NAME")
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
                   bulk_job_id: str | None = None, account: str | None = None,
                   strict_key: bool = False, key_name: str | None = None,
                   skip_bulk_repeat: bool = False) -> RefundOutcome:
    """Check and record a refund request, apply the approval policy, and send it if cleared.

    ``amount``: ``None``/"full" (everything left), text as people type it ("12.50 EUR"), an
    ``int`` of minor units (the API form), or Money. ``client_key`` makes the call idempotent:
    the same key returns the request recorded first (two presses of one button, an API retry).
    ``strict_key`` (the API): the same key with other parameters is refused with
    :class:`IdempotencyKeyReused` (naming ``key_name``, the key as the client wrote it).
    ``skip_bulk_repeat`` (bulk rows): a bulk request already on the same charge for the same
    amount (and not failed, canceled or rejected) is returned with ``repeat_of`` set instead of
    recording a second one.
    """
    actor = _actor(actor)
    requested = _amount(amount)
    fingerprint = params_hash(target, target_type, amount, reason, metadata, note)
    if note is not None and len(note) > NOTE_MAX:
        raise ValidationError(f"the note has {len(note)} characters", param="note",
                              hint=f"at most {NOTE_MAX}")
    if client_key is not None and not client_key.strip():
        client_key = None
    if client_key:
        with deps.store.read() as conn:
            existing = records.by_source_key(conn, client_key)
        if existing is not None:
            return _existing(deps, existing, actor, submit,
                             _strict(strict_key, fingerprint, key_name or client_key))
    charge_id, kind = resolve_charge_id(deps, target, target_type, live=live, account=account)
    bundle = load_bundle(deps, charge_id, live=live, account=account)
    rid = request_id or str(uuid.uuid4())
    idempotency_key(rid)  # refuses an id that cannot be part of a key, before anything is written
    now = deps.clock.now()
    # Who answers for it: the person behind the door (a rule's owner), else the actor by name.
    door = audit.current_door()
    person = (door.person if door and door.person else actor)[:150]
    try:
        with deps.store.write() as conn:
            # The policy as stored now, read in this transaction (the same for every process).
            approval_policy = policy.approval_policy_in(conn, deps.settings)
            # The charge (no two checks see the same money as free) and, with daily limits, the
            # operator (no two requests by one person read the day's totals before either is
            # recorded; READ COMMITTED would let them pass the limit together). One sorted call.
            mirror_repo.lock_objects(conn, [("charge", charge_id)] + (
                [("operator", actor.strip().lower())] if approval_policy.daily_limits else []))
            if client_key and (existing := records.by_source_key(conn, client_key)) is not None:
                raise _Existing(existing)
            if skip_bulk_repeat and (earlier := _bulk_repeat(conn, charge_id, requested,
                                                             bundle.charge, rid)) is not None:
                raise _Existing(earlier, repeat=True)
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
                "warnings": warnings, "requested_by": actor, "requester_person": person,
                "approval_reason": decision.reason,
                "status": status.value, "attempt": 1, "bulk_job_id": bulk_job_id,
                "params_hash": fingerprint, "created": now, "updated": now})
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
        if found.repeat:
            return _repeat(deps, found.row, actor, submit)
        return _existing(deps, found.row, actor, submit,
                         _strict(strict_key, fingerprint, key_name or client_key))
    except IntegrityError:
        # PostgreSQL: another transaction inserted the same client key first.
        if not client_key:
            raise
        with deps.store.read() as conn:
            existing = records.by_source_key(conn, client_key)
        if existing is None:
            raise
        return _existing(deps, existing, actor, submit,
                         _strict(strict_key, fingerprint, key_name or client_key))
    crash_point("after_record")
    row = submit_request(deps, rid, actor=actor) if status is RequestState.approved and submit \
        else _reload(deps, rid)
    return RefundOutcome(row, warnings, decision.reason)


def preview_refund(deps, target: str, *, amount: Any = None, target_type: str | None = None,
                   reason: str | None = None, live: bool | None = None,
                   account: str | None = None) -> RefundPlan:
    """The checks of :func:`request_refund` without recording anything: what the refund would
    be (raises what the request would raise). Confirmations are worded from it."""
    charge_id, _kind = resolve_charge_id(deps, target, target_type, live=live, account=account)
    bundle = load_bundle(deps, charge_id, live=live, account=account)
    with deps.store.read() as conn:
        in_flight = records.open_on_charge(conn, charge_id)
    return plan_refund(bundle.charge, amount=_amount(amount), reason=reason,
                       refunds=bundle.refunds, disputes=bundle.disputes,
                       early_fraud_warnings=bundle.early_fraud_warnings, in_flight=in_flight)


class IdempotencyKeyReused(Conflict):
    """A client key (the API's ``Idempotency-Key``) was used before with other parameters.

    As Stripe does: the key names one request; a different request needs a new key."""

    code = "idempotency_key_reused"


class _Existing(Exception):
    def __init__(self, row: dict, *, repeat: bool = False) -> None:
        self.row = row
        self.repeat = repeat


def params_hash(target: str, target_type: str | None, amount: Any, reason: str | None,
                metadata: dict[str, str] | None, note: str | None) -> str:
    """A fingerprint of what the caller asked for (as given, before any look-up)."""
    if isinstance(amount, Money):
        given: Any = ["money", amount.amount, amount.currency]
    elif isinstance(amount, RequestedAmount):
        given = "full" if amount.full else [format(amount.major.normalize(), "f"),
                                            (amount.currency or "").lower()]
    elif isinstance(amount, str):
        parsed = parse_requested_amount(amount)
        given = "full" if parsed.full else [format(parsed.major.normalize(), "f"),
                                            (parsed.currency or "").lower()]
    elif amount is None:
        given = "full"
    else:
        given = ["minor", int(amount)]
    text = json.dumps([target.strip(), target_type or "", given, reason or "",
                       sorted((metadata or {}).items()), note or ""],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _strict(strict: bool, fingerprint: str, key: str | None) -> tuple[str, str | None] | None:
    return (fingerprint, key) if strict else None


def _existing(deps, row: dict, actor: str, submit: bool,
              strict: tuple[str, str | None] | None = None) -> RefundOutcome:
    if strict is not None and row.get("params_hash") and row["params_hash"] != strict[0]:
        raise IdempotencyKeyReused(
            f"the idempotency key '{strict[1]}' was already used for refund request "
            f"{row['id']} with other parameters", object_id=row["id"], param="Idempotency-Key",
            hint="send the same parameters to get that request again, or use a new key for "
                 "a new request")
    if submit and row["status"] == RequestState.approved.value:
        row = submit_request(deps, row["id"], actor=actor)
    return RefundOutcome(row, list(row.get("warnings") or []), row.get("approval_reason"),
                         existing=True)


# A request in these states moved, or may still move, money.
_DONE_OR_GOING = [s.value for s in RequestState
                  if s.value not in ("failed", "canceled", "rejected")]


def _bulk_repeat(conn, charge_id: str, requested: Any, charge: dict, rid: str) -> dict | None:
    """An earlier bulk request on the charge for the same amount that moved or may move money
    (an edited file's row written another way: "10.00" then "10.00 USD")."""
    full = requested is None or (isinstance(requested, RequestedAmount) and requested.full)
    amount = None
    if not full:
        try:
            money = (requested.resolve(charge["currency"])
                     if isinstance(requested, RequestedAmount) else requested)
        except DisputeDeskError:
            return None  # the checks will say what is wrong with the amount
        if isinstance(money, Money):
            if money.currency != charge["currency"]:
                return None
            amount = money.amount
        elif isinstance(money, int):
            amount = money
        else:
            return None
    for row in records.bulk_requests_on_charge(conn, charge_id, _DONE_OR_GOING):
        if row["id"] != rid and (row["full"] if full else
                                 (not row["full"] and int(row["amount"]) == amount)):
            return row
    return None


def _repeat(deps, row: dict, actor: str, submit: bool) -> RefundOutcome:
    outcome = _existing(deps, row, actor, submit)
    outcome.repeat_of = outcome.request
    return outcome


def _reload(deps, request_id: str) -> dict:
    with deps.store.read() as conn:
        return records.require(conn, request_id)


# --- submit ------------------------------------------------------------------------------------

def submit_request(deps, request_id: str, *, actor: str = SYSTEM_ACTOR,
                   replay: bool = False) -> dict:
    """Send an approved request to Stripe (exactly one caller wins the right to send).

    ``replay=True`` (healing, the retry job, a bulk resume) also re-sends a ``submitted``
    request that has no refund id yet; it goes through :func:`_replay` (send lease, and the look
    for a refund already made when the key may have been pruned).
    """
    row = _reload(deps, request_id)
    if row["status"] == RequestState.approved.value:
        row, until = _mark_submitted(deps, row, actor)
        if until is None:
            return row
        return _send(deps, row, actor, until)
    if replay and row["status"] == RequestState.submitted.value and row["refund_id"] is None:
        return _replay(deps, row, actor)[0]
    return row


def _mark_submitted(deps, row: dict, actor: str) -> tuple[dict, float | None]:
    """Re-run the checks on the mirror, then ``approved -> submitted`` with the send lease,
    committed. Returns the row and the lease (None: this caller must not send)."""
    rid = row["id"]
    now = deps.clock.now()
    until = now + lease.lease_seconds(deps.settings)
    with deps.store.write() as conn:
        records.lock_charge(conn, row["charge"])
        current = records.require(conn, rid, for_update=True)
        if current["status"] != RequestState.approved.value:
            return current, None
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
                return records.require(conn, rid), None
        records.update(conn, rid, expect_status="approved", status="submitted",
                       submitted_at=now, updated=now, sending_until=until)
        key = idempotency_key(rid, int(current["attempt"]))
        _audit(conn, now, actor, "refund.submitted", rid, idempotency_key=key)
        current = records.require(conn, rid)
    crash_point("before_call")
    return current, until


def _key_may_be_gone(row: dict, now: float) -> bool:
    """Stripe may have pruned the key (older than a day), or keeps replaying a stored 5xx."""
    age = now - (row["submitted_at"] or row["updated"])
    return age > KEY_PRUNE_AGE or (age > STUCK_KEY_AGE
                                   and row["error_code"] == "stripe_unavailable")


def _replay(deps, row: dict, actor: str) -> tuple[dict, str]:
    """Every re-send of a ``submitted`` request without a refund id goes through here.

    1. Win the send lease for the attempt read (another sender holding it: do nothing).
    2. Re-read under the lease; if the key may be pruned or stuck, list the charge's refunds
       and adopt the one tagged with the request id. Only if there is none, move to a fresh
       key (conditional on the attempt read and on holding the lease).
    3. Send, and give the lease back whatever happens.
    Returns the row and what happened: ``replayed``, ``adopted`` or ``busy``.
    """
    rid = row["id"]
    now = deps.clock.now()
    until = now + lease.lease_seconds(deps.settings)
    with deps.store.write() as conn:
        won = lease.take(conn, rid, attempt=int(row["attempt"]), now=now, until=until)
    if not won:
        return _reload(deps, rid), "busy"
    try:
        row = _reload(deps, rid)  # under the lease: nobody else sends this request now
        if _key_may_be_gone(row, now):
            listed = deps.gateway().list_objects("refund", {"charge": row["charge"]},
                                                 row["account"])
            found = find_refund_for_request(listed, rid)
            if found is not None:
                return record_refund(deps, rid, dict(found), actor=actor), "adopted"
            # No refund carries the request id: the old key made none; a fresh key is safe.
            attempt = int(row["attempt"])
            with deps.store.write() as conn:
                if not lease.bump_attempt(conn, rid, attempt=attempt, until=until, now=now):
                    return records.require(conn, rid), "busy"
                _audit(conn, now, actor, "refund.new_attempt", rid, attempt=attempt + 1,
                       reason="no refund at Stripe for the previous idempotency key",
                       previous_error=row["error_code"])
            row = _reload(deps, rid)
        return _call_stripe(deps, row, actor), "replayed"
    finally:
        _release(deps, rid, until)


def _send(deps, row: dict, actor: str, until: float) -> dict:
    """The first send of a request just marked ``submitted`` (its lease is ``until``)."""
    try:
        return _call_stripe(deps, row, actor)
    finally:
        _release(deps, row["id"], until)


def _release(deps, rid: str, until: float) -> None:
    try:
        with deps.store.write() as conn:
            lease.release(conn, rid, until=until)
    except Exception:  # the lease then simply expires
        log.warning("could not release the send lease of %s", rid, exc_info=True)


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
    except (StripeUnavailable, StripeRateLimited) as exc:
        # Result unknown (5xx, network, 409 idempotency_key_in_use) or not yet tried: the
        # same key again later. Checked first so a 409 can never count as a refusal.
        _note_error(deps, rid, exc, actor, retry=True)
        return _reload(deps, rid)
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
                   code=code, stripe_request_id=getattr(exc, "request_id", None))
            _enqueue_notify(conn, rid, now)
    return _reload(deps, rid)


def _note_error(deps, rid: str, exc: DisputeDeskError, actor: str, *, retry: bool) -> None:
    now = deps.clock.now()
    with deps.store.write() as conn:
        records.update(conn, rid, error_code=exc.code, error=str(exc), updated=now)
        _audit(conn, now, actor, "refund.send_error", rid, str(exc), code=exc.code,
               retry=retry, stripe_request_id=getattr(exc, "request_id", None))
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
    _, what = _replay(deps, row, actor)
    return "adopted" if what == "adopted" else "replayed"


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

def _ensure_second_person(conn, actor: str, row: dict) -> None:
    """Maker-checker between people: the requester's person (through any token or rule) and
    whoever created the approver's account are not a second person."""
    created_by = conn.execute(sa.select(users.c.created_by).where(
        users.c.username_key == actor.strip().lower())).scalar()
    ensure_can_approve(actor, records.to_domain(row), requester_person=row.get("requester_person"),
                       approver_created_by=created_by)


def approve_request(deps, request_id: str, *, actor: str, note: str | None = None,
                    submit: bool = True) -> dict:
    """Another user approves; the request is re-checked against fresh data and sent."""
    actor = _actor(actor)
    now = deps.clock.now()
    with deps.store.write() as conn:
        row = records.require(conn, request_id, for_update=True)
        _ensure_second_person(conn, actor, row)
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
        _ensure_second_person(conn, actor, row)
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
