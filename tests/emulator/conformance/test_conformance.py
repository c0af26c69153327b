"""The emulator's wire format against Stripe's published API description.

Object shapes and request parameters are judged by stripe-node 23.1.0's declarations (API
2026-10-28.endive, the emulator's default version); value types also by Stripe's OpenAPI
document for 2024-04-10 where it describes the field (see stripe_spec.py). One drive of a
seeded emulator (spec_drive.py) supplies every response, every /v1/events object and every
webhook delivery; each test below checks one class of them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import spec_drive
from spec_check import Checker

from disputedesk.emulator import Emulator

# every event type the emulator emits (docs/emulator.md, "Events and webhooks")
EMITTED = {
    "payment_intent.created", "payment_intent.succeeded", "payment_intent.payment_failed",
    "payment_intent.amount_capturable_updated", "payment_intent.canceled",
    "charge.succeeded", "charge.failed", "charge.captured", "charge.updated", "charge.refunded",
    "refund.created", "refund.updated", "refund.failed",
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
    "radar.early_fraud_warning.created", "radar.early_fraud_warning.updated",
    "customer.created", "customer.updated", "customer.deleted",
}


def invalid(checker: Checker, records: list[Any], source: str) -> list[str]:
    out = []
    for r in records:
        if r.source == source:
            out += [f"{r.operation} ({r.note or r.status}): {p}"
                    for p in checker.problems(r.body, r.status)]
    return out


def test_the_description_is_read_as_stripe_declares_it(spec: Any) -> None:
    """The reader sees what the declarations say (a broken reader would pass anything)."""
    charge = spec._members(spec.decls["Charge"])
    assert charge["failure_code"].optional is False and "null" in charge["failure_code"].type
    assert charge["level3"].optional is True and charge["transfer"].optional is True
    assert spec._members(spec.decls[spec.by_object["event"]])["account"].optional is True
    schema = spec.defs[spec.object_schema("charge")["$ref"].rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False and "outcome" in schema["required"]
    assert schema["properties"]["amount"] == {"type": "integer"}  # from the OpenAPI document
    assert "application_fee_amount" in spec.params("PaymentIntentCreateParams")


def test_the_checker_refuses_what_stripe_would_not_send(checker: Checker,
                                                        records: list[Any]) -> None:
    charge = next(r.body for r in records if r.source == "response"
                  and isinstance(r.body, dict) and r.body.get("object") == "charge")
    assert checker.problems(charge) == []
    assert checker.problems(dict(charge, level3=None))            # optional, not nullable
    assert checker.problems(dict(charge, invented_field=1))       # unknown field
    assert checker.problems({k: v for k, v in charge.items() if k != "failure_code"})
    assert checker.problems(dict(charge, status="refunded"))       # outside the enum
    event = next(r.body for r in records if r.source == "event")
    assert checker.problems(dict(event, account=None))


def test_every_response_body_is_valid(checker: Checker, records: list[Any]) -> None:
    assert invalid(checker, records, "response") == []


def test_every_event_from_the_events_api_is_valid(checker: Checker, records: list[Any]) -> None:
    assert invalid(checker, records, "event") == []


def test_every_webhook_delivery_is_valid(checker: Checker, records: list[Any]) -> None:
    deliveries = [r for r in records if r.source == "delivery"]
    events = [r for r in records if r.source == "event"]
    assert len(deliveries) == len(events) > 100
    assert invalid(checker, records, "delivery") == []


def test_every_event_type_emitted_is_driven(records: list[Any]) -> None:
    seen = Counter(r.operation for r in records if r.source == "delivery")
    assert EMITTED <= set(seen), EMITTED - set(seen)
    assert set(seen) <= EMITTED, set(seen) - EMITTED  # a new event type: add it to the list


def test_every_served_route_is_driven_with_success_and_errors(records: list[Any]) -> None:
    routes = {f"{r.method} {r.path}" for r in Emulator().routes}
    ok = {r.operation for r in records if r.source == "response" and r.status < 400}
    failed = {r.operation for r in records if r.source == "response" and r.status >= 400}
    assert routes - ok - failed == {"GET /v1/files/{file}/contents"}  # bytes: test_files.py
    # no success possible: only `requires_action` refunds (not card refunds) can be canceled
    # or expired, only customer_balance / bank-debit intents funded or verified; all answer
    # Stripe's 400 here (the emulator's intents are card only), their error bodies checked
    assert routes - ok == {"GET /v1/files/{file}/contents", "POST /v1/refunds/{id}/cancel",
                           "POST /v1/test_helpers/refunds/{id}/expire",
                           "POST /v1/payment_intents/{id}/apply_customer_balance",
                           "POST /v1/payment_intents/{id}/verify_microdeposits"}
    kinds = Counter(r.status for r in records if r.source == "response")
    assert {400, 401, 402, 404} <= set(kinds)
    assert {n for r in records for n in [r.note] if n} >= {"expand", "list expand", "page"}
    assert len(failed) >= 15


def test_expanded_and_unexpanded_forms_are_both_checked(records: list[Any]) -> None:
    expanded = [r for r in records if r.note == "expand" and r.status == 200]
    assert any(isinstance(r.body.get("latest_charge"), dict) for r in expanded)
    assert any(isinstance(r.body.get("charge"), dict) for r in expanded)


def test_every_current_parameter_of_the_served_routes_is_accepted(
        param_results: list[Any]) -> None:
    refused = [f"{r.route}: {r.param}" for r in param_results if not r.accepted]
    crashed = [f"{r.route}: {r.param} -> {r.body}" for r in param_results if r.status >= 500]
    assert refused == [] and crashed == []
    assert len(param_results) > 180


def test_parameter_responses_are_valid(checker: Checker, param_results: list[Any]) -> None:
    bad = [f"{r.route} {r.param}: {p}" for r in param_results
           for p in checker.problems(r.body, r.status)]
    assert bad == []


@pytest.mark.parametrize("seed", [1, 7, 12345])
def test_generated_ids_never_collide_with_seed_data(seed: int) -> None:
    """`--seed 7` then an EFW card payment answered 500 (`duplicate id txn_...`)."""
    import httpx

    from disputedesk.emulator.testing import running_emulator

    with running_emulator(Emulator(seed=seed)) as server:
        httpx.post(server.base_url + "/_emulator/seed",
                   json={"customers": 20, "charges": 200}).raise_for_status()
        d = spec_drive.Driver(server.base_url, server.emulator)
        for pm in ("pm_card_createEarlyFraudWarning", "pm_card_visa", "pm_card_createDispute"):
            for _ in range(5):
                assert "error" not in d.pay(pm)
        d.http.close()
