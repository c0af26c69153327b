"""Accounts: users, API tokens, sessions, one-time login links, sign-in rate limiting.

Every function takes ``deps`` (anything with ``.store`` and ``.clock``) and owns its transaction;
every change an administrator makes is written to the audit log in that same transaction.

Secrets are random 32-byte values handed out once in plain text and stored only as SHA-256
digests (API tokens ``ddk_...``, session ids, login links); passwords are argon2id hashes. No
function logs a secret, and no returned dict contains a hash.

Every API token belongs to a desk user and acts as them, with at most their current role.

Test helpers for other features: ``create_user(deps, username=..., role=..., password=...)``
and ``create_token(deps, name=..., role=..., owner=...)`` (returns ``(info, plaintext)``), or
simply ``token_for_role(deps, "agent")`` which returns a usable bearer token (of a new user).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from disputedesk.domain.permissions import ROLES, Actor, lower_role
from disputedesk.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from disputedesk.services import signin_limits
from disputedesk.services.signin_limits import (  # noqa: F401 - part of this module's interface
    LOGIN_WINDOW,
    MAX_FAILURES_PER_IP,
    MAX_FAILURES_PER_USERNAME,
    LoginLocked,
)
from disputedesk.store import audit
from disputedesk.store.accounts_tables import (
    api_tokens,
    login_attempts,
    login_links,
    sessions,
    users,
)

log = logging.getLogger(__name__)

TOKEN_PREFIX = "ddk_"
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024  # argon2 copes with more, but nobody needs it and it bounds the work
USERNAME_MAX_LENGTH = 150
SESSION_MAX_AGE = 12 * 3600  # absolute lifetime of a dashboard session
SESSION_IDLE_TIMEOUT = 2 * 3600  # a session unused this long ends
LOGIN_LINK_TTL = 24 * 3600
_LAST_USED_GRANULARITY = 60.0  # write last_used/last_seen at most once a minute per token/session
CLEANUP_JOB = "accounts.cleanup"

_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


# --- secrets and hashing ---------------------------------------------------------------------

def digest(secret: str) -> str:
    """SHA-256 hex of a random secret (tokens, session ids, links): what the database keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _check_text(value: str, param: str) -> None:
    """Refuse text that cannot be stored or hashed (lone surrogates, NUL)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(f"the {param} contains characters that are not valid text",
                              param=param) from None
    if "\x00" in value:
        raise ValidationError(f"the {param} contains a NUL character", param=param)


def check_password_rules(password: str, *, username: str | None = None) -> None:
    if isinstance(password, str):
        _check_text(password, "password")
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            f"the password is too short: use at least {PASSWORD_MIN_LENGTH} characters",
            param="password", hint="a few unrelated words make a long password easy to remember")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError(f"the password is too long: use at most {PASSWORD_MAX_LENGTH} characters",
                              param="password")
    if username and password.strip().lower() == username.strip().lower():
        raise ValidationError("the password must not be the user name", param="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; always spends one argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


def username_key(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    name = (username or "").strip()
    if not name:
        raise ValidationError("a user name is required", param="username")
    if len(name) > USERNAME_MAX_LENGTH:
        raise ValidationError(f"the user name is too long: use at most {USERNAME_MAX_LENGTH} characters",
                              param="username")
    if not _USERNAME_RE.match(name):
        raise ValidationError(
            f"'{name}' is not a valid user name",
            param="username", hint="use letters, digits and . _ @ + - (start with a letter or digit)")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"unknown role '{role}'", param="role",
                              hint="one of: " + ", ".join(ROLES))
    return role


# --- public shapes ---------------------------------------------------------------------------

def _user_out(row: Any) -> dict:
    return {
        "id": f"usr_{row.id}",
        "username": row.username,
        "role": row.role,
        "disabled": bool(row.disabled),
        "has_password": row.password_hash is not None,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "last_login": row.last_login,
    }


def _token_out(row: Any) -> dict:
    return {
        "id": f"tok_{row.id}",
        "name": row.name,
        "owner": row.owner,
        "kind": row.kind,
        "prefix": row.prefix,
        "role": row.role,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
        "revoked_by": row.revoked_by,
        "active": row.revoked_at is None,
    }


def _parse_id(value: str | int, prefix: str, what: str) -> int:
    text = str(value)
    if text.startswith(prefix + "_"):
        text = text[len(prefix) + 1:]
    if not text.isdigit() or len(text) > 18:  # ids are 64-bit: longer is no id of ours
        raise NotFound(f"no such {what}: '{value}'", object_id=str(value))
    return int(text)


# --- users -----------------------------------------------------------------------------------

def _get_user_row(conn, username: str):
    return conn.execute(sa.select(users).where(users.c.username_key == username_key(username))).first()


def _require_user_row(conn, username: str):
    row = _get_user_row(conn, username)
    if row is None:
        raise NotFound(f"no user named '{username}'", param="username", object_id=username,
                       hint="`disputedesk users list` shows the users")
    return row


def create_user(deps, *, username: str, role: str, password: str | None = None,
                actor: str = "system") -> dict:
    """Create a user; without a password they sign in through a one-time link first."""
    name = check_username(username)
    check_role(role)
    if password is not None:
        check_password_rules(password, username=name)
    now = deps.clock.now()
    password_hash = hash_password(password) if password is not None else None
    with deps.store.write() as conn:
        if _get_user_row(conn, name) is not None:
            raise Conflict(f"a user named '{name}' already exists", param="username",
                           hint="user names are compared without regard to case")
        user_id = conn.execute(users.insert().values(
            username=name, username_key=username_key(name), role=role,
            password_hash=password_hash, disabled=False, created_at=now, created_by=actor,
            password_changed_at=now if password_hash else None)).inserted_primary_key[0]
        audit.append(conn, at=now, actor=actor, action="user.created", object_type="user",
                     object_id=f"usr_{user_id}", details={"username": name, "role": role})
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).one()
    return _user_out(row)


def get_user(deps, username: str) -> dict:
    with deps.store.read() as conn:
        return _user_out(_require_user_row(conn, username))


def list_users(deps) -> list[dict]:
    with deps.store.read() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.username_key)).all()
    return [_user_out(r) for r in rows]


def set_password(deps, *, username: str, password: str, actor: str,
                 keep_session: str | None = None) -> dict:
    """Set a user's password (an admin's reset, or the user's own).

    Ends every session of the user except ``keep_session`` (the one the user changed it from).
    """
    with deps.store.read() as conn:
        row = _require_user_row(conn, username)
    check_password_rules(password, username=row.username)
    password_hash = hash_password(password)
    now = deps.clock.now()
    with deps.store.write() as conn:
        conn.execute(users.update().where(users.c.id == row.id).values(
            password_hash=password_hash, password_changed_at=now))
        ending = sessions.delete().where(sessions.c.user_id == row.id)
        if keep_session:
            ending = ending.where(sessions.c.id_hash != digest(keep_session))
        conn.execute(ending)
        audit.append(conn, at=now, actor=actor, action="user.password_set", object_type="user",
                     object_id=f"usr_{row.id}", details={"username": row.username})
        row = conn.execute(sa.select(users).where(users.c.id == row.id)).one()
    return _user_out(row)


def set_disabled(deps, *, username: str, disabled: bool, actor: str) -> dict:
    """Disable (ends their sessions at once) or enable a user. The last active admin stays."""
    now = deps.clock.now()
    with deps.store.write() as conn:
        row = _require_user_row(conn, username)
        if disabled and row.role == "admin" and not row.disabled:
            _refuse_removing_last_admin(conn, row.id)
        conn.execute(users.update().where(users.c.id == row.id).values(disabled=disabled))
        if disabled:
            conn.execute(sessions.delete().where(sessions.c.user_id == row.id))
            conn.execute(login_links.delete().where(login_links.c.user_id == row.id))
        audit.append(conn, at=now, actor=actor,
                     action="user.disabled" if disabled else "user.enabled",
                     object_type="user", object_id=f"usr_{row.id}",
                     details={"username": row.username})
        row = conn.execute(sa.select(users).where(users.c.id == row.id)).one()
    return _user_out(row)


def set_role(deps, *, username: str, role: str, actor: str) -> dict:
    check_role(role)
    now = deps.clock.now()
    with deps.store.write() as conn:
        row = _require_user_row(conn, username)
        if row.role == "admin" and role != "admin" and not row.disabled:
            _refuse_removing_last_admin(conn, row.id)
        conn.execute(users.update().where(users.c.id == row.id).values(role=role))
        audit.append(conn, at=now, actor=actor, action="user.role_changed", object_type="user",
                     object_id=f"usr_{row.id}",
                     details={"username": row.username, "from": row.role, "to": role})
        row = conn.execute(sa.select(users).where(users.c.id == row.id)).one()
    return _user_out(row)


def _refuse_removing_last_admin(conn, user_id: int) -> None:
    others = conn.execute(sa.select(sa.func.count()).select_from(users).where(
        users.c.role == "admin", users.c.disabled.is_(False), users.c.id != user_id)).scalar_one()
    if others == 0:
        raise Conflict("this is the last active admin; the desk would have nobody to manage it",
                       param="username", hint="make another user an admin first")


# --- API tokens ------------------------------------------------------------------------------

def _owner_row(conn, username: str):
    row = _require_user_row(conn, username)
    if row.disabled:
        raise Conflict(f"the user '{row.username}' is disabled and cannot own a token",
                       param="owner", hint="enable the user first")
    return row


def create_token(deps, *, name: str, role: str, owner: str, actor: str | None = None,
                 kind: str = "api") -> tuple[dict, str]:
    """Create an API token belonging to the desk user ``owner``; returns ``(info, plaintext)``.

    The token acts as its owner with at most the owner's role (``role`` may be narrower, never
    wider). The plaintext is never shown again.
    """
    label = (name or "").strip()
    if not label or len(label) > 100:
        raise ValidationError("a token needs a name of 1 to 100 characters (say what uses it)",
                              param="name")
    _check_text(label, "name")
    check_role(role)
    if kind not in ("api", "login"):
        raise ValidationError(f"unknown token kind '{kind}'", param="kind")
    plaintext = TOKEN_PREFIX + new_secret()
    now = deps.clock.now()
    with deps.store.write() as conn:
        owner_row = _owner_row(conn, owner)
        if lower_role(role, owner_row.role) != role:
            raise PermissionDenied(
                f"a token can not do more than the person it belongs to: {owner_row.username} "
                f"is {owner_row.role}, the token asks for {role}", code="token_above_owner",
                param="role", hint=f"give the token the role {owner_row.role} or a lower one")
        actor = actor or owner_row.username
        token_id = conn.execute(api_tokens.insert().values(
            name=label, token_hash=digest(plaintext), prefix=plaintext[:12], role=role,
            created_by=actor, created_at=now, user_id=owner_row.id,
            kind=kind)).inserted_primary_key[0]
        audit.append(conn, at=now, actor=actor, action="token.created", object_type="api_token",
                     object_id=f"tok_{token_id}",
                     details={"name": label, "role": role, "owner": owner_row.username,
                              "kind": kind})
        row = conn.execute(_token_query().where(api_tokens.c.id == token_id)).one()
    return _token_out(row), plaintext


def token_for_role(deps, role: str, *, name: str | None = None, owner: str | None = None) -> str:
    """Test helper: a fresh bearer token with ``role``, owned by ``owner`` (by default a new user
    of that role made for it)."""
    if owner is None:
        owner = f"test-{role}-{secrets.token_hex(4)}"
        create_user(deps, username=owner, role=role, actor="test")
    return create_token(deps, name=name or f"test-{role}-{secrets.token_hex(3)}", role=role,
                        owner=owner)[1]


def _token_query():
    return (sa.select(api_tokens, users.c.username.label("owner"))
            .select_from(api_tokens.outerjoin(users, users.c.id == api_tokens.c.user_id)))


def list_tokens(deps, *, include_revoked: bool = True, owner: str | None = None) -> list[dict]:
    query = _token_query().order_by(api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    if owner is not None:
        query = query.where(users.c.username_key == username_key(owner))
    with deps.store.read() as conn:
        return [_token_out(r) for r in conn.execute(query).all()]


def revoke_token(deps, token_id: str | int, *, actor: str) -> dict:
    tid = _parse_id(token_id, "tok", "API token")
    now = deps.clock.now()
    with deps.store.write() as conn:
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == tid)).first()
        if row is None:
            raise NotFound(f"no API token '{token_id}'", object_id=str(token_id),
                           hint="`disputedesk tokens list` shows the tokens")
        if row.revoked_at is None:
            conn.execute(api_tokens.update().where(api_tokens.c.id == tid).values(
                revoked_at=now, revoked_by=actor))
            audit.append(conn, at=now, actor=actor, action="token.revoked",
                         object_type="api_token", object_id=f"tok_{tid}",
                         details={"name": row.name})
        row = conn.execute(_token_query().where(api_tokens.c.id == tid)).one()
    return _token_out(row)


def authenticate_token(deps, plaintext: str, *, via: str = "token") -> Actor | None:
    """The person a bearer token acts for, or None when it is unknown, revoked, has no owner or
    its owner is disabled. Its role is the lower of the token's and the owner's current role."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    token_hash = digest(plaintext)
    with deps.store.read() as conn:
        row = conn.execute(
            sa.select(api_tokens, users.c.username.label("owner"),
                      users.c.role.label("owner_role"), users.c.disabled.label("owner_disabled"))
            .select_from(api_tokens.outerjoin(users, users.c.id == api_tokens.c.user_id))
            .where(api_tokens.c.token_hash == token_hash)).first()
    # The lookup is by digest; compare again in constant time so a short-circuiting index can
    # not matter even in theory.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, token_hash):
        return None
    if row.owner is None or row.owner_disabled or row.owner_role not in ROLES:
        return None  # a token nobody answers for (made before tokens had owners) acts for nobody
    now = deps.clock.now()
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_GRANULARITY:
        with deps.store.write() as conn:
            conn.execute(api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=now))
    return Actor(id=f"tok_{row.id}", username=row.owner, role=lower_role(row.role, row.owner_role),
                 via=via, credential=f"tok_{row.id}",  # type: ignore[arg-type]
                 signed_in=row.kind == "login")


