"""Property: whatever the delivery order and duplicates, the mirror ends equal to Stripe's objects."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disputedesk.services.events import EventListeners
from disputedesk.store import mirror as repo
from disputedesk.testing import dispute_history, refund_history
from disputedesk.worker import Worker

from .helpers import store_events


@st.composite
def deliveries(draw):
    """A dispute's and a refund's histories, shuffled, with duplicates, in random chunks."""
    dispute_events, final_dispute = dispute_history()
    refund_events, final_refund, final_charge = refund_history()
    history = dispute_events + refund_events
    order = draw(st.permutations(range(len(history))))
    dupes = draw(st.lists(st.sampled_from(range(len(history))), max_size=6))
    sequence = [history[i] for i in order]
    for i in dupes:
        sequence.insert(draw(st.integers(0, len(sequence))), history[i])
    cuts = sorted(draw(st.lists(st.integers(0, len(sequence)), max_size=4)))
    chunks, start = [], 0
    for cut in cuts + [len(sequence)]:
        chunks.append(sequence[start:cut])
        start = cut
    run_jobs_between = draw(st.lists(st.booleans(), min_size=len(chunks), max_size=len(chunks)))
    return chunks, run_jobs_between, (final_dispute, final_refund, final_charge)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=deliveries())
def test_mirror_ends_equal_to_final_objects_whatever_the_delivery_order(deps, fake_stripe, case):
    chunks, run_jobs_between, finals = case
    deps.event_listeners = EventListeners()  # the mirror alone: features have their own tests
    for obj in finals:
        fake_stripe.put(obj)  # Stripe's current state, for refetches
    worker = Worker(deps)
    for chunk, run_jobs in zip(chunks, run_jobs_between, strict=True):
        # a redelivered id is the same event: the inbox keeps the first copy
        store_events(deps, chunk)
        worker.process_events()
        if run_jobs:
            worker.run_jobs()
    worker.run_until_idle()
    with deps.store.read() as conn:
        for obj in finals:
            assert repo.get_object(conn, obj["object"], obj["id"]) == obj
        assert repo.count(conn, "refund") >= 1
