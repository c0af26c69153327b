"""Huge request bodies against the real server: refused with 413 naming the limit, before
authentication and parsing, with the server's peak memory (VmHWM) growing by less than 30 MB.

Each body is sent twice: with a Content-Length (refused before a byte is read) and chunked,
without a length (counted as it streams in, refused at the cap).
"""

from __future__ import annotations

import re

import httpx
import pytest

from disputedesk.services import accounts

from conftest import PASSWORD, sign_in

MB = 1 << 20
MEMORY_BUDGET_KB = 30 * 1024


def _chunks(size: int, chunk: int = MB):
    block = b"9" * chunk
    for _ in range(size // chunk):
        yield block


def _post(url: str, size: int, *, declared: bool, headers: dict[str, str]) -> httpx.Response:
    sent = dict(headers)
    if declared:
        sent["Content-Length"] = str(size)
    return httpx.post(url, content=_chunks(size), headers=sent, timeout=60)


def _targets(desk) -> list[tuple[str, str, dict[str, str]]]:
    deps = desk.deps()
    token = accounts.token_for_role(deps, "admin")
    json_headers = {"Content-Type": "application/json"}
    return [
        ("JSON API without a token", "/api/v1/refunds", json_headers),
        ("JSON API with a token", "/api/v1/refunds",
         {**json_headers, "Authorization": f"Bearer {token}"}),
        ("sign-in form", "/login", {"Content-Type": "application/x-www-form-urlencoded",
                                    "Accept": "text/html"}),
    ]


def _warm_up(desk, targets) -> None:
    """Run every code path once with small bodies, so lazy imports and caches are not counted."""
    for _name, path, headers in targets:
        for declared in (True, False):
            _post(desk.url + path, 2 * MB, declared=declared, headers=headers)
        httpx.post(desk.url + path, content=b"{}", headers=headers, timeout=30)


@pytest.mark.parametrize("size_mb", [200, 50])
def test_huge_bodies_to_the_api_and_the_sign_in_form_are_refused_with_flat_memory(desk, size_mb):
    targets = _targets(desk)
    _warm_up(desk, targets)
    before = desk.memory()["VmHWM"]
    for name, path, headers in targets:
        for declared in (True, False):
            response = _post(desk.url + path, size_mb * MB, declared=declared, headers=headers)
            assert response.status_code == 413, (name, declared, response.text[:300])
            assert "1 MiB (1,048,576 bytes)" in response.text, name
    grown = desk.memory()["VmHWM"] - before
    assert grown < MEMORY_BUDGET_KB, f"peak memory grew by {grown} kB"


def test_an_oversized_body_is_refused_before_the_token_is_checked(desk):
    response = httpx.post(desk.url + "/api/v1/refunds", content=b"x" * (2 * MB),
                          headers={"Authorization": "Bearer ddk_not_a_real_token",
                                   "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert response.json()["detail"]["code"] == "payload_too_large"


def test_an_oversized_sign_in_form_gets_the_desks_error_page_naming_the_limit(desk):
    response = httpx.post(desk.url + "/login", content=b"username=" + b"a" * (2 * MB),
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "Accept": "text/html"}, timeout=30)
    assert response.status_code == 413 and "text/html" in response.headers["content-type"]
    assert re.search(r"larger than 1 MiB \(1,048,576 bytes\)", response.text)
    assert "Traceback" not in response.text


def test_an_evidence_upload_may_be_larger_than_a_form_but_not_unbounded(desk):
    deps = desk.deps()
    token = accounts.token_for_role(deps, "agent")
    headers = {"Authorization": f"Bearer {token}"}
    # 3 MB: over the form cap, under the upload cap: reaches the route (404: no such dispute).
    within = httpx.post(desk.url + "/api/v1/disputes/du_missing/files", headers=headers,
                        data={"field": "receipt"},
                        files={"file": ("r.pdf", b"%PDF-1.4\n" + b"0" * (3 * MB))}, timeout=30)
    assert within.status_code != 413, within.text[:300]
    over = _post(desk.url + "/api/v1/disputes/du_missing/files", 40 * MB, declared=True,
                 headers={**headers, "Content-Type": "multipart/form-data; boundary=x"})
    assert over.status_code == 413 and "file uploads" in over.text


def test_a_signed_in_user_with_the_role_can_still_sign_in_and_post_small_forms(desk):
    deps = desk.deps()
    accounts.create_user(deps, username="bodyuser", role="agent", password=PASSWORD)
    with httpx.Client(base_url=desk.url, follow_redirects=False) as client:
        response = sign_in(client, "bodyuser")
        assert response.status_code == 303 and "dd_session" in response.cookies
