"""What search engines and share previews read of a story: JSON-LD, headlines, permalinks
and plain share links (no third-party scripts)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import url_for

from ..bylines import authors
from ..models import Post, Story, StoryStatus
from ..payloads import rfc3339
from ..sanitize import plain_text
from .trust import json_ld_reviews

SITE_NAME = "liveblog"


def json_ld(story: Story, posts: list[Post], url: str) -> dict[str, Any]:
    """Return the schema.org LiveBlogPosting for one page: the posts it shows, no others."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": story.title,
        "description": story.summary,
        "url": url,
        "mainEntityOfPage": url,
        "inLanguage": story.language,
        "datePublished": rfc3339(story.created_at),
        "dateModified": rfc3339(story.updated_at),
        "coverageStartTime": rfc3339(story.created_at),
        "publisher": {"@type": "Organization", "name": SITE_NAME},
        "liveBlogUpdate": [],
    }
    if story.status is StoryStatus.ENDED and story.ended_at:
        data["coverageEndTime"] = rfc3339(story.ended_at)
    for post in posts:
        data["liveBlogUpdate"].append(blog_posting(story, post))
    return data


def headline(post: Post, limit: int = 110) -> str:
    """Return a post's headline if it has one, else its text cut to a headline's length."""
    text = post.headline or plain_text(post.body, sanitized=True)
    return text[: limit - 3] + "…" if len(text) > limit else text


def permalink(story: Story, post: Post, *, external: bool = True) -> str:
    """Return the URL of one post's own page."""
    return url_for("reader.permalink", slug=story.slug, post_id=post.id, _external=external)


def blog_posting(story: Story, post: Post) -> dict[str, Any]:
    """Return one post as a schema.org BlogPosting."""
    text = plain_text(post.body, sanitized=True)
    update: dict[str, Any] = {
        "@type": "BlogPosting",
        "headline": headline(post),
        "articleBody": text,
        "datePublished": rfc3339(post.published_at),
        "dateModified": rfc3339(post.updated_at),
        "url": permalink(story, post),
        "author": [{"@type": "Person", "name": u.display_name} for u in authors(post)],
        "creativeWorkStatus": post.verification.value,
        "review": json_ld_reviews(post, permalink(story, post)),
    }
    if post.corrections:
        update["correction"] = [
            {"@type": "CorrectionComment", "text": c.note, "datePublished": rfc3339(c.at)}
            for c in post.corrections
        ]
    return update


def share_links(url: str, text: str) -> dict[str, str]:
    """Return plain share links (no third-party scripts): WhatsApp and X."""
    return {
        "whatsapp": "https://wa.me/?" + urlencode({"text": f"{text} {url}"}),
        "x": "https://x.com/intent/post?" + urlencode({"text": text, "url": url}),
    }
