"""Search endpoints, incremental authorization and the other added operations, via the SDK."""

from __future__ import annotations

from typing import Any

import pytest
import stripe


def pay(client: Any, amount: int, pm: str = "pm_card_visa", **extra: Any) -> Any:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": extra.pop("currency", "usd"), "payment_method": pm,
        "confirm": True, **extra})


def events(client: Any, type_: str) -> list[Any]:
    return list(client.v1.events.list(params={"type": type_, "limit": 100}).data)


# ---------------------------------------------------------------------------- search

def test_charge_search_with_metadata_amounts_and_pages(client: Any) -> None:
    made = [pay(client, 500 * (i + 1), metadata={"order_id": str(6730 + i)},
                currency="eur" if i % 2 else "usd") for i in range(6)]
    charge_ids = [pi.latest_charge for pi in made]
    found = client.v1.charges.search(params={
        "query": "status:'succeeded' AND metadata['order_id']:'6735'"})
    assert found.object == "search_result" and found.url == "/v1/charges/search"
    assert [c.id for c in found.data] == [charge_ids[5]]
    assert (found.has_more, found.next_page) == (False, None)
    big = client.v1.charges.search(params={"query": "amount>1000 -currency:'eur'",
                                           "limit": 1, "expand": ["total_count"]})
    assert [c.id for c in big.data] == [charge_ids[4]] and big.has_more and big.next_page
    assert big.total_count == 2
    rest = client.v1.charges.search(params={"query": "amount>1000 -currency:'eur'",
                                            "limit": 1, "page": big.next_page})
    assert [c.id for c in rest.data] == [charge_ids[2]] and not rest.has_more
    walked = client.v1.charges.search(params={"query": "amount>=500", "limit": 2})
    assert [c.id for c in walked.auto_paging_iter()] == charge_ids[::-1]
    either = client.v1.charges.search(params={
        "query": "metadata['order_id']:'6730' OR metadata['order_id']:'6731'"})
    assert [c.id for c in either.data] == charge_ids[1::-1]
    card = client.v1.charges.search(params={
        "query": "payment_method_details.card.last4:4242 AND created>0",
        "expand": ["data.payment_intent"]})
    assert len(card.data) == 6 and card.data[0].payment_intent.id == made[5].id


def test_payment_intent_and_customer_search(client: Any) -> None:
    ada = client.v1.customers.create(params={"email": "ada@rocketrides.io", "name": "Ada"})
    client.v1.customers.create(params={"email": "alan@example.com", "name": "Alan",
                                       "metadata": {"tier": "gold"}})
    pay(client, 1200, customer=ada.id, currency="gbp")
    manual = pay(client, 900, capture_method="manual")
    by_status = client.v1.payment_intents.search(params={"query": "status:'requires_capture'"})
    assert [p.id for p in by_status.data] == [manual.id]
    not_usd = client.v1.payment_intents.search(params={"query": "-currency:'usd'"})
    assert [p.customer for p in not_usd.data] == [ada.id]
    assert [c.id for c in client.v1.customers.search(
        params={"query": "email~'rocketrides'"}).data] == [ada.id]
    assert [c.name for c in client.v1.customers.search(
        params={"query": "metadata['tier']:'gold'"}).data] == ["Alan"]
    client.v1.customers.delete(ada.id)
    assert client.v1.customers.search(params={"query": "name:'ada'"}).data == []


