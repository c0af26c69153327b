"""Evidence work per dispute: the composed draft, manual edits, attachments, the fitted packet,
Visa CE 3.0, and uploading the files to Stripe.

The draft is composed by :mod:`disputedesk.evidence.composer` from the charge, the customer's
history in the mirror, the merchant's order (imported or from a configured source) and the text
templates the merchant edits; manual edits win and are kept with who and when. A person's edit or
upload marks the dispute *hand-edited*: automation (``automated=True``) then leaves it alone.

``build`` stores the draft and the packet (one file per evidence field, fitted to Stripe's limits
by :func:`disputedesk.evidence.files.fit_packet`, with the generated summary PDF first in
``uncategorized_file``). Staging and submitting send exactly what the last build stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.domain import disputes as d
from disputedesk.errors import ValidationError
from disputedesk.evidence import ce3 as ce3_mod
from disputedesk.evidence.composer import (
    TEXT_TEMPLATE_NAMES,
    ComposedEvidence,
    TextTemplates,
    compose_evidence,
    stripe_evidence,
)
from disputedesk.evidence.files import Document, PacketFile, fit_packet, load_document
from disputedesk.evidence.limits import FILE_FIELDS, TEXT_FIELDS, validate_evidence
from disputedesk.evidence.summary_pdf import build_receipt_pdf, build_summary_pdf, has_receipt
from disputedesk.evidence.templates import PRODUCT_TYPES
from disputedesk.services import mirror as mirror_rules
from disputedesk.services.disputes.common import (
    HandEdited,
    charge_id_of,
    get_work,
    idempotency_key,
    load_dispute,
    sync_work,
    upsert,
)
from disputedesk.services.disputes.orders import find_order
from disputedesk.store import audit
from disputedesk.store import mirror as repo
from disputedesk.store.disputes_tables import (
    dispute_work,
    evidence_drafts,
    evidence_fields,
    evidence_files,
    submissions,
    text_templates,
)
from disputedesk.store.tables import audit_log
from disputedesk.store.tables import charges as mirror_charges
from disputedesk.store.tables import early_fraud_warnings as mirror_efws
from disputedesk.store.tables import refunds as mirror_refunds

HISTORY_LIMIT = 500
SUMMARY_FIELD = "uncategorized_file"
RECEIPT_FIELD = "receipt"
DAY = 86_400


@dataclass
class EvidenceView:
    dispute_id: str
    reason: str
    status: str
    product_type: str
    fields: dict[str, str]
    sources: dict[str, str]
    score: int
    filled: list[str]
    missing: list[dict[str, str]]
    manual: dict[str, dict[str, Any]]
    attachments: list[dict[str, Any]]
    ce3: dict[str, Any]
    violations: list[dict[str, Any]]
    notes: list[str]
    order_id: str | None
    order_source: str | None
    hand_edited: bool
    draft: dict[str, Any] | None = None   # the last build: built_at, built_by, packet
    product_type_source: str = ""        # what the product type was inferred from, or who set it
    provenance: dict[str, Any] = field(default_factory=dict)  # field -> source, record, claims
    to_add: list[dict[str, str]] = field(default_factory=list)  # what to add for missing facts
    on_stripe: dict[str, Any] = field(default_factory=dict)   # evidence already on the dispute

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BuildResult:
    view: EvidenceView
    packet: dict[str, dict[str, Any]]
    steps: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"evidence": self.view.to_dict(), "packet": self.packet, "steps": self.steps}


# --- reading what the composer needs ---------------------------------------------------------

def dispute_account(conn: Connection, dispute_id: str) -> str | None:
    """The connected account (``acct_...``) the dispute lives on, from the mirror's ``account``
    column (the event's ``account``); ``None`` for the desk's own account.

    Every Stripe call about the dispute (update, close, file uploads, fetches) must carry it as
    ``Stripe-Account``: without it the call goes to the platform, which does not hold the dispute.
    """
    table = repo.table_for("dispute")
    return conn.execute(sa.select(table.c.account).where(table.c.id == dispute_id)).scalar()


def ensure_charge(deps, dispute: dict, account: str | None = None) -> None:
    """Fetch the disputed charge into the mirror when the desk does not hold it yet."""
    charge_id = charge_id_of(dispute)
    if not charge_id:
        return
    with deps.store.read() as conn:
        if repo.get_object(conn, "charge", charge_id) is not None:
            return
    charge = deps.gateway().fetch_object("charge", charge_id, account=account)
    with deps.store.write() as conn:
        mirror_rules.apply_fetched(conn, "charge", charge, account=account,
                                   trigger_updated=int(charge.get("created") or 0),
                                   now=deps.clock.now())


def _email_of(charge: Mapping[str, Any]) -> str | None:
    email = (charge.get("billing_details") or {}).get("email") or charge.get("receipt_email")
    return str(email).strip().lower() if email else None


def customer_history(conn: Connection, charge: Mapping[str, Any]) -> list[dict]:
    """The same customer's other charges in the mirror, newest first: by customer id, else by
    card *and* email together (a card fingerprint alone can be shared by different customers)."""
    customer = charge.get("customer")
    customer = customer.get("id") if isinstance(customer, dict) else customer
    c = mirror_charges.c
    if customer:
        rows = conn.execute(sa.select(c.data).where(c.customer == customer, c.id != charge["id"])
                            .order_by(c.created.desc()).limit(HISTORY_LIMIT)).scalars()
        return list(rows)
    # No customer object: the same card and email within the last 13 months, from the snapshots.
    created = int(charge.get("created") or 0)
    fingerprint = ((charge.get("payment_method_details") or {}).get("card") or {}).get("fingerprint")
    email = _email_of(charge)
    if not fingerprint or not email:
        return []
    rows = conn.execute(sa.select(c.data).where(c.created >= created - 400 * DAY, c.created <= created,
                                                c.id != charge["id"])
                        .order_by(c.created.desc()).limit(20_000)).scalars()
    return [r for r in rows if ((r.get("payment_method_details") or {}).get("card") or {})
            .get("fingerprint") == fingerprint and _email_of(r) == email][:HISTORY_LIMIT]


def load_text_templates(conn: Connection) -> TextTemplates:
    rows = conn.execute(sa.select(text_templates.c.name, text_templates.c.source)).all()
    return TextTemplates({name: source for name, source in rows})


def manual_edits(conn: Connection, dispute_id: str) -> dict[str, dict[str, Any]]:
    """The newest manual edit per field: {field: {value, edited_by, edited_at, note}}."""
    rows = conn.execute(sa.select(evidence_fields).where(evidence_fields.c.dispute_id == dispute_id)
                        .order_by(evidence_fields.c.id)).mappings()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out[row["field"]] = {"value": row["value"], "edited_by": row["edited_by"],
                             "edited_at": row["edited_at"], "note": row["note"]}
    return out


_FILE_COLUMNS = [c for c in evidence_files.c if c.name != "data"]


def attachments(conn: Connection, dispute_id: str, kind: str = "upload",
                with_data: bool = False) -> list[dict[str, Any]]:
    cols = list(evidence_files.c) if with_data else _FILE_COLUMNS
    rows = conn.execute(sa.select(*cols).where(
        evidence_files.c.dispute_id == dispute_id, evidence_files.c.kind == kind,
        evidence_files.c.active.is_(True)).order_by(evidence_files.c.id)).mappings()
    return [dict(r) for r in rows]


def _fraud_reported(conn: Connection, charge_ids: list[str]) -> set[str]:
    if not charge_ids:
        return set()
    return set(conn.execute(sa.select(mirror_efws.c.charge).where(
        mirror_efws.c.charge.in_(charge_ids[:1000]))).scalars())


def ce3_summary(result: ce3_mod.CE3Result | None, dispute: dict) -> dict[str, Any]:
    if result is None:
        return {"eligible": False, "qualified": False, "checked_by_desk": False,
                "explain": "not checked: CE 3.0 is for Visa card-absent fraud (10.4) disputes"}
    return {
        "eligible": result.eligible, "qualified": result.qualified, "explain": result.explain(),
        # Found by the desk from the mirror although Stripe did not flag the dispute.
        "checked_by_desk": True, "found_by_desk": result.qualified and not result.eligible,
        "prior_charges": list(result.prior_charges),
        "matching_elements": list(result.matching_elements), "problems": list(result.problems),
        "rejections": [{"charge": r.charge, "reasons": list(r.reasons)} for r in result.rejections],
        "required_actions": list(result.required_actions), "warnings": list(result.warnings),
        "payload": result.payload,
    }


@dataclass
class _Inputs:
    dispute: dict
    charge: dict
    history: list[dict]
    order: Any
    order_source: str | None
    refunds: list[dict]
    product_type_choice: dict | None
    templates: TextTemplates
    manual: dict[str, dict[str, Any]]
    uploads: list[dict[str, Any]]
    work: dict | None
    merchant: dict[str, Any] = field(default_factory=dict)


def merchant_context(settings) -> dict[str, Any]:
    """What the text templates know about the merchant, from the ``merchant_*`` settings."""
    return {
        "name": settings.merchant_name,
        "support_email": settings.merchant_support_email,
        "refund_policy_url": settings.merchant_refund_policy_url,
        "refund_window_days": settings.merchant_refund_window_days,
        "cancellation_policy_url": settings.merchant_cancellation_policy_url,
        "policy_shown_at": settings.merchant_policy_shown_at,
        "policy_shown_since": settings.merchant_policy_shown_since,
    }


def product_type_choice(conn: Connection, dispute_id: str) -> dict | None:
    """A person's product type for the dispute (the newest audited choice), or None."""
    a = audit_log.c
    last = conn.execute(sa.select(a.actor, a.at, a.details).where(
        a.object_type == "dispute", a.object_id == dispute_id, a.action == "disputes.product_type")
        .order_by(a.at.desc(), a.id.desc()).limit(1)).first()
    if last is None:
        return None
    return {"product_type": (last.details or {}).get("product_type"), "by": last.actor, "at": last.at}


def _ce3_applies(dispute: dict, charge: dict) -> bool:
    """Visa card-absent fraud: Stripe's flag, or a Visa fraud dispute (10.4 or no code given)."""
    if ce3_mod.eligibility(dispute)["eligible"]:
        return True
    code = d.network_reason_code(dispute)
    brand = (d.card_brand(dispute, charge) or "").lower()
    return dispute.get("reason") == "fraudulent" and brand == "visa" and code in (None, "10.4")


def desk_sent(conn: Connection, dispute_id: str) -> dict[str, set[str]]:
    """Per evidence field, the values the desk itself staged or submitted (text, and the ids of
    files it uploaded): on Stripe, those are the desk's own statements, not someone else's."""
    sent: dict[str, set[str]] = {}
    rows = conn.execute(sa.select(submissions.c.params).where(
        submissions.c.dispute_id == dispute_id, submissions.c.kind.in_(("stage", "submit")),
        submissions.c.status == "done")).scalars()
    for params in rows:
        for name, value in ((params or {}).get("evidence") or {}).items():
            if isinstance(value, str):
                sent.setdefault(name, set()).add(value)
    for name, file_id in conn.execute(sa.select(evidence_files.c.field, evidence_files.c.stripe_file_id)
                                      .where(evidence_files.c.dispute_id == dispute_id,
                                             evidence_files.c.stripe_file_id.is_not(None))):
        sent.setdefault(name, set()).add(file_id)
    return sent


def _without_own(dispute: dict, sent: Mapping[str, set[str]]) -> dict:
    """The dispute with the evidence the desk itself put on Stripe taken out: that part is composed
    again from its records (with its sources), and only what others put there is kept as is."""
    evidence = dispute.get("evidence")
    if not isinstance(evidence, Mapping) or not sent:
        return dispute
    kept = {k: v for k, v in evidence.items()
            if not ((v if isinstance(v, str) else (v or {}).get("id") if isinstance(v, Mapping) else None)
                    in sent.get(k, ()))}
    return {**dispute, "evidence": kept}


def _inputs(deps, conn: Connection, dispute_id: str) -> _Inputs:
    dispute = _without_own(load_dispute(conn, dispute_id), desk_sent(conn, dispute_id))
    charge = repo.get_object(conn, "charge", charge_id_of(dispute) or "") or {
        "id": charge_id_of(dispute), "object": "charge", "amount": dispute.get("amount"),
        "currency": dispute.get("currency")}
    order, source = find_order(deps, conn, charge)
    refunds = list(conn.execute(sa.select(mirror_refunds.c.data).where(
        mirror_refunds.c.charge == charge.get("id"))).scalars()) if charge.get("id") else []
    return _Inputs(dispute, charge, customer_history(conn, charge), order, source, refunds,
                   product_type_choice(conn, dispute_id), load_text_templates(conn), manual_edits(conn, dispute_id),
                   attachments(conn, dispute_id), get_work(conn, dispute_id),
                   merchant_context(deps.settings))


def order_label(inp: _Inputs) -> str | None:
    if not inp.order:
        return None
    return f"order {inp.order.get('id')} ({inp.order_source or 'order source'})"


def _compose(conn: Connection, inp: _Inputs, product_type: str | None
             ) -> tuple[ComposedEvidence, dict[str, Any]]:
    source = None
    if product_type:
        source = "chosen for this view"
    elif inp.product_type_choice and inp.product_type_choice.get("product_type"):
        product_type = inp.product_type_choice["product_type"]
        source = f"set by {inp.product_type_choice['by']}"
    if product_type and product_type not in PRODUCT_TYPES:
        raise ValidationError(f"unknown product type '{product_type}'", param="product_type",
                              hint="one of: " + ", ".join(PRODUCT_TYPES))
    manual = {f: m["value"] for f, m in inp.manual.items()}
    attached = {a["field"]: "upload" for a in inp.uploads}
    on_stripe = stripe_evidence(inp.dispute)[1]
    if SUMMARY_FIELD not in on_stripe:  # never silently replace a file already on Stripe
        attached.setdefault(SUMMARY_FIELD, "summary")
    if RECEIPT_FIELD not in on_stripe and has_receipt(inp.charge):
        attached.setdefault(RECEIPT_FIELD, "charge")  # built from the charge's receipt record
    composed = compose_evidence(inp.dispute, inp.charge, history=inp.history, order=inp.order,
                                order_label=order_label(inp), product_type=product_type,
                                product_type_source=source, text_templates=inp.templates,
                                manual=manual, attachments=attached, merchant=inp.merchant,
                                refunds=inp.refunds)
    result = None
    if _ce3_applies(inp.dispute, inp.charge):
        # The desk checks CE 3.0 itself from the mirror, whether or not Stripe flagged it.
        result = ce3_mod.build_ce3(
            inp.dispute, inp.charge, inp.history, order=inp.order,
            product_type=composed.product_type,
            product_description=composed.fields.get("product_description"),
            fraud_reported=_fraud_reported(conn, [c["id"] for c in inp.history]),
            require_eligibility=False)
    return composed, ce3_summary(result, inp.dispute)


def _view(inp: _Inputs, composed: ComposedEvidence, ce3: dict[str, Any],
          draft: dict | None) -> EvidenceView:
    violations = validate_evidence(composed.to_params(), brand=d.card_brand(inp.dispute, inp.charge))
    return EvidenceView(
        dispute_id=inp.dispute["id"], reason=composed.reason, status=inp.dispute.get("status"),
        product_type=composed.product_type, fields=dict(composed.fields),
        sources=dict(composed.sources), score=composed.score,
        filled=list(composed.completeness.filled) if composed.completeness else [],
        missing=[{"field": m.field, "importance": m.importance, "why": m.why}
                 for m in composed.missing],
        manual=inp.manual,
        attachments=[{k: v for k, v in a.items() if k != "data"} for a in inp.uploads],
        ce3=ce3,
        violations=[{"field": v.field, "rule": v.rule, "message": v.message, "fix": v.fix}
                    for v in violations],
        notes=list(composed.notes) + [composed.template.advice],
        order_id=(inp.order or {}).get("id") if inp.order else None,
        order_source=inp.order_source,
        hand_edited=bool((inp.work or {}).get("hand_edited")),
        draft=draft, product_type_source=composed.product_type_source,
        provenance=composed.provenance(), to_add=list(composed.to_add), on_stripe=dict(composed.stripe),
    )


def _draft(conn: Connection, dispute_id: str) -> dict | None:
    row = conn.execute(sa.select(evidence_drafts).where(evidence_drafts.c.dispute_id == dispute_id)
                       ).mappings().first()
    return dict(row) if row else None


def get_evidence(deps, dispute_id: str, *, product_type: str | None = None) -> EvidenceView:
    """The evidence as it stands: composed now from the desk's data, with the last build's info."""
    with deps.store.read() as conn:
        inp = _inputs(deps, conn, dispute_id)
        composed, ce3 = _compose(conn, inp, product_type)
        draft = _draft(conn, dispute_id)
    info = None
    if draft:
        info = {"built_at": draft["built_at"], "built_by": draft["built_by"],
                "score": draft["score"], "packet": draft["packet"]}
    return _view(inp, composed, ce3, info)


# --- a person's changes ----------------------------------------------------------------------

def _mark_changed(conn: Connection, dispute: dict, actor: str, now: float, *,
                  by_person: bool = True) -> None:
    extra: dict[str, Any] = {"evidence_changed_at": now,
                             "evidence_version": dispute_work.c.evidence_version + 1}
    if by_person:
        extra.update(hand_edited=True, hand_edited_by=actor)
    sync_work(conn, dispute, now, **extra)


def _check_open_for_edits(dispute: dict) -> None:
    from disputedesk.services.disputes.common import DisputeNotOpen

    if not d.needs_response(dispute):
        raise DisputeNotOpen(
            f"dispute {dispute['id']} is {dispute.get('status')}: its evidence can no longer change",
            object_id=dispute["id"], hint="evidence can be changed only while a response is due")


def edit_fields(deps, dispute_id: str, values: Mapping[str, str | None], *, actor: str,
                note: str | None = None, automated: bool = False) -> EvidenceView:
    """Set (or clear, with ``None``/``""``) evidence text fields by hand; each edit is kept."""
    if not values:
        raise ValidationError("no fields to change", param="fields",
                              hint="give field=value pairs, e.g. shipping_carrier=UPS")
    for name, value in values.items():
        if name not in TEXT_FIELDS:
            hint = ("attach a document to it: `disputedesk disputes attach`" if name in FILE_FIELDS
                    else "use a Stripe evidence text field name, e.g. uncategorized_text")
            raise ValidationError(f"'{name}' is not an evidence text field", param=name, hint=hint)
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"'{name}' must be text", param=name)
    now = deps.clock.now()
    with deps.store.write() as conn:
        dispute = load_dispute(conn, dispute_id)
        _check_open_for_edits(dispute)
        work = get_work(conn, dispute_id)
        if automated and work and work.get("hand_edited"):
            raise HandEdited(f"dispute {dispute_id} was edited by {work.get('hand_edited_by')}; "
                             "automation leaves it alone", object_id=dispute_id)
        for name, value in values.items():
            conn.execute(evidence_fields.insert().values(
                dispute_id=dispute_id, field=name, value=value or None, edited_by=actor,
                edited_at=now, note=note))
        _mark_changed(conn, dispute, actor, now, by_person=not automated)
        # What a person types is their own statement to the issuer: the audit says so.
        audit.append(conn, at=now, actor=actor, action="disputes.evidence.edit",
                     object_type="dispute", object_id=dispute_id, note=note,
                     details={"fields": {k: (v[:200] if v else None) for k, v in values.items()},
                              "statement_by": None if automated else actor,
                              "backed_by": "automation rule" if automated else "the person's statement"})
    return get_evidence(deps, dispute_id)


