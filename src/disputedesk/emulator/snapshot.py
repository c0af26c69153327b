"""Saving an emulator's state to a file and loading it back (the demo keeps its Stripe across
restarts this way).

A snapshot holds every account's objects, idempotency records, the id generators and the clock,
and the timers still due (pending refunds, dispute outcomes). Webhook deliveries in flight are not
kept: Stripe's own retries would have resent them, and the desk catches up from ``/v1/events``.
The file is a pickle written by this process for itself; never load one from somewhere else.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator

FORMAT = 1


def save(emulator: Emulator, path: Path) -> None:
    """Write the emulator's state to ``path`` atomically (a half-written file is never read)."""
    with emulator.lock:
        state: dict[str, Any] = {
            "format": FORMAT,
            "seed": emulator.seed,
            "accounts": emulator.accounts,
            "ids": emulator.ids._rng.getstate(),
            "request_ids": emulator.request_ids._rng.getstate(),
            "clock": emulator.clock.time(),
            "timers": list(emulator.timers._heap),
        }
        try:
            data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError):
            state["timers"] = []  # a timer that cannot be pickled is dropped, the objects kept
            data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(emulator: Emulator, path: Path) -> bool:
    """Replace the emulator's state with the one saved in ``path``; False if there is none
    usable (missing, another format or another seed)."""
    import heapq
    import itertools

    try:
        state = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, see the docstring
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return False
    if not isinstance(state, dict) or state.get("format") != FORMAT \
            or state.get("seed") != emulator.seed:
        return False
    with emulator.lock:
        emulator.accounts.clear()
        emulator.accounts.update(state["accounts"])
        emulator.platform = emulator.account(None)
        emulator.ids._rng.setstate(state["ids"])
        emulator.request_ids._rng.setstate(state["request_ids"])
        if not emulator.clock.frozen:
            emulator.clock.set(max(state["clock"], emulator.clock.time()))
        emulator.timers.clear()
        for entry in state["timers"]:
            heapq.heappush(emulator.timers._heap, entry)
        # new timers sort after the restored ones that fall due at the same moment
        emulator.timers._seq = itertools.count(max((e[1] for e in state["timers"]), default=0) + 1)
    return True


def forget_webhook_endpoints(emulator: Emulator, url: str) -> int:
    """Remove the platform's endpoints pointing at ``url`` (a restarted desk registers anew)."""
    with emulator.lock:
        endpoints = emulator.platform.collection("webhook_endpoint")
        stale = [eid for eid, ep in endpoints.objects.items() if ep.get("url") == url]
        for eid in stale:
            endpoints.remove(eid)
    return len(stale)
