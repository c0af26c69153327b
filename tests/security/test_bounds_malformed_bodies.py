"""Malformed bodies against the real server: broken multipart, forms that are not text, JSON that
nests 10,000 levels or is not JSON. Each gets a 4xx that says what is wrong, never a 500."""

from __future__ import annotations

import httpx
import pytest

from disputedesk.services import accounts

from conftest import PASSWORD, sign_in

DEEP = ("[" * 10_000 + "]" * 10_000).encode()
BROKEN_MULTIPART = [
    ("no boundary", "multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"),
    ("truncated", "multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF"),
    ("no headers", "multipart/form-data; boundary=x", b"--x\r\n\r\n\r\n--x--\r\n"),
    ("garbage", "multipart/form-data; boundary=x", b"\x00\xff" * 500),
]
BROKEN_FORMS = [
    ("not UTF-8", b"username=\xff\xfe&password=\xc3"),
    ("bad percent escapes", b"username=%zz%&password=%"),
    ("NUL bytes", b"username=a\x00b&password=\x00"),
    ("no equals signs", b"&&&&====&&&"),
]


@pytest.fixture(scope="module")
def browser(desk):
    accounts.create_user(desk.deps(), username="formuser", role="admin", password=PASSWORD)
    with httpx.Client(base_url=desk.url, timeout=30, follow_redirects=False) as client:
        assert sign_in(client, "formuser").status_code == 303
        yield client


@pytest.mark.parametrize("name,content_type,body", BROKEN_MULTIPART, ids=[b[0] for b in BROKEN_MULTIPART])
def test_broken_multipart_uploads_are_refused_with_a_4xx(desk, admin_api, name, content_type, body):
    for path in ("/api/v1/disputes/du_x/files", "/api/v1/refunds/bulk",
                 "/api/v1/disputes/orders/import"):
        response = admin_api.post(path, content=body, headers={"Content-Type": content_type})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:200])


@pytest.mark.parametrize("name,body", BROKEN_FORMS, ids=[b[0] for b in BROKEN_FORMS])
def test_malformed_sign_in_and_dashboard_forms_are_refused_with_a_4xx(desk, browser, name, body):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
    anonymous = httpx.post(desk.url + "/login", content=body, headers=headers)
    assert 400 <= anonymous.status_code < 500, anonymous.status_code
    for path in ("/refunds/new", "/disputes/du_x/evidence", "/rules/backtest"):
        response = browser.post(path, content=body, headers=headers)
        assert response.status_code < 500, (path, response.status_code)


def test_ten_thousand_levels_of_json_to_the_api_are_refused_with_a_400(admin_api):
    for path in ("/api/v1/refunds", "/api/v1/tokens", "/api/v1/events/replay"):
        response = admin_api.post(path, content=DEEP, headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 422), (path, response.status_code, response.text[:200])


def test_a_json_body_that_is_not_json_is_refused_naming_where(admin_api):
    response = admin_api.post("/api/v1/refunds", content=b'{"target": "ch_1", "amount": ',
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "json_invalid" in response.text
