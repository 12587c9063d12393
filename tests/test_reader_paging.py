"""Long stories (contract section 6): paging by seq cursor, permalinks, the render cache,
compression and shared-cache headers, through the Flask test client."""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import pytest
from conftest import Newsroom, make_app, rt
from flask import Flask
from flask.testing import FlaskClient
from test_reader_page import HOST, Page, id_text

from liveblog import renders
from liveblog.renders import RenderCache, Rendered

PAGE_SIZE = 3


@pytest.fixture
def small_app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path, LIVEBLOG_PAGE_SIZE=PAGE_SIZE)
    yield app
    rt(app).db.dispose()


def listed(page: Page) -> list[str]:
    """Return the ids of the page's posts, in order (pinned first)."""
    return [p.get("id").removeprefix("post-") for p in page.posts()]


def next_link(page: Page) -> str | None:
    """Return the page's rel=next path, checking the visible link says the same."""
    links = page.all("link", rel="next")
    if not links:
        assert not page.all("a", rel="next")
        return None
    href = links[0].get("href")
    assert page.one("a", rel="next").get("href") == href
    return href


def walk(client: FlaskClient, path: str, during: Any = None) -> list[str]:
    """Follow rel=next from path to the end; return every post id seen, in order."""
    seen: list[str] = []
    pages = 0
    current: str | None = path
    while current is not None:
        response = client.get(current)
        assert response.status_code == 200
        page = Page(response.text)
        ids = listed(page)
        assert len([i for i in ids if i not in pinned_ids(page)]) <= PAGE_SIZE
        ld = page.json(type="application/ld+json")["liveBlogUpdate"]
        assert [u["url"].rsplit("/", 1)[1] for u in ld] == ids  # its own posts only
        seen += ids
        pages += 1
        assert pages < 50
        current = next_link(page)
        if during is not None and pages == 1:
            during()
    return seen


def pinned_ids(page: Page) -> set[str]:
    return {p.get("id").removeprefix("post-") for p in page.posts() if "is-pinned" in p.classes}


def test_first_page_holds_pinned_and_newest_then_older_pages_hold_the_rest(
    small_app: Flask,
) -> None:
    newsroom = Newsroom(small_app)
    slug = newsroom.story()["slug"]
    posts = [newsroom.post(slug, body=f"<p>Pos {i}</p>") for i in range(8)]
    pinned = newsroom.post(slug, body="<p>Rangkuman</p>", pinned=True)
    client = small_app.test_client()
    page = Page(client.get(f"/stories/{slug}").text)
    assert listed(page) == [pinned["id"], *(p["id"] for p in posts[:4:-1])]
    older = next_link(page)
    assert older == f"/stories/{slug}?before=6"  # the seq of the oldest post listed
    assert page.one("a", rel="next").get("id") == "older-link"
    second = Page(client.get(older).text)
    assert listed(second) == [p["id"] for p in posts[4:1:-1]]
    assert second.one("main").get("data-before") == "6"
    assert not second.all(id="pinned") or not pinned_ids(second)
    assert second.one("link", rel="canonical").get("href") == f"http://{HOST}{older}"
    third = Page(client.get(next_link(second) or "").text)
    assert listed(third) == [posts[1]["id"], posts[0]["id"]]
    assert next_link(third) is None
    assert third.all("a", href=f"/stories/{slug}")  # back to the latest


def test_every_post_appears_once_while_posts_arrive_and_go(small_app: Flask) -> None:
    newsroom = Newsroom(small_app)
    slug = newsroom.story()["slug"]
    posts = [newsroom.post(slug, body=f"<p>Lama {i}</p>") for i in range(10)]
    newsroom.post(slug, body="<p>Sematan</p>", pinned=True)
    fresh: list[dict[str, Any]] = []

    def meanwhile() -> None:
        fresh.extend(newsroom.post(slug, body=f"<p>Baru {i}</p>") for i in range(4))
        response = newsroom.call("DELETE", f"/api/v1/stories/{slug}/posts/{posts[2]['id']}")
        assert response.status_code == 204

    seen = walk(small_app.test_client(), f"/stories/{slug}", meanwhile)
    assert len(seen) == len(set(seen))
    assert not {p["id"] for p in fresh} & set(seen)  # they are above the first page
    expected = {p["id"] for p in posts} - {posts[2]["id"]}
    assert expected <= set(seen)
    # A walk started afterwards sees everything there is, each once.
    again = walk(small_app.test_client(), f"/stories/{slug}")
    assert len(again) == len(set(again)) == 10 - 1 + 4 + 1