def attach(deps, dispute_id: str, field_name: str, filename: str, data: bytes, *, actor: str,
           note: str | None = None, automated: bool = False) -> dict[str, Any]:
    """Add a PDF/PNG/JPEG to a file field (several per field are merged into one PDF at build)."""
    if field_name not in FILE_FIELDS:
        raise ValidationError(f"'{field_name}' does not take a document", param="field",
                              hint="attach to one of: " + ", ".join(sorted(FILE_FIELDS)))
    doc = load_document(filename, data)
    now = deps.clock.now()
    sha = hashlib.sha256(data).hexdigest()
    with deps.store.write() as conn:
        dispute = load_dispute(conn, dispute_id)
        _check_open_for_edits(dispute)
        result = conn.execute(evidence_files.insert().values(
            dispute_id=dispute_id, field=field_name, kind="upload", filename=filename[:255],
            type=doc.type, size=doc.size, pages=doc.pages, sha256=sha, data=data, active=True,
            added_by=actor, added_at=now))
        file_id = result.inserted_primary_key[0]
        _mark_changed(conn, dispute, actor, now, by_person=not automated)
        audit.append(conn, at=now, actor=actor, action="disputes.evidence.attach",
                     object_type="dispute", object_id=dispute_id, note=note,
                     details={"file": file_id, "field": field_name, "filename": filename,
                              "type": doc.type, "size": doc.size, "pages": doc.pages})
    return {"id": file_id, "dispute_id": dispute_id, "field": field_name, "filename": filename,
            "type": doc.type, "size": doc.size, "pages": doc.pages, "sha256": sha}


