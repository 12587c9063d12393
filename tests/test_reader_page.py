"""The reader's live page as HTML (Flask test client): structure, language, JSON-LD,
sharing tags, the Content-Security-Policy-friendly markup and escaping."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from conftest import Newsroom
from flask import Flask
from flask.testing import FlaskClient
from test_i18n import po_path

from liveblog.views.page import zone_abbreviations

HOST = "liveblog.test"
POST_TIME = re.compile(r'<a class="post-time"[^>]*><time datetime="[^"]+">([^<]+)</time>')
STATUSES = ("unverified", "confirmed", "disputed", "false")
EN_LABELS = {"unverified": "Unverified claim", "confirmed": "Claim confirmed",
             "disputed": "Claim disputed", "false": "Claim false"}  # fmt: skip


class Element:
    """One start tag with its attributes, and the text directly inside it (scripts only)."""

    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.text = ""

    def get(self, name: str) -> str:
        return self.attrs.get(name) or ""

    @property
    def classes(self) -> list[str]:
        return self.get("class").split()


class Page(HTMLParser):
    """Parse a page into a flat list of elements, keeping the text of <script> blocks."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._script: Element | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag == "script":
            self._script = element

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.text += data

    def all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag) and all(e.get(k) == v for k, v in attrs.items())
        ]

    def one(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    def json(self, **attrs: str) -> Any:
        return json.loads(self.one("script", **attrs).text)

    def posts(self) -> list[Element]:
        return [e for e in self.elements if e.tag == "article" and "post" in e.classes]


def id_text(msgid: str) -> str:
    with po_path("id").open("rb") as fileobj:
        text = read_po(fileobj, locale="id")[msgid].string
    assert isinstance(text, str)
    assert text
    return text


def get_page(client: FlaskClient, slug: str, **query: str) -> tuple[str, Page]:
    response = client.get(f"/stories/{slug}", query_string=query)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.text, Page(response.text)


@pytest.fixture
def story(newsroom: Newsroom) -> dict[str, Any]:
    """An Indonesian story in Jakarta with one post of each status, one pinned, one key."""
    story = newsroom.story(summary="Ringkasan banjir.")
    slug = story["slug"]
    posts = {}
    for status in STATUSES:
        posts[status] = newsroom.post(
            slug,
            body=f"<p>Kabar {status}.</p>",
            verification={"status": status, "note": f"Catatan {status}."},
        )
    posts["pinned"] = newsroom.post(slug, body="<p>Ringkasan.</p>", pinned=True)
    posts["key"] = newsroom.post(slug, body="<p>Tanggul jebol.</p>", key_event=True)
    return {**story, "posts": posts}


# --- structure ------------------------------------------------------------------------


def test_each_post_is_an_element_with_its_id_and_status(
    client: FlaskClient, story: dict[str, Any]
) -> None:
    _, page = get_page(client, story["slug"])
    posts = page.posts()
    expected = {p["id"]: p["verification"]["status"] for p in story["posts"].values()}
    assert {p.get("id"): p.get("data-verification") for p in posts} == {
        f"post-{k}": v for k, v in expected.items()
    }
    # The pinned post comes first, in its own section; the rest newest first.
    assert posts[0].get("id") == f"post-{story['posts']['pinned']['id']}"
    assert "is-pinned" in posts[0].classes
    assert [p.get("id") for p in posts[1:]] == [
        f"post-{story['posts'][k]['id']}"
        for k in ("key", "false", "disputed", "confirmed", "unverified")
    ]
    key = page.one("article", id=f"post-{story['posts']['key']['id']}")
    assert "is-key" in key.classes
    assert key.get("data-key-event") == "true"
    # A permalink per post, to its own page.
    for post in story["posts"].values():
        assert page.all("a", href=f"/stories/{story['slug']}/posts/{post['id']}")
    main = page.one("main", id="story")
    assert main.get("data-slug") == story["slug"]
    assert main.get("data-last-seq") == str(len(story["posts"]))
    assert main.get("data-status") == "live"


def test_times_are_in_the_story_zone_with_its_abbreviation(
    client: FlaskClient, newsroom: Newsroom
) -> None:
    for zone, names in (("Asia/Jakarta", {"WIB"}), ("America/New_York", {"EDT", "EST"})):
        slug = newsroom.story(timezone=zone, language="en")["slug"]
        newsroom.post(slug)
        html, _ = get_page(client, slug)
        times = POST_TIME.findall(html)
        assert len(times) == 1
        assert times[0].split()[-1] in names, times
        assert re.fullmatch(r"\d{1,2}:\d\d\s[AP]M\s\w+", times[0]), times
    # Indonesian pages write 07.45, the way Babel's "id" locale does.
    html, _ = get_page(client, slug, lang="id")
    time_text = POST_TIME.findall(html)
    assert re.fullmatch(r"\d\d\.\d\d\s\w+", time_text[0]), time_text


def test_zone_abbreviations_cover_both_sides_of_daylight_saving() -> None:
    from datetime import date

    assert zone_abbreviations("Asia/Jakarta", date(2024, 8, 13)) == {"420": "WIB"}
    assert zone_abbreviations("America/New_York", date(2024, 8, 13)) == {
        "-240": "EDT",
        "-300": "EST",
    }


def test_banner_live_then_ended(client: FlaskClient, newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    html, page = get_page(client, slug, lang="en")
    assert "banner-live" in page.one(id="banner").classes
    assert "Developing story: check back for updates." in html
    assert page.all("span", **{"class": "live-dot", "aria-hidden": "true"})
    html, _ = get_page(client, slug, lang="id")
    assert id_text("Developing story: check back for updates.") in html
    newsroom.call("PATCH", f"/api/v1/stories/{slug}", json={"status": "ended"})
    html, page = get_page(client, slug, lang="en")
    assert "banner-ended" in page.one(id="banner").classes
    assert "Coverage of this story has ended." in html
    assert "Developing story" not in html.split('id="liveblog-config"')[0]


def test_edits_and_corrections_show_with_their_times(
    client: FlaskClient, newsroom: Newsroom
) -> None:
    slug = newsroom.story()["slug"]
    post = newsroom.post(slug)
    newsroom.call(
        "PATCH",
        f"/api/v1/stories/{slug}/posts/{post['id']}",
        json={"version": 1, "body": "<p>Diperbaiki.</p>", "correction": "Jamnya keliru."},
    )
    html, _ = get_page(client, slug, lang="en")
    edited = (
        r'class="mark mark-edited"><time datetime="[^"]+" title="[^"]+">'
        r"Edited \d{1,2}:\d\d\s[AP]M\sWIB</time>"
    )
    assert re.search(edited, html)
    correction = (
        r'<strong class="correction-label">Correction</strong> '
        r'<time datetime="[^"]+" title="[^"]+">[^<]+WIB</time> '
        r'<span class="correction-note" lang="id">Jamnya keliru\.</span>'
    )
    assert re.search(correction, html)
    html, _ = get_page(client, slug, lang="id")
    assert ">" + id_text("Correction") + "<" in html
    assert "Diedit " in html


def test_verification_labels_in_both_languages(client: FlaskClient, story: dict[str, Any]) -> None:
    for lang in ("en", "id"):
        html, page = get_page(client, story["slug"], lang=lang)
        for status in STATUSES:
            label = EN_LABELS[status] if lang == "en" else id_text(EN_LABELS[status])
            # Text and colour: the label is written out, with a glyph, in a status class.
            assert re.search(
                rf'<div class="badge badge-{status}">\s*<details class="verification">\s*'
                rf'<summary><span class="badge-label"><span '
                rf'class="badge-icon" aria-hidden="true">[^<]+</span> '
                rf'<span class="badge-text">{re.escape(label)}</span>',
                html,
            ), (lang, status)
            assert f"Catatan {status}." in html
        config = page.json(id="liveblog-config")
        assert set(config["text"]["verification"]) == set(STATUSES)
        assert config["text"]["verification"]["disputed"] == (
            "Claim disputed" if lang == "en" else id_text("Claim disputed")
        )
        assert config["text"]["now"]["disputed"] == (
            "Now disputed" if lang == "en" else "Sekarang diperdebatkan"
        )


def test_the_script_gets_every_label_and_plural_forms(
    client: FlaskClient, story: dict[str, Any]
) -> None:
    _, page = get_page(client, story["slug"], lang="en")
    config = page.json(id="liveblog-config")
    assert config["locale"] == "en"
    assert config["timezone"] == "Asia/Jakarta"
    assert config["zoneNames"] == {"420": "WIB"}
    assert config["livePath"] == f"/stories/{story['slug']}/live"
    assert config["eventsPath"] == f"/api/v1/stories/{story['slug']}/events"
    assert config["text"]["newUpdates"] == {
        "one": "%(num)d new update",
        "other": "%(num)d new updates",
    }
    _, page = get_page(client, story["slug"], lang="id")
    config = page.json(id="liveblog-config")
    assert config["text"]["newUpdates"] == {"other": "%(num)d pembaruan baru"}
    assert config["text"]["edited"] == "Diedit %(time)s"
    plain = [v for v in config["text"].values() if not isinstance(v, dict)]
    assert all(isinstance(v, str) and v for v in plain)


# --- language -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("story_language", "query", "cookie", "accept", "expected"),
    [
        ("id", None, None, None, "id"),
        ("en", None, None, None, "en"),
        ("id", None, None, "en-US,en;q=0.9", "en"),
        ("en", None, None, "id-ID,id;q=0.9", "id"),
        ("id", None, "en", "id", "en"),
        ("en", "id", "en", "en", "id"),
        ("id", "fr", None, None, "id"),  # an unknown ?lang= is ignored
    ],
)
def test_html_lang_follows_the_locale_rules(
    app: Flask,
    newsroom: Newsroom,
    story_language: str,
    query: str | None,
    cookie: str | None,
    accept: str | None,
    expected: str,
) -> None:
    slug = newsroom.story(language=story_language)["slug"]
    client = app.test_client()
    if cookie:
        client.set_cookie("lang", cookie, domain=HOST)
    headers = {"Accept-Language": accept} if accept else {}
    response = client.get(
        f"/stories/{slug}", query_string={"lang": query} if query else {}, headers=headers
    )
    page = Page(response.text)
    assert page.one("html").get("lang") == expected
    assert page.json(id="liveblog-config")["locale"] == expected
    current = page.one("a", **{"aria-current": "true"})
    assert current.get("hreflang") == expected


def test_language_switch_and_hreflang_alternates(
    client: FlaskClient, story: dict[str, Any]
) -> None:
    slug = story["slug"]
    _, page = get_page(client, slug, lang="en")
    for code in ("id", "en"):
        link = page.one("a", hreflang=code)
        assert link.get("href") == f"/stories/{slug}?lang={code}"  # keeps the path
        assert link.get("lang") == code
        alternate = page.one("link", rel="alternate", hreflang=code)
        assert alternate.get("href") == f"http://{HOST}/stories/{slug}?lang={code}"
    assert page.one("link", rel="alternate", hreflang="x-default").get("href") == (
        f"http://{HOST}/stories/{slug}"
    )
    assert page.one("link", rel="canonical").get("href") == f"http://{HOST}/stories/{slug}"
    assert page.one("nav").get("aria-label") == "Language"
    # The interface is English; what the newsroom wrote is marked as Indonesian.
    assert page.one("h1").get("lang") == "id"
    assert all(e.get("lang") == "id" for e in page.elements if "post-body" in e.classes)


# --- search and sharing ---------------------------------------------------------------


def test_json_ld_live_blog_posting(
    client: FlaskClient, story: dict[str, Any], newsroom: Newsroom
) -> None:
    slug = story["slug"]
    _, page = get_page(client, slug)
    data = page.json(type="application/ld+json")
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "LiveBlogPosting"
    assert data["headline"] == story["title"]
    assert data["url"] == f"http://{HOST}/stories/{slug}"
    assert data["coverageStartTime"] == story["created_at"]
    assert "coverageEndTime" not in data
    updates = data["liveBlogUpdate"]
    assert len(updates) == len(story["posts"])
    by_url = {u["url"]: u for u in updates}
    for post in story["posts"].values():
        update = by_url[f"http://{HOST}/stories/{slug}/posts/{post['id']}"]
        assert update["@type"] == "BlogPosting"
        assert update["datePublished"] == post["published_at"]
        assert update["headline"]
        assert update["articleBody"] == update["headline"]
        assert update["creativeWorkStatus"] == post["verification"]["status"]
        assert "<" not in update["articleBody"]

    ended = newsroom.call("PATCH", f"/api/v1/stories/{slug}", json={"status": "ended"})
    _, page = get_page(client, slug)
    data = page.json(type="application/ld+json")
    assert data["coverageEndTime"] == ended.get_json()["ended_at"]


def test_open_graph_tags(client: FlaskClient, story: dict[str, Any]) -> None:
    _, page = get_page(client, story["slug"], lang="en")
    og = {e.get("property"): e.get("content") for e in page.all("meta") if e.get("property")}
    assert og["og:type"] == "article"
    assert og["og:title"] == story["title"]
    assert og["og:description"] == "Ringkasan banjir."
    assert og["og:url"] == f"http://{HOST}/stories/{story['slug']}"
    assert og["og:locale"] == "en_US"
    assert og["og:locale:alternate"] == "id_ID"


# --- what the Content-Security-Policy allows ------------------------------------------


def test_no_inline_script_style_or_handlers_and_no_external_assets(
    client: FlaskClient, story: dict[str, Any]
) -> None:
    response = client.get(f"/stories/{story['slug']}")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    page = Page(response.text)
    scripts = page.all("script")
    assert scripts
    for script in scripts:
        src = script.get("src")
        if src:
            assert src.startswith("/static/"), src
            assert not script.text.strip()
        else:
            assert script.get("type") in ("application/json", "application/ld+json"), script.attrs
            json.loads(script.text)  # data, not code
    assert "defer" in page.one("script", src="/static/live.js").attrs
    for element in page.elements:
        assert "style" not in element.attrs, element.tag
        assert not [a for a in element.attrs if a.startswith("on")], element.attrs
        if element.tag == "style":
            raise AssertionError("inline <style> block")
    # Assets come from this site only; absolute URLs only for links about the page itself.
    for element in page.elements:
        for name in ("src", "href"):
            value = element.get(name)
            if not value or value.startswith(("#", "?")):
                continue
            parts = urlsplit(value)
            if element.tag in ("script", "img") or element.get("rel") in ("stylesheet", "icon"):
                assert not parts.netloc, value
                assert value.startswith("/"), value
            elif "share-link" in element.classes:  # plain links, nothing loaded
                assert parts.netloc in ("wa.me", "x.com"), value
            else:
                assert parts.netloc in ("", HOST), value


def test_a_title_with_markup_is_escaped(client: FlaskClient, newsroom: Newsroom) -> None:
    nasty = "Banjir </script><script>alert(1)</script> & <img src=x onerror=alert(2)>"
    slug = newsroom.story(title=nasty, summary=nasty)["slug"]
    newsroom.post(slug)
    html, page = get_page(client, slug)
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Exactly our own scripts, whatever the title says.
    # JSON-LD, config, trust.js, live.js, share.js, embeds.js
    assert len(page.all("script")) == 6
    assert page.json(type="application/ld+json")["headline"] == nasty
    assert page.json(id="liveblog-config")["slug"] == slug
    assert page.one("meta", property="og:title").get("content") == nasty
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title is not None
    assert "&lt;script&gt;" in title.group(1)


def test_controls_for_the_script_are_hidden_until_it_runs(
    client: FlaskClient, story: dict[str, Any]
) -> None:
    _, page = get_page(client, story["slug"])
    for control in ("key-filter", "new-updates"):
        element = page.one("button", id=control)
        assert "hidden" in element.attrs
        assert element.get("type") == "button"
    announcer = page.one(id="announcer")
    assert announcer.get("aria-live") == "polite"
    assert page.one("a", href="#updates")  # skip link


def test_cached_page_revalidates_and_varies_by_language(
    client: FlaskClient, story: dict[str, Any], newsroom: Newsroom
) -> None:
    url = f"/stories/{story['slug']}"
    first = client.get(url, headers={"Accept-Language": "en"})
    assert first.headers["Vary"] == "Accept-Encoding, Accept-Language"
    etag = first.headers["ETag"]
    again = client.get(url, headers={"Accept-Language": "en", "If-None-Match": etag})
    assert again.status_code == 304
    other = client.get(url, headers={"Accept-Language": "id", "If-None-Match": etag})
    assert other.status_code == 200
    newsroom.post(story["slug"])
    changed = client.get(url, headers={"Accept-Language": "en", "If-None-Match": etag})
    assert changed.status_code == 200


def test_other_pages_share_the_language_and_look(
    client: FlaskClient, story: dict[str, Any]
) -> None:
    index = client.get("/?lang=id")
    assert Page(index.text).one("html").get("lang") == "id"
    missing = client.get("/stories/no-such-story?lang=en")
    assert missing.status_code == 404
    assert Page(missing.text).one("html").get("lang") == "en"
    sheets = [link.get("href") for link in Page(missing.text).all("link", rel="stylesheet")]
    assert sheets == ["/static/liveblog.css", "/static/embeds.css"]