@pytest.mark.parametrize("before", ["abc", "0", "-1", "²", "2147483648"])
def test_a_bad_cursor_is_refused(newsroom: Newsroom, client: FlaskClient, before: str) -> None:
    slug = newsroom.story()["slug"]
    assert client.get(f"/stories/{slug}", query_string={"before": before}).status_code == 422


def test_older_links_keep_a_chosen_language(small_app: Flask) -> None:
    newsroom = Newsroom(small_app)
    slug = newsroom.story()["slug"]
    for i in range(5):
        newsroom.post(slug, body=f"<p>Pos {i}</p>")
    client = small_app.test_client()
    page = Page(client.get(f"/stories/{slug}?lang=en").text)
    assert next_link(page) == f"/stories/{slug}?before=3&lang=en"
    assert page.one("link", rel="alternate", hreflang="id").get("href") == (
        f"http://{HOST}/stories/{slug}?lang=id"
    )
    # Chosen by headers only: links stay plain, the answer varies by Accept-Language.
    plain = small_app.test_client().get(f"/stories/{slug}", headers={"Accept-Language": "en"})
    assert next_link(Page(plain.text)) == f"/stories/{slug}?before=3"
    older = client.get(f"/stories/{slug}?before=3&lang=en")
    assert "Back to the latest updates" in older.text
    assert Page(older.text).all("a", href=f"/stories/{slug}?lang=en")


# --- permalinks -------------------------------------------------------------------------


def test_permalink_page_then_410_once_deleted(newsroom: Newsroom, client: FlaskClient) -> None:
    story = newsroom.story(title="Banjir Jakarta")
    slug = story["slug"]
    post = newsroom.post(slug, body="<p>Tanggul di Pluit jebol pukul 07.00.</p>")
    path = f"/stories/{slug}/posts/{post['id']}"
    response = client.get(path, query_string={"lang": "en"})
    assert response.status_code == 200
    page = Page(response.text)
    assert listed(page) == [post["id"]]
    og = {e.get("property"): e.get("content") for e in page.all("meta") if e.get("property")}
    assert og["og:title"] == "Tanggul di Pluit jebol pukul 07.00."
    assert og["og:url"] == f"http://{HOST}{path}"
    assert "Tanggul di Pluit" in response.text.split("<title>")[1].split("</title>")[0]
    assert page.one("link", rel="canonical").get("href") == f"http://{HOST}{path}"
    assert page.all("a", href=f"/stories/{slug}?lang=en")  # back to the live story
    ld = page.json(type="application/ld+json")
    assert ld["@type"] == "BlogPosting"
    assert ld["url"] == f"http://{HOST}{path}"
    share = [e.get("href") for e in page.all("a") if "share-link" in e.classes]
    assert [urlsplit(h).netloc for h in share] == ["wa.me", "x.com"]
    assert page.all("script", src="/static/share.js")
    assert "Cookie" not in response.headers["Vary"]

    newsroom.call("DELETE", f"/api/v1/stories/{slug}/posts/{post['id']}")
    gone = client.get(path, query_string={"lang": "id"})
    assert gone.status_code == 410
    assert "Tanggul" not in gone.text
    page = Page(gone.text)
    assert page.one("html").get("lang") == "id"
    assert id_text("This update was removed") in gone.text
    assert page.one("nav").get("aria-label")  # the site's header and language switch
    assert page.all("a", href=f"/stories/{slug}?lang=id")


def test_unknown_posts_are_404(newsroom: Newsroom, client: FlaskClient) -> None:
    slug = newsroom.story()["slug"]
    other = newsroom.story(title="Lain")["slug"]
    post = newsroom.post(other)
    for post_id in ("tidakada", post["id"], "x" * 200, "%00", "A-B"):
        assert client.get(f"/stories/{slug}/posts/{post_id}").status_code == 404, post_id
    assert client.get(f"/stories/nope/posts/{post['id']}").status_code == 404


# --- the render cache -------------------------------------------------------------------


