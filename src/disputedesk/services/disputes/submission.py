"""Stage, preview, submit and accept: the calls that answer a dispute on Stripe.

- **stage** sends the built evidence with ``submit=false``, as often as needed;
- **preview** returns exactly the params ``submit`` will send (files uploaded first, so their ids
  are real) and their digest; ``submit(expected_digest=...)`` refuses if anything changed since;
- **submit** sends them once, before ``due_by``; **accept** closes the dispute (conceding it) and
  needs ``confirm=True``.

Each request is a row in ``dispute_submissions`` written *before* the call; its id is part of the
idempotency key, so a retry after a lost answer re-sends the same request with the same key.
``once_key`` (unique) allows one live final action per dispute (a submit or an accept): a second
submit is refused by the database itself, whatever the process or the race. A definite refusal by
Stripe frees it again; an unknown result (network, 5xx) keeps the row pending, and the next submit
resumes that same request. A 409 (``idempotency_key_in_use``: Stripe is still working on the
first request with that key) is such an unknown result too, never a refusal. The start of a final
action is audited in the transaction that writes its row (``disputes.submit.started``), so a crash
after Stripe accepted still leaves a record of who started it; every outcome is audited in the
transaction that records it.

Every call carries the dispute's ``account`` (a dispute mirrored from a connected account's event
is answered on that account, as ``Stripe-Account``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from disputedesk import errors
from disputedesk.domain import disputes as d
from disputedesk.errors import (
    AlreadyDone,
    Conflict,
    StripeInvalidRequest,
    ValidationError,
)
from disputedesk.evidence.composer import stripe_evidence
from disputedesk.evidence.limits import FILE_FIELDS, check_evidence
from disputedesk.services import mirror as mirror_rules
from disputedesk.services.disputes.common import (
    REVIEW_STATUSES,
    DisputeNotOpen,
    PastDue,
    digest,
    get_work,
    idempotency_key,
    load_dispute,
    sync_work,
)
from disputedesk.services.disputes.evidence_work import (
    current_draft,
    dispute_account,
    upload_packet,
)
from disputedesk.store import audit
from disputedesk.store import mirror as repo
from disputedesk.store.disputes_tables import submissions

FINAL = "final"


@dataclass
class Preview:
    dispute_id: str
    params: dict[str, Any]
    digest: str
    score: int
    missing_required: list[str]
    warnings: list[str] = field(default_factory=list)
    # Against what Stripe already holds: [{field, change: added|unchanged|replaced, before, after}]
    diff: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"dispute_id": self.dispute_id, "params": self.params, "digest": self.digest,
                "score": self.score, "missing_required": self.missing_required,
                "warnings": self.warnings, "diff": self.diff}


def evidence_diff(on_stripe: Mapping[str, Any], sending: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each field sent, against the evidence already on the dispute; fields kept as they are on
    Stripe (not sent) are listed too, so nothing changes unseen."""
    out = []
    for name in sorted(set(on_stripe) | set(sending)):
        if name == "enhanced_evidence":
            continue
        before, after = on_stripe.get(name), sending.get(name)
        if after is None:
            change = "kept"
        elif before is None:
            change = "added"
        elif before == after:
            change = "unchanged"
        else:
            change = "replaced"
        out.append({"field": name, "change": change, "before": before, "after": after})
    return out


@dataclass
class Submission:
    id: int
    dispute_id: str
    kind: str
    status: str
    idempotency_key: str
    params: dict[str, Any] | None
    dispute_status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _check_answerable(dispute: dict, now: float, *, action: str) -> None:
    status = d.status_of(dispute)
    if status in REVIEW_STATUSES:
        raise AlreadyDone(f"evidence for dispute {dispute['id']} was already submitted ({status}); "
                          "Stripe accepts one submission", object_id=dispute["id"],
                          hint="wait for the issuer's decision")
    if status in d.CLOSED_STATUSES:
        raise DisputeNotOpen(f"dispute {dispute['id']} is closed ({status}); nothing to {action}",
                             object_id=dispute["id"])
    if not d.needs_response(dispute):
        raise DisputeNotOpen(f"dispute {dispute['id']} is {status}: no response is due",
                             object_id=dispute["id"])


# Past tenses spelled out: "submit" + "ed" is not a word.
_PAST = {"submit": "submitted", "stage": "staged", "accept": "accepted"}


