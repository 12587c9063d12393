"""Sanitize live-blog post HTML with bleach: the only place post HTML is cleaned.

This module does no I/O.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, MutableMapping
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Final, cast

from bleach.html5lib_shim import BleachHTMLParser, convert_entities
from bleach.linkifier import LinkifyFilter, build_url_re
from bleach.sanitizer import Cleaner

from .embeds import EMBED_ID_RE, FIGURE_CLASSES, PROVIDERS

if TYPE_CHECKING:
    from html5lib.treewalkers.base import TreeWalker

__all__ = ["MAX_BODY_CHARS", "clean_html", "plain_text"]

#: Maximum length of the raw (unsanitized) post body; callers enforce it.
MAX_BODY_CHARS: int = 20000

_Token = dict[str, Any]
_Attrs = MutableMapping[tuple[str | None, str], str]

#: Elements kept in the output.
_ALLOWED_TAGS: Final[frozenset[str]] = frozenset(
    {
        "p", "br", "a", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li",
        "blockquote", "q", "cite", "figure", "figcaption", "img", "h2", "h3",
        "small", "code", "pre", "hr",
    }
)  # fmt: skip

#: Elements removed together with everything inside them (not just unwrapped).
_DROP_WITH_CONTENT: Final[frozenset[str]] = frozenset(
    {
        "script", "style", "iframe", "svg", "math", "noscript", "template",
        "object", "embed", "textarea", "title", "xmp", "noembed", "noframes",
        "plaintext",
    }
)  # fmt: skip

#: Attributes kept per element; anything else (style, on*, srcset ...) goes.
_ALLOWED_ATTRIBUTES: Final[dict[str, frozenset[str]]] = {
    "a": frozenset({"href"}),
    "blockquote": frozenset({"cite"}),
    "img": frozenset({"src", "alt", "width", "height"}),
    # Embeds and link cards (embeds.py); each value is checked in `_allow_attribute`.
    "figure": frozenset({"class", "data-provider", "data-id"}),
}

#: URL-valued attributes and the only scheme prefixes they may start with.
_URL_SCHEMES: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("a", "href"): ("http:", "https:", "mailto:"),
    ("blockquote", "cite"): ("http:", "https:"),
    ("img", "src"): ("http:", "https:"),
}

_PROTOCOLS: Final[frozenset[str]] = frozenset({"http", "https", "mailto"})
_REL: Final[str] = "nofollow noopener noreferrer"
_NO_LINKIFY_INSIDE: Final[frozenset[str]] = frozenset({"pre", "code"})
_DIMENSION_RE: Final[re.Pattern[str]] = re.compile(r"[0-9]{1,5}")
# Same character class bleach strips before looking at a URL's scheme.
_URL_JUNK_RE: Final[re.Pattern[str]] = re.compile(r"[`\x00-\x20\x7f-\xa0\s]+")
_LINKIFY_URL_RE: Final[re.Pattern[str]] = build_url_re(protocols=("http", "https"))
_HEADINGS: Final[frozenset[str]] = frozenset({"h2", "h3"})
_WHITESPACE_RE: Final[re.Pattern[str]] = re.compile(r"\s+")
_TEXT_BREAK_TAGS: Final[frozenset[str]] = frozenset(
    {
        "p", "br", "li", "ul", "ol", "blockquote", "figure", "figcaption",
        "img", "h2", "h3", "pre", "hr",
    }
)  # fmt: skip


def _local_name(tag: str) -> str:
    """Return an etree tag without its ``{namespace}`` prefix."""
    return tag.rpartition("}")[2].lower()


def _url_allowed(tag: str, name: str, value: str) -> bool:
    """Tell whether a URL attribute value starts with a permitted scheme."""
    schemes = _URL_SCHEMES.get((tag, name))
    if schemes is None:
        return False
    # Decode exactly the character references the serializer leaves intact
    # (ambiguous ones such as "&#106" without ";" are re-escaped as "&amp;"),
    # then drop whitespace/control characters a browser may ignore.
    normalized = _URL_JUNK_RE.sub("", convert_entities(value)).lower()
    return normalized.startswith(schemes)


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    """Decide whether one attribute of an allowed element is kept."""
    if name not in _ALLOWED_ATTRIBUTES.get(tag, frozenset()):
        return False
    if (tag, name) in _URL_SCHEMES:
        return _url_allowed(tag, name, value)
    if name in ("width", "height"):
        return _DIMENSION_RE.fullmatch(value.strip()) is not None
    if name == "class":
        return value in FIGURE_CLASSES
    if name == "data-provider":
        return value in PROVIDERS
    if name == "data-id":
        return EMBED_ID_RE.fullmatch(value) is not None
    return True


def _append_text(parent: ET.Element, position: int, text: str | None) -> None:
    """Append text at a child position of ``parent`` (etree text/tail model)."""
    if not text:
        return
    if position == 0:
        parent.text = (parent.text or "") + text
    else:
        sibling = parent[position - 1]
        sibling.tail = (sibling.tail or "") + text


def _unwrap(parent: ET.Element, index: int) -> None:
    """Replace ``parent[index]`` with its own text and children."""
    child = parent[index]
    grandchildren = list(child)
    _append_text(parent, index, child.text)
    parent.remove(child)
    for offset, grandchild in enumerate(grandchildren):
        parent.insert(index + offset, grandchild)
    _append_text(parent, index + len(grandchildren), child.tail)


def _prune(root: ET.Element) -> None:
    """Remove comments and dangerous subtrees in place, then normalize."""
    stack = [root]
    while stack:
        parent = stack.pop()
        children = list(parent)
        for index in range(len(children) - 1, -1, -1):
            tag = children[index].tag
            # Non-string tags are comments and processing instructions.
            if not isinstance(tag, str) or _local_name(tag) in _DROP_WITH_CONTENT:
                _append_text(parent, index, children[index].tail)
                parent.remove(children[index])
            else:
                stack.append(children[index])
    _normalize(root)


def _normalize(root: ET.Element) -> None:
    """Fix trees whose serialization would re-parse differently."""
    for element in list(root.iter()):
        if element.tag in _HEADINGS:
            # A parser closes an open heading at a heading start tag, so a
            # heading directly inside a heading cannot survive a round trip.
            index = 0
            while index < len(element):
                if element[index].tag in _HEADINGS:
                    _unwrap(element, index)
                else:
                    index += 1
        elif element.tag == "pre" and element.text and element.text.startswith("\n"):
            # A parser drops one newline right after <pre>; double it so the
            # output re-parses to the same text.
            element.text = "\n" + element.text


class _PruningParser(BleachHTMLParser):
    """Bleach parser that also drops dangerous elements with their content."""

    def parseFragment(self, stream: Any, *args: Any, **kwargs: Any) -> Any:
        """Parse a fragment and prune it before bleach walks the tree."""
        fragment = super().parseFragment(stream, *args, **kwargs)
        if isinstance(fragment, ET.Element):
            _prune(fragment)
        return fragment


def _set_rel(attrs: _Attrs, new: bool = False, /) -> _Attrs:
    """Force the link ``rel`` and drop ``target``; unlink bad new URLs."""
    href = attrs.get((None, "href"))
    if new and href is not None and not _url_allowed("a", "href", href):
        del attrs[(None, "href")]
    attrs.pop((None, "target"), None)
    attrs[(None, "rel")] = _REL
    return attrs


class _Linkifier(LinkifyFilter):
    """Linkify bare URLs, never inside ``<pre>`` or ``<code>`` at any depth."""

    def __init__(self, source: Iterable[_Token]) -> None:
        """Wrap the sanitized token stream."""
        super().__init__(
            source=cast("TreeWalker", source),
            callbacks=[_set_rel],
            skip_tags=None,
            parse_email=False,
            url_re=_LINKIFY_URL_RE,
        )
        self._protected_depth = 0
        self.source = self._track_depth(source)

    def _track_depth(self, source: Iterable[_Token]) -> Iterator[_Token]:
        """Yield tokens while counting open ``<pre>``/``<code>`` elements."""
        for token in source:
            if token.get("name") in _NO_LINKIFY_INSIDE:
                if token["type"] == "StartTag":
                    self._protected_depth += 1
                elif token["type"] == "EndTag":
                    self._protected_depth = max(0, self._protected_depth - 1)
            yield token

    def handle_links(self, src_iter: Iterable[_Token]) -> Iterator[_Token]:
        """Linkify text tokens unless they sit inside pre/code."""
        if self._protected_depth:
            return iter(src_iter)
        return super().handle_links(src_iter)


def _new_cleaner() -> Cleaner:
    """Build a bleach Cleaner configured for live-blog posts."""
    cleaner = Cleaner(
        tags=_ALLOWED_TAGS,
        attributes=_allow_attribute,
        protocols=_PROTOCOLS,
        strip=True,
        strip_comments=True,
        filters=[_Linkifier],
    )
    # Let the drop-with-content elements reach the tree so they can be pruned
    # whole; bleach's own parser turns unknown tags into text too early.
    cleaner.parser = _PruningParser(
        tags=_ALLOWED_TAGS | _DROP_WITH_CONTENT,
        strip=True,
        consume_entities=False,
        namespaceHTMLElements=False,
    )
    # bleach only re-checks "&" in double-quoted attribute values; html5lib
    # would single-quote values containing '"', double-escaping entities.
    cleaner.serializer.use_best_quote_char = False
    return cleaner


_local = threading.local()


def _cleaner() -> Cleaner:
    """Return this thread's cleaner (bleach cleaners are not thread-safe)."""
    cleaner: Cleaner | None = getattr(_local, "cleaner", None)
    if cleaner is None:
        cleaner = _new_cleaner()
        _local.cleaner = cleaner
    return cleaner


def clean_html(raw: str) -> str:
    """Return ``raw`` as safe, allowlisted, linkified HTML (idempotent)."""
    if not raw or raw.isspace():
        return ""
    return _cleaner().clean(raw).strip()


class _TextExtractor(HTMLParser):
    """Collect text content, treating block boundaries as spaces."""

    def __init__(self) -> None:
        """Start with no collected text."""
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Separate words across block elements."""
        if tag in _TEXT_BREAK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        """Separate words across block elements."""
        if tag in _TEXT_BREAK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        """Keep a run of decoded text."""
        self.parts.append(data)


def plain_text(html: str, *, sanitized: bool = False) -> str:
    """Return the collapsed plain-text content of ``html``.

    Untrusted input is sanitized first; pass ``sanitized=True`` for a stored post body,
    which was cleaned on write, to skip the second (costly) pass on the read path.
    """
    cleaned = html if sanitized else clean_html(html)
    if not cleaned:
        return ""
    extractor = _TextExtractor()
    extractor.feed(cleaned)
    extractor.close()
    return _WHITESPACE_RE.sub(" ", "".join(extractor.parts)).strip()
