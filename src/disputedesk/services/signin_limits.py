"""Sign-in limits per account and per address, atomic across threads and processes.

Before a password is checked (the argon2 verification is the work an attacker wants done), the
attempt reserves one unit on two counters, the user name's and the address's, each in ONE
statement (``INSERT ... ON CONFLICT DO UPDATE ... WHERE attempts < limit RETURNING``): the
database row lock, not a read followed by a write, decides, so N parallel wrong guesses from any
number of threads or processes get at most ``limit`` checks. A refused reservation changes
nothing (the statement's WHERE leaves the row as it was), so being locked does not extend the
lock. Both reservations are taken in one transaction, in a fixed order (name, then address), so
one that is refused takes the other back and two sign-ins never deadlock.

A counter's window starts at its first attempt and lasts ``LOGIN_WINDOW``; the first attempt
after it ends starts a fresh one. A successful sign-in clears the user name's counter (the
person proved the password), never the address's.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from disputedesk.errors import AuthenticationFailed
from disputedesk.store.accounts_tables import signin_counters

LOGIN_WINDOW = 15 * 60  # attempts are counted over this window ...
MAX_FAILURES_PER_USERNAME = 5  # ... and past this many the user name waits for the next one
MAX_FAILURES_PER_IP = 20  # higher: several people may share an office address
_KEY_MAX = 255


class LoginLocked(AuthenticationFailed):
    """Too many sign-in attempts for this user name or address; try again later."""

    code = "login_locked"

    def __init__(self, message: str, *, retry_after: int, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int
    what: str  # for the message: "this user name", "your address"


def limits_for(username_key: str, ip: str) -> tuple[Limit, Limit]:
    return (Limit(f"user:{username_key}"[:_KEY_MAX], MAX_FAILURES_PER_USERNAME, "this user name"),
            Limit(f"ip:{ip}"[:_KEY_MAX], MAX_FAILURES_PER_IP, "your address"))


def _take(conn: Connection, limit: Limit, now: float) -> bool:
    """Reserve one attempt on ``limit``'s counter; False (and nothing changed) when it is full."""
    c = signin_counters.c
    expired = c.window_start <= now - LOGIN_WINDOW
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(signin_counters).values(key=limit.key, window_start=now, attempts=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.key],
        set_={"window_start": sa.case((expired, now), else_=c.window_start),
              "attempts": sa.case((expired, 1), else_=c.attempts + 1)},
        where=sa.or_(expired, c.attempts < limit.limit),
    ).returning(c.attempts)
    return conn.execute(stmt).first() is not None


def _refusal(conn: Connection, limit: Limit, now: float) -> LoginLocked:
    start = conn.execute(sa.select(signin_counters.c.window_start)
                         .where(signin_counters.c.key == limit.key)).scalar_one()
    retry = max(1, int(start + LOGIN_WINDOW - now + 0.999))
    minutes = max(1, (retry + 59) // 60)
    return LoginLocked(
        f"too many failed sign-ins for {limit.what}; try again in {minutes} minute"
        + ("s" if minutes != 1 else ""), retry_after=retry,
        hint="an admin can set a new password with `disputedesk users reset-password`")


def reserve(store, *, username_key: str, ip: str, now: float) -> None:
    """Take one attempt from the user name's and the address's allowance, or raise LoginLocked.

    Commits before returning, so the reservation holds while the password is checked outside
    any transaction.
    """
    with store.write() as conn:
        for limit in limits_for(username_key, ip):
            if not _take(conn, limit, now):
                # Raising rolls the transaction back: the name's reservation, if taken, too.
                raise _refusal(conn, limit, now)


def clear_account(conn: Connection, username_key: str) -> None:
    """After a successful sign-in: the user name's earlier failures no longer count."""
    key = limits_for(username_key, "")[0].key
    conn.execute(signin_counters.delete().where(signin_counters.c.key == key))


def forget_expired(conn: Connection, now: float) -> int:
    """Housekeeping: counters whose window ended (the next attempt would start afresh anyway)."""
    return conn.execute(signin_counters.delete().where(
        signin_counters.c.window_start <= now - LOGIN_WINDOW)).rowcount
