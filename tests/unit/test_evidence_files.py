"""Evidence files: content checks, merging, fitting to Stripe's limits, the summary PDF."""

from __future__ import annotations

import io
import os
import tempfile

import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader

from disputedesk.errors import ValidationError
from disputedesk.evidence.files import (
    Document,
    PacketTooLarge,
    build_field_file,
    fit_packet,
    load_document,
    merge_to_pdf,
    sniff_type,
)
from disputedesk.evidence.limits import TOTAL_FILES_MAX_BYTES, validate_files
from disputedesk.evidence.summary_pdf import build_summary_pdf, build_timeline, latin1


def noise_image(w: int, h: int, kind: str) -> bytes:
    """A photo-like image that compresses badly: the hard case for the fitter."""
    img = Image.effect_noise((w, h), 50).convert("RGB")
    buf = io.BytesIO()
    if kind == "png":
        img.save(buf, "PNG", compress_level=1)
    else:
        img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def text_pdf(pages: int, filler: int = 0) -> bytes:
    pdf = FPDF()
    pdf.set_compression(False)
    pdf.set_font("Helvetica", size=12)
    for i in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Page {i + 1} of the terms. " + "Lorem ipsum dolor sit amet. " * 5)
    if filler:
        # An embedded incompressible attachment: bytes no re-encoding can remove.
        with tempfile.TemporaryDirectory() as tmp:
            blob = os.path.join(tmp, "blob.bin")
            with open(blob, "wb") as fh:
                fh.write(os.urandom(filler))
            pdf.add_page()
            pdf.file_attachment_annotation(blob, 10, 10, 5, 5)
            return bytes(pdf.output())
    return bytes(pdf.output())


def image_pdf(n: int, side: int = 1400) -> bytes:
    docs = [load_document(f"scan{i}.jpg", noise_image(side, side, "jpeg")) for i in range(n)]
    return merge_to_pdf(docs)


def test_types_are_read_from_content_not_the_file_name():
    png = noise_image(20, 20, "png")
    doc = load_document("receipt.pdf", png)  # misnamed: content wins
    assert doc.type == "png" and doc.mime == "image/png" and doc.pages == 1
    assert sniff_type(b"%PDF-1.7\n...") == "pdf"
    assert sniff_type(b"\xff\xd8\xff\xe0rest") == "jpeg"


