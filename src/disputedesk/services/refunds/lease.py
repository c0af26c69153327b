"""The send lease: one sender at a time per refund request.

Every path that calls ``POST /v1/refunds`` (the first send, the ``refunds.submit`` retry job, the
healer, a bulk resume) first wins a conditional update on the request row::

    UPDATE refund_requests SET sending_until = :until
     WHERE id = :id AND status = 'submitted' AND refund_id IS NULL AND attempt = :attempt
       AND (sending_until IS NULL OR sending_until < :now)

and commits it before the call. A second sender's update matches no row, so it never calls
Stripe while the first may still be sending; and because the update names the attempt the sender
read, a sender never sends a key that is no longer the request's. The lease outlives the
gateway's slowest call (timeout x tries, plus back-off), and expires by itself after a crash.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from disputedesk.store.refunds_tables import refund_requests

# Back-off between the gateway's retries, on top of the timeouts (generous: 8 s cap per retry).
_BACKOFF_ALLOWANCE = 60.0


def lease_seconds(settings) -> float:
    """Longer than one create_refund call can take with all its retries."""
    tries = int(getattr(settings, "stripe_max_retries", 4)) + 1
    return float(getattr(settings, "stripe_timeout", 30.0)) * tries + _BACKOFF_ALLOWANCE


def take(conn: Connection, request_id: str, *, attempt: int, now: float, until: float) -> bool:
    """Win the right to send ``request_id`` at ``attempt`` (see the module docstring)."""
    c = refund_requests.c
    return conn.execute(refund_requests.update().where(
        c.id == request_id, c.status == "submitted", c.refund_id.is_(None),
        c.attempt == attempt,
        sa.or_(c.sending_until.is_(None), c.sending_until < now),
    ).values(sending_until=until)).rowcount == 1


def bump_attempt(conn: Connection, request_id: str, *, attempt: int, until: float,
                 now: float) -> bool:
    """Move to a fresh idempotency key: only from the attempt read, only by the lease holder.
    Clears the old key's error (it no longer describes the request) and restarts the key's age."""
    c = refund_requests.c
    return conn.execute(refund_requests.update().where(
        c.id == request_id, c.status == "submitted", c.refund_id.is_(None),
        c.attempt == attempt, c.sending_until == until,
    ).values(attempt=attempt + 1, error_code=None, error=None, submitted_at=now,
             updated=now)).rowcount == 1


def release(conn: Connection, request_id: str, *, until: float) -> None:
    """Give the lease back (only our own: a lease that expired and was taken is not ours)."""
    c = refund_requests.c
    conn.execute(refund_requests.update().where(
        c.id == request_id, c.sending_until == until).values(sending_until=None))
