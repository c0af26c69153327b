"""Read an order from the merchant's own HTTP endpoint that answers with JSON.

URL templates use ``{order_id}``, ``{payment_intent}`` and ``{email}`` (each URL-encoded); the
first template whose placeholders the charge can fill is asked. 404, 410 and 204 mean "no such
order". Auth headers come from settings and are secrets: they are sent, never shown in errors,
and never follow a redirect (redirects are refused).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr

from disputedesk.evidence.orders.errors import (
    OrderDataError,
    OrderSourceConfigError,
    OrderSourceError,
)
from disputedesk.evidence.orders.fields import (
    AmountUnit,
    FieldProblem,
    check_mapping,
    dotted_get,
    normalize_record,
)
from disputedesk.evidence.orders.model import BaseOrderSource, Order, OrderKeys

PLACEHOLDERS = ("order_id", "payment_intent", "email")
MAX_BODY_BYTES = 2_000_000


def _placeholders(template: str) -> list[str]:
    try:
        names = [f for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise OrderSourceConfigError(f"the order URL template cannot be read: {exc}", param="url",
                                     hint="write placeholders as {order_id}; double literal braces {{ }}") from None
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        raise OrderSourceConfigError(
            f"unknown placeholders in the order URL: {', '.join('{' + n + '}' for n in unknown)}",
            param="url", hint="use {order_id}, {payment_intent} and {email}")
    return names


def mask_template(template: str) -> str:
    """The template without a password in it (user:pass@host -> user:***@host)."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", template)


def _secret(value: str | SecretStr | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


class HttpOrderSource(BaseOrderSource):
    kind = "http"

    def __init__(self, urls: str | Sequence[str], *, bearer_token: str | SecretStr | None = None,
                 headers: Mapping[str, str | SecretStr] | None = None,
                 mapping: Mapping[str, str] | None = None, orders_path: str | None = None,
                 amount_unit: AmountUnit = "auto", default_currency: str | None = None,
                 timeout: float = 10.0, max_bytes: int = MAX_BODY_BYTES,
                 transport: httpx.BaseTransport | None = None) -> None:
        templates = [urls] if isinstance(urls, str) else list(urls)
        if not templates:
            raise OrderSourceConfigError("no order URL given", param="url",
                                         hint="e.g. https://shop.example/api/orders/{order_id}")
        self.templates: list[tuple[str, list[str]]] = []
        for template in templates:
            names = _placeholders(template)
            parts = urlsplit(template.replace("{", "").replace("}", ""))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise OrderSourceConfigError(f"'{mask_template(template)}' is not an http(s) address",
                                             param="url", hint="e.g. https://shop.example/api/orders/{order_id}")
            if not names:
                raise OrderSourceConfigError(f"the order URL '{mask_template(template)}' has no placeholder",
                                             param="url", hint="put {order_id}, {payment_intent} or {email} in it")
            self.templates.append((template, names))
        if timeout <= 0:
            raise OrderSourceConfigError("the timeout must be positive", param="timeout")
        try:
            self.mapping = check_mapping(mapping)
        except ValueError as exc:
            raise OrderSourceConfigError(str(exc), param="mapping") from None
        send = {"Accept": "application/json"}
        token = _secret(bearer_token)
        if token:
            send["Authorization"] = token if " " in token else f"Bearer {token}"
        for name, value in (headers or {}).items():
            text = _secret(value)
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name) or text is None or "\n" in text:
                raise OrderSourceConfigError(f"the header '{name}' is not a valid HTTP header", param="headers")
            send[name] = text
        self._secrets = tuple(v for k, v in send.items() if k != "Accept") + ((token,) if token else ())
        self.orders_path = orders_path
        self.amount_unit = amount_unit
        self.default_currency = default_currency
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._client = httpx.Client(headers=send, follow_redirects=False, transport=transport,
                                    timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))

    def close(self) -> None:
        self._client.close()

    def describe(self) -> str:
        return "HTTP endpoint " + ", ".join(mask_template(t) for t, _ in self.templates)

    def find(self, keys: OrderKeys) -> list[Order]:
        values = {"order_id": keys.order_id, "payment_intent": keys.payment_intent, "email": keys.email}
        for template, names in self.templates:
            if any(not values[n] for n in names):
                continue
            url = template.format(**{n: quote(str(values[n]), safe="") for n in names})
            orders = self._orders_from(self._get(url, template), keys, template)
            if orders:
                return orders
        return []

    def _get(self, url: str, template: str) -> Any:
        where = f"GET {mask_template(template)}"
        try:
            with self._client.stream("GET", url) as response:
                status = response.status_code
                if status in (204, 404, 410):
                    return None
                if status in (401, 403):
                    raise OrderSourceConfigError(
                        f"the order endpoint refused the credentials ({status}) at {where}",
                        param="auth", hint="check the bearer token or auth header in the order source settings")
                if 300 <= status < 400:
                    raise OrderSourceConfigError(
                        f"the order endpoint redirected ({status}) at {where}", param="url",
                        hint="put the final address in the URL template; redirects are not followed "
                        "so credentials are never sent elsewhere")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise OrderSourceError(f"the order endpoint answered more than {self.max_bytes:,} "
                                               f"bytes at {where}", hint="return one order (or a few) per request")
        except httpx.TimeoutException:
            raise OrderSourceError(f"the order endpoint did not answer within {self.timeout:g} s at {where}",
                                   hint="check the endpoint or raise the timeout") from None
        except httpx.HTTPError as exc:
            raise OrderSourceError(f"cannot reach the order endpoint at {where}: {self._scrub(exc)}",
                                   hint="check the address and that the endpoint is up") from None
        if status >= 400:
            snippet = self._scrub(bytes(body[:200]).decode("utf-8", "replace"))
            raise OrderSourceError(f"the order endpoint answered {status} at {where}: {snippet}",
                                   hint="retry later" if status >= 500 or status == 429 else
                                   "check the URL template and what the endpoint expects")
        try:
            return json.loads(bytes(body).decode("utf-8-sig") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise OrderDataError(f"the order endpoint did not answer JSON at {where}: {exc}",
                                 hint="the endpoint must return the order as a JSON object") from None

    def _scrub(self, value: object) -> str:
        text = str(value) or type(value).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _orders_from(self, payload: Any, keys: OrderKeys, template: str) -> list[Order]:
        if payload is None:
            return []
        if self.orders_path:
            payload = dotted_get(payload, self.orders_path)
            if payload is None:
                return []
        elif isinstance(payload, Mapping):
            for key in ("orders", "data", "results"):
                if isinstance(payload.get(key), list):
                    payload = payload[key]
                    break
        records = payload if isinstance(payload, list) else [payload]
        orders = []
        for n, record in enumerate(records, 1):
            if not isinstance(record, Mapping):
                raise OrderDataError(f"the order endpoint answered {type(record).__name__}, not an object",
                                     hint="return a JSON object per order, or set orders_path")
            result = normalize_record(record, mapping=self.mapping, amount_unit=self.amount_unit,
                                      default_currency=self.default_currency, require_id=False)
            if result.data is not None and not result.data.get("id"):
                if keys.order_id:
                    result.data["id"] = keys.order_id
                else:
                    result.problems.append(FieldProblem(None, "id", "the order has no id",
                                                        "return the order id, or map id to its path"))
                    result.data = None
            if result.data is None:
                raise OrderDataError(f"order {n} from {mask_template(template)} cannot be read",
                                     result.problems)
            orders.append(Order._from_normalized(result.data))
        return orders
