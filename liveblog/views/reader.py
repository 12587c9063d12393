"""What readers and partners fetch: the live page and the JSON Feed."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from flask_babel import get_locale

from ..feed import MIME_TYPE, build_feed, feed_etag
from ..i18n import LOCALE_COOKIE, LOCALES
from ..payloads import dumps
from ..queries import all_stories, posts_page, require_story
from ..runtime import runtime
from ..web import int_arg
from .page import LANGUAGE_NAMES, SITE_NAME, page_context

bp = Blueprint("reader", __name__)

PAGE_MAX_AGE = 5
#: The page shows relative times ("5 minutes ago"): its ETag changes at least this often.
PAGE_FRESHNESS = 60


def lang_url(code: str) -> str:
    """Return the current path with ?lang=<code>, keeping the other query parameters."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return f"{request.path}?{urlencode([*args, ('lang', code)])}"


@bp.app_context_processor
def _page_globals() -> dict[str, Any]:
    """Give every page its locale (for <html lang>) and the language switch."""
    return {
        "locale": str(get_locale() or "en"),
        "lang_url": lang_url,
        "language_names": LANGUAGE_NAMES,
        "site_name": SITE_NAME,
    }


def _cache(response: Response, etag: str, max_age: int) -> Response:
    """Make an answer cacheable by a CDN for a few seconds, then revalidated by ETag."""
    response.set_etag(etag)
    response.headers["Cache-Control"] = (
        f"public, max-age={max_age}, stale-while-revalidate={max_age * 6}, stale-if-error=86400"
    )
    return response


def _not_modified(etag: str, max_age: int) -> Response | None:
    if request.if_none_match.contains(etag):
        return _cache(Response(status=304), etag, max_age)
    return None


@bp.get("/stories/<slug>/feed.json")
def feed(slug: str) -> Response:
    """Return the story's JSON Feed 1.1, newest first, paged with next_url."""
    page_size: int = current_app.config["LIVEBLOG_FEED_PAGE_SIZE"]
    max_age: int = current_app.config["LIVEBLOG_FEED_MAX_AGE"]
    before = int_arg("before", 0, 1) if "before" in request.args else None
    with runtime().db.read() as session:
        story = require_story(session, slug)
        etag = feed_etag(story, f"b{before}" if before else "top")
        unchanged = _not_modified(etag, max_age)
        if unchanged is not None:
            return unchanged
        posts = posts_page(session, story, before=before, limit=page_size + 1)
        next_url = None
        if len(posts) > page_size:
            posts = posts[:page_size]
            next_url = url_for(".feed", slug=slug, before=posts[-1].created_seq, _external=True)
        doc = build_feed(
            story,
            posts,
            home_url=url_for(".story", slug=slug, _external=True),
            feed_url=url_for(".feed", slug=slug, _external=True),
            next_url=next_url,
        )
    response = Response(dumps(doc), mimetype=MIME_TYPE)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return _cache(response, etag, max_age)


@bp.get("/stories/<slug>")
def story(slug: str) -> Response:
    """Render the reader's live page, complete without JavaScript."""
    with runtime().db.read() as session:
        story = require_story(session, slug)
        g.story_language = story.language
        locale = str(get_locale())
        bucket = int(time.time() // PAGE_FRESHNESS)
        etag = f"page-{story.id}-{story.last_seq}-{locale}-{bucket}"
        response = _not_modified(etag, PAGE_MAX_AGE)
        if response is None:
            posts = posts_page(session, story)
            html = render_template("reader/story.html", **page_context(story, posts, locale))
            response = _cache(Response(html, mimetype="text/html"), etag, PAGE_MAX_AGE)
    response.headers["Vary"] = "Accept-Language, Cookie"
    asked = request.args.get("lang")
    if asked in LOCALES and request.cookies.get(LOCALE_COOKIE) != asked:
        # Remember the reader's choice; an answer that sets a cookie is not for shared caches.
        response.set_cookie(LOCALE_COOKIE, asked, max_age=365 * 86400, samesite="Lax")
        response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/")
def index() -> Response:
    """List the stories, live ones first."""
    with runtime().db.read() as session:
        stories = all_stories(session)
        html = render_template("reader/index.html", stories=stories)
    return Response(html, mimetype="text/html")
