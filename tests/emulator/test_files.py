"""Files through the official SDK: multipart upload to the files address, types, limits, list."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import stripe

from disputedesk.emulator.testing import stripe_client

PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def upload(client: Any, content: bytes, purpose: str = "dispute_evidence",
           name: str = "evidence.bin", **extra: Any) -> Any:
    f = io.BytesIO(content)
    f.name = name
    return client.v1.files.create(params={"file": f, "purpose": purpose, **extra})


@pytest.mark.parametrize("content,kind", [(PDF, "pdf"), (PNG, "png"), (JPEG, "jpg")])
def test_upload_reports_the_type_read_from_the_content(stripe_target: Any, content: bytes,
                                                       kind: str) -> None:
    f = upload(stripe_target.client, content, name="named-wrongly.bin")
    assert f.id.startswith("file_")
    assert f.object == "file"
    assert f.type == kind
    assert f.size == len(content)
    assert f.purpose == "dispute_evidence"
    assert f.filename == "named-wrongly.bin"
    assert f.expires_at is not None and f.expires_at > f.created
    assert f.url and f.id in f.url


def test_dispute_evidence_refuses_a_text_file(stripe_target: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        upload(stripe_target.client, b"just some notes\n", name="notes.pdf")
    assert info.value.http_status == 400
    assert info.value.param == "file"


def test_dispute_evidence_refuses_a_file_over_5_mb(stripe_target: Any) -> None:
    big = PDF + b"0" * (5 * 1024 * 1024)
    with pytest.raises(stripe.InvalidRequestError) as info:
        upload(stripe_target.client, big, name="big.pdf")
    assert "5 MB" in info.value.user_message or "5 MB" in str(info.value)


def test_dispute_evidence_refuses_a_pdf_of_50_pages(stripe_target: Any) -> None:
    pages = b"".join(b"%d 0 obj << /Type /Page >> endobj\n" % i for i in range(50))
    with pytest.raises(stripe.InvalidRequestError) as info:
        upload(stripe_target.client, b"%PDF-1.4\n" + pages + b"%%EOF", name="long.pdf")
    assert info.value.http_status == 400


def test_identity_document_takes_larger_files(stripe_target: Any) -> None:
    f = upload(stripe_target.client, PDF + b"0" * (6 * 1024 * 1024), purpose="identity_document",
               name="id.pdf")
    assert f.purpose == "identity_document"
    assert f.size > 6 * 1024 * 1024


def test_unknown_purpose_is_refused(stripe_target: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        upload(stripe_target.client, PDF, purpose="selfies_please")
    assert info.value.param == "purpose"


def test_missing_purpose_is_refused(client: Any) -> None:
    f = io.BytesIO(PDF)
    f.name = "x.pdf"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.files.create(params={"file": f})
    assert info.value.code == "parameter_missing"
    assert info.value.param == "purpose"


def test_retrieve_returns_the_upload_and_unknown_ids_are_404(stripe_target: Any) -> None:
    client = stripe_target.client
    f = upload(client, PNG, name="shot.png")
    got = client.v1.files.retrieve(f.id)
    assert (got.id, got.size, got.type) == (f.id, f.size, "png")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.files.retrieve("file_doesnotexist0000000000")
    assert info.value.http_status == 404


def test_list_filters_by_purpose_newest_first(client: Any) -> None:
    a = upload(client, PDF, name="a.pdf")
    b = upload(client, PDF, purpose="identity_document", name="b.pdf")
    c = upload(client, PNG, name="c.png")
    evidence = client.v1.files.list(params={"purpose": "dispute_evidence"})
    assert [f.id for f in evidence.data] == [c.id, a.id]
    everything = client.v1.files.list()
    assert [f.id for f in everything.data] == [c.id, b.id, a.id]


def test_file_link_data_creates_a_link(client: Any) -> None:
    f = upload(client, PDF, name="a.pdf", file_link_data={"create": True})
    (link,) = f.links.data
    assert link.object == "file_link"
    assert link.file == f.id
    assert link.url


def test_files_are_kept_apart_per_connected_account(emulator_server: Any) -> None:
    platform = emulator_server.stripe_client()
    connected = emulator_server.stripe_client(stripe_account="acct_1Connected000000")
    f = upload(connected, PDF, name="a.pdf")
    assert connected.v1.files.retrieve(f.id).id == f.id
    with pytest.raises(stripe.InvalidRequestError):
        platform.v1.files.retrieve(f.id)


# ----------------------------------------------------------------------------- contents

def test_file_url_serves_the_uploaded_bytes(client: Any, base_url: str) -> None:
    f = upload(client, PDF, name="receipt.pdf")
    assert f.url == f"{base_url}/v1/files/{f.id}/contents"
    r = httpx.get(f.url, headers={"Authorization": "Bearer sk_test_download"})
    assert r.status_code == 200
    assert r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["Request-Id"].startswith("req_")


def test_file_url_follows_the_address_the_client_used(emulator_server: Any) -> None:
    other = f"http://localhost:{emulator_server.port}"
    f = upload(stripe_client(other), PNG, name="shot.png")
    assert f.url == f"{other}/v1/files/{f.id}/contents"


def test_file_contents_need_a_key_and_an_existing_file(base_url: str) -> None:
    assert httpx.get(f"{base_url}/v1/files/file_nope/contents").status_code == 401
    r = httpx.get(f"{base_url}/v1/files/file_nope/contents",
                  headers={"Authorization": "Bearer sk_test_download"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "resource_missing"


def test_file_contents_belong_to_the_uploading_account(emulator_server: Any) -> None:
    connected = emulator_server.stripe_client(stripe_account="acct_1FileOwner0000000")
    f = upload(connected, JPEG, name="photo.jpg")
    auth = {"Authorization": "Bearer sk_test_download"}
    assert httpx.get(f.url, headers=auth).status_code == 404
    r = httpx.get(f.url, headers={**auth, "Stripe-Account": "acct_1FileOwner0000000"})
    assert (r.status_code, r.content) == (200, JPEG)
