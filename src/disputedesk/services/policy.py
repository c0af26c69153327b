"""The desk's policy, stored once: every process reads it from the database at the moment of the
check, so a CLI started with other ``DISPUTEDESK_*`` variables than the server enforces the same
limits. Environment variables (or ``disputedesk.toml``) only seed a key that has no row yet.

Keys (``disputedesk settings show``):

- ``approval_threshold``   refunds above it wait for a second person ("100.00 USD, 10000 JPY")
- ``approval_daily_limit`` a person's refunds past this total in a UTC day wait for approval
- ``reminder_schedule``    when to remind before evidence is due ("7d,72h,24h,6h")
- ``rules_owner``          the desk user who answers for the automation rules in force: what the
                           rules do is recorded as done for them, and they cannot approve a
                           refund a rule asked for (empty: nobody)

Changes are made by an admin (``settings.manage``) from the dashboard, REST or the CLI, checked
before they are stored (a bad value is refused, never half-applied) and audited with the old and
the new value. No cache: one primary-key read per check costs less than a stale limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from disputedesk.domain.approval import ApprovalPolicy, parse_amount_list
from disputedesk.errors import ConfigError, DisputeDeskError, ValidationError
from disputedesk.store import audit
from disputedesk.store.settings_tables import desk_settings

SEED_ACTOR = "system:environment"
VALUE_MAX = 1000


@dataclass(frozen=True)
class Key:
    name: str
    help: str
    check: Callable[[Connection, str], None]


def _amounts(conn, value: str, name: str) -> None:
    parse_amount_list(value, setting=name)


def _schedule(conn, value: str) -> None:
    from disputedesk.services.disputes.common import parse_schedule

    parse_schedule(value)


def _owner(conn, value: str) -> None:
    if not value:
        return
    from disputedesk.store.accounts_tables import users

    row = conn.execute(sa.select(users.c.disabled).where(
        users.c.username_key == value.strip().lower())).first()
    if row is None or row.disabled:
        raise ValidationError(f"'{value}' is not an active desk user", param="rules_owner",
                              hint="`disputedesk users list` shows the users; leave it empty "
                                   "for nobody")


KEYS: dict[str, Key] = {k.name: k for k in (
    Key("approval_threshold", "refunds above this need a second person, one amount per currency "
        '("100.00 USD, 10000 JPY"); empty: none', lambda c, v: _amounts(c, v, "approval_threshold")),
    Key("approval_daily_limit", "a person's refunds past this total in a UTC day need approval "
        '("500 USD"); empty: none', lambda c, v: _amounts(c, v, "approval_daily_limit")),
    Key("reminder_schedule", 'when to remind before evidence is due ("7d,72h,24h,6h")', _schedule),
    Key("rules_owner", "the desk user who answers for the automation rules (empty: nobody)",
        _owner),
)}


def _seed_value(settings, name: str) -> str:
    value = getattr(settings, name, None)
    return "" if value is None else str(value).strip()


def _key(name: str) -> Key:
    key = KEYS.get((name or "").strip())
    if key is None:
        raise ValidationError(f"unknown setting '{name}'", param="key",
                              hint="one of: " + ", ".join(KEYS))
    return key


def seed(deps) -> None:
    """Store the environment's value of every key that has no row yet (first start, new key).

    The row says where it came from (``updated_by`` = ``system:environment``); only changes go
    to the audit log. A malformed seed fails here, at start-up, naming the variable."""
    try:
        with deps.store.read() as conn:
            have = {r[0] for r in conn.execute(sa.select(desk_settings.c.key))}
    except (OperationalError, ProgrammingError):
        return  # not migrated yet (built with migrate=False before `db upgrade`)
    missing = {n: _seed_value(deps.settings, n) for n in KEYS if n not in have}
    if not missing:
        return
    now = deps.clock.now()
    try:
        with deps.store.write() as conn:
            for name, value in missing.items():
                try:
                    KEYS[name].check(conn, value)
                except DisputeDeskError as exc:
                    raise ConfigError(f"DISPUTEDESK_{name.upper()}: {exc.message}", param=name,
                                      hint=exc.hint) from exc
                conn.execute(desk_settings.insert().values(key=name, value=value,
                                                           updated_at=now, updated_by=SEED_ACTOR))
    except IntegrityError:
        pass  # another process seeded first: its values stand


def read_all(conn: Connection, settings=None) -> dict[str, str]:
    """Every key's stored value (a key not seeded yet: the environment's, when given)."""
    stored = {r.key: r.value for r in conn.execute(sa.select(desk_settings))}
    return {n: stored[n] if n in stored else (_seed_value(settings, n) if settings else "")
            for n in KEYS}


def show(deps) -> list[dict]:
    with deps.store.read() as conn:
        rows = {r.key: r for r in conn.execute(sa.select(desk_settings))}
    out = []
    for name, key in KEYS.items():
        row = rows.get(name)
        out.append({"key": name, "value": row.value if row else _seed_value(deps.settings, name),
                    "help": key.help, "updated_at": row.updated_at if row else None,
                    "updated_by": row.updated_by if row else None})
    return out


def set_value(deps, name: str, value: str, *, actor: str) -> dict:
    """Change one key (``settings.manage``; the caller checked the role). Audited, old and new."""
    key = _key(name)
    text = (value or "").strip()
    if len(text) > VALUE_MAX:
        raise ValidationError(f"the value has {len(text)} characters", param=key.name,
                              hint=f"at most {VALUE_MAX}")
    now = deps.clock.now()
    with deps.store.write() as conn:
        try:
            key.check(conn, text)
        except ConfigError as exc:  # what is a config error at start-up is bad input here
            raise ValidationError(exc.message, param=key.name, hint=exc.hint) from None
        old = conn.execute(sa.select(desk_settings.c.value).where(
            desk_settings.c.key == key.name).with_for_update()).scalar()
        if old is None:
            conn.execute(desk_settings.insert().values(key=key.name, value=text, updated_at=now,
                                                       updated_by=actor))
        else:
            conn.execute(desk_settings.update().where(desk_settings.c.key == key.name).values(
                value=text, updated_at=now, updated_by=actor))
        audit.append(conn, at=now, actor=actor, action="settings.changed",
                     object_type="settings", object_id=key.name,
                     details={"key": key.name, "from": old, "to": text})
    return next(row for row in show(deps) if row["key"] == key.name)


# --- what the checks read ------------------------------------------------------------------------

def approval_policy_in(conn: Connection, settings=None) -> ApprovalPolicy:
    values = read_all(conn, settings)
    return ApprovalPolicy.from_settings(values["approval_threshold"] or None,
                                        values["approval_daily_limit"] or None)


def approval_policy(deps) -> ApprovalPolicy:
    with deps.store.read() as conn:
        return approval_policy_in(conn, deps.settings)


def reminder_offsets_in(conn: Connection, settings=None) -> list[int]:
    from disputedesk.services.disputes.common import parse_schedule

    return parse_schedule(read_all(conn, settings)["reminder_schedule"])


def reminder_offsets(deps) -> list[int]:
    with deps.store.read() as conn:
        return reminder_offsets_in(conn, deps.settings)


def rules_owner(deps) -> str | None:
    with deps.store.read() as conn:
        return read_all(conn, deps.settings)["rules_owner"] or None


def install(deps) -> None:
    seed(deps)
