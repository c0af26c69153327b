"""Verifying ``Stripe-Signature`` headers, fast, against several secrets (rotation).

The HMAC check is stripe-python's ``WebhookSignature.verify_header`` (cheap, unlike
``Webhook.construct_event`` which builds StripeObjects). Its time check is left off and done here
instead, with the desk's clock and in both directions: the SDK only refuses timestamps older than
the tolerance, a timestamp too far in the *future* is refused too.
"""

from __future__ import annotations

import stripe

from disputedesk.errors import SignatureError


def _timestamp(header: str) -> int:
    """The one ``t=`` item, read exactly as the SDK reads it for the HMAC.

    A header with several timestamps (or one with stray spaces the SDK would skip) is refused:
    otherwise the time check could read one timestamp while the HMAC covered another, and an old
    delivery could be replayed past the tolerance.
    """
    items = [item.split("=", 2) for item in header.split(",")]
    loose = [item for item in items if item[0].strip() == "t"]
    exact = [item[1] for item in items if len(item) > 1 and item[0] == "t"]
    if len(loose) != 1 or len(exact) != 1:
        raise SignatureError("the Stripe-Signature header must carry exactly one timestamp",
                             hint="expected t=<unix seconds>,v1=<hex signature>")
    try:
        return int(exact[0])
    except ValueError:
        raise SignatureError("the Stripe-Signature header has no readable timestamp",
                             hint="expected t=<unix seconds>,v1=<hex signature>") from None


def verify(payload: bytes, header: str | None, secrets: list[str], *, now: float,
           tolerance: int = 300) -> int:
    """Check ``header`` signs ``payload`` with one of ``secrets``; return the signed timestamp.

    Raises :class:`SignatureError` (never mentioning a secret) when the header is missing or
    malformed, no ``v1`` signature matches any secret, or the timestamp is more than
    ``tolerance`` seconds away from ``now`` in either direction (``tolerance=0`` disables the time
    check, as in the SDK).
    """
    if not header:
        raise SignatureError("the Stripe-Signature header is missing")
    if not secrets:
        raise SignatureError("no webhook signing secret is configured",
                             hint="set DISPUTEDESK_WEBHOOK_SECRETS")
    timestamp = _timestamp(header)
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=None)
        except stripe.SignatureVerificationError:
            continue
        except UnicodeDecodeError as exc:
            raise SignatureError("the webhook body is not UTF-8") from exc
        break
    else:
        raise SignatureError("no Stripe-Signature v1 signature matches a configured secret",
                             hint="check DISPUTEDESK_WEBHOOK_SECRETS against the endpoint's secret")
    if tolerance and abs(now - timestamp) > tolerance:
        raise SignatureError(f"the signature timestamp is more than {tolerance} s away from now",
                             hint="a replayed or delayed delivery, or a skewed clock")
    return timestamp
