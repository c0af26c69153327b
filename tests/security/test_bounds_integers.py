"""40-digit integers in every parameter the OpenAPI document lists (path, query, header, JSON and
form body fields), and in the dashboard's numeric parameters, against the real server: never a
500, and a refusal of a numeric field names that field.

The operations and their fields come from the server's own /api/v1/openapi.json, so a new route
or field is attacked without editing this file; hypothesis draws the numbers (both signs).
"""

from __future__ import annotations

import base64
import json
import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disputedesk.services import accounts

from conftest import PASSWORD, sign_in

FORTY_DIGITS = st.one_of(st.integers(10**39, 10**40 - 1), st.integers(-(10**40 - 1), -(10**39)))
EXAMPLES = 3  # per field: bounded so the suite stays fast
NUMERIC = ("integer", "number")


def _resolve(doc: dict, schema: dict | None) -> dict:
    schema = schema or {}
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _types(doc: dict, schema: dict) -> set[str]:
    schema = _resolve(doc, schema)
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(doc, option)
    return found


def _filler(doc: dict, schema: dict):
    """A plain valid-looking value for a field that is not under attack."""
    schema = _resolve(doc, schema)
    if "enum" in schema:
        return schema["enum"][0]
    for option in schema.get("anyOf", []):
        if "enum" in _resolve(doc, option):
            return _resolve(doc, option)["enum"][0]
    types = _types(doc, schema) - {"null"}
    for kind, value in (("boolean", False), ("integer", 1), ("number", 1), ("array", []),
                        ("object", {})):
        if kind in types:
            return value
    return "x"


def _targets(doc: dict) -> list[tuple[str, str, str, str, bool]]:
    """(method, path, where, field, numeric) for every field of every operation."""
    out = []
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in operations.items():
            for param in op.get("parameters", []):
                out.append((method, path, param["in"], param["name"],
                            bool(_types(doc, param.get("schema", {})) & set(NUMERIC))))
            for content_type, body in op.get("requestBody", {}).get("content", {}).items():
                schema = _resolve(doc, body.get("schema"))
                where = "json" if content_type == "application/json" else (
                    "form" if content_type == "multipart/form-data" else "text")
                if where == "text":
                    out.append((method, path, "text", "body", False))
                for name, prop in schema.get("properties", {}).items():
                    out.append((method, path, where, name,
                                bool(_types(doc, prop) & set(NUMERIC))))
    return out


def _request(doc: dict, method: str, path: str, where: str, field: str, value, numeric: bool):
    op = doc["paths"][path][method]
    attack = value if numeric else str(value)
    params, headers, url = {}, {}, path
    for param in op.get("parameters", []):
        attacked = (param["in"], param["name"]) == (where, field)
        if not attacked and param["in"] != "path" and not param.get("required"):
            continue
        v = attack if attacked else _filler(doc, param.get("schema"))
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", str(v))
        elif param["in"] == "query":
            params[param["name"]] = v if not isinstance(v, bool) else str(v).lower()
        elif param["in"] == "header":
            headers[param["name"]] = str(v)
    kwargs: dict = {"params": params, "headers": headers}
    for content_type, body in op.get("requestBody", {}).get("content", {}).items():
        schema = _resolve(doc, body.get("schema"))
        props = schema.get("properties", {})
        required = set(schema.get("required", [])) | ({field} if where in ("json", "form") else set())
        values = {n: (attack if n == field else _filler(doc, props[n])) for n in props if n in required}
        if content_type == "application/json":
            kwargs["content"] = json.dumps(values)
            headers["Content-Type"] = "application/json"
        elif content_type == "multipart/form-data":
            files = {n: ("f.csv", b"charge,amount\n") for n, p in props.items()
                     if _resolve(doc, p).get("format") == "binary" and n != field}
            kwargs["data"] = {n: str(v) for n, v in values.items() if n not in files}
            kwargs["files"] = files or None
        else:
            kwargs["content"] = str(attack) if where == "text" else "x"
    return method.upper(), url, kwargs


def test_forty_digit_integers_in_every_api_parameter_never_give_a_server_error(desk, admin_api):
    doc = admin_api.get("/api/v1/openapi.json").json()
    targets = _targets(doc)
    assert len(targets) > 60 and sum(t[4] for t in targets) >= 8  # the document was read
    failures: list[str] = []
    for method, path, where, field, numeric in targets:

        @given(value=FORTY_DIGITS)
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def attack(value) -> None:
            verb, url, kwargs = _request(doc, method, path, where, field, value, numeric)
            response = admin_api.request(verb, url, **kwargs)
            assert response.status_code < 500, f"{response.status_code}: {response.text[:200]}"
            if numeric and response.status_code in (400, 422):
                assert field in response.text, f"the refusal does not name '{field}': {response.text[:200]}"

        try:
            attack()
        except Exception as exc:  # collect every field's failure, then report them all
            failures.append(f"{method.upper()} {path} {where}:{field}: "
                            f"{type(exc).__name__} {str(exc).strip().splitlines()[0][:300]}")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def signed_in(desk):
    accounts.create_user(desk.deps(), username="intpages", role="admin", password=PASSWORD)
    with httpx.Client(base_url=desk.url, timeout=60, follow_redirects=False,
                      headers={"Accept": "text/html"}) as client:
        assert sign_in(client, "intpages").status_code == 303
        inbox = client.get("/disputes")
        client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', inbox.text)[1]
        yield client


def _cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@given(value=FORTY_DIGITS)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_forty_digit_integers_in_the_dashboards_parameters_never_give_a_server_error(signed_in, value):
    gets = [f"/audit?before={value}", f"/disputes?limit={value}",
            f"/disputes?cursor={_cursor(0, value, 'du_x')}", f"/events?object_id={value}",
            f"/refunds?limit={value}", f"/disputes/{value}", f"/events/{value}",
            f"/refunds/{value}", f"/refunds/bulk/{value}"]
    for url in gets:
        response = signed_in.get(url)
        assert response.status_code < 500, (url, response.status_code)
    posts = [(f"/disputes/du_x/files/{value}/remove", {}),
             ("/rules/backtest", {"since": f"{value}d"}),
             ("/refunds/new", {"target": "ch_x", "amount": f"{value} USD"}),
             ("/refunds/new", {"target": "ch_x", "amount": str(value)})]
    for url, data in posts:
        response = signed_in.post(url, data={**data, "csrf_token": signed_in.csrf})
        assert response.status_code < 500, (url, response.status_code, response.text[:200])
    before = signed_in.get(f"/audit?before={value}")
    assert before.status_code == 400 and "before" in before.text