def check_cli_password(deps, *, username: str, password: str, ip: str = "cli") -> Actor:
    """The CLI's password proof: the same checks and sign-in limits as the dashboard's sign-in
    (the session it starts is ended at once: the CLI keeps nothing). ``ip`` names where from
    (``cli:<os user>@<host>``), for the per-address limit."""
    info = login(deps, username=username, password=password, ip=ip)
    logout(deps, info.token)
    person = info.actor
    return Actor(id=person.id, username=person.username, role=person.role, via="cli",
                 credential="password")


def mint_login_token(deps, *, username: str, password: str, name: str,
                     ip: str = "cli") -> tuple[dict, str]:
    """``disputedesk login``: check the password, then make a personal token of the user's role."""
    person = check_cli_password(deps, username=username, password=password, ip=ip)
    return create_token(deps, name=name, role=person.role, owner=person.username, kind="login")


def who_created(deps, username: str) -> str | None:
    """The name recorded as having created ``username``'s account (maker-checker reads it)."""
    with deps.store.read() as conn:
        row = _get_user_row(conn, username)
    return row.created_by if row is not None else None


# --- sign-in, sessions -----------------------------------------------------------------------

@dataclass(frozen=True)
class SessionInfo:
    """A started session: ``token`` goes into the cookie and nowhere else."""

    token: str
    csrf_secret: str
    actor: Actor
    expires_at: float
    must_set_password: bool