def _check_not_past_due(dispute: dict, now: float, action: str) -> None:
    if d.is_past_due(dispute, now):
        raise PastDue(
            f"dispute {dispute['id']} was due {d.format_time_left(d.time_left(dispute, now))[11:]} "
            f"ago; Stripe no longer takes evidence for it", object_id=dispute["id"],
            hint=f"it cannot be {_PAST.get(action, action)}; the issuer decides without a response")


def evidence_params(deps, dispute_id: str, *, submit: bool, actor: str) -> Preview:
    """The exact ``POST /v1/disputes/{id}`` params from the last build (building first if none,
    or if an edit came after it: that build is audited as ``actor``, the person who asked)."""
    draft = current_draft(deps, dispute_id, actor=actor)
    files = upload_packet(deps, dispute_id)
    evidence: dict[str, Any] = {k: v for k, v in sorted((draft["fields"] or {}).items()) if v}
    evidence.update({k: files[k] for k in sorted(files) if k in FILE_FIELDS})
    warnings: list[str] = []
    ce3 = draft.get("ce3") or {}
    if ce3.get("qualified") and ce3.get("payload"):
        evidence["enhanced_evidence"] = {"visa_compelling_evidence_3": ce3["payload"]}
    elif ce3.get("eligible"):
        warnings.append("Visa CE 3.0 not filled: " + (ce3.get("explain") or "does not qualify"))
    check_evidence({k: v for k, v in evidence.items() if k != "enhanced_evidence"})
    if not evidence:
        raise ValidationError(f"dispute {dispute_id} has no evidence to send", param="evidence",
                              hint="build it or fill fields first")
    params = {"evidence": evidence, "submit": submit}
    missing = [m["field"] for m in draft.get("missing") or [] if m.get("importance") == "required"]
    if missing:
        warnings.append("required evidence missing: " + ", ".join(missing))
    with deps.store.read() as conn:
        text, files_on_stripe = stripe_evidence(load_dispute(conn, dispute_id))
    diff = evidence_diff({**text, **files_on_stripe}, evidence)
    replaced = [c["field"] for c in diff if c["change"] == "replaced"]
    if replaced:
        warnings.append("replaces evidence already on Stripe: " + ", ".join(replaced))
    return Preview(dispute_id, params, digest(params), int(draft.get("score") or 0), missing, warnings,
                   diff)


def preview(deps, dispute_id: str, *, actor: str = "system") -> Preview:
    """What ``submit`` will send, exactly (uploads the packet's files so their ids are real).

    It may rebuild a stale draft (a write, audited as ``actor``) and uploads files to Stripe, so
    callers must hold the submit permission, as for :func:`submit`.
    """
    with deps.store.read() as conn:
        _check_answerable(load_dispute(conn, dispute_id), deps.clock.now(), action="submit")
    return evidence_params(deps, dispute_id, submit=True, actor=actor)


def _once_key(dispute: dict) -> str:
    # An inquiry escalated to a chargeback is answered again: one final action per phase.
    return f"{dispute['id']}:{'inquiry' if d.is_inquiry(dispute) else 'chargeback'}:{FINAL}"


def _begin(conn: Connection, dispute: dict, kind: str, params: dict | None, actor: str,
           now: float, note: str | None) -> Submission:
    dispute_id = dispute["id"]
    once = _once_key(dispute) if kind in ("submit", "accept") else None
    try:
        with conn.begin_nested():
            result = conn.execute(submissions.insert().values(
                dispute_id=dispute_id, kind=kind, status="pending", once_key=once,
                idempotency_key=f"pending:{dispute_id}:{kind}:{now}:{id(params)}", params=params,
                digest=digest(params) if params is not None else None, actor=actor, note=note,
                created_at=now))
    except IntegrityError:
        raise AlreadyDone(f"dispute {dispute_id} already has a submission or an acceptance",
                          object_id=dispute_id, hint="`disputedesk disputes show` shows it") from None
    row_id = result.inserted_primary_key[0]
    key = idempotency_key(dispute_id, kind, row_id)
    conn.execute(submissions.update().where(submissions.c.id == row_id).values(idempotency_key=key))
    if once is not None:
        # Who started the closing action, in the transaction that commits the pending row: if the
        # process dies after Stripe accepted, this is the audit log's record of it.
        audit.append(conn, at=now, actor=actor, action=f"disputes.{kind}.started",
                     object_type="dispute", object_id=dispute_id, note=note,
                     details={"submission": row_id, "idempotency_key": key,
                              "digest": digest(params) if params is not None else None,
                              "fields": sorted((params or {}).get("evidence", {}))})
    return Submission(row_id, dispute_id, kind, "pending", key, params)


