"""Customers, accounts, payment methods and file links, through the official SDK."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
import stripe

PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]"
       b"/Count 1>>endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def upload(client: Any, purpose: str, name: str, **extra: Any) -> Any:
    f = io.BytesIO(PDF)
    f.name = name
    return client.v1.files.create(params={"file": f, "purpose": purpose, **extra})


def events(client: Any, type_: str) -> list[Any]:
    return list(client.v1.events.list(params={"type": type_, "limit": 100}).data)


# ---------------------------------------------------------------------------- customers

def test_customer_create_retrieve_update_delete_with_events(client: Any) -> None:
    cus = client.v1.customers.create(params={
        "email": "ada@example.com", "name": "Ada Lovelace", "phone": "+441234",
        "address": {"line1": "1 St James's Sq", "city": "London", "country": "GB"},
        "metadata": {"crm": "42"}})
    assert cus.id.startswith("cus_") and cus.object == "customer"
    assert (cus.email, cus.name, cus.balance, cus.delinquent) == ("ada@example.com",
                                                                  "Ada Lovelace", 0, False)
    raw = cus.to_dict()
    # nullable fields present, expandable-only lists left out, as Stripe renders a customer
    for field in ("currency", "default_source", "description", "discount", "shipping",
                  "test_clock"):
        assert field in raw and raw[field] is None
    for field in ("sources", "subscriptions", "tax_ids", "cash_balance"):
        assert field not in raw
    assert raw["address"] == {"city": "London", "country": "GB", "line1": "1 St James's Sq",
                              "line2": None, "postal_code": None, "state": None}
    assert raw["invoice_settings"]["default_payment_method"] is None
    assert client.v1.customers.retrieve(cus.id).to_dict() == raw

    updated = client.v1.customers.update(cus.id, params={"name": "Ada King",
                                                         "metadata": {"crm": ""}})
    assert (updated.name, updated.metadata.to_dict()) == ("Ada King", {})
    [update_event] = events(client, "customer.updated")
    assert update_event.data.previous_attributes.to_dict() == {"name": "Ada Lovelace",
                                                               "metadata": {"crm": "42"}}
    assert [e.data.object.id for e in events(client, "customer.created")] == [cus.id]

    deleted = client.v1.customers.delete(cus.id)
    assert (deleted.id, deleted.deleted) == (cus.id, True)
    assert client.v1.customers.retrieve(cus.id).deleted is True
    assert len(events(client, "customer.deleted")) == 1
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.update(cus.id, params={"name": "x"})
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")
    assert cus.id not in [c.id for c in client.v1.customers.list().data]


def test_customer_list_filters_by_email_and_pages(client: Any) -> None:
    made = [client.v1.customers.create(params={"email": f"p{i % 3}@example.com"}).id
            for i in range(7)]
    listed = client.v1.customers.list(params={"email": "p1@example.com"})
    assert [c.id for c in listed.data] == [made[4], made[1]]
    assert client.v1.customers.list(params={"email": "P1@example.com"}).data == []
    page = client.v1.customers.list(params={"limit": 3})
    assert [c.id for c in page.data] == made[:-4:-1] and page.has_more
    assert [c.id for c in client.v1.customers.list().auto_paging_iter()] == made[::-1]


@pytest.mark.parametrize(("params", "param", "code"), [
    ({"email": "not-an-email"}, "email", "email_invalid"),
    ({"tax_exempt": "sometimes"}, "tax_exempt", None),
    ({"address": {"planet": "Mars"}}, "address[planet]", "parameter_unknown"),
    ({"shipping": {"name": "A"}}, "shipping[address]", "parameter_missing"),
    ({"payment_method": "pm_doesnotexist"}, "payment_method", "resource_missing"),
    ({"coupon": "x"}, "coupon", "parameter_unknown"),
])
def test_customer_create_refuses_bad_input(client: Any, params: dict[str, Any], param: str,
                                           code: str | None) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.create(params=params)
    assert (info.value.param, info.value.code) == (param, code)
    assert client.v1.customers.list().data == []


def test_retrieving_an_unknown_customer_is_404(client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve("cus_doesnotexist")
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")
    assert "No such customer: 'cus_doesnotexist'" in str(info.value)


def test_seeded_customers_are_the_ones_charges_name(client: Any, base_url: str) -> None:
    httpx.post(f"{base_url}/_emulator/seed", json={"customers": 12, "charges": 60, "seed": 3},
               timeout=60).raise_for_status()
    customers = {c.id: c for c in client.v1.customers.list(params={"limit": 100}).data}
    assert len(customers) == 12
    charges = list(client.v1.charges.list(params={"limit": 100}).auto_paging_iter())
    assert len(charges) == 60
    for charge in charges:
        cus = customers[charge.customer]
        assert cus.email == charge.receipt_email == charge.billing_details.email
        assert cus.name == charge.billing_details.name
        assert cus.created <= charge.created
    expanded = client.v1.charges.retrieve(charges[0].id, params={"expand": ["customer"]})
    assert expanded.customer.id == charges[0].customer
    created = [c.created for c in customers.values()]
    assert created == sorted(created, reverse=True)  # newest first, like every list
    # the payment methods the seed used are attached to their customer
    owner = charges[0].customer
    methods = client.v1.customers.payment_methods.list(owner).data
    assert charges[0].payment_method in [m.id for m in methods]
    assert all(m.customer == owner for m in methods)


# ---------------------------------------------------------------------------- accounts

def test_account_is_the_platform_and_connected_accounts_are_known_once_used(
        client: Any) -> None:
    platform = client.v1.accounts.retrieve_current()
    assert platform.id.startswith("acct_") and platform.object == "account"
    assert (platform.charges_enabled, platform.payouts_enabled, platform.country,
            platform.default_currency) == (True, True, "US", "usd")
    assert client.v1.accounts.retrieve(platform.id).id == platform.id
    connected = "acct_1ConnectedTest000"
    with pytest.raises(stripe.PermissionError) as info:
        client.v1.accounts.retrieve(connected)
    assert info.value.http_status == 403
    # a Stripe-Account request makes the account known; GET /v1/account then names it
    own = client.v1.accounts.retrieve_current(options={"stripe_account": connected})
    assert (own.id, own.type, own.controller.type) == (connected, "custom", "application")
    assert client.v1.accounts.retrieve(connected).id == connected
    assert [a.id for a in client.v1.accounts.list().data] == [connected]
    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve(platform.id, options={"stripe_account": connected})


# ---------------------------------------------------------------------------- payment methods

def test_payment_methods_of_intents_and_test_names_are_retrievable(client: Any) -> None:
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "payment_method": "pm_card_amex", "confirm": True})
    pm = client.v1.payment_methods.retrieve(pi.payment_method)
    assert (pm.type, pm.card.brand, pm.card.last4, pm.card.funding) == ("card", "amex",
                                                                        "0005", "credit")
    assert pm.to_dict()["customer_account"] is None
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.payment_method == pm.id
    assert pm.card.fingerprint == charge.payment_method_details.card.fingerprint
    jcb = client.v1.payment_methods.retrieve("pm_card_jcb")
    assert jcb.id.startswith("pm_") and jcb.id != "pm_card_jcb"
    assert (jcb.card.brand, jcb.card.country) == ("jcb", "JP")
    assert client.v1.payment_methods.retrieve(jcb.id).id == jcb.id
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.payment_methods.retrieve("pm_doesnotexist")
    assert (info.value.http_status, info.value.code) == (404, "resource_missing")


def test_legacy_card_source_is_a_payment_method(client: Any) -> None:
    charge = client.v1.charges.create(params={"amount": 500, "currency": "usd",
                                              "source": "tok_mastercard"})
    pm = client.v1.payment_methods.retrieve(charge.payment_method)
    assert (pm.id, pm.card.brand, pm.card.last4) == (charge.source.id, "mastercard", "4444")


def test_customer_payment_methods_and_default(client: Any) -> None:
    cus = client.v1.customers.create(params={
        "payment_method": "pm_card_visa",
        "invoice_settings": {"default_payment_method": "pm_card_mastercard"}})
    methods = client.v1.customers.payment_methods.list(cus.id).data
    assert sorted(m.card.brand for m in methods) == ["mastercard", "visa"]
    assert cus.invoice_settings.default_payment_method in [m.id for m in methods]
    assert [m.id for m in client.v1.payment_methods.list(params={"customer": cus.id}).data] \
        == [m.id for m in methods]
    one = client.v1.customers.payment_methods.retrieve(cus.id, methods[0].id)
    assert one.customer == cus.id
    other = client.v1.customers.create(params={})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.payment_methods.retrieve(other.id, methods[0].id)


# ---------------------------------------------------------------------------- file links

def test_file_links_create_retrieve_update_list(client: Any, emulator: Any) -> None:
    uploaded = upload(client, "dispute_evidence", "receipt.pdf")
    link = client.v1.file_links.create(params={"file": uploaded.id, "metadata": {"k": "v"}})
    assert link.id.startswith("link_") and (link.file, link.expired, link.expires_at) == (
        uploaded.id, False, None)
    served = httpx.get(link.url)  # no API key, as Stripe serves file links
    assert (served.status_code, served.content) == (200, PDF)
    assert served.headers["content-type"] == "application/pdf"
    assert client.v1.file_links.retrieve(link.id).metadata.to_dict() == {"k": "v"}
    assert [x.id for x in client.v1.files.retrieve(uploaded.id).links.data] == [link.id]
    later = client.v1.file_links.create(params={"file": uploaded.id,
                                                "expires_at": emulator.clock.now() + 60})
    assert [x.id for x in client.v1.file_links.list(params={"file": uploaded.id}).data] == [
        later.id, link.id]
    emulator.advance(61)
    assert client.v1.file_links.retrieve(later.id).expired is True
    assert [x.id for x in client.v1.file_links.list(params={"expired": True}).data] == [later.id]
    assert httpx.get(later.url).status_code == 404  # expired links stop serving
    now = client.v1.file_links.update(link.id, params={"expires_at": "now"})
    assert now.expired is True
    assert httpx.get(link.url).status_code == 404
    assert httpx.get(link.url.rsplit("/", 1)[0] + "/nosuchtoken").status_code == 404
    assert client.v1.files.retrieve(uploaded.id).links.data[1].expired is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.file_links.update(link.id, params={"expires_at": "now"})
    assert info.value.param == "expires_at"


def test_file_links_refuse_bad_input(client: Any, emulator: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.file_links.create(params={"file": "file_doesnotexist"})
    assert (info.value.http_status, info.value.param) == (404, "file")
    uploaded = upload(client, "identity_document", "id.pdf")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.file_links.create(params={"file": uploaded.id})
    assert info.value.param == "file"
    evidence = upload(client, "dispute_evidence", "r.pdf")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.file_links.create(params={"file": evidence.id,
                                            "expires_at": emulator.clock.now() - 5})
    assert info.value.param == "expires_at"
    assert client.v1.file_links.list().data == []


def test_file_link_data_on_upload_is_a_file_link(client: Any) -> None:
    uploaded = upload(client, "dispute_evidence", "r.pdf", file_link_data={"create": True})
    [link] = uploaded.links.data
    assert client.v1.file_links.retrieve(link.id).file == uploaded.id


def test_customer_includable_lists_appear_only_when_expanded(client: Any) -> None:
    cus = client.v1.customers.create(params={"email": "x@example.com"})
    full = client.v1.customers.retrieve(cus.id, params={"expand": ["sources", "tax_ids"]})
    assert (full.sources.data, full.tax_ids.url) == ([], f"/v1/customers/{cus.id}/tax_ids")
    assert "subscriptions" not in full.to_dict()
    listed = client.v1.customers.list(params={"expand": ["data.subscriptions"]}).data[0]
    assert listed.subscriptions.data == [] and "sources" not in listed.to_dict()
