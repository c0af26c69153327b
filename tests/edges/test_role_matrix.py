"""The role matrix: every page and every API endpoint of the app (read from ``app.routes``) called
anonymously and as each role, checked against the one permission table
(domain/permissions.py); CSRF refused without a token; no page or error shows a secret."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import SecretStr

from disputedesk.config import Settings
from disputedesk.domain.permissions import ROLES, allows
from disputedesk.services import accounts
from disputedesk.testing import cheap_password_hashing, FakeStripe, ManualClock
from disputedesk.web.app import create_app
from disputedesk.wiring import build_deps

PASSWORD = "correct horse battery staple"
API_KEY = "sk_test_MATRIXsecretKEY0123456789abcdef"
WEBHOOK_SECRET = "whsec_MATRIXsecret0123456789abcdef"

# Routes open to anyone, and routes for any signed-in caller whatever the role.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/login/link/{token}"),
          ("POST", "/login/link/{token}"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
          ("GET", "/api/v1/openapi.json")}
SIGNED_IN = {("GET", "/account/password"), ("POST", "/account/password"), ("POST", "/logout"),
             ("GET", "/api/v1/me")}
# Routes only a signed-in person may use: an API token is refused with 403 person_required even
# when its role has the permission (maker-checker: a token is not the person who holds it).
PERSON_ONLY = {("POST", "/api/v1/refunds/{request_id}/approve"),
               ("POST", "/api/v1/refunds/{request_id}/reject")}
PERSON_ONLY_PAGES = {("POST", "/refunds/{request_id}/approve"), ("POST", "/refunds/{request_id}/reject")}


def _permission(route: APIRoute) -> str | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        permission = getattr(dep.call, "permission", None)
        if permission:
            return permission
        stack.extend(dep.dependencies)
    return None


def _flat(routes, prefix: str = ""):
    """Every APIRoute with its full path (FastAPI keeps included routers as branches)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from _flat(original.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def _routes(app) -> list[tuple[str, str, str | None, APIRoute]]:
    out = []
    for path, route in _flat(app.routes):
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path, _permission(route), route))
    assert len(out) > 60, "the app's routes could not be enumerated"
    return out


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1).endswith("file_id") or
                  m.group(1) in ("file_id",) else f"x_{m.group(1)}", path)


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def desk(sqlite_url, tmp_path):
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path,
                        stripe_api_key=SecretStr(API_KEY), webhook_secrets=[WEBHOOK_SECRET])
    deps = build_deps(settings, clock=ManualClock(1_760_000_000),
                      gateway_factory=lambda _s: FakeStripe(), migrate=False)
    yield deps
    deps.close()


@pytest.fixture
def app(desk):
    return create_app(desk)


