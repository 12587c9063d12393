"""Bound what cleaning a post body costs: a cheap scan before bleach, a size check after.

bleach (html5lib) spends time per element and, for deeply nested lists, per element times
depth: `"<ul><li>" * 2500` (20 KB) costs seconds. Its output can also outgrow its input
(`"<a>" * 6666` closes every tag and adds `rel` to each). `clean_body` refuses such input
with a 422 before bleach sees it, and refuses an output more than `MAX_GROWTH` times the
input. This module does no I/O and imports nothing from Flask.
"""

from __future__ import annotations

import re
from typing import Final

from .errors import N_, Invalid, TooLarge
from .sanitize import MAX_BODY_CHARS, clean_html

__all__ = ["GROWTH_SLACK", "MAX_DEPTH", "MAX_GROWTH", "MAX_TAGS", "clean_body", "scan"]

#: Most tags (start, end, comments) a body may hold; a real post has a few hundred.
MAX_TAGS: Final = 2000
#: Deepest element nesting a body may reach (estimated from above, see `scan`).
MAX_DEPTH: Final = 64
#: The cleaned body may be at most this many times the raw one, plus `GROWTH_SLACK`.
MAX_GROWTH: Final = 3
GROWTH_SLACK: Final = 2048

_TAG_RE: Final = re.compile(r"<(?:(/?)([A-Za-z][^\s/>]*)|[!?])")
_VOID: Final = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "param", "source", "track", "wbr", "keygen", "basefont", "bgsound", "frame",
    }
)  # fmt: skip
#: Elements html5lib lets an end tag or a sibling's start tag close implicitly (not scopes).
_FORMATTING: Final = frozenset(
    {
        "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike",
        "strong", "tt", "u",
    }
)  # fmt: skip
_OPTIONAL_END: Final = frozenset({"p", "li", "dd", "dt"})
#: Start tags that close an open <p> (html5lib: "close a p element in button scope").
_CLOSES_P: Final = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir",
        "div", "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup",
        "main", "menu", "nav", "ol", "p", "section", "summary", "ul", "h1", "h2", "h3",
        "h4", "h5", "h6", "pre", "listing", "form", "li", "dd", "dt", "table", "hr",
    }
)  # fmt: skip
_HEADINGS: Final = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PASS_END: Final = _FORMATTING | _OPTIONAL_END
_PASS_SIBLING: Final = _FORMATTING | {"p"}
_LI: Final = frozenset({"li"})
_DD_DT: Final = frozenset({"dd", "dt"})
_P: Final = frozenset({"p"})
_A: Final = frozenset({"a"})


def _close(stack: list[str], targets: frozenset[str], passing: frozenset[str]) -> None:
    """Pop down to the topmost element in `targets` if only `passing` elements lie above it."""
    for index in range(len(stack) - 1, -1, -1):
        name = stack[index]
        if name in targets:
            del stack[index:]
            return
        if name not in passing:
            return


def scan(raw: str) -> tuple[int, int]:
    """Return (tags, depth): the number of tags and an upper estimate of the nesting depth.

    The estimate follows html5lib's implied closes only where they are certain (an end tag
    or a sibling `<li>`/`<p>` closes an element when nothing but formatting elements or
    elements with optional end tags lies above it); anything else counts as still open.
    So sloppy markup may look deeper than it is, never shallower.
    """
    stack: list[str] = []
    tags = depth = 0
    for match in _TAG_RE.finditer(raw):
        tags += 1
        name = (match.group(2) or "").lower()
        if not name:
            continue  # a comment, doctype or processing instruction
        if match.group(1):
            _close(stack, frozenset({name}), _PASS_END)
            continue
        if name in ("li", "dd", "dt"):
            _close(stack, _LI if name == "li" else _DD_DT, _PASS_SIBLING)
        if name in _CLOSES_P:
            _close(stack, _P, _FORMATTING)
        if name == "a":  # html5lib's adoption agency closes an open <a> first
            _close(stack, _A, _FORMATTING)
        if name in _HEADINGS and stack and stack[-1] in _HEADINGS:
            stack.pop()
        if name not in _VOID:
            stack.append(name)
            depth = max(depth, len(stack))
    return tags, depth


def clean_body(raw: str, *, max_chars: int = MAX_BODY_CHARS) -> str:
    """Return the sanitized body, refusing input too large, too complex or growing too much.

    `max_chars` is larger for HTML converted from Markdown or text, whose source was held to
    `MAX_BODY_CHARS` already (see `formats.body_html`).
    """
    if len(raw) > max_chars:
        raise TooLarge(
            N_("The post body is longer than %(limit)d characters."), limit=MAX_BODY_CHARS
        )
    tags, depth = scan(raw)
    if tags > MAX_TAGS:
        raise Invalid("body", N_("The post body has more than %(limit)d tags."), limit=MAX_TAGS)
    if depth > MAX_DEPTH:
        raise Invalid(
            "body",
            N_("The post body nests elements more than %(limit)d deep; close some tags."),
            limit=MAX_DEPTH,
        )
    body = clean_html(raw)
    if len(body) > MAX_GROWTH * len(raw) + GROWTH_SLACK:
        raise Invalid(
            "body",
            N_("The post body grows too much once cleaned (unclosed tags?); simplify it."),
        )
    return body
