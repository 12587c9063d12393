"""Users, passwords and API tokens.

Imports nothing from Flask. Passwords are stored as Werkzeug hashes, tokens as the SHA-256
of the secret (they are long random strings, so a fast hash is enough). A password check
runs in gevent's thread pool when gevent is running (the hash functions release the GIL),
so it never blocks the event loop, and every sign-in costs exactly one full hash: an
unknown, password-less or disabled account is checked against a dummy hash.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .db import Database
from .errors import N_, Conflict, Invalid, NotFound
from .models import ApiToken, DeskSession, Role, User, utcnow
from .service import Actor

TOKEN_PREFIX = "lb_"  # noqa: S105 - a prefix, not a secret
#: A token's last use is written at most this often, so using it costs no write per request.
LAST_USE_STEP = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def actor_of(user: User) -> Actor:
    """Return the write path's view of a user."""
    return Actor(id=user.id, name=user.display_name, role=user.role)


def create_user(
    db: Database, username: str, role: str, password: str | None, display_name: str | None = None
) -> User:
    """Add a user; refuse a taken name, an unknown role or an empty password."""
    try:
        parsed_role = Role(role)
    except ValueError:
        raise Invalid(
            "role", N_("The role must be contributor, reporter, editor or admin.")
        ) from None
    if password is not None and not password:
        raise Invalid("password", N_("The password must not be empty."))
    username = username.strip()
    if not username or len(username) > 64:
        raise Invalid("username", N_("The user name must be 1 to 64 characters."))
    with db.write() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(N_("The user name '%(name)s' is taken."), name=username)
        user = User(
            username=username,
            display_name=(display_name or username).strip()[:120],
            role=parsed_role,
            password_hash=generate_password_hash(password) if password else None,
        )
        session.add(user)
    return user


def create_token(db: Database, username: str) -> str:
    """Issue a new API token for a user and return its secret (shown once, never stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(N_("No user named '%(name)s'."), name=username)
        session.add(ApiToken(user_id=user.id, token_hash=hash_token(token)))
    return token


def token_owner(session: Session, token: str) -> tuple[User, ApiToken] | None:
    """Return a known, unrevoked token and its user, if the user is enabled."""
    row = session.execute(
        select(User, ApiToken)
        .join(ApiToken)
        .where(
            ApiToken.token_hash == hash_token(token),
            ApiToken.revoked_at.is_(None),
            User.disabled_at.is_(None),
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def user_for_token(session: Session, token: str) -> User | None:
    """Return the enabled user a token belongs to, if the token is known and not revoked."""
    found = token_owner(session, token)
    return found[0] if found is not None else None


def note_token_use(db: Database, token: str, last_used_at: datetime | None) -> None:
    """Record that a token was used now, at most once a minute (no write in between)."""
    now = utcnow()
    if last_used_at is not None and last_used_at >= now - LAST_USE_STEP:
        return
    with db.write() as session:
        session.execute(
            update(ApiToken)
            .where(
                ApiToken.token_hash == hash_token(token),
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USE_STEP),
            )
            .values(last_used_at=now)
        )


@dataclass(frozen=True)
class TokenView:
    """One API token as the admin page lists it (never its secret)."""

    id: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class AccountView:
    """One user as the admin page lists it."""

    username: str
    display_name: str
    role: Role
    disabled_at: datetime | None
    sessions: int
    tokens: list[TokenView]


def list_accounts(db: Database) -> list[AccountView]:
    """Return every user with their live sessions and their tokens, newest token first."""
    with db.read() as session:
        now = utcnow()
        counted = session.execute(
            select(DeskSession.user_id, func.count())
            .where(DeskSession.expires_at > now)
            .group_by(DeskSession.user_id)
        )
        sessions = {int(user_id): int(count) for user_id, count in counted}
        tokens: dict[int, list[TokenView]] = {}
        for token in session.scalars(select(ApiToken).order_by(ApiToken.id.desc())):
            tokens.setdefault(token.user_id, []).append(
                TokenView(token.id, token.created_at, token.last_used_at, token.revoked_at)
            )
        return [
            AccountView(
                user.username,
                user.display_name,
                user.role,
                user.disabled_at,
                sessions.get(user.id, 0),
                tokens.get(user.id, []),
            )
            for user in session.scalars(select(User).order_by(User.username))
        ]


def _user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(N_("No user named '%(name)s'."), name=username)
    return user


def revoke_tokens(db: Database, username: str) -> int:
    """Revoke every live token of a user; return how many there were."""
    with db.write() as session:
        user = _user_named(session, username)
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


def revoke_token(db: Database, token_id: int) -> str:
    """Revoke one token by its id; return its user's name."""
    with db.write() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(N_("No token with the id '%(id)s'."), id=token_id)
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        return token.user.username


def set_disabled(db: Database, username: str, disabled: bool) -> None:
    """Disable a user (ending their sessions and tokens at once) or enable them again."""
    with db.write() as session:
        user = _user_named(session, username)
        if not disabled:
            user.disabled_at = None
            return
        now = utcnow()
        user.disabled_at = user.disabled_at or now
        session.execute(delete(DeskSession).where(DeskSession.user_id == user.id))
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def _off_loop(function: Callable[..., Any], *args: Any) -> Any:
    """Run `function` in gevent's thread pool under gevent, else right here."""
    if "gevent" in sys.modules:
        from gevent import get_hub, monkey

        if monkey.is_module_patched("socket"):
            return get_hub().threadpool.apply(function, args)
    return function(*args)


def check_password(password_hash: str | None, password: str) -> bool:
    """Check a password off the event loop; a missing hash costs the same and fails."""
    matches = bool(_off_loop(check_password_hash, password_hash or _dummy_hash(), password))
    return matches and password_hash is not None


def valid_username(username: str) -> bool:
    """Tell whether a name could belong to a user (1 to 64 characters, no control ones)."""
    return 0 < len(username) <= 64 and username.isprintable()


@dataclass(frozen=True)
class SignIn:
    """A user whose password matched, detached from any database session."""

    id: int
    password_hash: str


def authenticate(db: Database, username: str, password: str) -> SignIn | None:
    """Return the user if the name and password match an enabled account.

    Takes as long whatever the outcome: one short read, then exactly one password hash.
    """
    row = None
    if valid_username(username):
        with db.read() as session:
            row = session.execute(
                select(User.id, User.password_hash, User.disabled_at).where(
                    User.username == username
                )
            ).first()
    if not check_password(row.password_hash if row else None, password):
        return None
    assert row is not None  # a match needs a stored hash
    return None if row.disabled_at is not None else SignIn(row.id, row.password_hash)


def user_for_password(session: Session, username: str, password: str) -> User | None:
    """Return the user if the password matches (one hash, whatever the account)."""
    user = session.scalar(select(User).where(User.username == username))
    hashed = user.password_hash if user is not None else None
    return user if check_password(hashed, password) else None