def detach(deps, dispute_id: str, file_id: int, *, actor: str, note: str | None = None) -> None:
    now = deps.clock.now()
    with deps.store.write() as conn:
        dispute = load_dispute(conn, dispute_id)
        _check_open_for_edits(dispute)
        result = conn.execute(evidence_files.update().where(
            evidence_files.c.id == file_id, evidence_files.c.dispute_id == dispute_id,
            evidence_files.c.kind == "upload", evidence_files.c.active.is_(True)).values(active=False))
        if not result.rowcount:
            from disputedesk.errors import NotFound

            raise NotFound(f"dispute {dispute_id} has no attached file {file_id}", object_id=str(file_id))
        _mark_changed(conn, dispute, actor, now)
        audit.append(conn, at=now, actor=actor, action="disputes.evidence.detach",
                     object_type="dispute", object_id=dispute_id, note=note, details={"file": file_id})


def set_product_type(deps, dispute_id: str, product_type: str, *, actor: str) -> None:
    if product_type not in PRODUCT_TYPES:
        raise ValidationError(f"unknown product type '{product_type}'", param="product_type",
                              hint="one of: " + ", ".join(PRODUCT_TYPES))
    now = deps.clock.now()
    with deps.store.write() as conn:
        dispute = load_dispute(conn, dispute_id)
        sync_work(conn, dispute, now, product_type=product_type, evidence_changed_at=now,
                  evidence_version=dispute_work.c.evidence_version + 1)
        audit.append(conn, at=now, actor=actor, action="disputes.product_type",
                     object_type="dispute", object_id=dispute_id, details={"product_type": product_type})


