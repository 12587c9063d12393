"""The live story on other sites' pages: `/stories/<slug>/embed` and `/oembed`.

A web-layer seam (Flask). The embed is a compact reader page (pinned and newest posts,
badges, live over the same WebSocket as the story page via `live.js`) that any site may
frame: its CSP says `frame-ancestors *` and nothing else differs from the site's strict
policy. `embed.js` opens every link in a new tab (`rel=noopener`) and posts the page's
height to the parent as `{"type": "liveblog:embed-height", "slug", "height"}` whenever it
changes. It is cached like the story page (public, `Vary` without `Cookie`) and never
sets a cookie. `/oembed` answers oEmbed 1.0 (JSON only) for our story URLs; the iframe's
`src` comes from the configured public base (`hosts.py`), never from a foreign `Host`.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Response, g, jsonify, render_template, request, url_for
from flask_babel import get_locale, gettext
from markupsafe import escape

from ..errors import LiveblogError
from ..i18n import LOCALES
from ..models import Story
from ..queries import posts_page, require_story
from ..renders import Rendered
from ..runtime import runtime
from ..validation import possible_slug
from ..web import content_security_policy, describe, int_arg, json_error
from .delivery import LocaleSource, lang_args, locale_source, send
from .page import Slice, page_context
from .page_meta import SITE_NAME
from .trust import Briefing

bp = Blueprint("embed", __name__)

#: Posts the embed shows besides pinned ones (newer ones arrive live).
EMBED_POSTS = 10
EMBED_MAX_AGE = 5
FRESHNESS = 60
#: The iframe's size in the oEmbed answer, before maxwidth/maxheight.
WIDTH, HEIGHT = 600, 720
OEMBED_MAX_AGE = 300
#: Framable by any site; the rest of the site keeps `frame-ancestors 'none'`.
EMBED_CSP = content_security_policy(frame_ancestors="*")


@bp.get("/stories/<slug>/embed")
def embed(slug: str) -> Response:
    """Render the compact live story for another site's iframe."""
    with runtime().db.read() as session:
        story = require_story(session, slug)
    g.story_language = story.language
    locale = str(get_locale())
    source = locale_source()
    lang = lang_args(locale)
    bucket = int(time.time() // FRESHNESS)
    base = url_for("reader.index", _external=True)
    etag = f"embed-{story.id}-{story.last_seq}-{locale}-{bucket}"
    key = ("embed", story.id, story.last_seq, locale, bucket, bool(lang), base)

    def render() -> Rendered:
        with runtime().db.read() as session:
            pinned = posts_page(session, story, pinned=True)
            posts = posts_page(session, story, limit=EMBED_POSTS, pinned=False)
        no_box: Briefing = (story.last_seq, {})  # the embed shows no "what we know" box
        context = page_context(story, Slice(pinned, posts), locale, no_box, lang)
        context["story_url"] = url_for("reader.story", slug=story.slug, **lang, _external=True)
        html = render_template("reader/embed.html", **context)
        return Rendered(html.encode(), "text/html")

    response = send(
        key,
        etag,
        render,
        max_age=EMBED_MAX_AGE,
        private=source is LocaleSource.COOKIE,
        vary_language=source is LocaleSource.HEADERS,
    )
    response.headers["Content-Security-Policy"] = EMBED_CSP
    return response


def story_of(url: str) -> tuple[str, str | None] | None:
    """Return (slug, lang) when `url` is one of our story (or embed) URLs, else None."""
    parts = urlsplit(url.strip())
    ours = urlsplit(url_for("reader.index", _external=True))
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != ours.netloc.lower():
        return None
    prefix = ours.path.rstrip("/") + "/stories/"
    if not parts.path.startswith(prefix):
        return None
    slug, _, rest = parts.path[len(prefix) :].partition("/")
    if not possible_slug(slug) or rest not in ("", "embed"):
        return None
    lang = (parse_qs(parts.query).get("lang") or [""])[0]
    return slug, lang if lang in LOCALES else None


def iframe_html(src: str, title: str, width: int, height: int) -> str:
    """Return the oEmbed `html`: the iframe alone (the resize listener is in PARTNERS.md)."""
    return (
        f'<iframe src="{escape(src)}" width="{width}" height="{height}" title="{escape(title)}"'
        ' frameborder="0" loading="lazy" data-liveblog-embed></iframe>'
    )


def _oembed_error(status: int, code: str, message: str) -> Response:
    response = json_error(status, code, message)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/oembed")
def oembed() -> Response:
    """Answer oEmbed 1.0 for a story URL: a `rich` iframe of its embed (JSON only)."""
    if request.args.get("format", "json") != "json":
        return _oembed_error(501, "not_implemented", gettext("Only format=json is offered."))
    maxwidth = int_arg("maxwidth", WIDTH, 1)
    maxheight = int_arg("maxheight", HEIGHT, 1)
    found = story_of(request.args.get("url", ""))
    if found is None:
        return _oembed_error(404, "not_found", gettext("That is not the address of a story here."))
    slug, lang = found
    try:
        with runtime().db.read() as session:
            story: Story = require_story(session, slug)
    except LiveblogError as error:
        return _oembed_error(404, "not_found", describe(error))
    width, height = min(WIDTH, maxwidth), min(HEIGHT, maxheight)
    src = url_for("embed.embed", slug=story.slug, lang=lang or story.language, _external=True)
    body: dict[str, Any] = {
        "version": "1.0",
        "type": "rich",
        "html": iframe_html(src, story.title, width, height),
        "width": width,
        "height": height,
        "title": story.title,
        "provider_name": SITE_NAME,
        "provider_url": url_for("reader.index", _external=True),
        "cache_age": OEMBED_MAX_AGE,
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = f"public, max-age={OEMBED_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


#: The listener a host page adds once: it sizes every embed iframe from its messages.
RESIZE_LISTENER = (
    "<script>\n"
    'window.addEventListener("message", function (e) {\n'
    '  if (e.origin !== "%s" || !e.data || e.data.type !== "liveblog:embed-height") return;\n'
    '  document.querySelectorAll("iframe[data-liveblog-embed]").forEach(function (f) {\n'
    '    if (f.contentWindow === e.source) f.style.height = e.data.height + "px";\n'
    "  });\n"
    "});\n"
    "</script>"
)


def embed_snippet(story: Story, lang: str) -> str:
    """Return the code a partner pastes: the iframe and the resize listener."""
    src = url_for("embed.embed", slug=story.slug, lang=lang, _external=True)
    parts = urlsplit(src)
    frame = iframe_html(src, story.title, WIDTH, HEIGHT).replace(
        f'width="{WIDTH}"', 'width="100%"'
    )
    return frame + "\n" + RESIZE_LISTENER % f"{parts.scheme}://{parts.netloc}"
