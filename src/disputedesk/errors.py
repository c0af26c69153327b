"""The one exception tree of disputedesk.

Every error the desk raises on purpose derives from :class:`DisputeDeskError`. Edges map the
classes to HTTP status codes (web) and exit codes (CLI) in one table each, so a new error only
needs a place in this tree::

    DisputeDeskError
    ├── ConfigError                  bad or missing settings
    ├── ValidationError              bad input from a person or a file (names the field and the fix)
    │   ├── MoneyError               an amount or currency that cannot be read
    │   └── RequestTooLarge          a request body over its cap (413; names the limit)
    ├── NotFound                     an object the desk or Stripe does not have
    ├── Conflict                     the action clashes with the object's state
    │   ├── AlreadyDone              the action already happened (e.g. evidence submitted)
    │   └── NotRefundable            the charge cannot be refunded (disputed, fully refunded, ...)
    ├── PermissionDenied             the actor's role does not allow the action
    ├── AuthenticationFailed         no or wrong credentials
    ├── WebhookError                 a webhook request that must be refused
    │   ├── SignatureError           missing, wrong or expired Stripe-Signature
    │   └── PayloadError             malformed or oversized body
    ├── StoreError                   the database failed
    └── StripeError                  Stripe (or the emulator) answered with an error
        ├── StripeRateLimited        429 after all retries
        ├── StripeUnavailable        5xx or network failure after all retries
        │   └── StripeConflict       409 (e.g. idempotency_key_in_use): result unknown, retry
        ├── StripeAuthFailed         Stripe refused the API key (a configuration problem)
        └── StripeInvalidRequest     4xx: Stripe refused the request (code and param kept)
            ├── StripeNotFound       404 resource_missing (also a NotFound)
            └── StripeIdempotencyError  the same idempotency key with other parameters

Errors carry fields (``code``, ``param``, ``object_id``, ``request_id``), not only a string, and
their messages never contain secrets.
"""

from __future__ import annotations


class DisputeDeskError(Exception):
    """Root of every error the desk raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None,
                 object_id: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.object_id = object_id
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict:
        out = {"type": type(self).__name__, "code": self.code, "message": self.message}
        for key in ("param", "object_id", "hint"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class ConfigError(DisputeDeskError):
    code = "config_error"


class ValidationError(DisputeDeskError):
    code = "invalid_input"


class MoneyError(ValidationError):
    code = "invalid_amount"


class RequestTooLarge(ValidationError):
    code = "payload_too_large"


class NotFound(DisputeDeskError):
    code = "not_found"


class Conflict(DisputeDeskError):
    code = "conflict"


class AlreadyDone(Conflict):
    code = "already_done"


class NotRefundable(Conflict):
    code = "not_refundable"


class PermissionDenied(DisputeDeskError):
    code = "permission_denied"


class AuthenticationFailed(DisputeDeskError):
    code = "authentication_failed"


class WebhookError(DisputeDeskError):
    code = "webhook_error"


class SignatureError(WebhookError):
    code = "signature_invalid"


class PayloadError(WebhookError):
    code = "payload_invalid"


class StoreError(DisputeDeskError):
    code = "store_error"


class StripeError(DisputeDeskError):
    """Stripe answered with an error; ``request_id`` and ``http_status`` kept for support."""

    code = "stripe_error"

    def __init__(self, message: str, *, http_status: int | None = None,
                 request_id: str | None = None, stripe_code: str | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.http_status = http_status
        self.request_id = request_id
        self.stripe_code = stripe_code

    def to_dict(self) -> dict:
        out = super().to_dict()
        for key in ("http_status", "request_id", "stripe_code"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class StripeRateLimited(StripeError):
    code = "stripe_rate_limited"


class StripeUnavailable(StripeError):
    code = "stripe_unavailable"


class StripeConflict(StripeUnavailable):
    """409: Stripe is still working on a request with the same idempotency key (or another
    conflicting one). The call may yet take effect: retry it with the same key, never treat it
    as a refusal."""

    code = "stripe_conflict"


class StripeInvalidRequest(StripeError):
    code = "stripe_invalid_request"


class StripeAuthFailed(StripeError):
    code = "stripe_auth_failed"


class StripeNotFound(StripeInvalidRequest, NotFound):
    code = "stripe_not_found"


class StripeIdempotencyError(StripeInvalidRequest):
    code = "stripe_idempotency_error"
