"""The steps every write takes inside its transaction: the next seq, the event and revision rows.

Imports nothing from Flask; used only by the write path (`service.py`). `bump` must be a
write's first statement: it takes the story's row lock (PostgreSQL) or runs inside the
write lock (SQLite, BEGIN IMMEDIATE), which orders every writer of the story.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from .errors import N_, Invalid, NotFound
from .models import Event, EventType, Post, PostRevision, Story, utcnow
from .payloads import dumps, event_payload


def bump(session: Session, slug: str) -> tuple[int, Story]:
    """Take the story's next seq; this row write is what orders concurrent writers."""
    row = session.execute(
        update(Story)
        .where(Story.slug == slug)
        .values(last_seq=Story.last_seq + 1, updated_at=utcnow())
        .returning(Story.id, Story.last_seq)
    ).first()
    if row is None:
        raise NotFound(N_("There is no story at this address."))
    story = session.get(Story, row.id, populate_existing=True)
    assert story is not None
    return row.last_seq, story


def live_post(session: Session, story: Story, post_id: str) -> Post:
    post = session.get(Post, post_id)
    if post is None or post.story_id != story.id or post.deleted_at is not None:
        raise NotFound(N_("No post with the id '%(id)s' in this story."), id=post_id)
    return post


def earlier_post(session: Session, story: Story, post_id: str, before_seq: int) -> Post:
    """Return the live post of this story, published before `before_seq`, to follow up."""
    target = session.get(Post, post_id)
    if (
        target is None
        or target.story_id != story.id
        or target.deleted_at is not None
        or target.created_seq >= before_seq
    ):
        raise Invalid("resolves", N_("The field 'resolves' must be the id of an earlier post."))
    return target


def revise(
    session: Session, post: Post, editor_id: int, changes: str, at: datetime, reason: str = ""
) -> None:
    """Record the post as it stands after a change: what changed, who, when and why."""
    session.add(
        PostRevision(
            post_id=post.id,
            version=post.version,
            body=post.body,
            format=post.format,
            source=post.source,
            headline=post.headline,
            verification=post.verification,
            verification_note=post.verification_note,
            pinned=post.pinned,
            key_event=post.key_event,
            changes=changes[:200],
            reason=reason,
            editor_id=editor_id,
            created_at=at,
        )
    )


def append_event(
    session: Session,
    story: Story,
    seq: int,
    type: EventType,
    at: datetime,
    post_id: str | None = None,
    **fields: Any,
) -> str:
    """Add the event row in the change's transaction and return its frame."""
    frame = dumps(event_payload(seq=seq, type=type, at=at, story_slug=story.slug, **fields))
    session.add(
        Event(story_id=story.id, seq=seq, type=type, at=at, payload=frame, post_id=post_id)
    )
    return frame
