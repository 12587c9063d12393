"""Takedowns: what deleting a post removes from public view, and what a purge erases.

Imports nothing from Flask and does no I/O of its own: the write path (`service.py`) calls
these inside the transaction that deletes the post. A deleted post's earlier events keep
their `seq`, `type`, time and field names, so every replay stays gapless and in order, but
their `post` shrinks to `{"id", "redacted": true}`: no text is served again. A purge also
erases the text from the post's private history, keeping who, when and why.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import Correction, Event, Post, PostRevision
from .payloads import dumps

#: What a scrubbed event keeps of itself (its `post` becomes the bare id).
KEPT_FIELDS = ("seq", "type", "at", "story", "changes")


def redacted(frame: str, post_id: str) -> str:
    """Return an event's frame without the post's text: same seq, type and time."""
    event: dict[str, Any] = json.loads(frame)
    kept = {key: event[key] for key in KEPT_FIELDS if key in event}
    kept["post"] = {"id": post_id, "redacted": True}
    return dumps(kept)


def scrub_events(session: Session, story_id: int, post_id: str) -> int:
    """Rewrite the stored frames of a post's earlier events without its text; return how many."""
    events = session.scalars(
        select(Event).where(Event.story_id == story_id, Event.post_id == post_id)
    ).all()
    for event in events:
        event.payload = redacted(event.payload, post_id)
    return len(events)


def erase_text(session: Session, post: Post) -> None:
    """Erase a post's text, notes and corrections from the post and from its revisions."""
    post.body = post.source = post.headline = ""
    post.verification_note = ""
    post.verification_history = [
        {**entry, "note": ""} for entry in (post.verification_history or [])
    ]
    session.execute(
        update(PostRevision)
        .where(PostRevision.post_id == post.id)
        .values(body="", source="", headline="", verification_note="")
    )
    session.execute(update(Correction).where(Correction.post_id == post.id).values(note=""))
    session.expire(post, ["corrections"])