def _start_session(conn, user_row, *, now: float, ip: str | None) -> SessionInfo:
    token = new_secret()
    csrf_secret = new_secret()
    expires = now + SESSION_MAX_AGE
    conn.execute(sessions.insert().values(id_hash=digest(token), user_id=user_row.id,
                                          csrf_secret=csrf_secret, created_at=now,
                                          expires_at=expires, last_seen=now, ip=ip))
    conn.execute(users.update().where(users.c.id == user_row.id).values(last_login=now))
    actor = Actor(id=f"usr_{user_row.id}", username=user_row.username, role=user_row.role,
                  via="session")
    return SessionInfo(token=token, csrf_secret=csrf_secret, actor=actor, expires_at=expires,
                       must_set_password=user_row.password_hash is None)


def login(deps, *, username: str, password: str, ip: str = "unknown") -> SessionInfo:
    """Check a user name and password and start a session.

    Raises :class:`LoginLocked` after too many failures and :class:`AuthenticationFailed` with
    one message for every other refusal (unknown user, wrong password, disabled), so a caller
    can not learn which user names exist.
    """
    # Whatever was typed is recorded for rate limiting, so make it storable text first.
    key = username_key(username or "").encode("utf-8", "replace").decode("utf-8")
    key = key.replace("\x00", "")[:USERNAME_MAX_LENGTH]
    ip = (ip or "unknown")[:64]
    now = deps.clock.now()
    # Reserved (and committed) before the password is checked: see services/signin_limits.py.
    signin_limits.reserve(deps.store, username_key=key, ip=ip, now=now)
    with deps.store.read() as conn:
        row = conn.execute(sa.select(users).where(users.c.username_key == key)).first()
    ok = verify_password(row.password_hash if row is not None else None, password or "")
    ok = ok and row is not None and not row.disabled
    with deps.store.write() as conn:
        conn.execute(login_attempts.insert().values(username_key=key, ip=ip, at=now, success=ok))
        if not ok:
            info = None
        else:
            if _hasher.check_needs_rehash(row.password_hash):
                conn.execute(users.update().where(users.c.id == row.id).values(
                    password_hash=hash_password(password)))
            info = _start_session(conn, row, now=now, ip=ip)
            signin_limits.clear_account(conn, key)
            audit.append(conn, at=now, actor=row.username, action="user.login",
                         object_type="user", object_id=f"usr_{row.id}", details={"ip": ip})
    if info is None:
        log.info("sign-in refused for a user name from %s", ip)
        raise AuthenticationFailed("wrong user name or password", code="login_failed")
    return info


