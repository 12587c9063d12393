"""Turn one post into what its permalink page shows: the post, its sharing tags and links.

A deleted post's page keeps the story's chrome and says the update was removed, with
nothing of its text.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext

from ..i18n import LOCALES
from ..models import Post, Story, StoryStatus, utcnow
from ..payloads import rfc3339
from .page import post_view, story_clock
from .page_meta import SITE_NAME, blog_posting, headline, permalink, share_links


def post_page_context(
    story: Story, post: Post, locale: str, lang: dict[str, Any]
) -> dict[str, Any]:
    """Return everything the permalink template needs."""
    url = permalink(story, post)
    story_url = url_for("reader.story", slug=story.slug, _external=True)
    gone = post.deleted_at is not None
    title = gettext("Update removed") if gone else headline(post, 70) or story.title
    context: dict[str, Any] = {
        "story": story,
        "locale": locale,
        "content_lang": story.language,
        "gone": gone,
        "title": title,
        "canonical": url,
        "alternates": {
            code: url_for(
                "reader.permalink", slug=story.slug, post_id=post.id, lang=code, _external=True
            )
            for code in LOCALES
        },
        "story_url": story_url,
        "back_url": url_for("reader.story", slug=story.slug, **lang),
        "live": story.status is StoryStatus.LIVE,
        "site_name": SITE_NAME,
        "lang_args": lang,
        "share_title": f"{title} · {story.title}",
        "share": share_links(url, f"{title} · {story.title}"),
    }
    if not gone:
        view = post_view(post, story_clock(story, locale), utcnow())
        posting = blog_posting(story, post)
        posting["isPartOf"] = {"@type": "LiveBlogPosting", "headline": story.title,
                               "url": story_url}  # fmt: skip
        posting["@context"] = "https://schema.org"
        posting["publisher"] = {"@type": "Organization", "name": SITE_NAME}
        context.update(
            v=view,
            description=posting["articleBody"][:200],
            published=rfc3339(post.published_at),
            modified=rfc3339(post.updated_at),
            json_ld=posting,
        )
    return context
