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
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .db import Database
from .errors import N_, Conflict, Invalid, NotFound
from .models import ApiToken, Role, User
from .service import Actor

TOKEN_PREFIX = "lb_"  # noqa: S105 - a prefix, not a secret


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
        raise Invalid("role", N_("The role must be reporter, editor or admin.")) from None
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


def user_for_token(session: Session, token: str) -> User | None:
    """Return the user a token belongs to, if the token is known and not revoked."""
    return session.scalar(
        select(User)
        .join(ApiToken)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
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