@pytest.mark.parametrize(("query", "fragment"), [
    ("amount>1 AND currency:'usd' OR status:'failed'", "AND` and `OR"),
    ("bogus:'x'", "unsupported search field"),
    ("status:'unterminated", "never closed"),
])
def test_bad_search_queries_get_stripes_400(client: Any, query: str, fragment: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.charges.search(params={"query": query})
    assert (info.value.http_status, info.value.param) == (400, "query")
    assert fragment in info.value.user_message
    assert info.value.error.type == "invalid_request_error"


def test_search_needs_a_query_and_a_real_page(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.search(params={})  # type: ignore[typeddict-item]
    assert (info.value.code, info.value.param) == ("parameter_missing", "query")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.search(params={"query": "name:'x'", "page": "garbage"})
    assert info.value.param == "page"


# ---------------------------------------------------------------------------- operations

def test_increment_authorization_raises_the_authorized_amount(client: Any) -> None:
    pi = pay(client, 1000, capture_method="manual",
             payment_method_options={"card": {"request_incremental_authorization":
                                              "if_available"}})
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.payment_method_details.card.incremental_authorization.status == "available"
    [created] = events(client, "payment_intent.created")
    assert created.data.object.payment_method_options.card[
        "request_incremental_authorization"] == "if_available"
    bigger = client.v1.payment_intents.increment_authorization(
        pi.id, params={"amount": 1500, "metadata": {"tip": "500"}})
    assert (bigger.amount, bigger.amount_capturable, bigger.metadata.tip) == (1500, 1500, "500")
    assert client.v1.charges.retrieve(pi.latest_charge).amount == 1500
    [updated] = events(client, "charge.updated")
    assert updated.data.previous_attributes.amount == 1000
    capturable = events(client, "payment_intent.amount_capturable_updated")
    assert capturable[0].data.object.amount_capturable == 1500
    assert capturable[0].data.previous_attributes.amount_capturable == 1000
    done = client.v1.payment_intents.capture(pi.id)
    assert (done.status, done.amount_received) == ("succeeded", 1500)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.increment_authorization(pi.id, params={"amount": 2000})
    assert info.value.code == "payment_intent_unexpected_state"


def test_increment_authorization_needs_an_eligible_intent_and_a_larger_amount(
        client: Any) -> None:
    plain = pay(client, 1000, capture_method="manual")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.increment_authorization(plain.id, params={"amount": 1200})
    assert "request_incremental_authorization" in info.value.user_message
    eligible = pay(client, 1000, capture_method="manual",
                   payment_method_options={"card": {"request_incremental_authorization":
                                                    "if_available"}})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.increment_authorization(eligible.id, params={"amount": 900})
    assert info.value.param == "amount"
    assert client.v1.payment_intents.retrieve(eligible.id).amount == 1000


def test_cash_balance_and_microdeposit_operations_refuse_card_intents(client: Any) -> None:
    pi = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.apply_customer_balance(pi.id)
    assert info.value.param == "payment_method_types"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_intents.verify_microdeposits(pi.id, params={"amounts": [32, 45]})
    assert info.value.code == "payment_intent_unexpected_state"
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_payment_method"


def test_legacy_refund_update_through_its_charge(client: Any) -> None:
    pi = pay(client, 2000)
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 300})
    raw = client.raw_request("post", f"/v1/charges/{pi.latest_charge}/refunds/{refund.id}",
                             metadata={"reason_note": "late"})
    updated = client.deserialize(raw, api_mode="V1")
    assert (updated.id, updated.metadata.reason_note) == (refund.id, "late")
    [event] = events(client, "refund.updated")
    assert event.data.previous_attributes.metadata.to_dict() == {}
    other = pay(client, 500)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.raw_request("post", f"/v1/charges/{other.latest_charge}/refunds/{refund.id}",
                           metadata={"x": "y"})
    assert info.value.http_status == 404


def test_search_over_seeded_history_equals_filtering_the_list(client: Any, base_url: str) -> None:
    import httpx

    httpx.post(f"{base_url}/_emulator/seed", json={"customers": 10, "charges": 150, "seed": 9},
               timeout=60).raise_for_status()
    charges = list(client.v1.charges.list(params={"limit": 100}).auto_paging_iter())
    some = charges[40]
    cases = {
        "currency:'eur' AND amount>3000": lambda c: c.currency == "eur" and c.amount > 3000,
        "refunded:'true' OR disputed:'true'": lambda c: c.refunded or c.disputed,
        f"customer:'{some.customer}' -payment_method_details.card.brand:'amex'":
            lambda c: c.customer == some.customer
            and c.payment_method_details.card.brand != "amex",
        f"created<={some.created} AND metadata['ip_address']:null":
            lambda c: c.created <= some.created and "ip_address" not in c.metadata,
        f"metadata['order_id']:'{some.metadata['order_id']}'": lambda c: c.id == some.id,
    }
    for query, keep in cases.items():
        found = client.v1.charges.search(params={"query": query, "limit": 7})
        ids = [c.id for c in found.auto_paging_iter()]
        assert ids == [c.id for c in charges if keep(c)], query
        assert 0 < len(ids) < len(charges), query  # each query really selects
    customers = list(client.v1.customers.list(params={"limit": 100}).auto_paging_iter())
    part = customers[3].email.split("@")[0][2:7]
    assert [c.id for c in client.v1.customers.search(
        params={"query": f"email~'{part}'", "limit": 100}).data] == [
        c.id for c in customers if part in c.email]


def test_connected_accounts_have_their_own_customers_and_search(client: Any) -> None:
    acct = {"stripe_account": "acct_1SearchConnected0"}
    theirs = client.v1.customers.create(params={"email": "c@example.com"}, options=acct)
    client.v1.customers.create(params={"email": "c@example.com"})
    assert [c.id for c in client.v1.customers.search(
        params={"query": "email:'c@example.com'"}, options=acct).data] == [theirs.id]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(theirs.id)
    [event] = events_for(client, "customer.created", acct)
    assert event.account == "acct_1SearchConnected0" and event.data.object.id == theirs.id


def events_for(client: Any, type_: str, options: dict[str, str]) -> list[Any]:
    return list(client.v1.events.list(params={"type": type_}, options=options).data)