def set_text_template(deps, name: str, source: str, *, actor: str) -> None:
    """Store the merchant's version of a text template (checked to compile first)."""
    TextTemplates({name: source})  # validates the name, the size and the Jinja2 syntax
    now = deps.clock.now()
    with deps.store.write() as conn:
        upsert(conn, text_templates, ["name"], {"name": name, "source": source, "updated_by": actor,
                                                "updated_at": now})
        audit.append(conn, at=now, actor=actor, action="disputes.text_template", object_type="template",
                     object_id=name, details={"characters": len(source)})


def text_template_names() -> tuple[str, ...]:
    return TEXT_TEMPLATE_NAMES


def get_text_template(deps, name: str) -> dict:
    """The template in force: the merchant's version if stored, else the shipped default."""
    with deps.store.read() as conn:
        row = conn.execute(sa.select(text_templates).where(text_templates.c.name == name)).first()
        templates = load_text_templates(conn)
    if name not in TEXT_TEMPLATE_NAMES:
        raise ValidationError(f"no text template named '{name}'", param="template",
                              hint=f"one of: {', '.join(TEXT_TEMPLATE_NAMES)}")
    return {"name": name, "source": templates.source(name), "custom": row is not None,
            "updated_by": row.updated_by if row is not None else None,
            "updated_at": row.updated_at if row is not None else None}


