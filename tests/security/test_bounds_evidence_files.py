"""Evidence files built to make the desk work: a 100,000-page PDF of 1 KB (a page tree that
repeats one page), the same with a page count that lies, and a 900-megapixel PNG header. Each is
refused over HTTP with a message naming what is too large, and nothing is attached."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject

from conftest import emulator_dispute


def many_page_pdf(pages_log10: int = 5, *, declared: int | None = None) -> bytes:
    """A PDF of 10**pages_log10 pages, a kilobyte long: nested page-tree nodes of ten kids each,
    all leading to the same blank page. ``declared`` overrides the /Count at the root (a lie)."""
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    root = writer.root_object["/Pages"]
    child, count = root["/Kids"][0], 1
    for _ in range(pages_log10 - 1):
        node = DictionaryObject({NameObject("/Type"): NameObject("/Pages"),
                                 NameObject("/Kids"): ArrayObject([child] * 10),
                                 NameObject("/Count"): NumberObject(count * 10)})
        child, count = writer._add_object(node), count * 10
    root[NameObject("/Kids")] = ArrayObject([child] * 10)
    root[NameObject("/Count")] = NumberObject(declared if declared is not None else count * 10)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels, with almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def dispute_id(desk, admin_api):
    return emulator_dispute(desk, admin_api, amount=5000)["id"]


def _upload(admin_api, dispute_id: str, name: str, data: bytes, mime: str):
    return admin_api.post(f"/api/v1/disputes/{dispute_id}/files", data={"field": "receipt"},
                          files={"file": (name, data, mime)})


def _attached(admin_api, dispute_id: str) -> list:
    return admin_api.get(f"/api/v1/disputes/{dispute_id}/evidence").json()["attachments"]


def test_a_hundred_thousand_page_pdf_is_refused_with_its_page_count(admin_api, dispute_id):
    data = many_page_pdf(5)
    assert len(data) < 5_000  # small: the attack is the work, not the bytes
    response = _upload(admin_api, dispute_id, "terms.pdf", data, "application/pdf")
    assert response.status_code == 400, response.text
    message = response.json()["detail"]["message"]
    assert "'terms.pdf' has 100,000 pages" in message and "fewer than 50 pages" in message
    assert _attached(admin_api, dispute_id) == []


def test_a_pdf_whose_page_count_lies_is_refused_while_its_pages_are_counted(admin_api, dispute_id):
    response = _upload(admin_api, dispute_id, "liar.pdf", many_page_pdf(5, declared=1),
                       "application/pdf")
    assert response.status_code == 400, response.text
    assert "liar.pdf" in response.json()["detail"]["message"]
    assert _attached(admin_api, dispute_id) == []


def test_a_900_megapixel_image_is_refused_before_it_is_decoded(admin_api, dispute_id):
    response = _upload(admin_api, dispute_id, "bomb.png", png_header(30_000, 30_000), "image/png")
    assert response.status_code == 400
    assert "megapixels" in response.json()["detail"]["message"]
    assert _attached(admin_api, dispute_id) == []


def test_a_real_receipt_is_still_attached(admin_api, dispute_id):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Receipt 1001")
    response = _upload(admin_api, dispute_id, "receipt.pdf", bytes(pdf.output()), "application/pdf")
    assert response.status_code == 201, response.text
    assert [f["filename"] for f in _attached(admin_api, dispute_id)] == ["receipt.pdf"]
