"""The story's JSON Feed 1.1 (contract section 5): shape, content, caching and paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import Newsroom, make_app, rt
from feed_schema import validate_feed
from flask import Flask
from flask.testing import FlaskClient

FEED_MIME = "application/feed+json"


def get_feed(client: FlaskClient, slug: str, **headers: str) -> Any:
    """Fetch the first feed page; validate and return the response."""
    return fetch(client, f"/stories/{slug}/feed.json", headers)


def fetch(client: FlaskClient, path: str, headers: dict[str, str] | None = None) -> Any:
    response = client.get(path, headers=headers or {})
    if response.status_code == 200:
        assert response.mimetype == FEED_MIME
        validate_feed(response.get_json())
    return response


def feed_doc(client: FlaskClient, slug: str) -> dict[str, Any]:
    response = get_feed(client, slug)
    assert response.status_code == 200
    doc: dict[str, Any] = response.get_json()
    return doc


def events(newsroom: Newsroom, slug: str) -> list[dict[str, Any]]:
    response = newsroom.call("GET", f"/api/v1/stories/{slug}/events?limit=1000", None)
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.get_json()["events"]
    return result


def patch_post(newsroom: Newsroom, slug: str, post: dict[str, Any], **fields: Any) -> Any:
    response = newsroom.call(
        "PATCH",
        f"/api/v1/stories/{slug}/posts/{post['id']}",
        json={"version": post["version"], **fields},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def delete_post(newsroom: Newsroom, slug: str, post_id: str) -> None:
    response = newsroom.call("DELETE", f"/api/v1/stories/{slug}/posts/{post_id}")
    assert response.status_code == 204


def path_of(url: str) -> str:
    """Strip scheme and host from an absolute URL for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_empty_story_feed(newsroom: Newsroom, client: FlaskClient) -> None:
    story = newsroom.story(summary="Ringkasan awal")
    response = get_feed(client, story["slug"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(FEED_MIME)
    doc = response.get_json()
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == story["title"]
    assert doc["language"] == "id"
    assert doc["description"] == "Ringkasan awal"
    assert doc["items"] == []
    assert doc["_liveblog"] == {"status": "live", "last_seq": 0}
    assert "expired" not in doc
    assert "next_url" not in doc
    assert doc["feed_url"] == story["feed_url"]
    assert doc["home_page_url"] == story["url"]


def test_items_mirror_posts_newest_first(newsroom: Newsroom, client: FlaskClient) -> None:
    slug = newsroom.story()["slug"]
    posted = [
        newsroom.post(slug, "bagus", body="<p>Satu</p>"),
        newsroom.post(
            slug,
            "rina",
            body='<p onclick="x()">Dua <script>alert(1)</script><a href="javascript:x">l</a></p>',
            verification={"status": "confirmed", "note": "Dilihat langsung"},
            pinned=True,
        ),
        newsroom.post(
            slug,
            "dewi",
            body="<p>Tiga</p><iframe src='https://evil.example'></iframe>",
            verification={"status": "disputed", "note": "Dibantah"},
            key_event=True,
        ),
    ]
    doc = feed_doc(client, slug)
    assert doc["_liveblog"] == {"status": "live", "last_seq": 3}
    assert [item["id"] for item in doc["items"]] == [p["id"] for p in reversed(posted)]
    for item, post, seq in zip(doc["items"], reversed(posted), (3, 2, 1), strict=True):
        # Every status but unverified is a visible line above the text (issue 10).
        assert item["content_html"].endswith(post["body"])
        assert (item["content_html"] == post["body"]) == (
            post["verification"]["status"] == "unverified"
        )
        assert item["date_published"] == post["published_at"]
        assert item["date_modified"] == post["updated_at"]
        assert item["authors"] == [post["author"]]
        assert item["url"].endswith(f"#post-{post['id']}")
        assert item["_liveblog"] == {
            "seq": seq,
            "verification": post["verification"],
            "pinned": post["pinned"],
            "key_event": post["key_event"],
            "corrections": [],
            "verified_by_editor": post["verified_by_editor"],
            "verification_history": post["verification_history"],
            "resolves": None,
            "followups": [],
        }
    html = " ".join(item["content_html"] for item in doc["items"])
    for unsafe in ("<script", "onclick", "javascript:", "<iframe", "alert(1)"):
        assert unsafe not in html
    assert "Dua" in html
    assert doc["items"][1]["_liveblog"]["pinned"] is True
    assert doc["items"][0]["_liveblog"]["key_event"] is True


def test_edits_corrections_and_deletions(newsroom: Newsroom, client: FlaskClient) -> None:
    slug = newsroom.story()["slug"]
    first = newsroom.post(slug, "bagus", body="<p>Awal</p>")
    second = newsroom.post(slug, "dewi", body="<p>Kedua</p>")
    third = newsroom.post(slug, "bagus", body="<p>Ketiga</p>")

    edited = patch_post(newsroom, slug, first, body="<p>Awal, diperbarui <b>tebal</b></p>")
    edited = patch_post(
        newsroom,
        slug,
        edited,
        verification={"status": "confirmed", "note": "Dicek ke polisi"},
        correction="Jam kejadian diperbaiki.",
        key_event=True,
    )
    edit_seq = events(newsroom, slug)[-1]["seq"]
    assert events(newsroom, slug)[-1]["post"]["id"] == first["id"]
    delete_post(newsroom, slug, second["id"])

    doc = feed_doc(client, slug)
    assert doc["_liveblog"]["last_seq"] == 6
    ids = [item["id"] for item in doc["items"]]
    assert ids == [third["id"], first["id"]]
    assert second["id"] not in ids
    item = doc["items"][1]
    assert item["id"] == first["id"]
    assert edited["body"] == "<p>Awal, diperbarui <b>tebal</b></p>"
    assert item["content_html"] == (
        '<p class="liveblog-status liveblog-status-confirmed"><strong>✓ Klaim terkonfirmasi'
        "</strong> — Dicek ke polisi</p>" + edited["body"]
    )
    assert item["_liveblog"]["seq"] == edit_seq == 5
    assert item["_liveblog"]["verification"] == {
        "status": "confirmed",
        "note": "Dicek ke polisi",
    }
    assert item["_liveblog"]["key_event"] is True
    corrections = item["_liveblog"]["corrections"]
    assert corrections == edited["corrections"]
    assert [c["note"] for c in corrections] == ["Jam kejadian diperbaiki."]
    assert item["date_modified"] == edited["updated_at"]
    assert datetime.fromisoformat(item["date_modified"]) >= datetime.fromisoformat(
        item["date_published"]
    )
    assert doc["items"][0]["_liveblog"]["seq"] == 3  # untouched posts keep their seq


def test_ended_story_is_expired(newsroom: Newsroom, client: FlaskClient) -> None:
    slug = newsroom.story()["slug"]
    newsroom.post(slug)
    assert "expired" not in feed_doc(client, slug)
    response = newsroom.call("PATCH", f"/api/v1/stories/{slug}", json={"status": "ended"})
    assert response.status_code == 200
    doc = feed_doc(client, slug)
    assert doc["expired"] is True
    assert doc["_liveblog"] == {"status": "ended", "last_seq": 2}
    assert len(doc["items"]) == 1
    response = newsroom.call("PATCH", f"/api/v1/stories/{slug}", json={"status": "live"})
    assert response.status_code == 200
    assert "expired" not in feed_doc(client, slug)


def test_cache_headers(newsroom: Newsroom, client: FlaskClient) -> None:
    slug = newsroom.story()["slug"]
    newsroom.post(slug)
    response = get_feed(client, slug)
    assert response.headers.get("ETag")
    directives = {
        part.strip().split("=")[0]: part.strip().partition("=")[2]
        for part in response.headers["Cache-Control"].split(",")
    }
    assert "public" in directives
    assert int(directives["max-age"]) > 0
    assert int(directives["stale-while-revalidate"]) > 0
    assert "no-store" not in directives
    assert "private" not in directives


def test_if_none_match_gives_304(newsroom: Newsroom, client: FlaskClient) -> None:
    slug = newsroom.story()["slug"]
    newsroom.post(slug)
    etag = get_feed(client, slug).headers["ETag"]
    response = get_feed(client, slug, **{"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag


def test_etag_changes_with_every_event(newsroom: Newsroom, client: FlaskClient) -> None:
    slug = newsroom.story()["slug"]
    post = newsroom.post(slug)
    seen = [get_feed(client, slug).headers["ETag"]]
    changes = [
        lambda: newsroom.post(slug, "bagus"),
        lambda: patch_post(newsroom, slug, post, pinned=True),
        lambda: newsroom.call("PATCH", f"/api/v1/stories/{slug}", json={"title": "Baru"}),
        lambda: delete_post(newsroom, slug, post["id"]),
    ]
    for change in changes:
        change()
        response = get_feed(client, slug, **{"If-None-Match": seen[-1]})
        assert response.status_code == 200
        assert response.get_json()["_liveblog"]["last_seq"] == len(seen) + 1
        assert response.headers["ETag"] not in seen
        seen.append(response.headers["ETag"])


@pytest.fixture
def small_app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path, LIVEBLOG_FEED_PAGE_SIZE=3)
    yield app
    rt(app).db.dispose()


@pytest.mark.parametrize("count", [0, 3, 10])
def test_paging_visits_every_post_once(small_app: Flask, count: int) -> None:
    page_size = small_app.config["LIVEBLOG_FEED_PAGE_SIZE"]
    assert page_size == 3
    newsroom = Newsroom(small_app)
    slug = newsroom.story()["slug"]
    posts = [newsroom.post(slug, "bagus", body=f"<p>Pos {i}</p>") for i in range(count)]
    visible = [p["id"] for p in reversed(posts)]
    if count > 5:
        for victim in (posts[1], posts[5]):
            delete_post(newsroom, slug, victim["id"])
            visible.remove(victim["id"])
        patch_post(newsroom, slug, posts[2], body="<p>Diubah</p>")

    client = small_app.test_client()
    path: str | None = f"/stories/{slug}/feed.json"
    collected: list[str] = []
    etags: dict[str, str] = {}
    pages = 0
    while path is not None:
        response = fetch(client, path)
        assert response.status_code == 200
        doc = response.get_json()
        assert 0 < len(doc["items"]) <= page_size or (count == 0 and pages == 0)
        collected += [item["id"] for item in doc["items"]]
        etags[response.headers["ETag"]] = path
        pages += 1
        assert pages <= count + 1, "next_url never ends"
        path = path_of(doc["next_url"]) if "next_url" in doc else None
    assert collected == visible
    assert len(set(collected)) == len(collected)
    assert pages == max(1, -(-len(visible) // page_size))
    assert len(etags) == pages
    for etag, page in etags.items():
        assert fetch(client, page, {"If-None-Match": etag}).status_code == 304


def test_paging_is_stable_while_the_story_moves(small_app: Flask) -> None:
    """New posts arriving mid-walk do not shift the older pages or repeat items."""
    newsroom = Newsroom(small_app)
    slug = newsroom.story()["slug"]
    posts = [newsroom.post(slug, "dewi", body=f"<p>Lama {i}</p>") for i in range(7)]
    client = small_app.test_client()
    first = fetch(client, f"/stories/{slug}/feed.json").get_json()
    collected = [item["id"] for item in first["items"]]
    assert collected == [p["id"] for p in posts[:3:-1]]
    fresh = [newsroom.post(slug, "bagus", body=f"<p>Baru {i}</p>") for i in range(4)]
    delete_post(newsroom, slug, posts[1]["id"])
    path: str | None = path_of(first["next_url"])
    while path is not None:
        doc = fetch(client, path).get_json()
        collected += [item["id"] for item in doc["items"]]
        path = path_of(doc["next_url"]) if "next_url" in doc else None
    assert collected == [posts[i]["id"] for i in (6, 5, 4, 3, 2, 0)]
    assert not set(collected) & {p["id"] for p in fresh}
    oldest = fetch(client, f"/stories/{slug}/feed.json?before=1").get_json()
    assert oldest["items"] == []
    assert "next_url" not in oldest


@pytest.mark.parametrize("before", ["abc", "0", "-1", "1.5", "99999999999"])
def test_bad_before_is_422(newsroom: Newsroom, client: FlaskClient, before: str) -> None:
    slug = newsroom.story()["slug"]
    response = client.get(f"/stories/{slug}/feed.json?before={before}")
    assert response.status_code == 422


def test_unknown_story_is_404(client: FlaskClient) -> None:
    assert client.get("/stories/no-such-story/feed.json").status_code == 404


@pytest.mark.parametrize("query", ["?before=abc", "?before=0"])
def test_bad_before_error_is_json(newsroom: Newsroom, client: FlaskClient, query: str) -> None:
    slug = newsroom.story()["slug"]
    response = client.get(f"/stories/{slug}/feed.json{query}")
    assert response.status_code == 422
    assert response.is_json
    assert response.get_json()["error"]["code"] == "invalid_field"
    assert response.get_json()["error"]["field"] == "before"
