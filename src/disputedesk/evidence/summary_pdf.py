"""A generated evidence summary PDF: the dispute's facts, a timeline, the charge's checks, history.

Built with fpdf2's core fonts (Helvetica), so no font file ships with the package; text is
sanitised to Latin-1 (accents kept, typographic punctuation simplified, anything else becomes
"?"). 12 pt body on US Letter portrait, as Stripe's formatting advice asks.
"""

from __future__ import annotations

from datetime import datetime, timezone

import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from fpdf import FPDF

from disputedesk.domain.disputes import network_reason_code
from disputedesk.domain.money import format_money
from disputedesk.evidence.composer import charge_checks, customer_history, human_date, human_datetime, to_epoch
from disputedesk.evidence.identifiers import card_of

MAX_TIMELINE = 40       # events shown; older access-log lines are summarised
MAX_HISTORY_ROWS = 15

_PUNCT = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u2022": "*", "\u00a0": " ",
    "\u2192": "->", "\u20ac": "EUR ", "\u2122": "(TM)",
    # Letters NFKD does not decompose.
    "\u0141": "L", "\u0142": "l", "\u0110": "D", "\u0111": "d", "\u0131": "i", "\u0152": "OE", "\u0153": "oe",
})


def latin1(text: Any) -> str:
    """Text the core fonts can draw: Latin-1 kept, punctuation simplified, accents folded, else "?"."""
    s = str(text if text is not None else "").translate(_PUNCT)
    out = []
    for ch in s:
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            base = "".join(c for c in base if not unicodedata.combining(c))
            out.append(base or "?")
    return "".join(out)


@dataclass(frozen=True)
class TimelineEvent:
    at: int
    kind: str   # charge | refund | dispute | order | shipping | activity | history | note
    text: str


def _money(amount: Any, currency: Any) -> str:
    try:
        return format_money(int(amount or 0), str(currency or "usd"))
    except Exception:  # noqa: BLE001 - a summary must not fail on an odd currency
        return f"{amount} {currency}"


def build_timeline(
    dispute: Mapping[str, Any],
    charge: Mapping[str, Any],
    *,
    history: Iterable[Mapping[str, Any]] = (),
    order: Mapping[str, Any] | None = None,
    refunds: Iterable[Mapping[str, Any]] | None = None,
    events: Iterable[tuple[int, str]] = (),
) -> list[TimelineEvent]:
    """Charge, refunds, dispute events, shipping and customer activity in time order.

    ``events`` adds the desk's own dispute events (e.g. ``(ts, "evidence staged")``).
    """
    order = order or {}
    out: list[TimelineEvent] = []
    card = card_of(charge)
    summary = customer_history(charge, history)
    if summary.first_at:
        out.append(TimelineEvent(summary.first_at, "history",
                                 f"First undisputed payment by this customer ({summary.undisputed_count} before this one)"))
    if order.get("terms_accepted_at"):
        out.append(TimelineEvent(to_epoch(order["terms_accepted_at"]) or 0, "order", "Customer accepted the terms"))
    if charge.get("created"):
        brand = f" with {card.get('brand', 'card')} ending {card['last4']}" if card.get("last4") else ""
        out.append(TimelineEvent(int(charge["created"]), "charge",
                                 f"Charge {charge.get('id')} of {_money(charge.get('amount'), charge.get('currency'))}{brand}"))
    shipping = order.get("shipping") if isinstance(order.get("shipping"), Mapping) else {}
    if shipping.get("shipped_at"):
        carrier = f" by {shipping['carrier']}" if shipping.get("carrier") else ""
        out.append(TimelineEvent(to_epoch(shipping["shipped_at"]) or 0, "shipping", f"Order shipped{carrier}"))
    if shipping.get("delivered_at"):
        out.append(TimelineEvent(to_epoch(shipping["delivered_at"]) or 0, "shipping", "Order delivered"))
    if order.get("service_date"):
        out.append(TimelineEvent(to_epoch(order["service_date"]) or 0, "order", "Service provided"))
    log = sorted(order.get("access_log") or [], key=lambda e: to_epoch(e.get("at")) or 0)
    for entry in log[-20:]:
        ip = f" from {entry['ip']}" if entry.get("ip") else ""
        out.append(TimelineEvent(to_epoch(entry.get("at")) or 0, "activity",
                                 f"Customer {entry.get('action') or 'access'}{ip}"))
    if len(log) > 20:
        out.append(TimelineEvent(to_epoch(log[0].get("at")) or 0, "activity",
                                 f"{len(log) - 20} earlier activity entries (see the activity log)"))
    refund_list = list(refunds) if refunds is not None else list(((charge.get("refunds") or {}).get("data")) or [])
    for r in refund_list:
        out.append(TimelineEvent(int(r.get("created") or 0), "refund",
                                 f"Refund {r.get('id')} of {_money(r.get('amount'), r.get('currency'))} ({r.get('status')})"))
    if dispute.get("created"):
        out.append(TimelineEvent(int(dispute["created"]), "dispute",
                                 f"Dispute opened: {dispute.get('reason')}, {_money(dispute.get('amount'), dispute.get('currency'))}"))
    due = (dispute.get("evidence_details") or {}).get("due_by")
    if due:
        out.append(TimelineEvent(int(due), "dispute", "Evidence due"))
    for at, text in events:
        out.append(TimelineEvent(int(at), "dispute", str(text)))
    out.sort(key=lambda e: e.at)
    return out[-MAX_TIMELINE:]


