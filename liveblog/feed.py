"""Build a story's JSON Feed 1.1 document with the `_liveblog` extension.

This module does no I/O and imports nothing from Flask.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any

from .bylines import authors
from .models import Post, Story, StoryStatus, Verification
from .payloads import corrections_payload, rfc3339, trust_payload
from .sanitize import plain_text

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
MIME_TYPE = "application/feed+json"
#: The longest item title, in characters, before it is cut at a word with an ellipsis.
TITLE_MAX = 110
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")


def feed_etag(story: Story, page_key: str) -> str:
    """Return the (unquoted) strong ETag of one feed page; every event of the story changes it."""
    return f"feed-{story.id}-{story.last_seq}-{page_key}"


def item_title(text: str, limit: int = TITLE_MAX) -> str:
    """Return a post's title: the first sentence of its plain text, cut to about `limit`."""
    sentence = _SENTENCE_END.split(text.strip(), maxsplit=1)[0].strip()
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:—-") + "…"


def status_line(post: Post, lines: Mapping[Verification, str]) -> str:
    """Return the visible status paragraph a feed item starts with ("" for unverified)."""
    label = lines.get(post.verification)
    if not label:
        return ""
    note = f" — {escape(post.verification_note)}" if post.verification_note else ""
    return (
        f'<p class="liveblog-status liveblog-status-{post.verification.value}">'
        f"<strong>{escape(label)}</strong>{note}</p>"
    )


def feed_item(
    post: Post,
    home_url: str,
    status_lines: Mapping[Verification, str] | None = None,
    fallback_title: str = "",
) -> dict[str, Any]:
    """Return one feed item for a post; generic readers see its status in `content_html`."""
    summary = plain_text(post.body, sanitized=True)
    return {
        "id": post.id,
        "url": f"{home_url}#post-{post.id}",
        "title": post.headline or item_title(summary) or fallback_title,
        "content_html": status_line(post, status_lines or {}) + post.body,
        "summary": summary[:280],
        "date_published": rfc3339(post.published_at),
        "date_modified": rfc3339(post.updated_at),
        "authors": [{"name": u.display_name} for u in authors(post)],
        "_liveblog": {
            "seq": post.last_seq,
            "verification": {"status": post.verification.value, "note": post.verification_note},
            "pinned": post.pinned,
            "key_event": post.key_event,
            "corrections": corrections_payload(post),
            **trust_payload(post),
        },
    }


def build_feed(
    story: Story,
    posts: list[Post],
    *,
    home_url: str,
    feed_url: str,
    next_url: str | None,
    status_lines: Mapping[Verification, str] | None = None,
) -> dict[str, Any]:
    """Return the feed document for one page of posts (newest first)."""
    doc: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": story.title,
        "home_page_url": home_url,
        "feed_url": feed_url,
        "language": story.language,
    }
    if story.summary:
        doc["description"] = story.summary
    if next_url:
        doc["next_url"] = next_url
    if story.status is StoryStatus.ENDED:
        doc["expired"] = True
    doc["_liveblog"] = {"status": story.status.value, "last_seq": story.last_seq}
    doc["items"] = [feed_item(post, home_url, status_lines, story.title) for post in posts]
    return doc