def _pending_final(conn: Connection, dispute_id: str) -> dict | None:
    dispute = load_dispute(conn, dispute_id)
    row = conn.execute(sa.select(submissions).where(
        submissions.c.once_key == _once_key(dispute))).mappings().first()
    return dict(row) if row else None


def _finish(deps, sub: Submission, result: dict | None, error: Exception | None, *,
            action: str, note: str | None) -> None:
    now = deps.clock.now()
    with deps.store.write() as conn:
        if error is None and result is not None:
            conn.execute(submissions.update().where(submissions.c.id == sub.id).values(
                status="done", finished_at=now, error=None))
            stored = repo.load_versions(conn, "dispute", [sub.dispute_id]).get(sub.dispute_id)
            mirror_rules.apply_fetched(conn, "dispute", result,
                                       account=dispute_account(conn, sub.dispute_id),
                                       trigger_updated=stored.stripe_updated if stored else
                                       int(result.get("created") or 0), now=now)
            dispute = repo.get_object(conn, "dispute", sub.dispute_id) or result
            actor = _actor_of(conn, sub.id)
            extra: dict[str, Any] = {}
            if sub.kind == "submit":
                extra = {"submitted_at": now, "submitted_by": actor}
            elif sub.kind == "accept":
                extra = {"state": "accepted"}
            work = sync_work(conn, dispute, now, **extra)
            from disputedesk.services.disputes import outcomes, reminders

            reminders.plan(conn, dispute, now, reminders.offsets(conn, deps.settings), work)
            outcomes.record(conn, dispute, now)
            audit.append(conn, at=now, actor=_actor_of(conn, sub.id), action=f"disputes.{action}",
                         object_type="dispute", object_id=sub.dispute_id, note=note,
                         details={"submission": sub.id, "idempotency_key": sub.idempotency_key,
                                  "digest": digest(sub.params) if sub.params else None,
                                  "fields": sorted((sub.params or {}).get("evidence", {})),
                                  "status": dispute.get("status")})
            sub.status, sub.dispute_status = "done", dispute.get("status")
            return
        definite = _is_refusal(error)
        conn.execute(submissions.update().where(submissions.c.id == sub.id).values(
            status="failed" if definite else "pending", error=str(error)[:4000],
            finished_at=now if definite else None,
            **({"once_key": None} if definite else {})))
        audit.append(conn, at=now, actor=_actor_of(conn, sub.id), action=f"disputes.{action}.failed",
                     object_type="dispute", object_id=sub.dispute_id, note=note,
                     details={"submission": sub.id, "error": str(error)[:500],
                              "retryable": not definite})
        sub.status = "failed" if definite else "pending"


def _is_refusal(error: Exception) -> bool:
    """True when Stripe definitely refused the request (a 4xx other than 409).

    A 409 (``idempotency_key_in_use``, or a lock conflict) means the first request with this key
    may still be running on Stripe's side: the result is unknown, so the row stays pending and the
    next attempt re-sends it with the same key. The once-key must not be freed then, or a second,
    different request could race the first.
    """
    conflict = getattr(errors, "StripeConflict", None)
    if conflict is not None and isinstance(error, conflict):
        return False
    if getattr(error, "http_status", None) == 409:
        return False
    if isinstance(error, errors.StripeIdempotencyError):
        # Stripe already saw this key (the row's own key) with a request whose result the desk
        # never recorded: whether that one took effect is unknown, so keep the action pending.
        return False
    return isinstance(error, StripeInvalidRequest)


def _actor_of(conn: Connection, submission_id: int) -> str:
    return conn.execute(sa.select(submissions.c.actor).where(submissions.c.id == submission_id)
                        ).scalar_one()


