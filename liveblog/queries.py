"""Read-side queries shared by the API, the reader page, the feed and the live stream.

Imports nothing from Flask.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .db import Database
from .errors import N_, NotFound
from .hub import Logged
from .models import Event, Post, PostCoauthor, Story, StoryStatus, Verification


def story_by_slug(session: Session, slug: str) -> Story | None:
    """Return the story with this slug, if any."""
    return session.scalar(select(Story).where(Story.slug == slug))


def require_story(session: Session, slug: str) -> Story:
    """Return the story with this slug, or raise NotFound."""
    story = story_by_slug(session, slug)
    if story is None:
        raise NotFound(N_("There is no story at this address."))
    return story


def all_stories(session: Session) -> list[Story]:
    """Return every story, live ones first, most recently updated first."""
    stories = session.scalars(select(Story).order_by(Story.updated_at.desc()))
    return sorted(stories, key=lambda s: s.status != StoryStatus.LIVE)


def _post_loads() -> tuple[Any, ...]:
    """Return the loader options of everything a rendered post shows."""
    return (
        selectinload(Post.author),
        selectinload(Post.coauthor_links).selectinload(PostCoauthor.user),
        selectinload(Post.corrections),
        selectinload(Post.followups),
    )


def posts_page(
    session: Session,
    story: Story,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int | None = None,
    pinned: bool | None = None,
    oldest_first: bool = False,
) -> list[Post]:
    """Return a story's visible posts, newest first, optionally beyond a cursor.

    `before`/`after` keep posts created before/after that seq; `pinned` keeps only pinned
    (True) or unpinned (False) posts, None both; `oldest_first` turns the order around.
    """
    order = Post.created_seq.asc() if oldest_first else Post.created_seq.desc()
    query = (
        select(Post)
        .where(Post.story_id == story.id, Post.deleted_at.is_(None))
        .options(*_post_loads())
        .order_by(order)
    )
    if before is not None:
        query = query.where(Post.created_seq < before)
    if after is not None:
        query = query.where(Post.created_seq > after)
    if pinned is not None:
        query = query.where(Post.pinned.is_(pinned))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


#: The box's groups: what we know, what we don't know yet, what was ruled false.
BRIEFING_GROUPS: dict[str, tuple[Verification, ...]] = {
    "known": (Verification.CONFIRMED,),
    "open": (Verification.UNVERIFIED, Verification.DISPUTED),
    "false": (Verification.FALSE,),
}


def briefing_posts(
    session: Session, story: Story, limit: int
) -> dict[str, tuple[int, list[Post]]]:
    """Return {group: (how many visible posts, the newest `limit` of them)} for the box.

    One grouped count and one LIMITed query per group: the cost does not grow with the story.
    """
    visible = (Post.story_id == story.id, Post.deleted_at.is_(None))
    counts = dict(
        session.execute(
            select(Post.verification, func.count()).where(*visible).group_by(Post.verification)
        ).all()
    )
    result: dict[str, tuple[int, list[Post]]] = {}
    for group, statuses in BRIEFING_GROUPS.items():
        count = sum(counts.get(status, 0) for status in statuses)
        newest = (
            list(
                session.scalars(
                    select(Post)
                    .where(*visible, Post.verification.in_(statuses))
                    .order_by(Post.created_seq.desc())
                    .limit(limit)
                )
            )
            if count
            else []
        )
        result[group] = (count, newest)
    return result


def story_seq(session: Session, story: Story) -> int:
    """Return the story's last seq as the database holds it now."""
    return session.scalar(select(Story.last_seq).where(Story.id == story.id)) or 0


def story_post(session: Session, story: Story, post_id: str) -> Post | None:
    """Return one post of the story by id, deleted or not, or None."""
    return session.scalar(
        select(Post).where(Post.story_id == story.id, Post.id == post_id).options(*_post_loads())
    )


def event_frames(
    session: Session, story_id: int, after: int, limit: int | None = None
) -> list[Logged]:
    """Return the stored frames of a story's events with seq > after, ascending."""
    query = (
        select(Event.seq, Event.payload)
        .where(Event.story_id == story_id, Event.seq > after)
        .order_by(Event.seq)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(seq, payload) for seq, payload in session.execute(query)]


class EventLog:
    """The hub's view of the event log: short sessions, nothing held open."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def last_seq(self, slug: str) -> int | None:
        """Return the story's last seq, or None if it does not exist."""
        with self.db.read() as session:
            return session.scalar(select(Story.last_seq).where(Story.slug == slug))

    def events_after(self, slug: str, after: int) -> list[Logged]:
        """Return every event of the story with seq > after, ascending."""
        with self.db.read() as session:
            story_id = session.scalar(select(Story.id).where(Story.slug == slug))
            if story_id is None:
                return []
            return event_frames(session, story_id, after)
