"""Long stories in a real browser (Debian's Chromium via Playwright) against a real
`liveblog serve`: "load older" appends the next page below without moving what the reader
sees, every post appears once, and edits and deletions reach the posts it loaded, even
when the older page came from a cache a few events behind."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from test_browser import VISIBLE_POST, Reader, Site, start_site

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_SIZE = 50  # the server's default


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    running = start_site(tmp_path_factory.mktemp("paging"))
    yield running
    running.server.stop()


def long_story(site: Site, count: int) -> tuple[str, list[dict[str, Any]]]:
    slug = site.story(language="en")
    filler = "Water is rising along the coast road. " * 4
    posts = [site.post(slug, f"<p>Update {n}. {filler}</p>") for n in range(count)]
    return slug, posts


def listed_ids(reader: Reader) -> list[str]:
    ids: list[str] = reader.page.eval_on_selector_all(
        "#updates > .post", "nodes => nodes.map(n => n.id.slice(5))"
    )
    return ids


def scroll_to_bottom(reader: Reader) -> dict[str, Any]:
    page = reader.page
    page.evaluate("() => document.getElementById('load-older').scrollIntoView({block: 'end'})")
    page.wait_for_timeout(200)
    anchor: dict[str, Any] = page.evaluate(VISIBLE_POST)
    return anchor


def test_load_older_appends_without_a_jump_and_stays_live(browser: Any, site: Site) -> None:
    slug, posts = long_story(site, PAGE_SIZE + 6)
    reader = Reader(browser, lang="en").open(site, slug)
    try:
        page = reader.page
        assert listed_ids(reader) == [p["id"] for p in reversed(posts[6:])]
        assert page.is_hidden("#older-link")  # the plain link gives way to the button
        assert page.is_visible("#load-older")

        # An edit to a post not loaded yet does not drag it onto this page.
        oldest = site.patch(slug, posts[0], body="<p>Update 0, corrected.</p>")
        reader.wait_seq(site.last_seq(slug))
        assert page.locator(f"#post-{posts[0]['id']}").count() == 0

        anchor = scroll_to_bottom(reader)
        page.click("#load-older")
        page.wait_for_function(
            "n => document.querySelectorAll('#updates > .post').length === n",
            arg=len(posts),
        )
        ids = listed_ids(reader)
        assert ids == [p["id"] for p in reversed(posts)]  # each once, newest first
        # What the reader was looking at has not moved on the screen.
        still = page.eval_on_selector(f"#{anchor['id']}", "n => n.getBoundingClientRect().top")
        assert abs(still - anchor["top"]) < 2, "the page jumped"
        assert page.locator("#older").count() == 0  # nothing older is left
        assert page.evaluate("() => document.activeElement.id") == f"post-{posts[5]['id']}"
        assert "corrected" in page.inner_text(f"#post-{posts[0]['id']} .post-body")

        # Edits, status changes and deletions reach the loaded posts.
        site.patch(slug, oldest, body="<p>Update 0, corrected twice.</p>")
        site.patch(slug, posts[1], verification={"status": "confirmed"})
        site.call("DELETE", f"/api/v1/stories/{slug}/posts/{posts[2]['id']}")
        reader.wait_seq(site.last_seq(slug))
        assert "twice" in page.inner_text(f"#post-{posts[0]['id']} .post-body")
        assert page.get_attribute(f"#post-{posts[1]['id']}", "data-verification") == "confirmed"
        assert page.locator(f"#post-{posts[2]['id']}").count() == 0

        # A new post goes on top, once; the loaded ones stay where they are.
        fresh = site.post(slug, "<p>Fresh.</p>")
        reader.wait_seq(site.last_seq(slug))
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_selector(f"#post-{fresh['id']}:visible")
        ids = listed_ids(reader)
        assert ids[0] == fresh["id"]
        assert len(ids) == len(set(ids)) == len(posts)
        assert reader.same_document()
        assert reader.errors == []
    finally:
        reader.close()


def test_an_older_page_from_a_cache_is_brought_up_to_date(browser: Any, site: Site) -> None:
    slug, posts = long_story(site, PAGE_SIZE + 3)
    older_path = f"/stories/{slug}?before=4&lang=en"  # below the 50 newest: seq 3, 2, 1
    with urllib.request.urlopen(f"{site.server.base}{older_path}") as response:  # noqa: S310
        stale = response.read()  # rendered before the changes below, as a CDN might keep it
    site.patch(slug, posts[1], body="<p>Update 1, corrected.</p>")
    site.call("DELETE", f"/api/v1/stories/{slug}/posts/{posts[0]['id']}")

    reader = Reader(browser, lang="en")
    served: list[str] = []

    def from_cache(route: Any) -> None:
        served.append(route.request.url)
        route.fulfill(status=200, body=stale, headers={"Content-Type": "text/html"})

    reader.page.route(re.compile(r".*/stories/[^/?]+\?before=.*"), from_cache)
    try:
        reader.open(site, slug)
        page = reader.page
        href = page.get_attribute("#older-link", "href")
        assert href == older_path
        page.click("#load-older")
        page.wait_for_selector("#older", state="detached")
        assert served
        page.wait_for_function("id => !document.getElementById('post-' + id)", arg=posts[0]["id"])
        page.wait_for_function(
            "id => document.querySelector('#post-' + id + ' .post-body')"
            ".textContent.includes('corrected')",
            arg=posts[1]["id"],
        )
        assert listed_ids(reader)[-2:] == [posts[2]["id"], posts[1]["id"]]
        assert reader.errors == []
    finally:
        reader.close()


def test_without_javascript_older_pages_are_links(browser: Any, site: Site) -> None:
    slug, posts = long_story(site, PAGE_SIZE + 2)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{site.server.base}/stories/{slug}?lang=en")
        assert page.is_visible("#older-link")
        page.click("#older-link")
        page.wait_for_url(f"**/stories/{slug}?before=3&lang=en")
        ids = page.eval_on_selector_all("#updates > .post", "ns => ns.map(n => n.id.slice(5))")
        assert ids == [posts[1]["id"], posts[0]["id"]]
        assert page.locator("#older-link").count() == 0
    finally:
        context.close()


def test_share_buttons_without_third_party_scripts(browser: Any, site: Site) -> None:
    slug, posts = long_story(site, 1)
    reader = Reader(browser, lang="en")
    try:
        page = reader.page
        page.goto(f"{site.server.base}/stories/{slug}/posts/{posts[0]['id']}?lang=en")
        page.wait_for_selector(".share-copy:not([hidden])")
        hosts = {r.split("/")[2] for r in reader.requests}
        assert hosts == {f"127.0.0.1:{site.server.port}"}
        assert page.locator(".share-link").count() == 2
        assert reader.errors == []
    finally:
        reader.close()


def test_day_headings_stay_single_across_loaded_pages(browser: Any, site: Site) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from liveblog.db import Database
    from liveblog.models import Post, utcnow

    slug, posts = long_story(site, PAGE_SIZE + 3)
    now = utcnow()
    db = Database(site.url)
    try:
        with db.write() as session:
            for index, days in ((0, 5), (1, 5), (2, 3), (3, 3), (4, 3), (5, 3)):
                session.execute(
                    update(Post)
                    .where(Post.id == posts[index]["id"])
                    .values(published_at=now - timedelta(days=days, minutes=index))
                )
    finally:
        db.dispose()
    reader = Reader(browser, lang="en").open(site, slug)
    try:
        page = reader.page
        scroll_to_bottom(reader)
        page.click("#load-older")
        page.wait_for_selector("#older", state="detached")
        order = page.eval_on_selector_all(
            "#updates > *",
            "ns => ns.map(n => n.classList.contains('day-break') ? n.dataset.day : n.id.slice(5))",
        )
        days = [item for item in order if item[:2] == "20"]
        assert len(days) == len(set(days)) == 2, order
        tail = order[-8:]
        assert tail == [days[0], *(posts[i]["id"] for i in (5, 4, 3, 2)), days[1],
                        posts[1]["id"], posts[0]["id"]]  # fmt: skip
        # A deleted post leaves no heading without posts under it.
        for index in (1, 0):
            site.call("DELETE", f"/api/v1/stories/{slug}/posts/{posts[index]['id']}")
        reader.wait_seq(site.last_seq(slug))
        assert page.locator(f".day-break[data-day='{days[1]}']").count() == 0
        assert page.locator(f".day-break[data-day='{days[0]}']").count() == 1
        assert reader.errors == []
    finally:
        reader.close()
