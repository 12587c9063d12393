"""What readers and partners fetch: the live page and the JSON Feed."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Hashable
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, render_template, request, url_for
from flask_babel import get_locale

from ..atom import MIME_TYPE as ATOM_MIME_TYPE
from ..atom import build_atom
from ..errors import N_, NotFound
from ..feed import MIME_TYPE, build_feed, feed_etag
from ..i18n import LOCALE_COOKIE, LOCALES
from ..models import Story
from ..payloads import dumps, rfc3339
from ..queries import all_stories, posts_page, require_story, story_post
from ..renders import Rendered
from ..runtime import runtime
from ..web import int_arg
from .delivery import LocaleSource, lang_args, locale_source, send
from .page import LANGUAGE_NAMES, Slice, page_context
from .page_meta import SITE_NAME
from .post_page import post_page_context
from .trust import load_briefing, status_lines

bp = Blueprint("reader", __name__)

PAGE_MAX_AGE = 5
POST_ID = re.compile(r"[a-z0-9]{1,32}")
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


def _base_url() -> str:
    """Return the base of this request's absolute URLs (part of every render's key)."""
    return url_for("reader.index", _external=True)


def _feed_page(
    story: Story, before: int | None, endpoint: str
) -> tuple[dict[str, Any], str | None]:
    """Return one JSON Feed page of the story and the next page's URL on `endpoint`."""
    page_size: int = current_app.config["LIVEBLOG_FEED_PAGE_SIZE"]
    with runtime().db.read() as session:
        posts = posts_page(session, story, before=before, limit=page_size + 1)
    next_url = next_json = None
    if len(posts) > page_size:
        posts = posts[:page_size]
        cursor = posts[-1].created_seq
        next_json = url_for(".feed", slug=story.slug, before=cursor, _external=True)
        next_url = url_for(endpoint, slug=story.slug, before=cursor, _external=True)
    doc = build_feed(
        story,
        posts,
        home_url=url_for(".story", slug=story.slug, _external=True),
        feed_url=url_for(".feed", slug=story.slug, _external=True),
        next_url=next_json,
        status_lines=status_lines(story.language),
    )
    return doc, next_url


def _send_feed(slug: str, kind: str, render: Callable[[Story, int | None], Rendered]) -> Response:
    """Answer one feed page of a kind ("feed", "atom") through the render cache."""
    max_age: int = current_app.config["LIVEBLOG_FEED_MAX_AGE"]
    before = int_arg("before", 0, 1) if "before" in request.args else None
    with runtime().db.read() as session:
        story = require_story(session, slug)
    page_key = f"b{before}" if before else "top"
    etag = feed_etag(story, page_key if kind == "feed" else f"{kind}-{page_key}")
    key = (kind, story.id, story.last_seq, before, _base_url())
    # No database session is held while this request waits for someone else's render.
    response = send(key, etag, lambda: render(story, before), max_age=max_age)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/stories/<slug>/feed.json")
def feed(slug: str) -> Response:
    """Return the story's JSON Feed 1.1, newest first, paged with next_url."""

    def render(story: Story, before: int | None) -> Rendered:
        doc, _ = _feed_page(story, before, ".feed")
        return Rendered(dumps(doc).encode(), MIME_TYPE)

    return _send_feed(slug, "feed", render)


@bp.get("/stories/<slug>/feed.atom")
def atom(slug: str) -> Response:
    """Return the story's Atom 1.0 feed: the JSON Feed's items, paged with rel=next."""

    def render(story: Story, before: int | None) -> Rendered:
        doc, next_url = _feed_page(story, before, ".atom")
        self_url = url_for(".atom", slug=slug, before=before, _external=True)
        xml = build_atom(
            doc, self_url=self_url, next_url=next_url, updated=rfc3339(story.updated_at) or ""
        )
        return Rendered(xml, ATOM_MIME_TYPE)

    return _send_feed(slug, "atom", render)


def _page_private(locale_from: LocaleSource) -> bool:
    """Tell whether a page answer must stay out of shared caches."""
    return locale_from is LocaleSource.COOKIE


