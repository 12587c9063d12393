"""The embed and oEmbed (issue 13, item 5): framable by any site, strict otherwise, cached."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Newsroom, make_app, rt
from desk_client import Desk
from flask import Flask

BASE = "http://liveblog.test"


def a_story(room: Newsroom, **fields: str) -> str:
    slug: str = room.story(title="Siaran di X membeku", slug="siaran", **fields)["slug"]
    room.post(slug, body='<p>Ruang tunggu penuh. <a href="https://example.org/a">Sumber</a></p>')
    room.post(slug, body="<p>Pengumuman: mulai 20.45 ET.</p>", pinned=True, key_event=True)
    return slug


def csp(response: object) -> dict[str, str]:
    header: str = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in header.split(";")
        if part.strip()
    }


class Links(HTMLParser):
    """Collect every <a>'s attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def test_the_embed_is_framable_by_any_site_and_strict_otherwise(newsroom: Newsroom) -> None:
    slug = a_story(newsroom)
    client = newsroom.app.test_client()
    embed = client.get(f"/stories/{slug}/embed?lang=en")
    assert embed.status_code == 200
    policy = csp(embed)
    assert policy["frame-ancestors"] == "*"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers
    # The rest of the site keeps its framing protection.
    for path in (f"/stories/{slug}", "/editor/login", "/"):
        assert csp(client.get(path))["frame-ancestors"] == "'none'", path
    html = embed.text
    assert '<html lang="en">' in html
    assert "<script>" not in html  # no inline code
    assert html.count('class="post') >= 2
    assert 'data-verification="unverified"' in html
    assert "/static/live.js" in html
    assert "/static/embed.js" in html
    assert '<base target="_blank">' in html
    parser = Links()
    parser.feed(html)
    own = [a for a in parser.links if a.get("target")]
    assert own
    assert all(a["target"] == "_blank" and a.get("rel") == "noopener" for a in own)
    indonesian = client.get(f"/stories/{slug}/embed?lang=id")
    assert '<html lang="id">' in indonesian.text
    assert client.get("/stories/tidak-ada/embed").status_code == 404


def test_the_embed_is_cached_like_the_story_page(newsroom: Newsroom) -> None:
    slug = a_story(newsroom)
    client = newsroom.app.test_client()
    client.set_cookie("_ga", "GA1.2.3", domain="liveblog.test")  # someone else's cookie
    embed = client.get(f"/stories/{slug}/embed?lang=id", headers={"Accept-Encoding": "gzip"})
    assert embed.headers["Cache-Control"].startswith("public, max-age=")
    assert "cookie" not in embed.headers["Vary"].lower()
    assert "Set-Cookie" not in embed.headers  # ?lang= does not become a cookie here
    assert embed.headers["Content-Encoding"] == "gzip"
    again = client.get(
        f"/stories/{slug}/embed?lang=id",
        headers={"Accept-Encoding": "gzip", "If-None-Match": embed.headers["ETag"]},
    )
    assert again.status_code == 304
    by_header = client.get(f"/stories/{slug}/embed", headers={"Accept-Language": "en"})
    assert by_header.headers["Vary"] == "Accept-Encoding, Accept-Language"
    newsroom.post(slug, body="<p>Baru saja.</p>")
    assert client.get(f"/stories/{slug}/embed?lang=id").headers["ETag"] != embed.headers["ETag"]


