"""Text formats and embeds (contract section 7): what the write API stores for each format."""

from __future__ import annotations

import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import Newsroom, make_app

from liveblog.embeds import classify
from liveblog.formats import TextFormat, body_html
from liveblog.sanitize import MAX_BODY_CHARS, clean_html

API = "/api/v1/stories"
YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42"
TWEET = "https://x.com/bmkgindonesia/status/1865012345678901234"


class _Elements(HTMLParser):
    """Collect every element and attribute a body really holds (text is not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def dangers(body: str) -> list[str]:
    """Return what in `body` could run script or frame another site."""
    parser = _Elements()
    parser.feed(body)
    bad = []
    for tag, attrs in parser.found:
        if tag in ("script", "iframe", "object", "embed", "svg", "style"):
            bad.append(tag)
        for name, value in attrs:
            url = re.sub(r"\s", "", value or "").lower()
            if (
                name.startswith("on")
                or name == "style"
                or url.startswith(("javascript:", "data:"))
            ):
                bad.append(f"{tag}[{name}={value}]")
    return bad


def create(newsroom: Newsroom, slug: str, body: str, fmt: str | None) -> Any:
    payload: dict[str, Any] = {"body": body}
    if fmt is not None:
        payload["format"] = fmt
    return newsroom.call("POST", f"{API}/{slug}/posts", "bagus", json=payload)


def test_markdown_becomes_sanitized_html(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    source = (
        "Gempa **M 6,1** di _Cianjur_.\n\n"
        "- BMKG: tidak berpotensi tsunami\n- Warga diimbau tenang\n\n"
        "> Kami masih mendata kerusakan.\n\n"
        "Sumber: [BMKG](https://www.bmkg.go.id/gempabumi/) dan https://bnpb.go.id/berita"
    )
    r = create(newsroom, slug, source, "markdown")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()["body"]
    assert "<strong>M 6,1</strong>" in body
    assert "<em>Cianjur</em>" in body
    assert "<ul>\n<li>BMKG: tidak berpotensi tsunami</li>" in body
    assert "<blockquote>\n<p>Kami masih mendata kerusakan.</p>\n</blockquote>" in body
    assert (
        '<a href="https://www.bmkg.go.id/gempabumi/" rel="nofollow noopener noreferrer">BMKG</a>'
        in body
    )
    assert '<a href="https://bnpb.go.id/berita" rel="nofollow noopener noreferrer">' in body
    assert clean_html(body) == body  # stored as the sanitizer keeps it


def test_text_format_makes_paragraphs_breaks_and_links(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    source = (
        "Jalan ditutup.\nPengalihan lewat https://example.id/peta.\n\n\nTunggu kabar <b>lagi</b>."
    )
    r = create(newsroom, slug, source, "text")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["body"] == (
        "<p>Jalan ditutup.<br>\nPengalihan lewat "
        '<a href="https://example.id/peta" rel="nofollow noopener noreferrer">'
        "https://example.id/peta</a>.</p>\n"
        "<p>Tunggu kabar &lt;b&gt;lagi&lt;/b&gt;.</p>"
    )


def test_html_stays_the_default(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    assert create(newsroom, slug, "<p>**bukan markdown**</p>", None).get_json()["body"] == (
        "<p>**bukan markdown**</p>"
    )
    assert create(newsroom, slug, "<p><b>ya</b></p>", "html").get_json()["body"] == (
        "<p><b>ya</b></p>"
    )


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>\n\nhalo",
        '<img src=x onerror="alert(1)">\n\nhalo',
        "[klik](javascript:alert(1))\n\nhalo",
        "[klik](JaVaScRiPt:alert(1))\n\nhalo",
        "![x](data:image/svg+xml;base64,PHN2Zz4=)\n\nhalo",
        "<iframe src=https://evil.example></iframe>\n\nhalo",
        '<a href="javascript:alert(1)">x</a>\n\nhalo',
        "[x](<javascript:alert(1)>)\n\nhalo",
        '<https://x.com/a/status/1" onclick="alert(1)>\n\nhalo',
    ],
)
@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_hostile_input_never_survives(newsroom: Newsroom, source: str, fmt: str) -> None:
    slug = newsroom.story()["slug"]
    r = create(newsroom, slug, source, fmt)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()["body"]
    assert dangers(body) == [], body
    assert clean_html(body) == body


def test_huge_and_nested_input_is_refused_or_bounded(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    before = newsroom.counts()
    too_long = create(newsroom, slug, "a" * (MAX_BODY_CHARS + 1), "markdown")
    assert too_long.status_code == 413, too_long.get_json()
    assert newsroom.counts() == before
    for hostile in ("> " * 9000, "- " * 9000, "[" * 19000, "*a" * 9000, "<p>" * 6000):
        r = create(newsroom, slug, hostile, "markdown")
        assert r.status_code in (201, 422), (hostile[:10], r.get_json())
        if r.status_code == 201:
            assert len(r.get_json()["body"]) < 4 * MAX_BODY_CHARS
    unclosed = create(newsroom, slug, "<p>" * 6000 + " " * 2000, "html")
    assert unclosed.status_code == 422, unclosed.get_json()


def test_unknown_format_is_a_422_and_changes_nothing(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    post = newsroom.post(slug)
    before = newsroom.snapshot()
    for fmt in ("rtf", 1, ["markdown"], ""):
        r = create(newsroom, slug, "halo", fmt)  # type: ignore[arg-type]
        assert r.status_code == 422, r.get_json()
        assert r.get_json()["error"]["field"] == "format"
        r = newsroom.call(
            "PATCH", f"{API}/{slug}/posts/{post['id']}", json={"version": 1, "format": fmt}
        )
        assert r.status_code == 422
    assert newsroom.snapshot() == before


def test_patch_takes_a_format(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    post = newsroom.post(slug)
    r = newsroom.call(
        "PATCH",
        f"{API}/{slug}/posts/{post['id']}",
        json={"version": 1, "body": "Pembaruan **penting**", "format": "markdown"},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["body"] == "<p>Pembaruan <strong>penting</strong></p>"


# -- embeds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "provider", "ident"),
    [
        (TWEET, "x", "1865012345678901234"),
        ("https://twitter.com/jack/status/20", "x", "20"),
        ("https://mobile.twitter.com/jack/status/20/photo/1", "x", "20"),
        (YOUTUBE, "youtube", "dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"),
        ("https://www.youtube.com/shorts/dQw4w9WgXcQ", "youtube", "dQw4w9WgXcQ"),
        ("https://www.instagram.com/p/C0aBc-1_x/", "instagram", "C0aBc-1_x"),
        (
            "https://www.tiktok.com/@bmkg/video/7311234567890123456",
            "tiktok",
            "7311234567890123456",
        ),
        ("https://www.facebook.com/bnpb/posts/pfbid02abc", "facebook", "pfbid02abc"),
    ],
)
def test_provider_urls_are_recognized(url: str, provider: str, ident: str) -> None:
    embed = classify(url)
    assert embed is not None
    assert (embed.provider, embed.id) == (provider, ident)


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/jack",
        "https://x.com/jack/status/abc",
        "https://www.youtube.com/watch?v=short",
        "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
        "https://evil.example/x.com/jack/status/20",
        "javascript://x.com/jack/status/20",
        "https://www.instagram.com/bmkg/",
    ],
)
def test_other_urls_are_not_embeds(url: str) -> None:
    assert classify(url) is None


@pytest.mark.parametrize("fmt", ["markdown", "text", "html"])
def test_a_lone_provider_url_becomes_an_embed_without_frames(newsroom: Newsroom, fmt: str) -> None:
    slug = newsroom.story()["slug"]
    lone = f"<p>{YOUTUBE.replace('&', '&amp;')}</p>" if fmt == "html" else YOUTUBE
    source = f"Rekaman warga:\n\n{lone}\n\nTonton juga {TWEET} di sini."
    r = create(newsroom, slug, source, fmt)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()["body"]
    assert (
        '<figure class="embed" data-provider="youtube" data-id="dQw4w9WgXcQ">'
        f'<a href="{YOUTUBE.replace("&", "&amp;")}" rel="nofollow noopener noreferrer">'
    ) in body
    assert "<iframe" not in body
    assert "<script" not in body
    # A URL inside a sentence stays a link in its paragraph.
    assert body.count("<figure") == 1
    assert f'<a href="{TWEET}"' in body


def test_other_lone_urls_become_link_cards_from_the_url_alone(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    r = create(newsroom, slug, "https://www.bmkg.go.id/gempabumi/terkini.bmkg?x=1", "markdown")
    assert r.get_json()["body"] == (
        '<figure class="link-card"><a href="https://www.bmkg.go.id/gempabumi/terkini.bmkg?x=1" '
        'rel="nofollow noopener noreferrer"><strong>bmkg.go.id</strong> '
        "<small>/gempabumi/terkini.bmkg</small></a></figure>"
    )


def test_forged_embed_attributes_are_dropped(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    forged = (
        '<figure class="embed x" data-provider="evil" data-id="a&quot; onload=&quot;x" '
        'data-src="https://evil.example" style="x"><a href="https://a.example">a</a></figure>'
    )
    body = create(newsroom, slug, forged, "html").get_json()["body"]
    assert (
        body
        == '<figure><a href="https://a.example" rel="nofollow noopener noreferrer">a</a></figure>'
    )


def test_embed_is_a_link_in_the_feed_and_a_card_on_the_page(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    post = create(newsroom, slug, TWEET, "text").get_json()
    feed = newsroom.client.get(f"/stories/{slug}/feed.json").get_json()
    item = next(i for i in feed["items"] if i["id"] == post["id"])
    assert f'<a href="{TWEET}"' in item["content_html"]
    assert "<iframe" not in item["content_html"]
    page = newsroom.client.get(f"/stories/{slug}")
    html = page.get_data(as_text=True)
    assert 'data-provider="x" data-id="1865012345678901234"' in html
    assert re.search(r'<script src="[^"]*embeds\.js', html)
    csp = page.headers["Content-Security-Policy"]
    frame_src = re.search(r"frame-src ([^;]*)", csp)
    assert frame_src is not None
    assert set(frame_src.group(1).split()) == {
        "https://www.youtube-nocookie.com",
        "https://platform.twitter.com",
        "https://www.instagram.com",
        "https://www.tiktok.com",
        "https://www.facebook.com",
    }


def test_body_html_is_idempotent_through_the_sanitizer() -> None:
    for fmt in TextFormat:
        body = body_html(f"{TWEET}\n\nhttps://example.com/a", fmt)
        assert clean_html(body) == body


@pytest.mark.postgres
def test_formats_and_embeds_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    app = make_app(tmp_path, postgres_url)
    newsroom = Newsroom(app)
    slug = newsroom.story()["slug"]
    r = create(newsroom, slug, f"**Gempa** susulan\n\n{YOUTUBE}", "markdown")
    assert r.status_code == 201, r.get_json()
    stored = newsroom.call("GET", f"{API}/{slug}/events?after=0", None).get_json()["events"]
    body = stored[-1]["post"]["body"]
    assert body.startswith("<p><strong>Gempa</strong> susulan</p>")
    assert 'data-provider="youtube"' in body
    assert "<iframe" not in body


def test_markdown_blocks_image_figure_and_quote_attribution() -> None:
    body = body_html(
        '![Warga mengungsi](https://a.example/i.jpg "Di Cianjur — Foto: Rina")\n\n'
        "> Kami masih mendata.\n>\n> — Kepala BPBD",
        TextFormat.MARKDOWN,
    )
    assert body == (
        '<figure><img src="https://a.example/i.jpg" alt="Warga mengungsi">'
        "<figcaption>Di Cianjur <small>Foto: Rina</small></figcaption></figure>\n"
        "<blockquote>\n<p>Kami masih mendata.</p>\n"
        "<p><cite>— Kepala BPBD</cite></p>\n</blockquote>"
    )


def test_warm_builds_the_sanitizer_before_the_first_post() -> None:
    from liveblog import sanitize
    from liveblog.formats import warm

    done = {}

    def in_a_new_thread() -> None:  # each thread keeps its own cleaner
        warm()
        done["cleaner"] = getattr(sanitize._local, "cleaner", None)

    thread = threading.Thread(target=in_a_new_thread)
    thread.start()
    thread.join(30)
    assert done["cleaner"] is not None