def session_actor(deps, token: str | None) -> tuple[Actor, str] | None:
    """``(actor, csrf_secret)`` for a live session cookie value, or None."""
    if not token or len(token) > 200:
        return None
    now = deps.clock.now()
    with deps.store.read() as conn:
        row = conn.execute(
            sa.select(sessions.c.id_hash, sessions.c.csrf_secret, sessions.c.expires_at,
                      sessions.c.last_seen, users.c.id, users.c.username, users.c.role,
                      users.c.disabled)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.id_hash == digest(token))).first()
    if row is None or row.disabled:
        return None
    if now >= row.expires_at or now - row.last_seen >= SESSION_IDLE_TIMEOUT:
        with deps.store.write() as conn:
            conn.execute(sessions.delete().where(sessions.c.id_hash == row.id_hash))
        return None
    if now - row.last_seen >= _LAST_USED_GRANULARITY:
        with deps.store.write() as conn:
            conn.execute(sessions.update().where(sessions.c.id_hash == row.id_hash).values(last_seen=now))
    actor = Actor(id=f"usr_{row.id}", username=row.username, role=row.role, via="session")
    return actor, row.csrf_secret


def logout(deps, token: str | None) -> None:
    if not token:
        return
    with deps.store.write() as conn:
        conn.execute(sessions.delete().where(sessions.c.id_hash == digest(token)))


