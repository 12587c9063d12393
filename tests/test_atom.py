"""The story's Atom 1.0 feed (contract section 8), read as partners read it: with feedparser."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
from conftest import Newsroom, make_app, rt

from liveblog.feed import TITLE_MAX, item_title

ATOM_MIME = "application/atom+xml"


def parse(newsroom: Newsroom, path: str) -> Any:
    response = newsroom.client.get(path)
    assert response.status_code == 200
    assert response.mimetype == ATOM_MIME
    parsed = feedparser.parse(response.get_data())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_item_title_is_the_first_sentence_cut_at_a_word() -> None:
    assert item_title("Polisi tiba. Massa bubar pukul 14.00.") == "Polisi tiba."
    assert item_title("Apa yang terjadi? Belum jelas.") == "Apa yang terjadi?"
    assert item_title("") == ""
    long = "kata " * 60
    title = item_title(long)
    assert len(title) <= TITLE_MAX
    assert title.endswith("kata…")
    # Decimal points and times are not sentence ends.
    assert item_title("Suhu 36.5 derajat di lokasi") == "Suhu 36.5 derajat di lokasi"


def test_atom_has_the_json_feed_items_with_titles_dates_authors_and_status(
    newsroom: Newsroom,
) -> None:
    story = newsroom.story(language="en", summary="What is happening")
    slug = story["slug"]
    first = newsroom.post(slug, "bagus", body="<p>Police arrive. More soon.</p>")
    second = newsroom.post(
        slug,
        body="<p>Crowd of <b>200</b> &amp; growing</p>",
        verification={"status": "confirmed", "note": "two sources"},
    )
    json_doc = newsroom.client.get(f"/stories/{slug}/feed.json").get_json()
    parsed = parse(newsroom, f"/stories/{slug}/feed.atom")

    assert parsed.feed.title == story["title"]
    assert parsed.feed.subtitle == "What is happening"
    assert parsed.feed.language == "en"
    links = {(link.rel, link.type): link.href for link in parsed.feed.links}
    assert links[("alternate", "text/html")] == story["url"]
    assert links[("alternate", "application/feed+json")] == story["feed_url"]
    assert links[("self", ATOM_MIME)].endswith(f"/stories/{slug}/feed.atom")

    entries = parsed.entries
    assert [e.link for e in entries] == [i["url"] for i in json_doc["items"]]
    assert [e.title for e in entries] == [i["title"] for i in json_doc["items"]]
    assert [e.title for e in entries] == ["Crowd of 200 & growing", "Police arrive."]
    assert [e.author for e in entries] == ["Rina", "Bagus"]
    newest, oldest = entries
    assert newest.published_parsed[:6] == tuple(map(int, _fields(second["published_at"])))
    assert newest.updated_parsed is not None
    assert oldest.id.endswith(f"#post-{first['id']}")
    # The status line a generic reader shows, then the body; none for unverified posts.
    html = newest.content[0].value
    assert "liveblog-status-confirmed" in html
    assert "two sources" in html
    assert "<b>200</b>" in html
    assert "liveblog-status" not in oldest.content[0].value


def _fields(rfc3339: str) -> list[str]:
    """Split "2026-12-06T03:15:41.123+00:00" into year, month, day, hour, minute, second."""
    date, time = rfc3339.split("T")
    return [*date.split("-"), *time[:8].split(":")]


def test_json_feed_items_have_titles(newsroom: Newsroom) -> None:
    story = newsroom.story()
    slug = story["slug"]
    newsroom.post(slug, body="<p>Siaran belum dimulai. Tunggu.</p>")
    [item] = newsroom.client.get(f"/stories/{slug}/feed.json").get_json()["items"]
    assert item["title"] == "Siaran belum dimulai."


def test_atom_pages_like_the_json_feed_and_is_cached(tmp_path: Path) -> None:
    app = make_app(tmp_path, LIVEBLOG_FEED_PAGE_SIZE=2)
    try:
        room = Newsroom(app)
        slug = room.story()["slug"]
        for n in range(5):
            room.post(slug, body=f"<p>Kabar {n}.</p>")
        titles: list[str] = []
        path: str | None = f"/stories/{slug}/feed.atom"
        pages = 0
        while path:
            parsed = parse(room, path)
            titles += [e.title for e in parsed.entries]
            nexts = [link.href for link in parsed.feed.links if link.rel == "next"]
            path = local(nexts[0]) if nexts else None
            if path:
                assert "/feed.atom?before=" in path
            pages += 1
        assert pages == 3
        assert titles == [f"Kabar {n}." for n in reversed(range(5))]

        url = f"/stories/{slug}/feed.atom"
        first = room.client.get(url, headers={"Accept-Encoding": "gzip"})
        assert first.headers["Content-Encoding"] == "gzip"
        assert first.headers["Cache-Control"].startswith("public, max-age=")
        assert first.headers["Access-Control-Allow-Origin"] == "*"
        etag = first.headers["ETag"]
        json_etag = room.client.get(f"/stories/{slug}/feed.json").headers["ETag"]
        assert etag != json_etag
        again = room.client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert again.status_code == 304
        room.post(slug, body="<p>Baru.</p>")
        changed = room.client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
        assert changed.status_code == 200
    finally:
        rt(app).db.dispose()


def test_atom_of_an_unknown_story_is_404(newsroom: Newsroom) -> None:
    assert newsroom.client.get("/stories/nope/feed.atom").status_code == 404


def test_reader_page_links_both_feeds(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    html = newsroom.client.get(f"/stories/{slug}").get_data(as_text=True)
    assert (
        '<link rel="alternate" type="application/atom+xml" title="Atom"\n'
        f'        href="/stories/{slug}/feed.atom">'
    ) in html
    assert 'type="application/feed+json"' in html


def test_text_xml_cannot_hold_does_not_break_the_feed(newsroom: Newsroom) -> None:
    slug = newsroom.story(title="Judul \ufffe")["slug"]
    newsroom.post(slug, body="<p>Kabar \uffff terbaru\x7f.</p>")
    parsed = parse(newsroom, f"/stories/{slug}/feed.atom")
    assert parsed.feed.title == "Judul \ufffd"
    assert parsed.entries[0].title == "Kabar \ufffd terbaru\x7f."
