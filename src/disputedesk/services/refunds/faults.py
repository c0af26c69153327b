"""Crash points on the refund path, for the crash tests.

Set ``DISPUTEDESK_TEST_CRASH_AT`` to one of :data:`POINTS` and the process kills itself with
SIGKILL when it gets there: no ``finally``, no rollback handler, no flush, exactly like a power cut
of the process. Unset (always, outside tests) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "DISPUTEDESK_TEST_CRASH_AT"
POINTS = (
    "after_record",   # the request is committed as approved; nothing sent
    "before_call",    # 'submitted' is committed; Stripe not called yet
    "after_stripe",   # Stripe answered (refund created); the desk has written nothing
    "before_commit",  # the refund id is written in the open transaction, not committed
)


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