def _send_page(
    key: Hashable,
    etag: str,
    render: Callable[[], Rendered],
    source: LocaleSource,
    status: int = 200,
) -> Response:
    """Send a cached HTML page with the reader pages' caching rules."""
    response = send(
        key,
        etag,
        render,
        max_age=PAGE_MAX_AGE,
        private=_page_private(source),
        vary_language=source is LocaleSource.HEADERS,
        status=status,
    )
    return _remember_language(response)


def _remember_language(response: Response) -> Response:
    """Keep an explicit ?lang= in our cookie.

    The answer stays public: the cookie's value comes from the URL alone, so a shared
    cache that keeps it with the page hands every reader of that URL the same cookie.
    """
    asked = request.args.get("lang")
    if asked in LOCALES and request.cookies.get(LOCALE_COOKIE) != asked:
        response.set_cookie(LOCALE_COOKIE, asked, max_age=365 * 86400, samesite="Lax")
    return response


@bp.get("/stories/<slug>")
def story(slug: str) -> Response:
    """Render one page of the reader's live page, complete without JavaScript.

    The first page holds the pinned posts and the newest others; `?before=<seq>` pages
    hold the next older ones, each reached from the page before by its rel=next link.
    `?order=oldest` turns it around: the first posts, then `&after=<seq>` the next ones.
    """
    page_size: int = current_app.config["LIVEBLOG_PAGE_SIZE"]
    oldest_first = request.args.get("order") == "oldest"
    name = "after" if oldest_first else "before"
    cursor = int_arg(name, 0, 1) if name in request.args else None
    with runtime().db.read() as session:
        story = require_story(session, slug)
    g.story_language = story.language
    locale = str(get_locale())
    source = locale_source()
    lang = lang_args(locale)
    bucket = int(time.time() // PAGE_FRESHNESS)
    page_key = f"{'a' if oldest_first else 'b'}{cursor or ''}"
    etag = f"page-{story.id}-{story.last_seq}-{locale}-{page_key}-{bucket}"
    key = (story.id, story.last_seq, locale, page_key, bucket, bool(lang), _base_url())

    def render() -> Rendered:
        with runtime().db.read() as session:
            pinned = [] if cursor else posts_page(session, story, pinned=True)
            posts = posts_page(
                session,
                story,
                before=None if oldest_first else cursor,
                after=cursor if oldest_first else None,
                limit=page_size + 1,
                pinned=False,
                oldest_first=oldest_first,
            )
            box = load_briefing(session, story)
        next_cursor = None
        if len(posts) > page_size:
            posts = posts[:page_size]
            next_cursor = posts[-1].created_seq
        page = Slice(pinned, posts, cursor, next_cursor, oldest_first)
        context = page_context(story, page, locale, box, lang)
        html = render_template("reader/story.html", **context)
        return Rendered(html.encode(), "text/html")

    # No database session is held while this request waits for someone else's render.
    return _send_page(key, etag, render, source)


@bp.get("/stories/<slug>/posts/<post_id>")
def permalink(slug: str, post_id: str) -> Response:
    """Render one post's own page: 200 while it lives, 410 once deleted, 404 if unknown."""
    with runtime().db.read() as session:
        story = require_story(session, slug)
        g.story_language = story.language
        post = story_post(session, story, post_id) if POST_ID.fullmatch(post_id) else None
    if post is None:
        raise NotFound(N_("There is no such update in this story."))
    locale = str(get_locale())
    source = locale_source()
    lang = lang_args(locale)
    gone = post.deleted_at is not None
    bucket = int(time.time() // PAGE_FRESHNESS)
    etag = f"post-{post.id}-{story.last_seq}-{locale}-{bucket}"
    key = ("post", post.id, story.last_seq, locale, bucket, bool(lang), _base_url())

    def render() -> Rendered:
        context = post_page_context(story, post, locale, lang)
        html = render_template("reader/permalink.html", **context)
        return Rendered(html.encode(), "text/html")

    return _send_page(key, etag, render, source, status=410 if gone else 200)


@bp.get("/")
def index() -> Response:
    """List the stories, live ones first."""
    with runtime().db.read() as session:
        stories = all_stories(session)
        html = render_template(
            "reader/index.html", stories=stories, lang_args=lang_args(str(get_locale()))
        )
    return Response(html, mimetype="text/html")
