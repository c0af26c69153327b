"""List pages over a collection: cursors and ``created`` bounds found by bisection give exactly
what walking every object would, in time order or not."""

from __future__ import annotations

import random

import pytest

from disputedesk.emulator import errors
from disputedesk.emulator import params as P
from disputedesk.emulator.state import Collection


def _collection(created: list[int]) -> Collection:
    coll = Collection("charge", indexes=("customer",))
    for i, at in enumerate(created):
        coll.add({"id": f"ch_{i:04d}", "created": at, "customer": f"cus_{i % 3}"})
    return coll


def _expected(coll: Collection, ids: list[str], p: dict) -> tuple[list[str], bool]:
    """The plain walk: every id, newest first, filtered, then cut at the cursor and the limit."""
    check = P.created_filter(p) or (lambda t: True)
    kept = [i for i in reversed(ids) if check(coll.objects[i]["created"])]
    if p.get("starting_after"):
        at = coll.position[p["starting_after"]]
        kept = [i for i in kept if coll.position[i] < at]
    if p.get("ending_before"):
        at = coll.position[p["ending_before"]]
        kept = [i for i in kept if coll.position[i] > at][-int(p.get("limit", 10)):]
        return kept, len([i for i in reversed(ids) if check(coll.objects[i]["created"])
                          and coll.position[i] > at]) > len(kept)
    limit = int(p.get("limit", 10))
    return kept[:limit], len(kept) > limit


@pytest.mark.parametrize("in_order", [True, False])
def test_created_bounds_and_cursors_match_a_full_walk(in_order):
    rng = random.Random(3)
    created = sorted(rng.randrange(1000, 2000) for _ in range(300))
    if not in_order:
        rng.shuffle(created)
    coll = _collection(created)
    assert coll.in_time_order is in_order
    for _ in range(300):
        p: dict = {"limit": str(rng.choice((1, 3, 10, 100)))}
        bounds = rng.sample(["gt", "gte", "lt", "lte"], rng.randrange(0, 3))
        if bounds:
            p["created"] = {op: str(rng.randrange(950, 2050)) for op in bounds}
        elif rng.random() < 0.2:
            p["created"] = str(rng.choice(created))
        ids = coll.ids() if rng.random() < 0.7 else coll.by("customer", "cus_1")
        cursor = rng.choice(ids)
        if rng.random() < 0.3:
            p["starting_after"] = cursor
        elif rng.random() < 0.3:
            p["ending_before"] = cursor
        page, has_more = P.page(coll, ids, p, "/v1/charges")
        assert ([o["id"] for o in page], has_more) == _expected(coll, ids, p), p


def test_an_unknown_cursor_is_refused_by_name():
    coll = _collection([1, 2, 3])
    with pytest.raises(errors.APIError) as info:
        P.page(coll, coll.ids(), {"starting_after": "ch_nope"}, "/v1/charges")
    assert info.value.status == 404 and "ch_nope" in str(info.value)