def reset_text_template(deps, name: str, *, actor: str) -> None:
    """Go back to the shipped default for ``name``."""
    get_text_template(deps, name)  # validates the name
    now = deps.clock.now()
    with deps.store.write() as conn:
        conn.execute(text_templates.delete().where(text_templates.c.name == name))
        audit.append(conn, at=now, actor=actor, action="disputes.text_template.reset",
                     object_type="template", object_id=name)


# --- build: compose, fit, store ----------------------------------------------------------------

def _summary_pdf(conn: Connection, inp: _Inputs) -> bytes:
    refunds = list(conn.execute(sa.select(mirror_refunds.c.data).where(
        mirror_refunds.c.charge == inp.charge.get("id"))).scalars())
    # No desk events in the timeline: the same facts give the same bytes, so a rebuild does not
    # upload a new copy of the summary (and a preview stays valid).
    return build_summary_pdf(inp.dispute, inp.charge, history=inp.history, order=inp.order,
                             refunds=refunds)


def build(deps, dispute_id: str, *, actor: str, product_type: str | None = None,
          include_summary: bool = True, automated: bool = False) -> BuildResult:
    """Compose the draft, fit the documents to Stripe's limits and store both.

    Raises :class:`~disputedesk.evidence.files.PacketTooLarge` naming what does not fit (nothing is
    stored then), and :class:`HandEdited` when ``automated`` and a person edited the dispute.
    """
    with deps.store.read() as conn:
        dispute = load_dispute(conn, dispute_id)
        account = dispute_account(conn, dispute_id)
    ensure_charge(deps, dispute, account)
    with deps.store.read() as conn:
        inp = _inputs(deps, conn, dispute_id)
        if automated and inp.work and inp.work.get("hand_edited"):
            raise HandEdited(f"dispute {dispute_id} was edited by {inp.work.get('hand_edited_by')}; "
                             "automation leaves it alone", object_id=dispute_id)
        composed, ce3 = _compose(conn, inp, product_type)
        uploads = attachments(conn, dispute_id, with_data=True)
        # A file already on Stripe stays; only a person's own upload to that field replaces it.
        on_stripe = stripe_evidence(inp.dispute)[1]
        summary = (_summary_pdf(conn, inp) if include_summary and SUMMARY_FIELD not in on_stripe
                   else None)
    docs: dict[str, list[Document]] = {}
    if summary is not None:
        docs[SUMMARY_FIELD] = [load_document("evidence-summary.pdf", summary, verify=False)]
    if composed.attached.get(RECEIPT_FIELD) == "charge" and not any(
            up["field"] == RECEIPT_FIELD for up in uploads):
        receipt = build_receipt_pdf(inp.charge, merchant_name=inp.merchant.get("name"))
        docs[RECEIPT_FIELD] = [load_document("receipt.pdf", receipt, verify=False)]
    for up in uploads:
        # Checked on trial at upload; a file stored before that check, or one pypdf still cannot
        # handle, is refused by name (ValidationError) by the fitting below, never a crash.
        docs.setdefault(up["field"], []).append(
            load_document(up["filename"], up["data"], verify=False))
    brand = d.card_brand(inp.dispute, inp.charge)
    fitted = fit_packet(docs, brand=brand) if docs else None
    now = deps.clock.now()
    packet: dict[str, dict[str, Any]] = {}
    with deps.store.write() as conn:
        dispute = load_dispute(conn, dispute_id)  # re-read inside the write transaction
        if summary is not None:
            conn.execute(evidence_files.update().where(
                evidence_files.c.dispute_id == dispute_id, evidence_files.c.kind == "summary"
            ).values(active=False))
            conn.execute(evidence_files.insert().values(
                dispute_id=dispute_id, field=SUMMARY_FIELD, kind="summary",
                filename="evidence-summary.pdf", type="pdf", size=len(summary),
                pages=docs[SUMMARY_FIELD][0].pages, sha256=hashlib.sha256(summary).hexdigest(),
                data=summary, active=True, added_by=actor, added_at=now))
        conn.execute(evidence_files.update().where(
            evidence_files.c.dispute_id == dispute_id, evidence_files.c.kind == "packet"
        ).values(active=False))
        for name, pf in (fitted.files.items() if fitted else ()):
            packet[name] = _store_packet_file(conn, dispute_id, pf, actor, now)
        view = _view(inp, composed, ce3, None)
        values = {
            "dispute_id": dispute_id, "product_type": composed.product_type,
            "fields": composed.to_params(), "sources": composed.provenance(),
            "score": composed.score, "missing": view.missing, "ce3": ce3, "packet": packet,
            "notes": view.notes + [v["message"] for v in view.violations],
            "order_id": view.order_id, "built_by": actor, "built_at": now,
            # The version the composition read, so an edit made meanwhile still counts as newer.
            "built_version": int((inp.work or {}).get("evidence_version") or 0),
        }
        upsert(conn, evidence_drafts, ["dispute_id"], values)
        sync_work(conn, dispute, now, score=composed.score, product_type=composed.product_type)
        audit.append(conn, at=now, actor=actor, action="disputes.evidence.build",
                     object_type="dispute", object_id=dispute_id,
                     details={"score": composed.score, "fields": sorted(composed.to_params()),
                              "files": {k: {"size": v["size"], "pages": v["pages"]}
                                        for k, v in packet.items()},
                              "ce3_qualified": ce3.get("qualified"), "order": view.order_id})
    view.draft = {"built_at": now, "built_by": actor, "score": composed.score, "packet": packet}
    return BuildResult(view=view, packet=packet, steps=list(fitted.steps) if fitted else [])


