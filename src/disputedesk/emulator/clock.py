"""The emulator's clock: real time plus an offset that tests and the control plane move forward.

``now()`` is what every object's ``created``, ``due_by`` etc. read. Advancing the clock never moves
it backwards; timers that fall due are run by the emulator right after an advance.
"""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._frozen = frozen
        base = time.time() if start is None else float(start)
        # now = real time + offset (running) or the fixed value (frozen)
        self._offset = base - time.time()
        self._fixed = base

    @property
    def frozen(self) -> bool:
        return self._frozen

    def time(self) -> float:
        """Current emulator time, fractional seconds."""
        if self._frozen:
            return self._fixed
        return time.time() + self._offset

    def now(self) -> int:
        """Current emulator time in whole epoch seconds, like Stripe's timestamps."""
        return int(self.time())

    def advance(self, seconds: float) -> float:
        if not 0 <= seconds < float("inf"):  # NaN fails too
            raise ValueError("the clock only moves forward; seconds must be a finite number >= 0")
        with self._lock:
            if self._frozen:
                self._fixed += seconds
            else:
                self._offset += seconds
        return self.time()

    def set(self, when: float) -> float:
        """Jump to an absolute time (used by reset and seeding; may move backwards)."""
        with self._lock:
            if self._frozen:
                self._fixed = float(when)
            else:
                self._offset = float(when) - time.time()
        return self.time()