def _send(deps, sub: Submission, *, action: str, note: str | None) -> Submission:
    with deps.store.read() as conn:
        account = dispute_account(conn, sub.dispute_id)
    try:
        if sub.kind == "accept":
            result = deps.gateway().close_dispute(sub.dispute_id, idempotency_key=sub.idempotency_key,
                                                  account=account)
        else:
            result = deps.gateway().update_dispute(sub.dispute_id, sub.params or {},
                                                   idempotency_key=sub.idempotency_key,
                                                   account=account)
    except Exception as exc:
        _finish(deps, sub, None, exc, action=action, note=note)
        raise
    _finish(deps, sub, result, None, action=action, note=note)
    return sub


def stage(deps, dispute_id: str, *, actor: str, note: str | None = None) -> Submission:
    """Send the built evidence with ``submit=false`` (allowed as often as needed)."""
    with deps.store.read() as conn:
        dispute = load_dispute(conn, dispute_id)
        _check_answerable(dispute, deps.clock.now(), action="stage")
    pv = evidence_params(deps, dispute_id, submit=False, actor=actor)
    now = deps.clock.now()
    with deps.store.write() as conn:
        _check_answerable(load_dispute(conn, dispute_id), now, action="stage")
        sub = _begin(conn, load_dispute(conn, dispute_id), "stage", pv.params, actor, now, note)
    return _send(deps, sub, action="stage", note=note)


def submit(deps, dispute_id: str, *, actor: str, note: str | None = None,
           expected_digest: str | None = None) -> Submission:
    """Submit the evidence, once, before ``due_by``; ``expected_digest`` pins the preview."""
    now = deps.clock.now()
    with deps.store.read() as conn:
        pending = _pending_final(conn, dispute_id)
    if pending and pending["status"] == "pending" and pending["kind"] == "submit":
        # An earlier attempt's result is unknown: send that same request again, same key.
        sub = Submission(pending["id"], dispute_id, "submit", "pending", pending["idempotency_key"],
                         pending["params"])
        return _send(deps, sub, action="submit", note=note)
    if pending and pending["status"] == "done":
        raise AlreadyDone(f"dispute {dispute_id} was already {_PAST.get(pending['kind'], pending['kind'])} by "
                          f"{pending['actor']}", object_id=dispute_id)
    with deps.store.read() as conn:
        dispute = load_dispute(conn, dispute_id)
        _check_answerable(dispute, now, action="submit")
        _check_not_past_due(dispute, now, "submit")
    pv = evidence_params(deps, dispute_id, submit=True, actor=actor)
    if expected_digest is not None and expected_digest != pv.digest:
        raise Conflict(f"the evidence of {dispute_id} changed since the preview", object_id=dispute_id,
                       hint="preview again and submit what you reviewed")
    now = deps.clock.now()
    with deps.store.write() as conn:
        dispute = load_dispute(conn, dispute_id)
        _check_answerable(dispute, now, action="submit")
        _check_not_past_due(dispute, now, "submit")
        sub = _begin(conn, dispute, "submit", pv.params, actor, now, note)
    return _send(deps, sub, action="submit", note=note)


def accept(deps, dispute_id: str, *, actor: str, confirm: bool, note: str | None = None
           ) -> Submission:
    """Accept (close) the dispute: the merchant concedes it. Needs ``confirm=True``."""
    if confirm is not True:
        raise ValidationError(
            f"accepting dispute {dispute_id} concedes it: the money stays with the cardholder and "
            "no evidence can be sent afterwards", param="confirm",
            hint="confirm explicitly (--yes on the command line, confirm=true over the API)")
    now = deps.clock.now()
    with deps.store.write() as conn:
        pending = _pending_final(conn, dispute_id)
        if pending and pending["status"] == "pending" and pending["kind"] == "accept":
            sub = Submission(pending["id"], dispute_id, "accept", "pending",
                             pending["idempotency_key"], None)
        else:
            dispute = load_dispute(conn, dispute_id)
            _check_answerable(dispute, now, action="accept")
            sub = _begin(conn, dispute, "accept", None, actor, now, note)
    return _send(deps, sub, action="accept", note=note)


def list_submissions(deps, dispute_id: str) -> list[dict[str, Any]]:
    with deps.store.read() as conn:
        rows = conn.execute(sa.select(submissions).where(submissions.c.dispute_id == dispute_id)
                            .order_by(submissions.c.id)).mappings()
        return [dict(r) for r in rows]


def work_of(deps, dispute_id: str) -> dict | None:
    with deps.store.read() as conn:
        return get_work(conn, dispute_id)