def check_user_password(deps, username: str, password: str) -> bool:
    """Re-check a signed-in user's password (before they change it)."""
    with deps.store.read() as conn:
        row = _get_user_row(conn, username)
    return verify_password(row.password_hash if row is not None else None, password or "")


def user_has_password(deps, username: str) -> bool:
    with deps.store.read() as conn:
        row = _get_user_row(conn, username)
    return row is not None and row.password_hash is not None


# --- one-time login links --------------------------------------------------------------------

def create_login_link(deps, *, username: str, actor: str, ttl: float = LOGIN_LINK_TTL) -> str:
    """A one-time sign-in token for ``username`` (the caller builds the URL around it)."""
    if ttl <= 0:
        raise ValidationError("a login link must be valid for a positive time", param="ttl")
    token = new_secret()
    now = deps.clock.now()
    with deps.store.write() as conn:
        row = _require_user_row(conn, username)
        if row.disabled:
            raise Conflict(f"the user '{row.username}' is disabled", param="username",
                           hint="enable the user first")
        conn.execute(login_links.insert().values(token_hash=digest(token), user_id=row.id,
                                                 created_at=now, created_by=actor,
                                                 expires_at=now + ttl))
        audit.append(conn, at=now, actor=actor, action="user.login_link_created",
                     object_type="user", object_id=f"usr_{row.id}",
                     details={"username": row.username, "expires_at": now + ttl})
    return token