@pytest.mark.parametrize("data,what", [
    (b"GIF89a" + b"\0" * 20, "GIF image"),
    (b"PK\x03\x04" + b"\0" * 20, "ZIP archive"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG or HTML"),
    (b"hello", "unknown type"),
])
def test_other_files_are_refused_naming_what_they_are(data, what):
    with pytest.raises(ValidationError, match=what) as info:
        load_document("evidence.png", data)
    assert "PDF, PNG or JPEG" in str(info.value)


def test_truncated_or_fake_files_are_refused():
    with pytest.raises(ValidationError, match="not a readable image"):
        load_document("x.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ValidationError, match="not a readable PDF"):
        load_document("x.pdf", b"%PDF-1.4\nnot really")
    with pytest.raises(ValidationError, match="is empty"):
        load_document("x.pdf", b"")


def test_several_documents_for_one_field_become_one_pdf_with_every_page():
    docs = [load_document("label.png", noise_image(300, 200, "png")),
            load_document("terms.pdf", text_pdf(3)),
            load_document("photo.jpg", noise_image(200, 300, "jpeg"))]
    f = build_field_file("shipping_documentation", docs)
    assert f.type == "pdf" and f.filename == "shipping_documentation.pdf" and f.pages == 5
    assert len(PdfReader(io.BytesIO(f.data)).pages) == 5
    assert f.sources == ("label.png", "terms.pdf", "photo.jpg")


def test_a_single_image_stays_an_image():
    f = build_field_file("receipt", [load_document("r.jpg", noise_image(100, 100, "jpeg"))])
    assert f.type == "jpeg" and f.filename == "receipt.jpg"


def test_files_only_go_to_file_fields():
    with pytest.raises(ValidationError, match="'customer_name' does not take a file"):
        build_field_file("customer_name", [load_document("r.jpg", noise_image(10, 10, "jpeg"))])


def test_a_packet_too_large_is_made_to_fit_by_reencoding_images():
    big_png = load_document("label.png", noise_image(1100, 1100, "png"))      # ~3.6 MB
    big_jpg = load_document("photo.jpg", noise_image(1000, 1000, "jpeg"))     # ~0.9 MB
    scans = load_document("scans.pdf", image_pdf(2, side=1100))               # ~2.2 MB
    terms = load_document("terms.pdf", text_pdf(2))
    packet = {"shipping_documentation": [big_png, big_jpg], "uncategorized_file": scans,
              "refund_policy": terms, "cancellation_policy": terms}  # terms used twice: counted twice
    before = sum(d.size for d in (big_png, big_jpg, scans, terms, terms))
    assert before > TOTAL_FILES_MAX_BYTES
    fitted = fit_packet(packet, brand="visa")
    assert fitted.total_size <= TOTAL_FILES_MAX_BYTES
    assert validate_files(fitted.uses(), brand="visa") == []
    assert fitted.total_pages == 2 + 2 + 2 + 2
    assert fitted.steps and all("->" in s for s in fitted.steps)
    for f in fitted.files.values():  # every output is still a valid file with its pages
        again = load_document(f.filename, f.data)
        assert again.pages == f.pages
    assert fitted.files["shipping_documentation"].level >= 1  # the biggest field was shrunk first
    assert fitted.files["shipping_documentation"].size < big_png.size + big_jpg.size


def test_images_inside_an_uploaded_pdf_are_downscaled_to_fit():
    scans = load_document("scans.pdf", image_pdf(2, side=1100))
    fitted = fit_packet({"uncategorized_file": scans}, budget=scans.size // 3)
    f = fitted.files["uncategorized_file"]
    assert f.level >= 2 and f.size <= scans.size // 3
    reader = PdfReader(io.BytesIO(f.data))
    assert len(reader.pages) == 2
    assert max(reader.pages[0].images[0].image.size) < 1100


def test_a_packet_that_cannot_fit_is_refused_naming_the_fields_and_the_excess():
    blob = load_document("contract.pdf", text_pdf(1, filler=5_200_000))
    with pytest.raises(PacketTooLarge) as info:
        fit_packet({"service_documentation": blob, "receipt": load_document("r.jpg", noise_image(200, 200, "jpeg"))})
    message = str(info.value)
    assert "'service_documentation' is still 5.2" in message
    assert "over the 5.00 MB limit for one file" in message
    assert "receipt" in message and "rasterising" in message
    assert info.value.param == "service_documentation"


def test_a_packet_over_the_combined_budget_is_refused_with_the_total_excess():
    blob = load_document("a.pdf", text_pdf(1, filler=2_600_000))
    with pytest.raises(PacketTooLarge, match=r"total 5\.\d\d MB after the strongest compression, \d+\.\d kB over"):
        fit_packet({"service_documentation": blob, "uncategorized_file": blob})


def test_too_many_pages_are_refused_before_any_compression():
    many = load_document("terms.pdf", text_pdf(25))
    more = load_document("more.pdf", text_pdf(25))
    with pytest.raises(PacketTooLarge, match="50 pages, 1 over the 49"):
        fit_packet({"refund_policy": many, "cancellation_policy": more})
    with pytest.raises(PacketTooLarge, match="20 pages, 1 over the 19 allowed for a Mastercard dispute") as info:
        fit_packet({"refund_policy": load_document("t.pdf", text_pdf(12)),
                    "receipt": load_document("u.pdf", text_pdf(8))}, brand="mastercard")
    assert "refund_policy 12, receipt 8" in str(info.value)
    assert fit_packet({"refund_policy": load_document("t.pdf", text_pdf(12))}, brand="mastercard").total_pages == 12


def test_a_packet_within_limits_is_left_as_uploaded():
    doc = load_document("r.jpg", noise_image(100, 100, "jpeg"))
    fitted = fit_packet({"receipt": doc})
    assert fitted.files["receipt"].data == doc.data and fitted.steps == []


# --- summary PDF ----------------------------------------------------------------------------------

T0 = 1_780_000_000


def _charge(**kw):
    base = {"id": "ch_1", "amount": 5000, "currency": "usd", "created": T0, "status": "succeeded",
            "billing_details": {"name": "Zoë Łukasiewicz", "email": "zoe@example.com"},
            "outcome": {"risk_level": "normal", "risk_score": 8, "type": "authorized"},
            "refunds": {"data": [{"id": "re_1", "amount": 1000, "currency": "usd", "created": T0 + 86400,
                                  "status": "succeeded"}]},
            "payment_method_details": {"card": {"brand": "mastercard", "last4": "4444", "fingerprint": "f",
                                                "checks": {"cvc_check": "pass", "address_postal_code_check": "fail"},
                                                "three_d_secure": {"result": "authenticated"}}}}
    base.update(kw)
    return base


DISPUTE = {"id": "du_9", "reason": "product_not_received", "status": "needs_response", "amount": 4000,
           "currency": "usd", "created": T0 + 10 * 86400, "evidence_details": {"due_by": T0 + 20 * 86400},
           "payment_method_details": {"card": {"brand": "mastercard", "network_reason_code": "4855"}}}


def test_the_timeline_orders_charge_refunds_shipping_activity_and_dispute_events():
    order = {"shipping": {"shipped_at": T0 + 3600, "delivered_at": T0 + 3 * 86400, "carrier": "UPS"},
             "access_log": [{"at": T0 + 5 * 86400, "ip": "203.0.113.1", "action": "login"}]}
    history = [_charge(id="ch_0", created=T0 - 300 * 86400)]
    events = build_timeline(DISPUTE, _charge(), history=history, order=order,
                            events=[(T0 + 15 * 86400, "evidence staged")])
    kinds = [e.kind for e in events]
    assert kinds == ["history", "charge", "shipping", "refund", "shipping", "activity", "dispute",
                     "dispute", "dispute"]
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert events[-1].text == "Evidence due"


def test_the_summary_pdf_has_the_facts_checks_and_history_in_latin1():
    history = [_charge(id=f"ch_p{i}", created=T0 - (i + 1) * 30 * 86400, refunds=None) for i in range(20)]
    data = build_summary_pdf(DISPUTE, _charge(), history=history, order={"shipping": {"shipped_at": T0}},
                             merchant_name="Café “Ünïcode” — Ltd")
    doc = load_document("summary.pdf", data)
    assert doc.type == "pdf" and 1 <= doc.pages <= 4
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    for expected in ("du_9", "product_not_received", "4855", "40.00 USD", "ch_1", "mastercard ending 4444",
                     "Zoë Lukasiewicz", "fail", "authenticated", "Refund re_1", "Evidence due",
                     "20 earlier paid charges", "and 5 older charges", 'Café "Ünïcode" - Ltd'):
        assert expected in text, expected


def test_latin1_sanitising_keeps_accents_and_replaces_the_rest():
    assert latin1("Łódź — “ok” …") == 'Lódz - "ok" ...'
    assert latin1("価格") == "??"
    assert latin1(None) == ""


def test_documents_are_plain_values():
    doc = Document("a.pdf", b"%PDF-", "pdf", 1)
    assert doc.size == 5


def test_the_summary_pdf_is_byte_for_byte_the_same_for_the_same_facts():
    import time as _time

    from disputedesk.evidence.summary_pdf import build_summary_pdf

    dispute = {"id": "du_same", "created": 1_760_000_000, "reason": "fraudulent", "amount": 1000,
               "currency": "usd", "status": "needs_response",
               "evidence_details": {"due_by": 1_760_800_000}}
    charge = {"id": "ch_same", "amount": 1000, "currency": "usd", "created": 1_759_000_000}
    first = build_summary_pdf(dispute, charge)
    _time.sleep(1.1)
    assert build_summary_pdf(dispute, charge) == first


# --- damaged PDFs and decompression bombs ---------------------------------------------------------

_SPLICES = (b"/Length 999999999", b"0 0 R", b"<<", b">>", b"/Kids [1 0 R]", b"/Count -1",
            b"/Width 100000 /Height 100000", b"[", b"]")


def _receipt_pdf() -> bytes:
    """A small valid one-page PDF with fixed bytes (fixed creation date), to mutate."""
    from datetime import datetime, timezone

    pdf = FPDF()
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=timezone.utc))
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="hello receipt")
    return bytes(pdf.output())