class _PDF(FPDF):
    def footer(self) -> None:  # pragma: no cover - drawn by fpdf2
        self.set_y(-30)
        self.set_font("Helvetica", size=9)
        self.cell(0, 12, f"Page {self.page_no()}", align="C")


def _new_pdf(title: str, created: Any) -> _PDF:
    """US Letter, 54 pt margins, one page started. Same facts, same bytes: a fixed creation date
    (the record's own) keeps rebuilds from uploading a "new" file every second."""
    pdf = _PDF(unit="pt", format="letter")
    pdf.set_margins(54, 54, 54)
    pdf.set_auto_page_break(True, margin=54)
    pdf.add_page()
    pdf.set_title(latin1(title))
    pdf.set_creation_date(datetime.fromtimestamp(int(created) if isinstance(created, int) else 0,
                                                 tz=timezone.utc))
    return pdf


def _rows(pdf: _PDF, pairs: Iterable[tuple[str, Any]]) -> None:
    """Label: value lines; empty values are left out."""
    for label, value in pairs:
        if value in (None, ""):
            continue
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(170, 16, latin1(label))
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 16, latin1(value), new_x="LMARGIN", new_y="NEXT")


def build_summary_pdf(
    dispute: Mapping[str, Any],
    charge: Mapping[str, Any],
    *,
    history: Iterable[Mapping[str, Any]] = (),
    order: Mapping[str, Any] | None = None,
    refunds: Iterable[Mapping[str, Any]] | None = None,
    events: Iterable[tuple[int, str]] = (),
    merchant_name: str | None = None,
) -> bytes:
    """The summary as PDF bytes (attach it to ``uncategorized_file`` or merge it into another field)."""
    history = list(history)
    checks = charge_checks(charge)
    summary = customer_history(charge, history)
    timeline = build_timeline(dispute, charge, history=history, order=order, refunds=refunds, events=events)

    pdf = _new_pdf(f"Dispute {dispute.get('id')} evidence summary", dispute.get("created"))

    def heading(text: str) -> None:
        pdf.ln(6)
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 18, latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=12)

    def rows(pairs: Iterable[tuple[str, Any]]) -> None:
        _rows(pdf, pairs)

    pdf.set_font("Helvetica", "B", 16)
    title = f"Evidence summary: dispute {dispute.get('id')}"
    pdf.multi_cell(0, 20, latin1(title), new_x="LMARGIN", new_y="NEXT")
    if merchant_name:
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 16, latin1(f"Merchant: {merchant_name}"), new_x="LMARGIN", new_y="NEXT")

    heading("Dispute")
    rows([
        ("Reason", dispute.get("reason")),
        ("Network code", network_reason_code(dispute)),
        ("Amount", _money(dispute.get("amount"), dispute.get("currency"))),
        ("Status", dispute.get("status")),
        ("Opened", human_datetime(dispute.get("created"))),
        ("Evidence due", human_datetime((dispute.get("evidence_details") or {}).get("due_by"))),
    ])
    heading("Charge and its checks")
    billing = charge.get("billing_details") or {}
    rows([
        ("Charge", charge.get("id")),
        ("Amount", _money(charge.get("amount"), charge.get("currency"))),
        ("Date", human_datetime(charge.get("created"))),
        ("Card", " ".join(p for p in (checks["brand"], f"ending {checks['last4']}" if checks["last4"] else "") if p)),
        ("Cardholder", billing.get("name")),
        ("Email", billing.get("email") or charge.get("receipt_email")),
        ("AVS street", checks["address_line1_check"]),
        ("AVS postal code", checks["address_postal_code_check"]),
        ("CVC", checks["cvc_check"]),
        ("3-D Secure", checks["three_d_secure_text"] or "not used"),
        ("Wallet", checks["wallet"]),
        ("Radar risk", " / ".join(str(v) for v in (checks["risk_level"], checks["risk_score"]) if v is not None)),
        ("Outcome", checks["outcome_type"]),
    ])
    heading("Timeline (UTC)")
    pdf.set_font("Helvetica", size=12)
    for event in timeline:
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(170, 16, latin1(human_datetime(event.at)))
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 16, latin1(event.text), new_x="LMARGIN", new_y="NEXT")
    heading("Customer history")
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 16, latin1(
        f"{summary.prior_count} earlier paid charges, {summary.undisputed_count} undisputed, "
        f"{summary.disputed_count} disputed, {summary.refunded_count} refunded; "
        f"{summary.same_card_count} undisputed with the same card."), new_x="LMARGIN", new_y="NEXT")
    if summary.charges:
        pdf.ln(4)
        with pdf.table(col_widths=(150, 110, 90, 150), text_align="LEFT", line_height=16) as table:
            header = table.row()
            for text in ("Charge", "Date", "Amount", "Status"):
                header.cell(text)
            for c in summary.charges[:MAX_HISTORY_ROWS]:
                row = table.row()
                row.cell(latin1(c.get("id")))
                row.cell(latin1(human_date(c.get("created"))))
                row.cell(latin1(_money(c.get("amount"), c.get("currency"))))
                state = "disputed" if c.get("disputed") else ("refunded" if c.get("refunded") else "paid")
                row.cell(state)
        if len(summary.charges) > MAX_HISTORY_ROWS:
            pdf.multi_cell(0, 16, f"... and {len(summary.charges) - MAX_HISTORY_ROWS} older charges",
                           new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def has_receipt(charge: Mapping[str, Any]) -> bool:
    """Stripe sent (or can show) a receipt for the charge."""
    return bool(charge.get("receipt_email") or charge.get("receipt_url") or charge.get("receipt_number"))


def build_receipt_pdf(charge: Mapping[str, Any], *, merchant_name: str | None = None) -> bytes:
    """The charge's receipt as Stripe recorded it (for the ``receipt`` field): what was paid, when,
    with which card, and where Stripe sent the receipt. Only fields the charge holds appear."""
    checks = charge_checks(charge)
    pdf = _new_pdf(f"Receipt for charge {charge.get('id')}", charge.get("created"))
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 20, latin1(f"Receipt: charge {charge.get('id')}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 16, latin1("From the payment record at Stripe" +
                                 (f" for {merchant_name}" if merchant_name else "") + "."),
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    billing = charge.get("billing_details") or {}
    card = " ".join(p for p in (checks["brand"], f"ending {checks['last4']}" if checks["last4"] else "") if p)
    _rows(pdf, (
        ("Receipt number", charge.get("receipt_number")),
        ("Date", human_datetime(charge.get("created"))),
        ("Amount", _money(charge.get("amount"), charge.get("currency"))),
        ("Description", charge.get("description")),
        ("Statement descriptor", charge.get("calculated_statement_descriptor")),
        ("Card", card),
        ("Billed to", billing.get("name")),
        ("Receipt sent to", charge.get("receipt_email")),
        ("Receipt address", charge.get("receipt_url")),
    ))
    return bytes(pdf.output())