def test_a_flood_of_the_same_request_costs_one_render(
    newsroom: Newsroom, client: FlaskClient, app: Flask
) -> None:
    slug = newsroom.story()["slug"]
    newsroom.post(slug)
    cache: RenderCache = app.extensions["liveblog.renders"]
    start = cache.renders
    bodies = {client.get(f"/stories/{slug}?lang=id").data for _ in range(20)}
    assert len(bodies) == 1
    assert cache.renders == start + 1
    client.get(f"/stories/{slug}?lang=en")
    assert cache.renders == start + 2  # another language, another render
    newsroom.post(slug, body="<p>Kabar baru.</p>")
    fresh = client.get(f"/stories/{slug}?lang=id")
    assert "Kabar baru." in fresh.text  # a new event, a new key
    assert cache.renders == start + 3
    for _ in range(5):
        client.get(f"/stories/{slug}/feed.json")
    assert cache.renders == start + 4


def test_concurrent_identical_misses_render_once() -> None:
    cache = RenderCache()
    release = threading.Event()
    calls = []

    def render() -> Rendered:
        calls.append(1)
        release.wait(5)
        return Rendered(b"<p>page</p>", "text/html")

    results: list[Rendered] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", render))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 8
    assert len({id(r) for r in results}) == 1


def test_the_cache_is_bounded_least_recently_used_out() -> None:
    cache = RenderCache(max_entries=2, max_bytes=10_000)
    for key in ("a", "b"):
        cache.get(key, lambda: Rendered(b"x" * 100, "text/html"))
    cache.get("a", lambda: Rendered(b"new", "text/html"))  # a hit: "a" is fresh again
    cache.get("c", lambda: Rendered(b"x" * 100, "text/html"))
    assert cache.renders == 3
    assert cache.get("a", lambda: Rendered(b"again", "text/html")).body == b"x" * 100
    assert cache.get("b", lambda: Rendered(b"again", "text/html")).body == b"again"
    big = RenderCache(max_entries=10, max_bytes=250)
    for key in range(5):
        big.get(key, lambda: Rendered(b"y" * 100, "text/html"))
    assert len(big) == 2


# --- compression and shared caches ------------------------------------------------------