def consume_login_link(deps, token: str, *, ip: str = "unknown") -> SessionInfo:
    """Use a one-time link: it works once, before it expires, and starts a session."""
    refused = AuthenticationFailed("this sign-in link is not valid: it was already used, has "
                                   "expired, or was never issued", code="login_link_invalid",
                                   hint="ask an admin for a new link")
    if not token or len(token) > 200:
        raise refused
    now = deps.clock.now()
    with deps.store.write() as conn:
        link = conn.execute(sa.select(login_links).where(
            login_links.c.token_hash == digest(token))).first()
        if link is None or link.used_at is not None or now >= link.expires_at:
            raise refused
        # Conditional update: of two concurrent uses only one changes the row.
        used = conn.execute(login_links.update().where(
            login_links.c.token_hash == link.token_hash, login_links.c.used_at.is_(None))
            .values(used_at=now)).rowcount
        user_row = conn.execute(sa.select(users).where(users.c.id == link.user_id)).first()
        if used != 1 or user_row is None or user_row.disabled:
            raise refused
        info = _start_session(conn, user_row, now=now, ip=(ip or "unknown")[:64])
        audit.append(conn, at=now, actor=user_row.username, action="user.login_link_used",
                     object_type="user", object_id=f"usr_{user_row.id}", details={"ip": ip})
    return info


def login_link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/login/link/{token}"


def ensure_first_admin(deps, base_url: str, *, username: str = "admin") -> str | None:
    """On a desk with no users: create an admin and return a one-time login link for them.

    Returns None when users already exist (nothing is created then).
    """
    with deps.store.read() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one() > 0:
            return None
    try:
        create_user(deps, username=username, role="admin", actor="system")
    except Conflict:
        return None  # another process created it first
    token = create_login_link(deps, username=username, actor="system")
    return login_link_url(base_url, token)


# --- housekeeping ----------------------------------------------------------------------------

def cleanup(deps, _payload: dict | None = None) -> dict:
    """Delete expired sessions, spent links and sign-in attempts older than a day."""
    now = deps.clock.now()
    with deps.store.write() as conn:
        n_sessions = conn.execute(sessions.delete().where(
            sa.or_(sessions.c.expires_at <= now,
                   sessions.c.last_seen <= now - SESSION_IDLE_TIMEOUT))).rowcount
        n_links = conn.execute(login_links.delete().where(
            sa.or_(login_links.c.expires_at <= now - 86400,
                   login_links.c.used_at <= now - 86400))).rowcount
        n_attempts = conn.execute(login_attempts.delete().where(
            login_attempts.c.at <= now - 86400)).rowcount
        signin_limits.forget_expired(conn, now)
    return {"sessions": n_sessions, "links": n_links, "attempts": n_attempts}


def install(deps) -> None:
    deps.jobs.register(CLEANUP_JOB, cleanup)
    deps.jobs.every(CLEANUP_JOB, 3600)