def _store_packet_file(conn: Connection, dispute_id: str, pf: PacketFile, actor: str,
                       now: float) -> dict[str, Any]:
    sha = hashlib.sha256(pf.data).hexdigest()
    known = conn.execute(sa.select(evidence_files.c.stripe_file_id).where(
        evidence_files.c.dispute_id == dispute_id, evidence_files.c.kind == "packet",
        evidence_files.c.field == pf.field, evidence_files.c.sha256 == sha,
        evidence_files.c.stripe_file_id.is_not(None)).limit(1)).scalar()
    result = conn.execute(evidence_files.insert().values(
        dispute_id=dispute_id, field=pf.field, kind="packet", filename=pf.filename, type=pf.type,
        size=pf.size, pages=pf.pages, sha256=sha, data=pf.data, active=True,
        stripe_file_id=known, added_by=actor, added_at=now))
    return {"row": result.inserted_primary_key[0], "filename": pf.filename, "type": pf.type,
            "size": pf.size, "pages": pf.pages, "level": pf.level, "sha256": sha,
            "original_size": pf.original_size, "sources": list(pf.sources)}


def draft_of(deps, dispute_id: str) -> dict | None:
    with deps.store.read() as conn:
        return _draft(conn, dispute_id)


def current_draft(deps, dispute_id: str, *, actor: str) -> dict:
    """The stored draft, rebuilt first when there is none or an edit/attachment came after it."""
    with deps.store.read() as conn:
        draft = _draft(conn, dispute_id)
        work = get_work(conn, dispute_id) or {}
    if draft is None or int(work.get("evidence_version") or 0) != int(draft["built_version"] or 0):
        build(deps, dispute_id, actor=actor)
        draft = draft_of(deps, dispute_id)
    return draft  # type: ignore[return-value]


