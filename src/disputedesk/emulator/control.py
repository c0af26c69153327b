"""The control plane under ``/_emulator/`` (no API key needed; JSON or form bodies).

- ``POST /_emulator/reset``                    forget everything (startup webhooks stay)
- ``GET  /_emulator/clock``                    ``{"now": <epoch s>}``
- ``POST /_emulator/clock/advance``            ``{"seconds": N}``: move on and run due timers
- ``POST /_emulator/trigger``                  ``{"event": "evt_..."}`` re-sends an event;
                                               ``{"type": "charge.updated", "object": "ch_..."}``
                                               emits a new event with the object's snapshot
- ``GET  /_emulator/deliveries``               webhook delivery log (``?event=&endpoint=&status=``)
- ``GET|POST /_emulator/faults``               read / change fault injection
- ``POST /_emulator/seed``                     realistic data set (implemented in ``seed.py``)
- ``GET  /links/{token}``                      a FileLink's ``url``: the linked file's bytes

An ``account`` field (or the ``Stripe-Account`` header) picks a connected account.
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import errors
from .context import Ctx
from .faults import MAX_LATENCY_MS, MAX_RATE_LIMIT
from .emulator import Emulator
from .form import FormError, parse_form

log = logging.getLogger(__name__)
MAX_ADVANCE = 10 * 366 * 86_400


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    params: dict[str, Any] = parse_form(request.url.query) if request.url.query else {}
    if not raw:
        return params
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise FormError(f"Invalid JSON body: {exc}") from exc
        if not isinstance(data, dict):
            raise FormError("The JSON body must be an object.")
        params.update(data)
    else:
        params.update(parse_form(raw))
    return params


def _number(params: dict[str, Any], name: str, minimum: float, maximum: float) -> float:
    """A finite number within bounds, or a 400 naming the field."""
    value = params.get(name)
    if isinstance(value, bool):
        value = None
    try:
        n = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise errors.invalid(f"{name} must be a number.", param=name) from None
    if not minimum <= n <= maximum:  # NaN fails too
        raise errors.invalid(f"{name} must be between {minimum:g} and {maximum:g}.", param=name)
    return n


def _text(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.invalid(f"{name} must be a string.", param=name)
    return value


Handler = Callable[[Emulator, Request, dict[str, Any]], Awaitable[Any] | Any]


def _wrap(emulator: Emulator, fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        rid = emulator.request_ids.new("request", 14)
        try:
            try:
                params = await _body(request)
            except FormError as exc:
                raise errors.invalid(str(exc)) from None
            result = fn(emulator, request, params)
            if hasattr(result, "__await__"):
                result = await result
            if isinstance(result, Response):  # file link downloads
                result.headers["Request-Id"] = rid
                return result
            return Response(json.dumps(result), media_type="application/json",
                            headers={"Request-Id": rid})
        except errors.APIError as exc:
            return Response(json.dumps(exc.body()), status_code=exc.status,
                            media_type="application/json", headers={"Request-Id": rid})
        except ValueError as exc:
            return Response(json.dumps(errors.invalid(str(exc)).body()), status_code=400,
                            media_type="application/json", headers={"Request-Id": rid})
        except Exception:  # the last net, as for the API: a Stripe-shaped 500, never a crash
            log.exception("emulator control request %s %s failed", request.method,
                          request.url.path)
            exc = errors.api_error("An unexpected error occurred in the emulator.")
            return Response(json.dumps(exc.body()), status_code=exc.status,
                            media_type="application/json", headers={"Request-Id": rid})
    return endpoint


def _account_id(request: Request, params: dict[str, Any]) -> str | None:
    account = _text(params, "account") or request.headers.get("stripe-account")
    if account is not None and (not account.startswith("acct_") or len(account) > 255):
        raise errors.invalid(f"account must be an acct_ id, not {account[:40]!r}.",
                             param="account")
    return account


def reset(emulator: Emulator, request: Request, params: dict[str, Any]) -> Any:
    emulator.reset()
    return {"reset": True, "now": emulator.clock.now()}


def clock(emulator: Emulator, request: Request, params: dict[str, Any]) -> Any:
    return {"now": emulator.clock.now(), "frozen": emulator.clock.frozen}


def advance(emulator: Emulator, request: Request, params: dict[str, Any]) -> Any:
    # the clock only moves forward, and by at most ten years at a time
    seconds = _number(params, "seconds", 0, MAX_ADVANCE)
    emulator.advance(seconds)
    return {"now": emulator.clock.now(), "timers_pending": emulator.timers.pending()}


def trigger(emulator: Emulator, request: Request, params: dict[str, Any]) -> Any:
    with emulator.lock:
        account = emulator.account(_account_id(request, params))
        event_id = _text(params, "event")
        if event_id:
            event = account.collection("event").get(event_id)
            if event is None:
                raise errors.missing("event", event_id, param="event")
            endpoints = emulator.webhooks.matching_endpoints(account, event["type"])
            deliveries = emulator.webhooks.redeliver(account, event, endpoints)
            return {"event": event_id, "deliveries": [d.id for d in deliveries]}
        event_type, object_id = _text(params, "type"), _text(params, "object")
        if not event_type or not object_id:
            raise errors.invalid("Give either event (an evt_ id to re-send) or type and object "
                                 "(an object id to emit a new event for).")
        obj = account.find(object_id)
        if obj is None:
            raise errors.missing("object", object_id, param="object")
        event = Ctx(emulator, account).emit(event_type, obj)
        return event


def deliveries(emulator: Emulator, request: Request, params: dict[str, Any]) -> Any:
    data = emulator.webhooks.list(event=params.get("event"), endpoint=params.get("endpoint"),
                                  status=params.get("status"))
    return {"object": "list", "data": data}


def faults(emulator: Emulator, request: Request, params: dict[str, Any]) -> Any:
    if request.method == "POST":
        kwargs: dict[str, Any] = {}
        if "rate_limit" in params:
            kwargs["rate_limit"] = _number(params, "rate_limit", 0, MAX_RATE_LIMIT)
        if "error_rate" in params:
            kwargs["error_rate"] = _number(params, "error_rate", 0, 1)
        if "latency_ms" in params:
            kwargs["latency_ms"] = int(_number(params, "latency_ms", 0, MAX_LATENCY_MS))
        if "seed" in params:
            kwargs["seed"] = int(_number(params, "seed", 0, 2**53))
        emulator.faults.configure(**kwargs)
    return emulator.faults.config.as_dict()


def webhook_faults(emulator: Emulator, request: Request, params: dict[str, Any]) -> Any:
    """One-shot faults for the next webhook deliveries (see webhooks.DELIVERY_FAULTS)."""
    from .webhooks import DELIVERY_FAULTS

    if request.method == "POST":
        fault = _text(params, "fault")
        if fault not in DELIVERY_FAULTS:
            raise errors.invalid(f"Unknown fault '{fault}'. Choose one of: "
                                 + ", ".join(DELIVERY_FAULTS) + ".", param="fault")
        count = int(_number(params, "count", 1, 1000)) if "count" in params else 1
        emulator.webhooks.add_faults(fault, count)
    return {"pending": list(emulator.webhooks.pending_faults), "available": DELIVERY_FAULTS}


def seed(emulator: Emulator, request: Request, params: dict[str, Any]) -> Any:
    try:
        module = importlib.import_module(f"{__package__}.seed")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.seed":
            raise
        raise errors.APIError(501, "api_error", "Seeding is not available in this build.") from None
    with emulator.lock:
        return module.run(emulator, params, account_id=_account_id(request, params))


def file_link(emulator: Emulator, request: Request, params: dict[str, Any]) -> Response:
    """A FileLink's ``url``: the file's bytes, with no API key (as files.stripe.com serves it)."""
    from .resources import file_links

    with emulator.lock:
        data, content_type = file_links.download(emulator, request.path_params["token"])
    return Response(data, media_type=content_type)


def control_routes(emulator: Emulator) -> list[Route]:
    table: list[tuple[str, list[str], Handler]] = [
        ("/_emulator/reset", ["POST"], reset),
        ("/_emulator/clock", ["GET"], clock),
        ("/_emulator/clock/advance", ["POST"], advance),
        ("/_emulator/trigger", ["POST"], trigger),
        ("/_emulator/deliveries", ["GET"], deliveries),
        ("/_emulator/faults", ["GET", "POST"], faults),
        ("/_emulator/webhook_faults", ["GET", "POST"], webhook_faults),
        ("/_emulator/seed", ["POST"], seed),
        ("/links/{token}", ["GET"], file_link),  # not control: FileLink urls (no key, as Stripe)
    ]
    return [Route(path, _wrap(emulator, fn), methods=methods) for path, methods, fn in table]
