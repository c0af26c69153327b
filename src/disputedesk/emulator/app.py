"""The ASGI app: Stripe's wire protocol around the route table of the resource modules.

Every API request goes through :func:`_dispatch`: request id, auth, ``Stripe-Account``, fault
injection, body/query parsing (Stripe bracket syntax, multipart for files), unknown-parameter
check, idempotency, then the handler under the emulator lock, and a JSON response. Anything a
client sends that the emulator does not expect ends as a Stripe-shaped error, never a crash.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from . import errors, idempotency, versions
from .context import Ctx
from .emulator import Emulator
from .form import FormError, build_nested, parse_form
from .params import reject_unknown
from .render import wire
from .routing import Route

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024


@dataclass
class UploadedFile:
    """A multipart file part, read into memory (files are at most tens of MB)."""
    filename: str | None
    content_type: str | None
    data: bytes


def create_app(emulator: Emulator | None = None) -> Starlette:
    emulator = emulator or Emulator()
    from .control import control_routes

    routes: list[StarletteRoute] = []
    for spec in emulator.routes:
        routes.append(StarletteRoute(spec.path, _endpoint(emulator, spec), methods=[spec.method],
                                     name=f"{spec.method} {spec.path}"))
    routes.extend(control_routes(emulator))
    routes.append(StarletteRoute("/{path:path}", _UnknownURL(emulator), methods=None))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        emulator.start()
        try:
            yield
        finally:
            emulator.stop()

    async def http_error(request: Request, exc: Exception) -> Response:
        """Starlette's own 404/405 (paths the catch-all cannot match, e.g. with a newline)."""
        rid = emulator.request_ids.new("request", 14)
        status = getattr(exc, "status_code", 404)
        if status in (404, 405):
            return error_response(_unrecognized(request), rid)
        return error_response(errors.invalid(str(getattr(exc, "detail", "Bad request.")),
                                             status=status), rid)

    async def server_error(request: Request, exc: Exception) -> Response:
        rid = emulator.request_ids.new("request", 14)
        return error_response(errors.api_error("An unexpected error occurred in the emulator."),
                              rid)

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.emulator = emulator
    return app


# ---------------------------------------------------------------------------- responses

def json_response(body: Any, status: int = 200, request_id: str | None = None,
                  headers: dict[str, str] | None = None) -> Response:
    h = {"Request-Id": request_id} if request_id else {}
    if headers:
        h.update(headers)
    return Response(json.dumps(body), status_code=status, headers=h,
                    media_type="application/json")


def error_response(exc: errors.APIError, request_id: str | None) -> Response:
    rid = request_id if exc.status != 401 else None
    return json_response(exc.body(rid), exc.status, request_id, exc.headers)


# ---------------------------------------------------------------------------- auth

_NO_KEY = ("You did not provide an API key. You need to provide your API key in the Authorization "
           "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
           "https://stripe.com/docs/api#authentication for details, or we can help at "
           "https://support.stripe.com/.")


def _mask(key: str) -> str:
    if len(key) <= 12:
        return "*" * len(key)
    head = key[:8] if key.startswith(("sk_", "rk_", "pk_")) else key[:3]
    return head + "*" * (len(key) - len(head) - 4) + key[-4:]


def authenticate(header: str | None) -> str:
    """The API key from ``Authorization`` (Bearer or Basic), or Stripe's 401."""
    if not header or not header.strip():
        raise errors.authentication(_NO_KEY)
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        key = value
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            raise errors.authentication(
                "Invalid API Key provided: the Authorization header could not be decoded as "
                "Basic auth.") from None
    else:
        raise errors.authentication(
            "Invalid Authorization header: use Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY') or Basic auth with your key as the username.")
    if not key:
        raise errors.authentication(_NO_KEY)
    if not key.startswith("sk_test_") or len(key) <= len("sk_test_") or any(c.isspace() for c in key):
        raise errors.authentication(f"Invalid API Key provided: {_mask(key)}")
    return key


# ---------------------------------------------------------------------------- params

async def read_params(request: Request) -> dict[str, Any]:
    params = parse_form(request.url.query) if request.url.query else {}
    if request.method in ("GET", "DELETE", "HEAD"):
        return params
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=10, max_fields=1000)
        except Exception as exc:  # python-multipart errors are many; all are client errors
            raise FormError(f"Invalid multipart body: {exc}") from exc
        pairs: list[tuple[str, Any]] = []
        for key, value in form.multi_items():
            if isinstance(value, str):
                pairs.append((key, value))
            else:
                data = await value.read()
                pairs.append((key, UploadedFile(value.filename, value.content_type, data)))
        body = build_nested(pairs)
    else:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise FormError("Request body too large.")
        if raw and ctype.startswith("application/json"):
            raise FormError("Invalid request: Stripe's API takes form-encoded bodies "
                            "(application/x-www-form-urlencoded), not JSON.")
        body = parse_form(raw) if raw else {}
    for key, value in body.items():
        params[key] = value
    return params


