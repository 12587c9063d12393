"""The JSON shapes of stories, posts and events, as fixed by the public contract.

This module does no I/O and imports nothing from Flask.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .bylines import authors, coauthor_names
from .models import EventType, Post, Story


def rfc3339(value: datetime | None) -> str | None:
    """Format an aware datetime as RFC 3339 in UTC with an explicit offset."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def dumps(value: Any) -> str:
    """Encode JSON compactly, keeping non-ASCII text readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def story_payload(story: Story, *, url: str, feed_url: str) -> dict[str, Any]:
    """Return the contract's story object."""
    return {
        "slug": story.slug,
        "title": story.title,
        "summary": story.summary,
        "known": story.known,
        "unknown": story.unknown,
        "language": story.language,
        "timezone": story.timezone,
        "status": story.status.value,
        "created_at": rfc3339(story.created_at),
        "ended_at": rfc3339(story.ended_at),
        "last_seq": story.last_seq,
        "url": url,
        "feed_url": feed_url,
    }


def corrections_payload(post: Post) -> list[dict[str, Any]]:
    """Return a post's correction notices, oldest first."""
    return [{"note": c.note, "at": rfc3339(c.at)} for c in post.corrections]


def post_payload(post: Post, story_slug: str) -> dict[str, Any]:
    """Return the contract's post object."""
    return {
        "id": post.id,
        "story": story_slug,
        "body": post.body,
        "format": post.format,
        "headline": post.headline or None,
        "author": {"name": post.author.display_name},
        "authors": [{"name": u.display_name} for u in authors(post)],
        "verification": {"status": post.verification.value, "note": post.verification_note},
        "pinned": post.pinned,
        "key_event": post.key_event,
        "published_at": rfc3339(post.published_at),
        "updated_at": rfc3339(post.updated_at),
        "version": post.version,
        "corrections": corrections_payload(post),
        **trust_payload(post),
    }


def writer_payload(post: Post, story_slug: str) -> dict[str, Any]:
    """Return the post object the write API and the desk answer with: the public one, plus
    what the reporter wrote (`source`) and the co-authors' usernames. Never in events."""
    return {**post_payload(post, story_slug), "source": post.source,
            "coauthors": coauthor_names(post)}  # fmt: skip


#: The keys only the writer's post object holds (`writer_payload`), never an event.
WRITER_KEYS = ("source", "coauthors")


def trust_payload(post: Post) -> dict[str, Any]:
    """Return what a post adds to the contract's shape about its checks and follow-ups."""
    return {
        "verified_by_editor": post.verification_by_editor,
        "verification_history": list(post.verification_history or []),
        "resolves": post.resolves_id,
        "followups": [
            {"id": f.id, "published_at": rfc3339(f.published_at)} for f in post.followups
        ],
    }


def event_payload(
    *,
    seq: int,
    type: EventType,
    at: datetime,
    story_slug: str,
    post: dict[str, Any] | None = None,
    changes: list[str] | None = None,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return one event of a story's log, ready to be stored and sent as is."""
    event: dict[str, Any] = {
        "seq": seq,
        "type": type.value,
        "at": rfc3339(at),
        "story": story_slug,
    }
    if post is not None:
        event["post"] = post
    if changes is not None:
        event["changes"] = changes
    if values is not None:
        event["values"] = values
    return event
