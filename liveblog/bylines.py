"""Bylines: who a post names besides its author, and how a list of names reads.

The boundary: the write path (`service.py`) resolves co-author usernames here inside its
transaction; templates, feeds and payloads read the names from here. No Flask.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel.lists import format_list
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import N_, Invalid
from .models import Post, PostCoauthor, User


def authors(post: Post) -> list[User]:
    """Return everyone on a post's byline: its author first, then its co-authors in order."""
    return [post.author, *(link.user for link in post.coauthor_links)]


def byline(post: Post, locale: str) -> str:
    """Return the byline's names as the locale joins them ("Sari W. and Budi")."""
    return format_list([u.display_name for u in authors(post)], locale=locale)


def coauthor_names(post: Post) -> list[str]:
    """Return the co-authors' usernames, in order (what the write API takes)."""
    return [link.user.username for link in post.coauthor_links]


def active_users(session: Session) -> list[User]:
    """Return the users a byline may name: every enabled account, by display name."""
    query = select(User).where(User.disabled_at.is_(None)).order_by(User.display_name)
    return list(session.scalars(query))


def set_coauthors(session: Session, post: Post, usernames: Sequence[str]) -> bool:
    """Make these enabled users the post's co-authors, in order; tell whether that changed.

    The author is left out if named; an unknown or disabled name is refused (422, no write).
    """
    found = {
        u.username: u
        for u in session.scalars(
            select(User).where(User.username.in_(usernames), User.disabled_at.is_(None))
        )
    }
    for name in usernames:
        if name not in found:
            error = Invalid(
                "coauthors", N_("There is no active user named '%(name)s'."), name=name
            )
            error.details["name"] = name
            raise error
    ids = [found[n].id for n in usernames if found[n].id != post.author_id]
    if ids == [link.user_id for link in post.coauthor_links]:
        return False
    post.coauthor_links.clear()
    session.flush()  # the old rows go before the new ones take their keys
    post.coauthor_links.extend(
        PostCoauthor(user_id=uid, position=i, user=session.get(User, uid))
        for i, uid in enumerate(ids)
    )
    return True
