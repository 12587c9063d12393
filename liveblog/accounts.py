"""Users, passwords and API tokens.

Imports nothing from Flask. Passwords are stored as Werkzeug hashes, tokens as the SHA-256
of the secret (they are long random strings, so a fast hash is enough).
"""

from __future__ import annotations

import hashlib
import secrets

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


def user_for_password(session: Session, username: str, password: str) -> User | None:
    """Return the user if the password matches."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.password_hash:
        return None
    return user if check_password_hash(user.password_hash, password) else None
