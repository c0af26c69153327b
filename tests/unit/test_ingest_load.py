"""The receiver's load signal that `serve`'s worker yields to: busy only under a real burst."""

from __future__ import annotations

from disputedesk.web.webhooks import IngestLoad


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_trickle_is_not_busy_a_burst_is_and_quiet_ends_it():
    clock = Clock()
    load = IngestLoad(window=0.1, busy_rate=200, clock=clock)  # 20 requests per window
    assert not load.busy()
    for _ in range(5):  # 50 per second: the emulator's own deliveries, Stripe's usual pace
        load.touch()
        clock.t += 0.02
    assert not load.busy()
    for _ in range(30):  # 300 per second
        load.touch()
        clock.t += 0.003
    assert load.busy()
    clock.t += 0.05  # the last full window still counts a little while
    assert load.busy()
    clock.t += 0.1
    assert not load.busy()
    load.touch()  # one request after a pause is not a burst
    assert not load.busy()