def test_pages_and_feeds_come_compressed_once_per_render(
    newsroom: Newsroom, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = newsroom.story()["slug"]
    for i in range(5):
        newsroom.post(slug, body=f"<p>Pos {i} " + "kata " * 40 + "</p>")
    plain = client.get(f"/stories/{slug}?lang=id")
    count = {"n": 0}
    original = renders.compress

    def counting(data: bytes, coding: str) -> bytes:
        count["n"] += 1
        return original(data, coding)

    monkeypatch.setattr(renders, "compress", counting)
    for path in (f"/stories/{slug}?lang=id", f"/stories/{slug}/feed.json"):
        identity = client.get(path)
        for coding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
            before = count["n"]
            for _ in range(3):
                response = client.get(path, headers={"Accept-Encoding": f"{coding}, deflate"})
                assert response.headers["Content-Encoding"] == coding
                assert decode(response.data) == identity.data
                assert response.headers["ETag"].endswith(f':{coding}"')
                assert "Accept-Encoding" in response.headers["Vary"]
            assert count["n"] == before + 1, path  # compressed once, served three times
            etag = response.headers["ETag"]
            again = client.get(path, headers={"Accept-Encoding": coding, "If-None-Match": etag})
            assert again.status_code == 304
    assert plain.data == client.get(f"/stories/{slug}?lang=id").data


@pytest.mark.parametrize(
    "path", ["/static/live.js", "/static/liveblog.css", "/api/v1/stories/{slug}/events"]
)
def test_scripts_styles_and_json_honour_gzip(
    newsroom: Newsroom, client: FlaskClient, path: str
) -> None:
    slug = newsroom.story()["slug"]
    for i in range(20):
        newsroom.post(slug, body=f"<p>Pos {i}</p>")
    path = path.format(slug=slug)
    identity = client.get(path)
    assert identity.status_code == 200
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == identity.data
    assert len(response.data) < len(identity.data)


def test_public_even_with_foreign_cookies_private_only_with_ours(
    newsroom: Newsroom, app: Flask
) -> None:
    slug = newsroom.story()["slug"]
    newsroom.post(slug)
    for path in (f"/stories/{slug}?lang=id", f"/stories/{slug}", f"/stories/{slug}/feed.json"):
        stranger = app.test_client()
        stranger.set_cookie("_ga", "GA1.1.123", domain=HOST)
        stranger.set_cookie("consent", "yes", domain=HOST)
        response = stranger.get(path)
        assert response.headers["Cache-Control"].startswith("public"), path
        assert "cookie" not in response.headers["Vary"].lower(), path
        ours = app.test_client()
        ours.set_cookie(app.config["SESSION_COOKIE_NAME"], "anything", domain=HOST)
        response = ours.get(path)
        assert response.headers["Cache-Control"].startswith("private"), path
        assert "cookie" not in response.headers["Vary"].lower(), path
    # The language from our own cookie (no ?lang=) is the reader's alone.
    reader = app.test_client()
    reader.set_cookie("lang", "en", domain=HOST)
    response = reader.get(f"/stories/{slug}")
    assert response.headers["Cache-Control"].startswith("private")
    assert Page(response.text).one("html").get("lang") == "en"
    # ?lang= in the URL: the same for everyone, public, not varied by Accept-Language.
    response = reader.get(f"/stories/{slug}?lang=en", headers={"Accept-Language": "id"})
    assert response.headers["Cache-Control"].startswith("public")
    assert response.headers["Vary"] == "Accept-Encoding"


# --- dates ------------------------------------------------------------------------------


def test_days_are_headed_and_older_posts_show_their_date(
    newsroom: Newsroom, app: Flask, client: FlaskClient
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from liveblog.models import Post, utcnow

    slug = newsroom.story()["slug"]
    posts = [newsroom.post(slug, body=f"<p>Pos {i}</p>") for i in range(4)]
    now = utcnow()
    ages = {posts[0]["id"]: 400, posts[1]["id"]: 2, posts[2]["id"]: 2}  # days
    with rt(app).db.write() as session:
        for post_id, days in ages.items():
            session.execute(
                update(Post).where(Post.id == post_id).values(published_at=now - timedelta(days))
            )
    html = client.get(f"/stories/{slug}?lang=en").text
    page = Page(html)
    headings = page.all("h2")
    days = [h.get("data-day") for h in headings if "day-break" in h.classes]
    assert len(days) == 2  # two days ago, and last year; none above today's post
    assert days == sorted(days, reverse=True)
    order = [e.get("id") or e.get("data-day") for e in page.elements
             if e.get("data-day") or "post" in e.classes]  # fmt: skip
    assert order == [f"post-{posts[3]['id']}", days[0], f"post-{posts[2]['id']}",
                     f"post-{posts[1]['id']}", days[1], f"post-{posts[0]['id']}"]  # fmt: skip
    times = dict(
        zip(
            (p.get("id") for p in page.posts()),
            re.findall(r'<a class="post-time"[^>]*><time datetime="[^"]+">([^<]+)</time>', html),
            strict=True,
        )
    )
    assert re.fullmatch(r"\d{1,2}:\d\d\s[AP]M\sWIB", times[f"post-{posts[3]['id']}"])
    assert re.search(r"[A-Z][a-z]{2} \d{1,2}, ", times[f"post-{posts[2]['id']}"])  # "Dec 4, "
    assert re.search(r"\d{4}, ", times[f"post-{posts[0]['id']}"])  # a year ago: the year too
    label = Page(client.get(f"/stories/{slug}?lang=id").text).all("h2")
    assert any(h.get("data-day") == days[0] for h in label)


def test_oldest_first_pages_walk_forward(small_app: Flask) -> None:
    newsroom = Newsroom(small_app)
    slug = newsroom.story()["slug"]
    posts = [newsroom.post(slug, body=f"<p>Pos {i}</p>") for i in range(7)]
    pinned = newsroom.post(slug, body="<p>Sematan</p>", pinned=True)
    client = small_app.test_client()
    newest = Page(client.get(f"/stories/{slug}?lang=en").text)
    toggle = [a for a in newest.all("a") if "order-toggle" in a.classes]
    assert [a.get("href") for a in toggle] == [f"/stories/{slug}?order=oldest&lang=en"]
    seen = walk(client, toggle[0].get("href"))
    assert seen == [pinned["id"], *(p["id"] for p in posts)]  # pinned on top, then in order
    first = Page(client.get(toggle[0].get("href")).text)
    assert first.one("main").get("data-order") == "oldest"
    assert next_link(first) == f"/stories/{slug}?order=oldest&after=3&lang=en"
    back = [a for a in first.all("a") if "order-toggle" in a.classes]
    assert back[0].get("href") == f"/stories/{slug}?lang=en"
    assert client.get(f"/stories/{slug}?order=oldest&after=x").status_code == 422
