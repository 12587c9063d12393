"""How public renders leave the process: the render cache, encodings, ETags and caching.

Pages and feeds are rendered once per (kind, story, last event seq, language, page, base URL,
minute) and kept in the process's RenderCache; each is compressed once per encoding. Every
answer is cacheable by a shared cache (`public`) unless the request carries our own session
cookie, or its language came from our language cookie rather than the URL. `Vary` names
`Accept-Encoding` and, when the language came from the request's headers,
`Accept-Language`, never `Cookie`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from enum import Enum
from typing import Any

from flask import Flask, Response, current_app, request

from ..i18n import LOCALE_COOKIE, LOCALES
from ..renders import ENCODINGS, RenderCache, Rendered


class LocaleSource(Enum):
    """Where the request's language came from."""

    URL = "url"
    COOKIE = "cookie"
    HEADERS = "headers"  # Accept-Language or the story's own language


def init_app(app: Flask) -> None:
    """Give the app its render cache, sized by configuration."""
    app.extensions["liveblog.renders"] = RenderCache(
        max_entries=int(app.config.get("LIVEBLOG_RENDER_CACHE_ENTRIES", 256)),
        max_bytes=int(app.config.get("LIVEBLOG_RENDER_CACHE_BYTES", 64 * 1024 * 1024)),
    )


def render_cache() -> RenderCache:
    """Return this process's render cache."""
    cache: RenderCache = current_app.extensions["liveblog.renders"]
    return cache


def locale_source() -> LocaleSource:
    """Tell where select_locale took this request's language from."""
    if request.args.get("lang") in LOCALES:
        return LocaleSource.URL
    if request.cookies.get(LOCALE_COOKIE) in LOCALES:
        return LocaleSource.COOKIE
    return LocaleSource.HEADERS


def lang_args(locale: str) -> dict[str, Any]:
    """Return {"lang": locale} when the reader chose it, for links that stay cacheable."""
    return {"lang": locale} if locale_source() is not LocaleSource.HEADERS else {}


def has_our_session() -> bool:
    """Tell whether the request carries this site's session cookie."""
    return current_app.config["SESSION_COOKIE_NAME"] in request.cookies


def negotiate() -> str | None:
    """Return the content coding to send ("br", "gzip") or None for identity."""
    coding = request.accept_encodings.best_match(ENCODINGS)
    return coding if coding in ENCODINGS else None


def cache_control(max_age: int, private: bool) -> str:
    """Return the Cache-Control value of a public render."""
    if private:
        return "private, no-cache"
    return f"public, max-age={max_age}, stale-while-revalidate={max_age * 6}, stale-if-error=86400"


def send(
    key: Hashable,
    etag: str,
    render: Callable[[], Rendered],
    *,
    max_age: int,
    private: bool = False,
    vary_language: bool = False,
    status: int = 200,
) -> Response:
    """Answer with a cached render (rendering it on a miss), 304 when the client has it."""
    coding = negotiate()
    tagged = f"{etag}:{coding}" if coding else etag
    private = private or has_our_session()
    if status == 200 and request.if_none_match.contains(tagged):
        response = Response(status=304)
    else:
        cache = render_cache()
        rendered = cache.get(key, render)
        if coding:
            known = coding in rendered.encoded
            body = rendered.encode(coding)
            if not known:
                cache.trim()
        else:
            body = rendered.body
        response = Response(body, status=status, mimetype=rendered.mimetype)
        if coding:
            response.headers["Content-Encoding"] = coding
    if status == 200:
        response.set_etag(tagged)
    response.headers["Cache-Control"] = cache_control(max_age, private)
    response.headers["Vary"] = (
        "Accept-Encoding, Accept-Language" if vary_language else "Accept-Encoding"
    )
    return response