class Caller:
    def __init__(self, client: TestClient, name: str, role: str | None, *, token: str | None = None,
                 session: accounts.SessionInfo | None = None) -> None:
        self.client, self.name, self.role, self.token, self.session = client, name, role, token, session

    def call(self, method: str, path: str, *, api: bool, csrf: bool = True):
        headers = {"accept": "application/json" if api else "text/html"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        if self.session:
            if csrf:
                headers["X-CSRF-Token"] = self.session.csrf_secret
        self.client.cookies.clear()
        if self.session:
            self.client.cookies.set("dd_session", self.session.token)
        kwargs = {"json": {}} if api and method in ("POST", "PUT", "PATCH") else {}
        if not api and method == "POST":
            kwargs = {"data": {}}
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def callers(app, desk):
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    out = [Caller(client, "anonymous", None)]
    for role in ROLES:
        accounts.create_user(desk, username=f"m_{role}", role=role, password=PASSWORD)
        session = accounts.login(desk, username=f"m_{role}", password=PASSWORD)
        out.append(Caller(client, f"{role} session", role, session=session))
        out.append(Caller(client, f"{role} token", role, token=accounts.token_for_role(desk, role)))
    with client:
        yield out


def test_every_route_names_a_permission_or_is_knowingly_open(app):
    unguarded = [(m, p) for m, p, perm, _r in _routes(app)
                 if perm is None and (m, p) not in PUBLIC | SIGNED_IN]
    assert unguarded == []


def test_every_page_and_endpoint_allows_exactly_the_roles_the_table_says(app, callers):
    wrong = []
    checked = 0
    routes = _routes(app)
    assert PERSON_ONLY | PERSON_ONLY_PAGES <= {(m, p) for m, p, _perm, _r in routes}
    for method, path, permission, _route in routes:
        if permission is None:
            continue
        api = path.startswith("/api/")
        url = _concrete(path)
        for caller in callers:
            if caller.token and not api:
                continue  # pages are for browsers; tokens are checked on every API endpoint
            response = caller.call(method, url, api=api)
            checked += 1
            status = response.status_code
            if caller.role is None:
                ok = status == 401 if api else (status == 303 and response.headers["location"]
                                                .startswith("/login"))
            elif not allows(caller.role, permission):
                ok = status == 403 and (not api or response.json()["detail"]["code"]
                                        == "permission_denied")
            elif caller.token and (method, path) in PERSON_ONLY:
                ok = status == 403 and response.json()["detail"]["code"] == "person_required"
            else:
                ok = status not in (401, 403) and status != 500
            if not ok:
                wrong.append(f"{method} {url} as {caller.name} ({permission}): {status}")
    assert checked > 300
    assert wrong == []


def test_person_only_pages_refuse_a_token_too(app, callers):
    """Pages are for browsers, but a bearer token is accepted there as well: the dashboard's
    approve and reject forms must not become a way round the API's refusal."""
    wrong = []
    for caller in callers:
        if not caller.token:
            continue
        for method, path in sorted(PERSON_ONLY_PAGES):
            response = caller.call(method, _concrete(path), api=True)
            code = response.json()["detail"]["code"] if response.status_code == 403 else None
            expected = "person_required" if allows(caller.role, "refunds.approve") else "permission_denied"
            if code != expected:
                wrong.append(f"{method} {path} as {caller.name}: {response.status_code} {code}")
    assert wrong == []


def test_state_changing_pages_and_endpoints_refuse_a_session_without_the_csrf_token(app, callers):
    admin = next(c for c in callers if c.name == "admin session")
    posts = [(m, p) for m, p, perm, _r in _routes(app) if m in ("POST", "PUT", "DELETE", "PATCH")
             and perm is not None]
    assert len(posts) > 20
    refused = []
    for method, path in posts:
        response = admin.call(method, _concrete(path), api=path.startswith("/api/"), csrf=False)
        if response.status_code == 403 and "csrf" in response.text.lower():
            refused.append(path)
    assert sorted(refused) == sorted(p for _m, p in posts)


def test_no_page_or_error_shows_a_secret(app, callers, desk):
    admin = next(c for c in callers if c.name == "admin session")
    token = accounts.token_for_role(desk, "admin")
    secrets = [API_KEY, WEBHOOK_SECRET, admin.session.token, admin.session.csrf_secret[:0] or
               "never-empty", token]
    secrets = [s for s in secrets if s != "never-empty"]
    bodies = []
    for method, path, permission, _route in _routes(app):
        if method != "GET":
            continue
        bodies.append(admin.call("GET", _concrete(path), api=path.startswith("/api/")).text)
    for probe in ("/nowhere", "/disputes/du_missing", "/refunds/req_missing", "/events/evt_missing",
                  "/refunds/bulk/job_missing", "/disputes?limit=notanumber"):
        bodies.append(admin.call("GET", probe, api=False).text)
    bad = TestClient(app, follow_redirects=False, raise_server_exceptions=False)
    bodies.append(bad.get("/api/v1/disputes", headers={"authorization": f"Bearer {token}x"}).text)
    bad.cookies.set("dd_session", admin.session.token + "x")
    bodies.append(bad.get("/disputes", headers={"accept": "text/html"}).text)
    leaked = [s[:12] for s in secrets for body in bodies if s in body]
    assert leaked == []
    assert not any("Traceback" in body for body in bodies)


def test_a_viewer_sees_no_buttons_it_may_not_press(app, callers):
    viewer = next(c for c in callers if c.name == "viewer session")
    page = viewer.call("GET", "/refunds", api=False)
    assert page.status_code == 200 and "Issue a refund" not in page.text
    assert "Refunds" in page.text and "/refunds/approvals" in page.text
    agent = next(c for c in callers if c.name == "agent session")
    assert "Issue a refund" in agent.call("GET", "/refunds", api=False).text


def test_the_inbox_redirects_an_anonymous_browser_to_sign_in_and_back(app, callers):
    anonymous = callers[0]
    response = anonymous.call("GET", "/disputes?status=needs_response", api=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/disputes%3Fstatus%3Dneeds_response"
    root = anonymous.call("GET", "/", api=False)
    assert root.status_code == 303 and root.headers["location"].startswith("/login")
