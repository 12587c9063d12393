"""Turn what a reporter typed (HTML, Markdown or plain text) into HTML for the one sanitizer.

The boundary: this module only converts. It never decides what is safe: every result goes
through `markup.clean_body` (bleach, with its bounds) before it is stored. Markdown's raw
HTML is off, so `<script>` typed in Markdown arrives at bleach as text. Paragraphs that are
only a URL become embeds or link cards (`embeds.expand`). No I/O, no Flask.
"""

from __future__ import annotations

import enum
import html
import re
from functools import cache
from typing import Final

from markdown_it import MarkdownIt

from .embeds import expand
from .errors import N_, Invalid, TooLarge
from .markup import clean_body
from .sanitize import MAX_BODY_CHARS

__all__ = ["MAX_HTML_CHARS", "TextFormat", "body_html", "render"]

#: The converted HTML may be this long before bleach sees it (Markdown adds tags).
MAX_HTML_CHARS: Final = 4 * MAX_BODY_CHARS

_BLANK_LINES: Final = re.compile(r"\n[ \t]*\n+")
# Markdown's escaped output: an image alone in its paragraph (the desk's image block).
_LONE_IMAGE: Final = re.compile(
    r'<p><img src="([^"<>]*)" alt="([^"<>]*)"(?: title="([^"<>]*)")? /></p>'
)
_CREDIT_MARK: Final = " — "
# A quote's last paragraph "— who" (or "-- who") is its attribution.
_ATTRIBUTION: Final = re.compile(r"<p>(?:—|--) ?([^<\n]+)</p>\n</blockquote>")


class TextFormat(enum.StrEnum):
    """How a post body was written."""

    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"


@cache
def _markdown() -> MarkdownIt:
    """Return the CommonMark renderer: raw HTML off, bare URLs linked, ~~strike~~ on."""
    return MarkdownIt("commonmark", {"html": False, "linkify": True}).enable(
        ["linkify", "strikethrough"]
    )


def _text_html(raw: str) -> str:
    """Return plain text as paragraphs: blank lines split them, single newlines break lines."""
    paragraphs = [p.strip() for p in _BLANK_LINES.split(raw) if p.strip()]
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line.strip()) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _figure(match: re.Match[str]) -> str:
    """Make a lone Markdown image a figure: its title is the caption, after " — " the credit."""
    src, alt, title = match.group(1), match.group(2), match.group(3) or ""
    caption, mark, credit = title.rpartition(_CREDIT_MARK)
    if not mark:
        caption, credit = title, ""
    small = f" <small>{credit}</small>" if credit and caption else f"<small>{credit}</small>"
    text = caption + (small if credit else "")
    figcaption = f"<figcaption>{text}</figcaption>" if text else ""
    return f'<figure><img src="{src}" alt="{alt}">{figcaption}</figure>'


def render(raw: str, fmt: TextFormat) -> str:
    """Return the (unsanitized) HTML for `raw` written in `fmt`, embeds expanded."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if fmt is TextFormat.MARKDOWN:
        converted = _LONE_IMAGE.sub(_figure, _markdown().render(text))
        converted = _ATTRIBUTION.sub(r"<p><cite>— \1</cite></p>\n</blockquote>", converted)
    elif fmt is TextFormat.TEXT:
        converted = _text_html(text)
    else:
        converted = text
    return expand(converted)


def parse_format(value: object) -> TextFormat:
    """Return the format a request names (absent: HTML), or refuse an unknown one."""
    if value is None:
        return TextFormat.HTML
    try:
        return TextFormat(value) if isinstance(value, str) else TextFormat("")
    except ValueError:
        raise Invalid("format", N_("The format must be one of: html, markdown, text.")) from None


def body_html(raw: str, fmt: TextFormat) -> str:
    """Return the sanitized HTML of a body written in `fmt`, within the body's bounds."""
    if len(raw) > MAX_BODY_CHARS:
        raise TooLarge(
            N_("The post body is longer than %(limit)d characters."), limit=MAX_BODY_CHARS
        )
    converted = render(raw, fmt)
    if len(converted) > MAX_HTML_CHARS:
        raise Invalid("body", N_("The post body grows too much once formatted; simplify it."))
    return clean_body(converted, max_chars=MAX_HTML_CHARS)


def warm() -> None:
    """Build the sanitizer and each format's renderer now, not in the first post's request.

    The first post of a process would otherwise pay for html5lib's imports and bleach's
    cleaner (about 25 ms here), and a breaking story's first update would reach readers late.
    """
    for fmt in TextFormat:
        body_html("Siaran *langsung* <b>dimulai</b> https://example.org", fmt)
