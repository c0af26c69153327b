"""The gateway's own logic: the limiter, 429 retries and error translation (no network)."""

from __future__ import annotations

import pytest
import stripe
from pydantic import SecretStr

from disputedesk import errors
from disputedesk.config import Settings
from disputedesk.stripe_api.gateway import RateLimiter, StripeGateway, translate


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_requests_to_the_configured_rate():
    t = FakeTime()
    limiter = RateLimiter(10, burst=1, monotonic=t.monotonic, sleep=t.sleep)
    for _ in range(21):
        limiter.acquire()
    # one token at start, then 20 more at 10/s take two seconds
    assert t.now == pytest.approx(2.0, abs=1e-6)


def test_rate_limiter_refuses_a_non_positive_rate():
    with pytest.raises(errors.ConfigError):
        RateLimiter(0)


def _gateway(**overrides) -> StripeGateway:
    settings = Settings(stripe_api_key=SecretStr("sk_test_x"), stripe_api_base="http://127.0.0.1:9",
                        stripe_max_retries=3, stripe_rate_limit=1000, **overrides)
    return StripeGateway(settings, sleep=lambda s: None)


def test_gateway_retries_rate_limited_calls_then_succeeds():
    gw = _gateway()
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise stripe.RateLimitError("slow down", http_status=429)
        return "ok"

    assert gw.call(flaky) == "ok"
    assert len(calls) == 3


def test_gateway_gives_up_after_max_retries_with_the_desks_error():
    gw = _gateway()

    def always_limited():
        raise stripe.RateLimitError("slow down", http_status=429)

    with pytest.raises(errors.StripeRateLimited):
        gw.call(always_limited)


def test_gateway_needs_an_api_key_and_says_how_to_set_it():
    with pytest.raises(errors.ConfigError) as info:
        StripeGateway(Settings())
    assert "DISPUTEDESK_STRIPE_API_KEY" in str(info.value)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (stripe.InvalidRequestError("No such charge", "charge", code="resource_missing",
                                    http_status=404), errors.StripeNotFound),
        (stripe.InvalidRequestError("Too much", "amount", code="amount_too_large",
                                    http_status=400), errors.StripeInvalidRequest),
        (stripe.IdempotencyError("Keys reused", http_status=400), errors.StripeIdempotencyError),
        (stripe.AuthenticationError("bad key", http_status=401), errors.StripeAuthFailed),
        (stripe.APIConnectionError("down"), errors.StripeUnavailable),
        (stripe.APIError("boom", http_status=500), errors.StripeUnavailable),
    ],
)
def test_translate_maps_sdk_errors_into_the_desks_tree(exc, expected):
    out = translate(exc)
    assert type(out) is expected
    assert isinstance(out, errors.DisputeDeskError)


def test_translated_not_found_is_also_a_desk_not_found_and_keeps_the_param():
    out = translate(stripe.InvalidRequestError("No such charge: 'ch_x'", "charge",
                                               code="resource_missing", http_status=404))
    assert isinstance(out, errors.NotFound)
    assert out.param == "charge" and out.stripe_code == "resource_missing"


@pytest.mark.parametrize("exc", [
    stripe.APIError("There is currently another in-progress request using this Idempotent Key",
                    http_status=409, code="idempotency_key_in_use"),
    stripe.InvalidRequestError("lock timeout", None, http_status=409, code="lock_timeout"),
])
def test_a_409_is_a_retryable_conflict_never_an_invalid_request(exc):
    out = translate(exc)
    assert isinstance(out, errors.StripeConflict) and isinstance(out, errors.StripeUnavailable)
    assert not isinstance(out, errors.StripeInvalidRequest)
    assert out.http_status == 409 and out.stripe_code == exc.code
