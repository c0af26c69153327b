"""stripe-node (the package the conformance suite fetched, 23.1.0) as a real second client:
payments, a refund, a decline and the events list, with its own parsing and error classes.
Node comes with npm, which the suite already needs for Stripe's description."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from stripe_spec import CACHE

from disputedesk.emulator import Emulator
from disputedesk.emulator.testing import running_emulator

SCRIPT = r"""
const Stripe = require(process.argv[2]);
const stripe = new Stripe('sk_test_node', {host: '127.0.0.1', port: process.argv[3],
  protocol: 'http', maxNetworkRetries: 0});
(async () => {
  const out = {};
  const pi = await stripe.paymentIntents.create({amount: 1500, currency: 'usd',
    payment_method: 'pm_card_visa', confirm: true, metadata: {order_id: 'n1'}});
  out.status = pi.status;
  const refund = await stripe.refunds.create({payment_intent: pi.id, amount: 500});
  out.refund = [refund.status, refund.amount];
  const charge = await stripe.charges.retrieve(pi.latest_charge, {expand: ['refunds']});
  out.refunded = [charge.amount_refunded, charge.refunds.data.length, 'level3' in charge];
  try {
    await stripe.paymentIntents.create({amount: 1500, currency: 'usd',
      payment_method: 'pm_card_chargeDeclined', confirm: true});
  } catch (e) { out.decline = [e.type, e.code, e.decline_code]; }
  try {
    await stripe.paymentIntents.create({amount: 1500, currency: 'usd', customer: 'cus_nope'});
  } catch (e) { out.missing = [e.type, e.code, e.param, e.statusCode]; }
  const events = await stripe.events.list({limit: 100});
  out.events = events.data.map(e => [e.type, 'account' in e]);
  const ids = [];
  for await (const c of stripe.charges.list({limit: 1})) ids.push(c.id);
  out.charges = ids.length;
  console.log(JSON.stringify(out));
})().catch(e => { console.error(e); process.exit(1); });
"""


def test_stripe_node_talks_to_the_emulator(spec: Any, tmp_path: Any) -> None:
    script = tmp_path / "client.cjs"
    script.write_text(SCRIPT)
    with running_emulator(Emulator(seed=5)) as server:
        run = subprocess.run(["node", str(script), str(CACHE / "stripe"), str(server.port)],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["status"] == "succeeded" and out["refund"] == ["succeeded", 500]
    assert out["refunded"] == [500, 1, False]
    assert out["decline"] == ["StripeCardError", "card_declined", "generic_decline"]
    assert out["missing"] == ["StripeInvalidRequestError", "resource_missing", "customer", 400]
    assert ["refund.created", False] in out["events"]
    assert all(has_account is False for _, has_account in out["events"])
    assert out["charges"] == 2
