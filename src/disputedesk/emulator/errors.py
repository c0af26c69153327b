"""Stripe-shaped API errors raised by handlers and turned into responses by the app.

A handler never builds an error response itself: it raises :class:`APIError` (usually through one
of the helpers below) and the dispatcher renders ``{"error": {...}}`` with the right HTTP status.
"""

from __future__ import annotations

from typing import Any

DOC_BASE = "https://stripe.com/docs/error-codes/"


class APIError(Exception):
    """One Stripe error: HTTP status plus the fields of the ``error`` hash."""

    def __init__(self, status: int, type_: str, message: str, *, code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.extra = extra

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = DOC_BASE + self.code.replace("_", "-")
        if self.param is not None:
            err["param"] = self.param
        if request_id:
            err["request_log_url"] = (
                f"https://dashboard.stripe.com/test/logs/{request_id}?t=0")
        from .render import wire  # objects embedded in errors (payment_intent) as on the wire

        err.update({k: wire(v) for k, v in self.extra.items() if v is not None})
        return {"error": err}


def invalid(message: str, *, param: str | None = None, code: str | None = None,
            status: int = 400, **extra: Any) -> APIError:
    return APIError(status, "invalid_request_error", message, param=param, code=code, **extra)


def missing(kind: str, object_id: str, *, param: str = "id") -> APIError:
    """404 ``resource_missing`` with Stripe's message: ``No such charge: 'ch_x'``."""
    return invalid(f"No such {kind}: '{object_id}'", param=param, code="resource_missing",
                   status=404)


def parameter_missing(param: str) -> APIError:
    return invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")


def parameter_unknown(param: str) -> APIError:
    return invalid(f"Received unknown parameter: {param}", param=param, code="parameter_unknown")


def card_error(message: str, *, code: str, decline_code: str | None = None,
               param: str | None = None, **extra: Any) -> APIError:
    return APIError(402, "card_error", message, code=code, param=param,
                    decline_code=decline_code, **extra)


def authentication(message: str) -> APIError:
    return APIError(401, "invalid_request_error", message)


def idempotency(message: str) -> APIError:
    return APIError(400, "idempotency_error", message)


def rate_limited(reason: str = "global-rate") -> APIError:
    return APIError(
        429, "invalid_request_error",
        "Request rate limit exceeded. Learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit", headers={"Stripe-Rate-Limited-Reason": reason})


def api_error(message: str = "An unknown error occurred") -> APIError:
    return APIError(500, "api_error", message, headers={"Stripe-Should-Retry": "true"})