def test_oembed_answers_a_rich_iframe_of_the_embed(newsroom: Newsroom) -> None:
    slug = a_story(newsroom)
    client = newsroom.app.test_client()
    answer = client.get(f"/oembed?url={BASE}/stories/{slug}&format=json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    body = json.loads(answer.data)
    assert body["version"] == "1.0"
    assert body["type"] == "rich"
    assert body["title"] == "Siaran di X membeku"
    assert body["provider_name"] == "liveblog"
    assert body["provider_url"] == f"{BASE}/"
    assert (body["width"], body["height"]) == (600, 720)
    src = re.search(r'<iframe src="([^"]+)"', body["html"])
    assert src
    assert src.group(1) == f"{BASE}/stories/{slug}/embed?lang=id"
    assert 'width="600" height="720"' in body["html"]
    assert "<script" not in body["html"]
    assert answer.headers["Cache-Control"].startswith("public")
    # The language of the URL carries over; maxwidth and maxheight are honoured.
    sized = client.get(f"/oembed?url={BASE}/stories/{slug}?lang=en&maxwidth=320&maxheight=400")
    sized_body = sized.get_json()
    assert (sized_body["width"], sized_body["height"]) == (320, 400)
    assert f"/stories/{slug}/embed?lang=en" in sized_body["html"]
    assert 'width="320" height="400"' in sized_body["html"]
    roomy = client.get(f"/oembed?url={BASE}/stories/{slug}&maxwidth=5000").get_json()
    assert roomy["width"] == 600


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (f"url={BASE}/stories/siaran&format=xml", 501),
        (f"url={BASE}/stories/tidak-ada", 404),
        (f"url={BASE}/editor", 404),
        (f"url={BASE}/stories/siaran/feed.json", 404),
        ("url=https://elsewhere.example/stories/siaran", 404),
        ("url=javascript:alert(1)", 404),
        (f"url={BASE}/stories/a%2500b", 404),
        (f"url={BASE}/stories/a%00b", 400),
        (f"url={BASE}/stories/{'a' * 5000}", 404),
        ("", 404),
        (f"url={BASE}/stories/siaran&maxwidth=lebar", 422),
    ],
)
def test_oembed_refuses_what_is_not_our_story(newsroom: Newsroom, query: str, status: int) -> None:
    a_story(newsroom)
    answer = newsroom.app.test_client().get(f"/oembed?{query}")
    assert answer.status_code == status
    assert answer.get_json()["error"]["code"]


def test_oembed_builds_the_iframe_from_the_public_url_never_the_host(tmp_path: Path) -> None:
    app: Flask = make_app(tmp_path, LIVEBLOG_PUBLIC_URL="https://berita.example/live")
    room = Newsroom(app)
    slug = a_story(room)
    client = app.test_client()
    forged = {"Host": "evil.example"}
    answer = client.get(f"/oembed?url=https://berita.example/live/stories/{slug}", headers=forged)
    assert answer.status_code == 200
    assert 'src="https://berita.example/live/stories/siaran/embed?lang=id"' in answer.json["html"]
    assert "evil" not in answer.text
    spoof = client.get(f"/oembed?url=http://evil.example/stories/{slug}", headers=forged)
    assert spoof.status_code == 404
    rt(app).db.dispose()


def test_the_story_page_links_its_oembed_and_the_desk_offers_the_code(app: Flask) -> None:
    room = Newsroom(app)
    slug = a_story(room)
    page = app.test_client().get(f"/stories/{slug}").text
    link = re.search(r'<link rel="alternate" type="application/json\+oembed"[^>]*>', page, re.S)
    assert link
    href = unescape(re.search(r'href="([^"]+)"', link.group(0)).group(1))  # type: ignore[union-attr]
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{BASE}/oembed"
    assert parse_qs(parts.query) == {"url": [f"{BASE}/stories/{slug}"], "format": ["json"]}
    assert app.test_client().get(href).get_json()["type"] == "rich"
    desk = Desk(app)
    assert desk.login("bagus").status_code == 303
    html = desk.get(f"/editor/stories/{slug}?lang=en").text
    assert 'class="copy-snippet"' in html
    assert "/static/desk-embed.js" in html
    snippet = re.search(r'<textarea id="embed-snippet-en"[^>]*>(.*?)</textarea>', html, re.S)
    assert snippet
    code = snippet.group(1)
    assert f"&lt;iframe src=&#34;{BASE}/stories/{slug}/embed?lang=en&#34;" in code
    assert "liveblog:embed-height" in code
    assert "e.origin !== &#34;http://liveblog.test&#34;" in code