def damaged_pdfs(count: int, seed: int = 7) -> list[bytes]:
    """Deterministic byte-level mutations of a valid PDF: flipped bytes, cuts, junk, and splices
    of PDF syntax that make pypdf loop or trip over its own assertions."""
    import random

    rng = random.Random(seed)
    base = _receipt_pdf()
    out = []
    for _ in range(count):
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            op, i = rng.random(), rng.randrange(len(data))
            if op < 0.5:
                data[i] = rng.randrange(256)
            elif op < 0.7:
                del data[i:i + rng.randint(1, 50)]
            elif op < 0.85:
                data[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
            else:
                data[i:i] = rng.choice(_SPLICES)
        out.append(bytes(data))
    return out


def test_a_damaged_pdf_is_refused_at_upload_or_fits_but_never_crashes_the_build():
    """Whatever pypdf raises on a damaged PDF (AssertionError, PdfReadError, PdfStreamError,
    LimitReachedError, TypeError, ...) becomes a ValidationError naming the file at upload; what
    passes the upload must then build at every compression level."""
    png = noise_image(60, 40, "png")
    refused = built = 0
    for i, data in enumerate(damaged_pdfs(150)):
        name = f"damaged-{i}.pdf"
        try:
            doc = load_document(name, data)
        except ValidationError as exc:
            assert name in str(exc) and exc.hint, exc
            refused += 1
            continue
        # Passed the upload: the build's steps must work on it (no exception at all).
        fit_packet({"receipt": [doc, load_document("label.png", png)]})
        for level in (0, 1, 2):
            build_field_file("receipt", [doc, doc], level)
        built += 1
    assert refused and built  # both paths were exercised


def test_every_error_pypdf_raises_on_a_damaged_upload_becomes_a_validation_error():
    # These mutations include PDFs on which pypdf raised AttributeError and LimitReachedError
    # (a reference loop) straight out of the upload check: HTTP 500 instead of 400.
    for i, data in enumerate(damaged_pdfs(130, seed=6)):
        try:
            load_document(f"upload-{i}.pdf", data)
        except ValidationError as exc:
            assert f"upload-{i}.pdf" in str(exc)


def test_a_damaged_pdf_stored_before_the_upload_check_is_refused_by_name_at_build():
    for i, data in enumerate(damaged_pdfs(150)):
        try:
            load_document("x.pdf", data)
        except ValidationError:
            pass
        else:
            continue
        try:
            doc = load_document("old.pdf", data, verify=False)
        except ValidationError:
            continue  # not even its page count can be read
        with pytest.raises(ValidationError, match="'old.pdf' is not a readable PDF") as info:
            for level in range(3):
                build_field_file("receipt", [doc, doc], level)
                build_field_file("receipt", [doc], level)
        assert "attach the new one" in (info.value.hint or "")
        return
    pytest.fail("no damaged PDF that passes the page count but fails the trial")


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("width,height", [(10_000, 7_000), (30_000, 30_000)])
def test_a_decompression_bomb_image_is_refused_before_it_is_decoded(width, height):
    # Only the header: decoding 70 or 900 megapixels would be the attack itself.
    with pytest.raises(ValidationError, match="megapixels") as info:
        load_document("bomb.png", _png_header(width, height))
    assert "bomb.png" in str(info.value) and "scale it below 60 megapixels" in info.value.hint
