"""Due-time work on the emulator clock (pending refund -> succeeded, dispute outcomes, ...).

Timers fire from a background thread (every ``interval`` seconds of real time) and at once
whenever the clock is advanced, always under the emulator lock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .emulator import Emulator

log = logging.getLogger(__name__)


class Timers:
    def __init__(self, emulator: "Emulator", interval: float = 0.2) -> None:
        self._emulator = emulator
        self._heap: list[tuple[float, int, str, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self.interval = interval
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def schedule(self, account_id: str, at: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), account_id, fn, args))

    def pending(self) -> int:
        return len(self._heap)

    def clear(self) -> None:
        self._heap.clear()

    def run_due(self) -> int:
        """Run every timer due by the emulator clock; returns how many ran. Caller holds no lock."""
        from .context import Ctx

        emulator = self._emulator
        ran = 0
        with emulator.lock:
            while self._heap and self._heap[0][0] <= emulator.clock.time():
                _, _, account_id, fn, args = heapq.heappop(self._heap)
                ctx = Ctx(emulator, emulator.account(account_id))
                try:
                    fn(ctx, *args)
                except Exception:  # a buggy timer must not stop the others
                    log.exception("emulator timer %s failed", getattr(fn, "__name__", fn))
                ran += 1
        return ran

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="emulator-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if self._heap and self._heap[0][0] <= self._emulator.clock.time():
                self.run_due()
