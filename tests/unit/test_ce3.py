"""Visa Compelling Evidence 3.0: qualifying histories, refusals with reasons, the payload shape."""

from __future__ import annotations

import stripe

from disputedesk.evidence.ce3 import build_ce3, eligibility, enhanced_evidence_params

T0 = 1_780_000_000
DAY = 86_400
FP = "fp_7f3a9c1e0b2d4e6f8a1c"          # 22 chars: a valid device fingerprint
ADDR = {"line1": "500 Elm St", "line2": None, "city": "Austin", "state": "TX", "postal_code": "78701",
        "country": "US"}


def charge(id, days_before, *, ip="198.51.100.7", email="sam@example.com", card="card_fp_1",
           device=FP, address=ADDR, **kw):
    meta = {"customer_ip": ip} if ip else {}
    if device:
        meta["device_fingerprint"] = device
    c = {"id": id, "object": "charge", "amount": 2500, "amount_captured": 2500, "currency": "usd",
         "created": T0 - days_before * DAY, "status": "succeeded", "paid": True, "disputed": False,
         "description": f"Gift card order {id}", "metadata": meta,
         "billing_details": {"email": email, "name": "Sam Doe", "address": ADDR},
         "shipping": {"name": "Sam Doe", "address": address} if address else None,
         "payment_method_details": {"type": "card", "card": {"brand": "visa", "fingerprint": card}}}
    c.update(kw)
    return c


DISPUTED = charge("ch_disputed", 0, disputed=True)


def dispute(**kw):
    d = {"id": "du_ce3", "reason": "fraudulent", "status": "needs_response", "amount": 2500, "currency": "usd",
         "charge": "ch_disputed", "network_reason_code": "10.4",
         "enhanced_eligibility_types": ["visa_compelling_evidence_3"],
         "evidence_details": {"due_by": T0 + 20 * DAY, "enhanced_eligibility": {
             "visa_compelling_evidence_3": {"status": "requires_action",
                                            "required_actions": ["missing_prior_undisputed_transactions"]}}},
         "payment_method_details": {"type": "card", "card": {"brand": "visa", "network_reason_code": "10.4"}}}
    d.update(kw)
    return d


def test_two_matching_prior_charges_120_to_365_days_old_qualify():
    history = [charge("ch_a", 130), charge("ch_b", 300), charge("ch_c", 364), DISPUTED]
    result = build_ce3(dispute(), DISPUTED, history, product_type="physical_goods")
    assert result.qualified, result.explain()
    assert result.prior_charges == ("ch_a", "ch_b")  # the most recent pair
    assert result.matching_elements == ("customer_purchase_ip", "device", "shipping_address",
                                        "customer_email_address")
    tx = result.payload["disputed_transaction"]
    assert tx["customer_purchase_ip"] == "198.51.100.7"
    assert tx["customer_device_fingerprint"] == FP
    assert tx["merchandise_or_services"] == "merchandise"
    assert tx["product_description"] == "Gift card order ch_disputed"
    assert tx["shipping_address"] == {"city": "Austin", "country": "US", "line1": "500 Elm St", "line2": "",
                                      "postal_code": "78701", "state": "TX"}
    priors = result.payload["prior_undisputed_transactions"]
    assert [p["charge"] for p in priors] == ["ch_a", "ch_b"]
    assert all(p["product_description"] for p in priors)
    params = enhanced_evidence_params(result)
    assert params["enhanced_evidence"]["visa_compelling_evidence_3"] is result.payload


