"""The ordering rule as a pure function (services/mirror.py), table-driven."""

from __future__ import annotations

import pytest

from disputedesk.services.mirror import Decision, decide, rank
from disputedesk.store.mirror import StoredVersion
from disputedesk.testing import make_charge, make_dispute, make_refund

OBJ = {"id": "x", "v": 1}


@pytest.mark.parametrize("stored, incoming, data, expected", [
    (None, (1, 0), OBJ, Decision.APPLY),
    ((1, 0), (2, 0), OBJ, Decision.APPLY),
    ((2, 0), (1, 9), OBJ, Decision.STALE),
    ((2, 1), (2, 0), OBJ, Decision.STALE),
    ((2, 0), (2, 1), OBJ, Decision.APPLY),
    ((2, 0), (2, 0), OBJ, Decision.SAME),
    ((2, 0), (2, 0), {"id": "x", "v": 2}, Decision.AMBIGUOUS),
])
def test_decide_orders_by_created_then_rank(stored, incoming, data, expected):
    version = StoredVersion(stored[0], stored[1], OBJ) if stored else None
    assert decide(version, incoming[0], incoming[1], data) is expected


@pytest.mark.parametrize("earlier, later", [
    ("warning_needs_response", "warning_under_review"),
    ("warning_under_review", "needs_response"),
    ("needs_response", "under_review"),
    ("under_review", "won"),
    ("under_review", "lost"),
    ("warning_under_review", "warning_closed"),
])
def test_dispute_rank_follows_status_progression(earlier, later):
    assert rank("dispute", make_dispute(status=earlier)) < rank("dispute", make_dispute(status=later))


def test_dispute_rank_counts_withdrawals_within_a_status():
    created = make_dispute()
    withdrawn = make_dispute(balance_transactions=[{"id": "txn_1"}])
    assert rank("dispute", created) < rank("dispute", withdrawn)


@pytest.mark.parametrize("earlier, later", [
    ("requires_action", "pending"), ("pending", "succeeded"), ("succeeded", "failed"),
    ("pending", "canceled"),
])
def test_refund_rank_follows_status_progression(earlier, later):
    assert rank("refund", make_refund(status=earlier)) < rank("refund", make_refund(status=later))


def test_charge_rank_grows_with_amount_refunded():
    assert rank("charge", make_charge(amount_refunded=100)) < rank("charge", make_charge(amount_refunded=200))
