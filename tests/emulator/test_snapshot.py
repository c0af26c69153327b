"""An emulator's state saved to a file and loaded into a new emulator: the same objects, the
same next ids, and requests keep working (the demo's restarts rely on it)."""

from __future__ import annotations

from disputedesk.emulator import Emulator, snapshot
from disputedesk.emulator.testing import EmulatorServer


def test_a_saved_emulator_is_the_same_after_loading(tmp_path):
    first = EmulatorServer(Emulator(seed=5)).start()
    try:
        client = first.stripe_client()
        intent = client.v1.payment_intents.create(params={
            "amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
        refund = client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 500})
        snapshot.save(first.emulator, tmp_path / "state")
        next_id = first.emulator.ids.new("refund")
    finally:
        first.stop()
    again = Emulator(seed=5)
    assert snapshot.load(again, tmp_path / "state")
    assert again.ids.new("refund") == next_id  # ids go on, never reused
    second = EmulatorServer(again).start()
    try:
        client = second.stripe_client()
        assert client.v1.refunds.retrieve(refund.id).amount == 500
        more = client.v1.refunds.create(params={"charge": intent.latest_charge, "amount": 300})
        assert more.id not in (refund.id, next_id)
        assert client.v1.charges.retrieve(intent.latest_charge).amount_refunded == 800
    finally:
        second.stop()


def test_a_missing_or_foreign_state_file_is_not_loaded(tmp_path):
    assert not snapshot.load(Emulator(seed=5), tmp_path / "none")
    (tmp_path / "junk").write_bytes(b"not a pickle")
    assert not snapshot.load(Emulator(seed=5), tmp_path / "junk")
    snapshot.save(Emulator(seed=5), tmp_path / "seed5")
    assert not snapshot.load(Emulator(seed=6), tmp_path / "seed5")  # another seed's data