def test_payload_keys_are_the_installed_sdk_param_names():
    p = stripe.params
    disputed_keys = set(p.DisputeUpdateParamsEvidenceEnhancedEvidenceVisaCompellingEvidence3DisputedTransaction.__annotations__)
    prior_keys = set(p.DisputeUpdateParamsEvidenceEnhancedEvidenceVisaCompellingEvidence3PriorUndisputedTransaction.__annotations__)
    address_keys = set(p.DisputeUpdateParamsEvidenceEnhancedEvidenceVisaCompellingEvidence3DisputedTransactionShippingAddress.__annotations__)
    top_keys = set(p.DisputeUpdateParamsEvidenceEnhancedEvidenceVisaCompellingEvidence3.__annotations__)
    ordered = {"customer_account_id": "acct-sam-77"}
    history = [charge("ch_a", 130, metadata={"customer_ip": "198.51.100.7", "device_id": "356938035643809",
                                             "customer_account_id": "acct-sam-77", "device_fingerprint": FP}),
               charge("ch_b", 200, metadata={"customer_ip": "198.51.100.7", "device_id": "356938035643809",
                                             "customer_account_id": "acct-sam-77", "device_fingerprint": FP})]
    disputed = charge("ch_disputed", 0, metadata={"customer_ip": "198.51.100.7", "device_id": "356938035643809",
                                                  "device_fingerprint": FP})
    result = build_ce3(dispute(), disputed, history, order=ordered, product_type="services")
    assert result.qualified, result.explain()
    assert set(result.payload) == top_keys
    assert set(result.payload["disputed_transaction"]) == disputed_keys
    assert set(result.payload["disputed_transaction"]["shipping_address"]) == address_keys
    for prior in result.payload["prior_undisputed_transactions"]:
        assert set(prior) == prior_keys
    assert result.payload["disputed_transaction"]["merchandise_or_services"] == "services"


def test_ip_plus_email_qualifies_without_device_or_address():
    history = [charge(f"ch_{d}", d, device=None, address=None) for d in (150, 250)]
    disputed = charge("ch_disputed", 0, device=None, address=None)
    result = build_ce3(dispute(), disputed, history)
    assert result.qualified and result.matching_elements == ("customer_purchase_ip", "customer_email_address")


def test_device_fingerprint_and_device_id_do_not_make_a_pair_on_their_own():
    meta = {"device_fingerprint": FP, "device_id": "356938035643809"}
    history = [charge(f"ch_{d}", d, ip=None, email=None, address=None, metadata=meta,
                      billing_details={}) for d in (150, 250)]
    disputed = charge("ch_disputed", 0, ip=None, email=None, address=None, metadata=meta, billing_details={})
    result = build_ce3(dispute(), disputed, history)
    assert not result.qualified
    assert all("no matching identifiers" in r.reasons[0] and "matches: device" in r.reasons[0]
               for r in result.rejections)


def test_secondary_elements_alone_do_not_qualify():
    history = [charge(f"ch_{d}", d, ip="10.0.0.1", device=None) for d in (150, 250)]
    disputed = charge("ch_disputed", 0, ip="10.9.9.9", device=None)
    result = build_ce3(dispute(), disputed, history)
    assert not result.qualified
    assert "matches: customer_email_address, shipping_address" in result.rejections[0].reasons[0]


def test_every_disqualified_candidate_gets_its_reasons():
    history = [
        charge("ch_recent", 30),
        charge("ch_old", 400),
        charge("ch_disputed_before", 200, disputed=True),
        charge("ch_fraud", 210, fraud_details={"stripe_report": "fraudulent"}),
        charge("ch_failed", 220, status="failed", paid=False),
        charge("ch_zero", 230, amount=0, amount_captured=0),
        charge("ch_other_card", 240, card="card_fp_2"),
        charge("ch_other_ip", 250, ip="203.0.113.200", device=None),
        charge("ch_after", -5),
        charge("ch_efw", 260),
    ]
    result = build_ce3(dispute(), DISPUTED, history, fraud_reported=["ch_efw"])
    assert not result.qualified and result.payload is None
    reasons = {r.charge: r.reasons for r in result.rejections}
    assert reasons["ch_recent"] == ("too recent: 30 days before the disputed charge, needs at least 120",)
    assert reasons["ch_old"] == ("too old: 400 days before the disputed charge, at most 365",)
    assert reasons["ch_disputed_before"] == ("disputed",)
    assert reasons["ch_fraud"] == ("reported as fraud",)
    assert reasons["ch_efw"] == ("reported as fraud",)
    assert reasons["ch_failed"] == ("not paid (status failed)",)
    assert reasons["ch_zero"] == ("a zero-amount validation charge",)
    assert reasons["ch_other_card"] == ("a different card",)
    assert reasons["ch_other_ip"][0].startswith("no matching identifiers")
    assert reasons["ch_after"] == ("made after the disputed charge",)
    assert "found 0" in result.problems[0]
    assert result.required_actions == ["missing_prior_undisputed_transactions"]
    assert "ch_recent: too recent" in result.explain()


