"""Recognize a paragraph that is only a URL and make it an embed or a link card.

The boundary: this works from the URL's text alone. It never fetches anything, and what it
writes holds no `<iframe>` or `<script>`: an embed is
`<figure class="embed" data-provider="youtube" data-id="…"><a href="…">…</a></figure>`,
which the reader page turns into a click-to-load card (`static/embeds.js`) and which is a
plain link without JavaScript and in feeds. Its output still goes through the sanitizer,
which keeps exactly these attributes with these values (`sanitize.py`). No I/O, no Flask.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

__all__ = ["EMBED_ID_RE", "FRAME_SOURCES", "PROVIDERS", "Embed", "classify", "expand"]

#: Provider keys (the `data-provider` values) and the names readers see.
PROVIDERS: Final[dict[str, str]] = {
    "x": "X",
    "youtube": "YouTube",
    "instagram": "Instagram",
    "tiktok": "TikTok",
    "facebook": "Facebook",
}
#: Where `static/embeds.js` loads players and posts from: the CSP's whole `frame-src`.
FRAME_SOURCES: Final = (
    "https://www.youtube-nocookie.com",
    "https://platform.twitter.com",
    "https://www.instagram.com",
    "https://www.tiktok.com",
    "https://www.facebook.com",
)
#: What a `data-id` may look like (post ids, video ids, short codes).
EMBED_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
FIGURE_CLASSES: Final = frozenset({"embed", "link-card"})

# The content may not hold "<" other than one link: the scan stops at the next tag, so a
# body of unclosed paragraphs costs linear time.
_PARAGRAPH_RE: Final = re.compile(r"<p>([^<]*|\s*<a\s[^<>]*>[^<>]*</a>\s*)</p>", re.I)
_LINK_RE: Final = re.compile(r'<a href="([^"<>]*)"[^<>]*>([^<>]*)</a>', re.I)
_DIGITS_RE: Final = re.compile(r"[0-9]{1,25}")
_YOUTUBE_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{11}")
_MAX_URL: Final = 2000


@dataclass(frozen=True)
class Embed:
    """A provider's post or video named by a URL."""

    provider: str
    id: str
    url: str


def _host(netloc: str) -> str:
    host = netloc.lower().rsplit("@", 1)[-1].split(":", 1)[0]
    for prefix in ("www.", "m.", "mobile.", "vm."):
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def _x(parts: list[str]) -> str | None:
    # /<user>/status/<id>[/photo/1], also /i/web/status/<id>
    for index in (1, 2):
        if len(parts) > index + 1 and parts[index] == "status":
            return parts[index + 1] if _DIGITS_RE.fullmatch(parts[index + 1]) else None
    return None


def _youtube(host: str, parts: list[str], query: dict[str, list[str]]) -> str | None:
    if host == "youtu.be":
        candidate = parts[0] if parts else ""
    elif parts == ["watch"]:
        candidate = (query.get("v") or [""])[0]
    elif len(parts) == 2 and parts[0] in ("shorts", "live", "embed"):
        candidate = parts[1]
    else:
        return None
    return candidate if _YOUTUBE_ID_RE.fullmatch(candidate) else None


def _instagram(parts: list[str]) -> str | None:
    if len(parts) >= 2 and parts[0] in ("p", "reel", "tv") and EMBED_ID_RE.fullmatch(parts[1]):
        return parts[1]
    return None


def _tiktok(parts: list[str]) -> str | None:
    if len(parts) == 3 and parts[0].startswith("@") and parts[1] == "video":
        return parts[2] if _DIGITS_RE.fullmatch(parts[2]) else None
    return None


def _facebook(parts: list[str], query: dict[str, list[str]]) -> str | None:
    if len(parts) >= 3 and parts[1] in ("posts", "videos"):
        candidate = parts[2]
    elif parts in (["watch"], ["permalink.php"], ["story.php"]):
        candidate = (query.get("v") or query.get("story_fbid") or [""])[0]
    else:
        return None
    return candidate if EMBED_ID_RE.fullmatch(candidate) else None


def classify(url: str) -> Embed | None:
    """Return the embed a URL names, or None if it is not a known provider's post."""
    try:
        split = urlsplit(url)
    except ValueError:
        return None
    if split.scheme not in ("http", "https"):
        return None
    host = _host(split.netloc)
    parts = [part for part in split.path.split("/") if part]
    query = parse_qs(split.query)
    found: tuple[str, str | None]
    if host in ("x.com", "twitter.com"):
        found = ("x", _x(parts))
    elif host in ("youtube.com", "youtu.be", "youtube-nocookie.com"):
        found = ("youtube", _youtube(host, parts, query))
    elif host == "instagram.com":
        found = ("instagram", _instagram(parts))
    elif host == "tiktok.com":
        found = ("tiktok", _tiktok(parts))
    elif host in ("facebook.com", "fb.com"):
        found = ("facebook", _facebook(parts, query))
    else:
        return None
    provider, ident = found
    return Embed(provider, ident, url) if ident else None


def _lone_url(inner: str) -> str | None:
    """Return the URL a paragraph's content consists of, or None."""
    inner = inner.strip()
    link = _LINK_RE.fullmatch(inner)
    if link is not None:
        href, text = html.unescape(link.group(1)), html.unescape(link.group(2)).strip()
        url = href if text in (href, href.rstrip("/")) else None
    elif "<" in inner:
        return None
    else:
        url = html.unescape(inner).strip()
    if not url or len(url) > _MAX_URL or any(c.isspace() for c in url):
        return None
    lower = url.lower()
    if not (lower.startswith(("https://", "http://"))):
        return None
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    return url if netloc and "@" not in netloc else None


def _figure(url: str) -> str:
    href = html.escape(url, quote=True)
    embed = classify(url)
    if embed is not None:
        return (
            f'<figure class="embed" data-provider="{embed.provider}" data-id="{embed.id}">'
            f'<a href="{href}">{href}</a></figure>'
        )
    split = urlsplit(url)
    host = html.escape(_host(split.netloc) or split.netloc)
    path = split.path.rstrip("/")
    shown = html.escape(path if len(path) <= 80 else path[:79] + "…")
    small = f" <small>{shown}</small>" if shown else ""
    return (
        f'<figure class="link-card"><a href="{href}"><strong>{host}</strong>{small}</a></figure>'
    )


def _replace(match: re.Match[str]) -> str:
    url = _lone_url(match.group(1))
    return match.group(0) if url is None else _figure(url)


def expand(body: str) -> str:
    """Replace every paragraph that is only a URL with an embed or a link card."""
    if "<p" not in body and "<P" not in body:
        return body
    return _PARAGRAPH_RE.sub(_replace, body)