# ---------------------------------------------------------------------------- dispatch

def base_url(request: Request) -> str:
    """``scheme://host[:port]`` as the client addressed the emulator (its ``Host`` header)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def _endpoint(emulator: Emulator, spec: Route):
    async def endpoint(request: Request) -> Response:
        return await _dispatch(emulator, spec, request)
    return endpoint


class _UnknownURL:
    """Stripe's 404 for any other path and any method (even ones HTTP does not define).

    A plain ASGI app, not a function endpoint: Starlette would limit a function to GET, and a
    wrong method on a known path would then get a bare 405 instead of Stripe's error body.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        rid = self.emulator.request_ids.new("request", 14)
        await error_response(_unrecognized(Request(scope, receive)), rid)(scope, receive, send)


def _unrecognized(request: Request) -> errors.APIError:
    return errors.invalid(
        f"Unrecognized request URL ({request.method}: {request.url.path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/.", status=404)


async def _dispatch(emulator: Emulator, spec: Route, request: Request) -> Response:
    rid = emulator.request_ids.new("request", 14)
    try:
        headers = request.headers
        authenticate(headers.get("authorization"))
        account_id = headers.get("stripe-account")
        if account_id is not None and (not account_id.startswith("acct_") or len(account_id) > 255):
            raise errors.APIError(
                403, "invalid_request_error",
                f"The provided key does not have access to account '{account_id}' (or that "
                "account does not exist). Application access may have been revoked.")
        if emulator.faults.latency_seconds:
            await asyncio.sleep(emulator.faults.latency_seconds)
        emulator.faults.check(account_id or "")
        try:
            params = await read_params(request)
        except FormError as exc:
            raise errors.invalid(str(exc), param=exc.param) from None
        version = versions.check(headers.get("stripe-version"))
        if spec.params is not None:
            reject_unknown(params, spec.params)
        key = headers.get("idempotency-key") if spec.idempotent else None
        if key is not None:
            idempotency.check_key(key)
        with emulator.lock:
            account = emulator.account(account_id)
            fp = ""
            if key is not None:
                fp = idempotency.fingerprint(spec.method, request.url.path, params)
                saved = idempotency.lookup(account.idempotency, key, fp, emulator.clock.time())
                if saved is not None:
                    replay_headers = dict(saved.headers)
                    replay_headers.update({"Request-Id": rid, "Idempotent-Replayed": "true",
                                           "Original-Request": saved.request_id,
                                           "Stripe-Version": version or emulator.api_version})
                    return Response(saved.body, status_code=saved.status, headers=replay_headers,
                                    media_type="application/json")
            ctx = Ctx(emulator, account, params=params, path=dict(request.path_params),
                      request_id=rid, idempotency_key=key, method=spec.method,
                      url_path=request.url.path, api_version=headers.get("stripe-version"),
                      base_url=base_url(request))
            try:
                result = spec.handler(ctx)
                if isinstance(result, Response):  # e.g. file contents: passed through as is
                    result.headers["Request-Id"] = rid
                    return result
                status, extra_headers = spec.status, {}
                body = json.dumps(versions.at_version(wire(result), account, version,
                                                         emulator.api_version)).encode()
            except errors.APIError as exc:
                status, extra_headers = exc.status, dict(exc.headers)
                body = json.dumps(exc.body(rid)).encode()
            except Exception:
                log.exception("emulator handler %s %s failed", spec.method, spec.path)
                exc = errors.api_error("An unexpected error occurred in the emulator.")
                status, extra_headers = exc.status, dict(exc.headers)
                body = json.dumps(exc.body(rid)).encode()
            if key is not None and not _is_validation_failure(status, body):
                account.idempotency[key] = idempotency.Saved(
                    fingerprint=fp, status=status, body=body, headers=extra_headers,
                    request_id=rid, created=emulator.clock.time())
        out_headers = {"Request-Id": rid, "Stripe-Version": version or emulator.api_version}
        if key is not None:
            out_headers["Idempotency-Key"] = key
        out_headers.update(extra_headers)
        return Response(body, status_code=status, headers=out_headers,
                        media_type="application/json")
    except errors.APIError as exc:
        response = error_response(exc, rid)
        if exc.status != 401:  # as Stripe: the version is known once the key is
            response.headers["Stripe-Version"] = emulator.api_version
        return response
    except Exception:  # the last net: nothing a client sends may crash the emulator
        log.exception("emulator request %s %s failed", request.method, request.url.path)
        return error_response(errors.api_error("An unexpected error occurred in the emulator."),
                              rid)


def _is_validation_failure(status: int, body: bytes) -> bool:
    """Stripe does not save results of requests that failed parameter validation."""
    return status == 400 and b'"code": "parameter_' in body
