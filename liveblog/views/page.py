"""Turn a story and its posts into what the reader page template shows (locale-aware)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import url_for
from flask_babel import format_datetime, format_timedelta, gettext

from ..i18n import LOCALES, VERIFICATION_LABELS
from ..models import Post, Story, StoryStatus, utcnow
from ..payloads import rfc3339
from ..sanitize import plain_text


@dataclass(frozen=True)
class PostView:
    """One post as the page shows it."""

    post: Post
    time: str
    relative: str
    label: str
    edited: bool
    corrections: list[tuple[str, str]]


def local_time(value: datetime, tz: ZoneInfo, fmt: str = "HH:mm") -> str:
    """Format a time in the story's zone with its abbreviation, e.g. "07.45 WIB"."""
    local = value.astimezone(tz)
    return f"{format_datetime(local, fmt, rebase=False)} {local.tzname()}"


def post_view(post: Post, tz: ZoneInfo, now: datetime) -> PostView:
    """Return the display form of one post."""
    return PostView(
        post=post,
        time=local_time(post.published_at, tz),
        relative=format_timedelta(post.published_at - now, add_direction=True),
        label=str(VERIFICATION_LABELS[post.verification]),
        edited=post.body_edited_at is not None,
        corrections=[(c.note, local_time(c.at, tz, "d MMM, HH:mm")) for c in post.corrections],
    )


def json_ld(story: Story, posts: list[Post], url: str) -> dict[str, Any]:
    """Return the schema.org LiveBlogPosting for the page."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": story.title,
        "description": story.summary,
        "url": url,
        "inLanguage": story.language,
        "datePublished": rfc3339(story.created_at),
        "dateModified": rfc3339(story.updated_at),
        "coverageStartTime": rfc3339(story.created_at),
        "liveBlogUpdate": [],
    }
    if story.status is StoryStatus.ENDED and story.ended_at:
        data["coverageEndTime"] = rfc3339(story.ended_at)
    for post in posts:
        text = plain_text(post.body)
        update: dict[str, Any] = {
            "@type": "BlogPosting",
            "headline": text[:107] + "…" if len(text) > 110 else text,
            "articleBody": text,
            "datePublished": rfc3339(post.published_at),
            "dateModified": rfc3339(post.updated_at),
            "url": f"{url}#post-{post.id}",
            "author": {"@type": "Person", "name": post.author.display_name},
            "creativeWorkStatus": post.verification.value,
        }
        if post.corrections:
            update["correction"] = [
                {"@type": "CorrectionComment", "text": c.note, "datePublished": rfc3339(c.at)}
                for c in post.corrections
            ]
        data["liveBlogUpdate"].append(update)
    return data


def page_context(story: Story, posts: list[Post], locale: str) -> dict[str, Any]:
    """Return everything the reader template needs."""
    tz = ZoneInfo(story.timezone)
    now = utcnow()
    url = url_for("reader.story", slug=story.slug, _external=True)
    pinned = [p for p in posts if p.pinned]
    latest = max((p.updated_at for p in posts), default=story.updated_at)
    return {
        "story": story,
        "locale": locale,
        "pinned": [post_view(p, tz, now) for p in pinned],
        "posts": [post_view(p, tz, now) for p in posts if not p.pinned],
        "last_update": local_time(latest, tz, "d MMM y, HH:mm"),
        "last_update_iso": rfc3339(latest),
        "json_ld": json_ld(story, posts, url),
        "canonical": url,
        "alternates": {
            code: url_for("reader.story", slug=story.slug, lang=code, _external=True)
            for code in LOCALES
        },
        "live": story.status is StoryStatus.LIVE,
        "banner": gettext("Developing story: check back for updates.")
        if story.status is StoryStatus.LIVE
        else gettext("Coverage of this story has ended."),
    }
