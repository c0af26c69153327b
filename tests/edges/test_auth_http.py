"""Authentication over HTTP: API tokens, sign-in pages, session cookies, CSRF, the role matrix
of /api/v1/users and /api/v1/tokens, and that no secret ever shows in a body or a log line."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from disputedesk.testing import cheap_password_hashing
from disputedesk.domain.permissions import ROLES
from disputedesk.services import accounts
from disputedesk.web import pages_auth
from disputedesk.web.app import create_app

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def app(deps):
    app = create_app(deps)
    if not any(getattr(route, "path", None) == "/login" for route in app.routes):
        pages_auth.install(app)  # until create_app does it
    return app


@pytest.fixture
def client(app):
    with TestClient(app, follow_redirects=False) as c:
        yield c


def _sign_in(client: TestClient, username: str, password: str = PASSWORD, *, next_url: str = "/"):
    page = client.get("/login")
    csrf = client.cookies.get("dd_login_csrf")
    assert page.status_code == 200 and csrf
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf, "next": next_url})


def _csrf_of(client: TestClient) -> str:
    page = client.get("/account/password")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _set_cookie_header(response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(name + "="))


# --- API tokens ---------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_a_valid_token_authenticates_as_its_role(deps, client, role):
    accounts.create_user(deps, username="ci-owner", role=role)
    token = accounts.token_for_role(deps, role, name="ci", owner="ci-owner")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "ci-owner" and me.json()["role"] == role
    assert me.json()["via"] == "token"


@pytest.mark.parametrize("header", ["Bearer ddk_wrong", "Bearer ", "Basic YWxpY2U6c2VjcmV0",
                                    "ddk_no_scheme"])
def test_a_wrong_or_malformed_authorization_header_is_401_with_a_json_error(client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["detail"]["type"] == "AuthenticationFailed"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_is_refused(deps, client):
    accounts.create_user(deps, username="root", role="admin")
    info, secret = accounts.create_token(deps, name="ci", role="admin", owner="root")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/tokens", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/tokens/{info['id']}", headers=headers).status_code == 200
    refused = client.get("/api/v1/tokens", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]["message"]


def test_anonymous_calls_are_401(client):
    response = client.get("/api/v1/users")
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "not_authenticated"


def test_a_bad_authorization_header_is_not_rescued_by_a_good_session_cookie(deps, client):
    accounts.create_user(deps, username="root", role="admin", password=PASSWORD)
    assert _sign_in(client, "root").status_code == 303
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer ddk_x"}).status_code == 401


# --- the role matrix of the users and tokens endpoints -------------------------------------------

ADMIN_ENDPOINTS = [
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"username": "newbie", "role": "viewer"}),
    ("GET", "/api/v1/users/root", None),
    ("PATCH", "/api/v1/users/root", {"role": "admin"}),
    ("POST", "/api/v1/users/root/password", {"password": "a brand new password"}),
    ("POST", "/api/v1/users/root/login-link", None),
    ("GET", "/api/v1/tokens", None),
    ("POST", "/api/v1/tokens", {"name": "ci", "role": "viewer"}),
    ("DELETE", "/api/v1/tokens/tok_1", None),
]


@pytest.mark.parametrize("role", [None, *ROLES])
def test_only_admins_manage_users_and_tokens(deps, client, role):
    accounts.create_user(deps, username="root", role="admin", password=PASSWORD)
    accounts.create_token(deps, name="target", role="viewer", owner="root")  # tok_1
    headers = {}
    if role is not None:
        headers["Authorization"] = f"Bearer {accounts.token_for_role(deps, role)}"
    expected = {None: {401}, "viewer": {403}, "agent": {403}, "approver": {403}}.get(role, {200, 201})
    got = {f"{method} {path}": client.request(method, path, json=body, headers=headers)
           for method, path, body in ADMIN_ENDPOINTS}
    wrong = {call: r.status_code for call, r in got.items() if r.status_code not in expected}
    assert not wrong, f"expected {expected} for {role}"
    if role != "admin":
        assert {r.json()["detail"]["type"] for r in got.values()} == {
            "AuthenticationFailed" if role is None else "PermissionDenied"}


def test_me_answers_every_role_and_lists_its_permissions(deps, client):
    for role in ROLES:
        token = accounts.token_for_role(deps, role)
        body = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
        assert ("users.manage" in body["permissions"]) == (role == "admin")


def test_a_forbidden_call_names_the_roles_that_may_make_it(deps, client):
    token = accounts.token_for_role(deps, "agent")
    response = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})
    assert response.json()["detail"]["hint"] == "roles allowed: admin"


def test_admins_create_users_with_a_one_time_link_and_tokens_shown_once(deps, client):
    admin = {"Authorization": f"Bearer {accounts.token_for_role(deps, 'admin')}"}
    created = client.post("/api/v1/users", json={"username": "Ann", "role": "approver"},
                          headers=admin)
    assert created.status_code == 201
    link = created.json()["login_link"]
    assert link.startswith("http://testserver/login/link/")
    listed = client.get("/api/v1/users", headers=admin).text
    assert link.rsplit("/", 1)[1] not in listed

    made = client.post("/api/v1/tokens", json={"name": "nightly", "role": "agent"}, headers=admin)
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert secret.startswith("ddk_") and made.json()["token"]["prefix"] == secret[:12]
    assert secret not in client.get("/api/v1/tokens", headers=admin).text


def test_service_errors_come_back_with_their_status_and_message(deps, client):
    admin = {"Authorization": f"Bearer {accounts.token_for_role(deps, 'admin')}"}
    short = client.post("/api/v1/users", json={"username": "x", "role": "viewer",
                                                "password": "short"}, headers=admin)
    assert short.status_code == 400 and "at least 12 characters" in short.json()["detail"]["message"]
    client.post("/api/v1/users", json={"username": "dup", "role": "viewer"}, headers=admin)
    dup = client.post("/api/v1/users", json={"username": "DUP", "role": "viewer"}, headers=admin)
    assert dup.status_code == 409
    assert client.get("/api/v1/users/ghost", headers=admin).status_code == 404
    assert client.delete("/api/v1/tokens/tok_99", headers=admin).status_code == 404


# --- sign-in pages and cookies -----------------------------------------------------------------

def test_signing_in_sets_an_httponly_samesite_session_cookie(deps, client):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    response = _sign_in(client, "alice", next_url="/disputes?status=open")
    assert response.status_code == 303 and response.headers["location"] == "/disputes?status=open"
    cookie = _set_cookie_header(response, "dd_session").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/api/v1/me").json()["username"] == "alice"


def test_the_session_cookie_is_secure_over_https(deps, app):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    with TestClient(app, base_url="https://desk.example", follow_redirects=False) as client:
        response = _sign_in(client, "alice")
        assert "; secure" in _set_cookie_header(response, "dd_session").lower()


def test_the_cookie_secure_setting_overrides_the_scheme(deps, client):
    deps.settings.cookie_secure = True
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    page = client.get("/login")
    assert "; secure" in _set_cookie_header(page, "dd_login_csrf").lower()


def test_sign_in_without_the_form_token_is_refused(deps, client):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403 and "dd_session" not in response.headers.get("set-cookie", "")
    forged = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                         "csrf_token": "guessed"})
    assert forged.status_code == 403


def test_a_wrong_password_shows_the_form_again_with_a_message(deps, client):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    response = _sign_in(client, "alice", "not the password")
    assert response.status_code == 401 and "Wrong user name or password." in response.text
    assert "not the password" not in response.text


def test_repeated_failures_lock_sign_in_with_a_clear_message(deps, client):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        assert _sign_in(client, "alice", "not the password").status_code == 401
    locked = _sign_in(client, "alice")
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins for this user name; try again in 15 minutes." in locked.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example"])
def test_sign_in_never_redirects_to_another_site(deps, client, target):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    assert _sign_in(client, "alice", next_url=target).headers["location"] == "/"


def test_a_signed_in_visit_to_the_login_page_goes_on(deps, client):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    _sign_in(client, "alice")
    assert client.get("/login?next=/refunds").headers["location"] == "/refunds"


def test_the_login_page_uses_only_packaged_assets(client):
    page = client.get("/login")
    assert 'href="/static/app.css"' in page.text and "https://" not in page.text
    assert client.get("/static/app.css").status_code == 200


# --- CSRF on session requests ------------------------------------------------------------------

def test_state_changing_api_calls_from_a_session_need_the_csrf_header(deps, client):
    accounts.create_user(deps, username="root", role="admin", password=PASSWORD)
    _sign_in(client, "root")
    body = {"name": "from-browser", "role": "viewer"}
    refused = client.post("/api/v1/tokens", json=body)
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "csrf_failed"
    wrong = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    ok = client.post("/api/v1/tokens", json=body, headers={"X-CSRF-Token": _csrf_of(client)})
    assert ok.status_code == 201
    assert client.get("/api/v1/tokens").status_code == 200  # reads need no token


def test_logout_needs_the_csrf_token_and_ends_the_session(deps, client):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    _sign_in(client, "alice")
    assert client.post("/logout").status_code == 403
    assert client.get("/api/v1/me").status_code == 200
    session = client.cookies.get("dd_session")
    out = client.post("/logout", data={"csrf_token": _csrf_of(client)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert accounts.session_actor(deps, session) is None
    assert client.get("/api/v1/me").status_code == 401


def test_a_token_request_needs_no_csrf_token(deps, client):
    token = accounts.token_for_role(deps, "admin")
    response = client.post("/api/v1/tokens", json={"name": "x", "role": "viewer"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201


# --- one-time links and setting a password --------------------------------------------------------

def test_a_login_link_signs_in_once_and_asks_for_a_password(deps, client):
    link = accounts.ensure_first_admin(deps, "http://testserver")
    path = link.removeprefix("http://testserver")
    # Opening the link (a chat preview, a prefetch) spends nothing: it shows a Continue button.
    shown = client.get(path)
    assert shown.status_code == 200 and "Continue" in shown.text
    assert "dd_session" not in shown.headers.get("set-cookie", "")
    assert client.get(path).status_code == 200  # still unspent
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', shown.text)[1]
    first = client.post(path, data={"csrf_token": login_csrf})
    assert first.status_code == 303 and first.headers["location"] == "/account/password"
    assert first.headers["referrer-policy"] == "no-referrer"
    form = client.get("/account/password")
    assert "Set your password" in form.text

    other = TestClient(client.app, follow_redirects=False)
    page = other.get(path)
    again = other.post(path, data={
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]})
    assert again.status_code == 401 and "already used" in again.text

    csrf = _csrf_of(client)
    assert client.post("/account/password", data={"password": "a new long password",
                                                   "password_again": "a new long password"}
                       ).status_code == 403  # no CSRF token
    mismatch = client.post("/account/password", data={"password": "a new long password",
                                                      "password_again": "another one!!",
                                                      "csrf_token": csrf})
    assert mismatch.status_code == 422 and "differ" in mismatch.text
    short = client.post("/account/password", data={"password": "short", "password_again": "short",
                                                   "csrf_token": csrf})
    assert short.status_code == 422 and "at least 12 characters" in short.text
    done = client.post("/account/password", data={"password": "a new long password",
                                                  "password_again": "a new long password",
                                                  "csrf_token": csrf})
    assert done.status_code == 303
    assert client.get("/api/v1/me").json()["username"] == "admin"  # still signed in
    fresh = TestClient(client.app, follow_redirects=False)
    assert _sign_in(fresh, "admin", "a new long password").status_code == 303


def test_a_login_link_post_without_the_pages_token_is_refused(deps, client):
    link = accounts.ensure_first_admin(deps, "http://testserver")
    path = link.removeprefix("http://testserver")
    forged = client.post(path, data={"csrf_token": "guessed"})
    assert forged.status_code == 403 and "dd_session" not in forged.headers.get("set-cookie", "")


def test_changing_a_password_asks_for_the_current_one(deps, client):
    accounts.create_user(deps, username="alice", role="agent", password=PASSWORD)
    _sign_in(client, "alice")
    csrf = _csrf_of(client)
    wrong = client.post("/account/password", data={"current_password": "guess guess guess",
                                                   "password": "a new long password",
                                                   "password_again": "a new long password",
                                                   "csrf_token": csrf})
    assert wrong.status_code == 422 and "current password is wrong" in wrong.text
    right = client.post("/account/password", data={"current_password": PASSWORD,
                                                   "password": "a new long password",
                                                   "password_again": "a new long password",
                                                   "csrf_token": csrf})
    assert right.status_code == 303


def test_an_expired_login_link_is_refused(deps, client, clock):
    accounts.create_user(deps, username="alice", role="agent")
    token = accounts.create_login_link(deps, username="alice", actor="root")
    clock.advance(accounts.LOGIN_LINK_TTL + 1)
    page = client.get(f"/login/link/{token}")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    response = client.post(f"/login/link/{token}", data={"csrf_token": csrf})
    assert response.status_code == 401 and "dd_session" not in response.headers.get("set-cookie", "")


# --- no secret in any body or log ----------------------------------------------------------------

def test_no_secret_appears_in_any_response_body_or_log_line(deps, client, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []

    def keep(response):
        bodies.append(response.text)
        return response

    link = accounts.ensure_first_admin(deps, "http://testserver")
    link_token = link.rsplit("/", 1)[1]
    link_page = keep(client.get(link.removeprefix("http://testserver")))
    link_csrf = re.search(r'name="csrf_token" value="([^"]+)"', link_page.text)[1]
    keep(client.post(link.removeprefix("http://testserver"), data={"csrf_token": link_csrf}))
    session = client.cookies.get("dd_session")
    csrf = _csrf_of(client)
    keep(client.post("/account/password", data={"password": PASSWORD, "password_again": PASSWORD,
                                                 "csrf_token": csrf}))
    created = client.post("/api/v1/tokens", json={"name": "ci", "role": "admin"},
                          headers={"X-CSRF-Token": csrf})
    api_token = created.json()["secret"]  # the one response allowed to carry it
    bearer = {"Authorization": f"Bearer {api_token}"}
    keep(client.post("/api/v1/users", json={"username": "bob", "role": "agent",
                                            "password": "bobs long password"}, headers=bearer))
    keep(client.get("/api/v1/users", headers=bearer))
    keep(client.get("/api/v1/tokens", headers=bearer))
    keep(client.post("/api/v1/users/bob/password", json={"password": "bobs newer password"},
                     headers=bearer))
    keep(client.get("/api/v1/me", headers=bearer))
    keep(client.get("/api/v1/me"))
    keep(client.get("/account/password"))
    fresh = TestClient(client.app, follow_redirects=False)
    keep(_sign_in(fresh, "bob", "wrong password for bob"))
    keep(_sign_in(fresh, "bob", "bobs newer password"))
    keep(fresh.get("/api/v1/me"))
    keep(client.post(link.removeprefix("http://testserver"),
                     data={"csrf_token": link_csrf}))  # used link
    keep(client.get("/api/v1/openapi.json"))

    secrets_ = [PASSWORD, "bobs long password", "bobs newer password", "wrong password for bob",
                api_token, session, fresh.cookies.get("dd_session"), link_token]
    out = capsys.readouterr()
    # Every log record but the test client's own (httpx logs the URLs it requests).
    logs = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records
                     if not r.name.startswith("httpx")) + out.out + out.err
    assert "sign-in refused" in logs  # the capture works
    for secret in secrets_:
        assert secret and all(secret not in body for body in bodies), "a body shows a secret"
        assert secret not in logs, "a log line shows a secret"


def test_a_page_route_sends_anonymous_browsers_to_the_sign_in_page(deps, app):
    from fastapi import Depends

    from disputedesk.web.auth import require

    @app.get("/_test/queue")
    def queue(actor=Depends(require("refunds.read", page=True))):  # noqa: B008
        return {"user": actor.username}

    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/_test/queue?sort=age")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/_test/queue%3Fsort%3Dage"
        accounts.create_user(deps, username="vera", role="viewer", password=PASSWORD)
        _sign_in(client, "vera")
        assert client.get("/_test/queue").json() == {"user": "vera"}


def test_pages_and_api_answers_carry_security_headers(sqlite_url, tmp_path):
    from fastapi.testclient import TestClient

    from disputedesk.config import Settings
    from disputedesk.web.app import create_app
    from disputedesk.wiring import build_deps

    deps = build_deps(Settings(database_url=sqlite_url, data_dir=tmp_path), migrate=False)
    try:
        with TestClient(create_app(deps)) as client:
            for path in ("/login", "/api/v1/disputes", "/healthz"):
                headers = client.get(path).headers
                assert "frame-ancestors 'none'" in headers["content-security-policy"], path
                assert headers["x-frame-options"] == "DENY"
                assert headers["x-content-type-options"] == "nosniff"
    finally:
        deps.close()


def test_metrics_need_the_bearer_token_when_one_is_configured(sqlite_url, tmp_path):
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from disputedesk.config import Settings
    from disputedesk.web.app import create_app
    from disputedesk.wiring import build_deps

    deps = build_deps(Settings(database_url=sqlite_url, data_dir=tmp_path,
                               metrics_token=SecretStr("scrape-me-0123")), migrate=False)
    try:
        with TestClient(create_app(deps)) as client:
            refused = client.get("/metrics")
            assert refused.status_code == 401 and "scrape-me" not in refused.text
            assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
            ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123"})
            assert ok.status_code == 200 and "disputedesk" in ok.text
    finally:
        deps.close()
