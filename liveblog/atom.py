"""Write a story's Atom 1.0 feed from its JSON Feed document (contract section 8).

The Atom feed is a second rendering of the very same page of items `feed.build_feed`
returns: same ids, links, titles, dates, authors and HTML content (status line included),
and the same paging (`rel="next"`). This module does no I/O and imports nothing from Flask.
"""

from __future__ import annotations

import re
from typing import Any

from feedgen.feed import FeedGenerator

MIME_TYPE = "application/atom+xml"
#: What XML 1.0 cannot hold (control characters, U+FFFE, U+FFFF, lone surrogates), though
#: stored text may: each becomes U+FFFD rather than the whole feed failing.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> Any:
    """Return a string (or every string in a dict or list) with non-XML characters replaced."""
    if isinstance(value, str):
        return _NOT_XML.sub("\ufffd", value)
    if isinstance(value, dict):
        return {key: xml_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [xml_text(item) for item in value]
    return value


def build_atom(doc: dict[str, Any], *, self_url: str, next_url: str | None, updated: str) -> bytes:
    """Return the Atom XML of one JSON Feed page; `updated` is the story's RFC 3339 change."""
    doc = xml_text(doc)
    fg = FeedGenerator()
    fg.id(self_url.split("?", 1)[0])
    fg.title(doc["title"])
    fg.language(doc["language"])
    fg.link(href=doc["home_page_url"], rel="alternate", type="text/html")
    fg.link(href=self_url, rel="self", type=MIME_TYPE)
    fg.link(href=doc["feed_url"], rel="alternate", type="application/feed+json")
    if next_url:
        fg.link(href=next_url, rel="next", type=MIME_TYPE)
    if doc.get("description"):
        fg.subtitle(doc["description"])
    fg.generator("liveblog")
    # Every date here is RFC 3339 in UTC with the same precision: they sort as strings.
    fg.updated(max([updated, *(item["date_modified"] for item in doc["items"])]))
    for item in doc["items"]:
        entry = fg.add_entry(order="append")
        entry.id(item["url"])
        entry.title(item["title"])
        entry.link(href=item["url"], rel="alternate", type="text/html")
        for author in item["authors"]:
            entry.author({"name": author["name"]})
        entry.published(item["date_published"])
        entry.updated(item["date_modified"])
        entry.content(item["content_html"], type="html")
        if item.get("summary"):
            entry.summary(item["summary"])
    xml: bytes = fg.atom_str(pretty=False)
    return xml