def upload_packet(deps, dispute_id: str) -> dict[str, str]:
    """Upload the packet's files not yet on Stripe (purpose ``dispute_evidence``); field -> file id.

    The idempotency key is derived from the dispute, the field and the file's SHA-256, so a retry
    after a lost answer never uploads a second copy. Files go to the dispute's own account (a
    connected account's dispute can only use that account's files).
    """
    with deps.store.read() as conn:
        rows = attachments(conn, dispute_id, kind="packet", with_data=True)
        account = dispute_account(conn, dispute_id)
    out: dict[str, str] = {}
    for row in rows:
        file_id = row["stripe_file_id"]
        if not file_id:
            uploaded = deps.gateway().upload_file(
                row["data"], row["filename"], purpose="dispute_evidence", account=account,
                idempotency_key=idempotency_key(dispute_id, "file", row["field"], row["sha256"][:32]))
            file_id = uploaded["id"]
            with deps.store.write() as conn:
                conn.execute(evidence_files.update().where(evidence_files.c.id == row["id"])
                             .values(stripe_file_id=file_id))
        out[row["field"]] = file_id
    return out


def is_hand_edited(deps, dispute_id: str) -> bool:
    with deps.store.read() as conn:
        row = conn.execute(sa.select(dispute_work.c.hand_edited).where(
            dispute_work.c.dispute_id == dispute_id)).scalar()
    return bool(row)
