"""Server-side desk sessions: the cookie carries a random secret, the database its SHA-256.

Imports nothing from Flask. A session is valid while its row exists, has not expired and
its user is enabled; signing out, disabling the user or an admin deletes the row, so the
old cookie stops working at once, on every worker and host.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .db import Database
from .errors import N_, NotFound
from .models import DeskSession, User, utcnow


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(db: Database, user_id: int, lifetime: timedelta) -> str:
    """Open a session for a user and return its secret (for the cookie only)."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    with db.write() as session:
        session.execute(delete(DeskSession).where(DeskSession.expires_at < now))
        session.add(DeskSession(id=_hash(secret), user_id=user_id, expires_at=now + lifetime))
    return secret


def session_user(session: Session, secret: str) -> User | None:
    """Return the enabled user of a live session, or None."""
    return session.scalar(
        select(User)
        .join(DeskSession, DeskSession.user_id == User.id)
        .where(
            DeskSession.id == _hash(secret),
            DeskSession.expires_at > utcnow(),
            User.disabled_at.is_(None),
        )
    )


def end_session(db: Database, secret: str) -> None:
    """End one session (signing out)."""
    with db.write() as session:
        session.execute(delete(DeskSession).where(DeskSession.id == _hash(secret)))


def end_user_sessions(db: Database, username: str) -> int:
    """End every session of a user (signed out everywhere); return how many there were."""
    with db.write() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise NotFound(N_("No user named '%(name)s'."), name=username)
        result = session.execute(delete(DeskSession).where(DeskSession.user_id == user_id))
        return int(getattr(result, "rowcount", 0) or 0)