def test_one_qualifying_charge_is_not_enough():
    result = build_ce3(dispute(), DISPUTED, [charge("ch_a", 130), charge("ch_b", 30)])
    assert not result.qualified and "found 1" in result.problems[0]


def test_two_candidates_must_share_the_same_identifiers():
    a = charge("ch_a", 130, device=None, address=None, email="other@example.com")   # ip + ... nothing else
    a["metadata"]["customer_account_id"] = "acct-1"
    b = charge("ch_b", 200, ip="203.0.113.99", email="sam@example.com", address=None)  # device + email
    disputed = charge("ch_disputed", 0, address=None)
    disputed["metadata"]["customer_account_id"] = "acct-1"
    result = build_ce3(dispute(), disputed, [a, b])
    assert not result.qualified
    assert "share the same two identifiers" in result.problems[0]


def test_boundaries_120_and_365_days_are_included():
    result = build_ce3(dispute(), DISPUTED, [charge("ch_a", 120), charge("ch_b", 365)])
    assert result.qualified, result.explain()
    late = build_ce3(dispute(), DISPUTED, [charge("ch_a", 119.5), charge("ch_b", 366)])
    assert not late.qualified and len(late.rejections) == 2


def test_a_dispute_not_eligible_is_refused_with_the_reason():
    result = build_ce3(dispute(enhanced_eligibility_types=[]), DISPUTED, [charge("ch_a", 130), charge("ch_b", 200)])
    assert not result.eligible and not result.qualified
    assert "enhanced_eligibility_types" in result.problems[0]
    mc = build_ce3(dispute(network_reason_code="4837",
                           payment_method_details={"card": {"brand": "mastercard"}}),
                   DISPUTED, [charge("ch_a", 130), charge("ch_b", 200)])
    assert any("Visa program" in p for p in mc.problems) and any("10.4 only" in p for p in mc.problems)


def test_missing_descriptions_become_stripe_required_actions():
    history = [charge("ch_a", 130, description=None), charge("ch_b", 200, description=None)]
    result = build_ce3(dispute(), charge("ch_disputed", 0, description=None), history)
    assert not result.qualified and result.payload is not None
    assert result.required_actions == ["missing_disputed_transaction_description",
                                       "missing_prior_undisputed_transaction_description"]
    fixed = build_ce3(dispute(), charge("ch_disputed", 0, description=None), history,
                      product_description="Digital gift card", describe=lambda c: f"Gift card ({c['id']})")
    assert fixed.qualified


def test_short_device_values_are_left_out_and_do_not_count():
    history = [charge(f"ch_{d}", d, ip=None, device="short-fp", email=None) for d in (150, 250)]
    result = build_ce3(dispute(), charge("ch_disputed", 0, ip=None, device="short-fp", email=None), history)
    assert not result.qualified


def test_eligibility_reads_stripe_status_and_required_actions():
    e = eligibility(dispute())
    assert e == {"eligible": True, "status": "requires_action",
                 "required_actions": ["missing_prior_undisputed_transactions"]}
    assert eligibility({"enhanced_eligibility_types": []})["eligible"] is False
