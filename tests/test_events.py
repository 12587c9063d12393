"""The public per-story event log (contract section 4): order, paging, shape, no gaps."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from conftest import Newsroom, public_post

RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)
TRUST_KEYS = {"verified_by_editor", "verification_history", "resolves", "followups"}
POST_KEYS = {
    "id",
    "story",
    "body",
    "author",
    "verification",
    "pinned",
    "key_event",
    "published_at",
    "updated_at",
    "version",
    "corrections",
}
TYPES = {"post.created", "post.updated", "post.deleted", "story.updated"}


def log(newsroom: Newsroom, slug: str, query: str = "") -> dict[str, Any]:
    """Fetch the events page without a token and return its JSON."""
    response = newsroom.client.get(f"/api/v1/stories/{slug}/events{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_json
    doc: dict[str, Any] = response.get_json()
    assert set(doc) == {"events", "last_seq"}
    return doc


def all_events(newsroom: Newsroom, slug: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = log(newsroom, slug, "?limit=1000")["events"]
    return events


def patch(newsroom: Newsroom, path: str, who: str = "rina", **body: Any) -> Any:
    response = newsroom.call("PATCH", path, who, json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def check_shape(event: dict[str, Any], slug: str) -> None:
    assert {"seq", "type", "at", "story"} <= set(event)
    assert isinstance(event["seq"], int)
    assert event["type"] in TYPES
    assert event["story"] == slug
    assert RFC3339.match(event["at"]), event["at"]
    assert datetime.fromisoformat(event["at"]).tzinfo is not None
    if event["type"].startswith("post."):
        assert isinstance(event["post"]["id"], str)
    post = event.get("post") or {}
    if post.get("redacted"):  # an earlier event of a post since deleted: no text left
        assert post == {"id": post["id"], "redacted": True}
    elif event["type"] in ("post.created", "post.updated"):
        assert set(event["post"]) == POST_KEYS | TRUST_KEYS | {"format", "headline", "authors"}
        assert event["post"]["story"] == slug
    if "changes" in event:
        assert isinstance(event["changes"], list)
        assert all(isinstance(c, str) for c in event["changes"])


def test_new_story_has_empty_log(newsroom: Newsroom) -> None:
    story = newsroom.story()
    assert story["last_seq"] == 0
    assert log(newsroom, story["slug"]) == {"events": [], "last_seq": 0}


def test_after_and_limit(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    posts = [newsroom.post(slug, "bagus", body=f"<p>{i}</p>") for i in range(7)]
    doc = log(newsroom, slug)
    assert [e["seq"] for e in doc["events"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [e["post"]["id"] for e in doc["events"]] == [p["id"] for p in posts]
    assert doc["last_seq"] == 7
    for after, limit, expected in [
        (0, 3, [1, 2, 3]),
        (3, 3, [4, 5, 6]),
        (6, 3, [7]),
        (7, 3, []),
        (2, 1, [3]),
        (4, 100, [5, 6, 7]),
        (50, 10, []),
    ]:
        doc = log(newsroom, slug, f"?after={after}&limit={limit}")
        assert [e["seq"] for e in doc["events"]] == expected, (after, limit)
        assert doc["last_seq"] == 7
    # Paging through with a small limit visits every event exactly once.
    seen: list[int] = []
    after = 0
    while True:
        page = log(newsroom, slug, f"?after={after}&limit=2")["events"]
        if not page:
            break
        seen += [e["seq"] for e in page]
        after = page[-1]["seq"]
    assert seen == list(range(1, 8))


def test_pages_are_cacheable_and_revalidate_with_304(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    for i in range(3):
        newsroom.post(slug, "bagus", body=f"<p>{i}</p>")
    url = f"/api/v1/stories/{slug}/events?after=0&limit=100"
    first = newsroom.client.get(url)
    assert first.status_code == 200
    cache_control = first.headers["Cache-Control"]
    assert cache_control.startswith("public, max-age=3"), cache_control
    etag = first.headers["ETag"]
    assert etag
    assert "Accept-Encoding" in first.headers["Vary"]
    again = newsroom.client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    newsroom.post(slug, "bagus", body="<p>baru</p>")
    changed = newsroom.client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200  # a new event is a new tag
    assert [e["seq"] for e in changed.get_json()["events"]] == [1, 2, 3, 4]
    assert changed.headers["ETag"] != etag


@pytest.mark.parametrize(
    "query", ["?after=-1", "?after=abc", "?limit=0", "?limit=1001", "?limit=x", "?after=1.5"]
)
def test_bad_parameters_are_422_json(newsroom: Newsroom, query: str) -> None:
    slug = newsroom.story()["slug"]
    response = newsroom.client.get(f"/api/v1/stories/{slug}/events{query}")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_field"


def test_unknown_story_is_404_json(newsroom: Newsroom) -> None:
    response = newsroom.client.get("/api/v1/stories/nothing-here/events")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_event_shapes(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    base = f"/api/v1/stories/{slug}"
    post = newsroom.post(slug, "bagus", body="<p>Awal</p>")
    v2 = patch(newsroom, f"{base}/posts/{post['id']}", "bagus", version=1, body="<p>Baru</p>")
    v3 = patch(
        newsroom,
        f"{base}/posts/{post['id']}",
        version=2,
        verification={"status": "confirmed", "note": "Dicek"},
    )
    v4 = patch(newsroom, f"{base}/posts/{post['id']}", version=3, pinned=True, key_event=True)
    v5 = patch(newsroom, f"{base}/posts/{post['id']}", version=4, correction="Diperbaiki.")
    patch(newsroom, base, title="Judul baru", summary="Ringkasan baru")
    before_delete = all_events(newsroom, slug)
    assert newsroom.call("DELETE", f"{base}/posts/{post['id']}").status_code == 204
    patch(newsroom, base, status="ended")

    events = all_events(newsroom, slug)
    # The deletion scrubbed the post's earlier events: same seq, type, time and field names.
    for old, new in zip(before_delete, events, strict=False):
        if "post" in old:
            assert new == {**old, "post": {"id": post["id"], "redacted": True}}
        else:
            assert new == old
    events[: len(before_delete)] = before_delete
    for event in events:
        check_shape(event, slug)
    assert [e["seq"] for e in events] == list(range(1, 9))
    assert [e["type"] for e in events] == [
        "post.created",
        *["post.updated"] * 4,
        "story.updated",
        "post.deleted",
        "story.updated",
    ]
    assert events[0]["post"] == public_post(post)
    assert "changes" not in events[0]
    for event, expected, changes in zip(
        events[1:5],
        (v2, v3, v4, v5),
        (["body"], ["verification"], ["pinned", "key_event"], ["corrections"]),
        strict=True,
    ):
        assert event["post"] == public_post(expected)
        assert sorted(event["changes"]) == sorted(changes)
    assert events[4]["post"]["version"] == 5
    assert events[4]["post"]["corrections"][0]["note"] == "Diperbaiki."
    assert sorted(events[5]["changes"]) == ["summary", "title"]
    assert "post" not in events[5]
    assert events[6]["post"]["id"] == post["id"]
    assert "status" in events[7]["changes"]
    assert log(newsroom, slug)["last_seq"] == 8
    story = newsroom.call("GET", base, None).get_json()
    assert story["last_seq"] == 8


def test_no_op_and_refused_changes_write_no_event(newsroom: Newsroom) -> None:
    slug = newsroom.story(title="Tetap")["slug"]
    base = f"/api/v1/stories/{slug}"
    post = newsroom.post(slug, "bagus")
    same = {"version": 1, "body": post["body"], "pinned": False}
    unchanged = newsroom.call("PATCH", f"{base}/posts/{post['id']}", json=same)
    assert unchanged.status_code == 200
    assert unchanged.get_json()["version"] == 1
    refused = [
        newsroom.call("PATCH", f"{base}/posts/{post['id']}", json={"version": 9, "body": "x"}),
        newsroom.call(
            "PATCH", f"{base}/posts/{post['id']}", "dewi", json={"version": 1, "body": "<p>y</p>"}
        ),
        newsroom.call("POST", f"{base}/posts", "bagus", json={"body": "<p>z</p>", "pinned": True}),
        newsroom.call("POST", f"{base}/posts", json={"body": 5}),
        newsroom.call("DELETE", f"{base}/posts/{post['id']}", "bagus"),
        newsroom.call("DELETE", f"{base}/posts/nope"),
        newsroom.call("PATCH", base, "bagus", json={"title": "Lain"}),
        newsroom.call("PATCH", base, json={"status": "paused"}),
    ]
    assert [r.status_code for r in refused] == [409, 403, 403, 422, 403, 404, 403, 422]
    assert log(newsroom, slug)["last_seq"] == 1
    newsroom.post(slug)
    assert [e["seq"] for e in all_events(newsroom, slug)] == [1, 2]


def test_story_patch_without_change_writes_no_event(newsroom: Newsroom) -> None:
    story = newsroom.story(title="Tetap", summary="Sama")
    newsroom.post(story["slug"])
    path = f"/api/v1/stories/{story['slug']}"
    before = newsroom.call("GET", path, None).get_json()
    response = newsroom.call("PATCH", path, json={"title": "Tetap", "summary": "Sama"})
    assert response.status_code == 200
    assert response.get_json() == before
    assert before["last_seq"] == 1
    assert log(newsroom, story["slug"])["last_seq"] == 1
    assert newsroom.call("GET", path, None).get_json() == before


def test_seq_has_no_gaps_per_story(newsroom: Newsroom) -> None:
    one = newsroom.story(title="Cerita satu")["slug"]
    two = newsroom.story(title="Cerita dua")["slug"]
    assert one != two
    expected = {one: 0, two: 0}
    live: dict[str, list[dict[str, Any]]] = {one: [], two: []}
    for i in range(24):
        slug = (one, two)[i % 3 == 0]
        step = i % 4
        if step in (0, 1) or not live[slug]:
            live[slug].append(newsroom.post(slug, ("bagus", "dewi", "rina")[i % 3]))
        elif step == 2:
            target = live[slug][-1]
            updated = patch(
                newsroom,
                f"/api/v1/stories/{slug}/posts/{target['id']}",
                version=target["version"],
                body=f"<p>Edit {i}</p>",
            )
            live[slug][-1] = updated
        else:
            victim = live[slug].pop(0)
            response = newsroom.call("DELETE", f"/api/v1/stories/{slug}/posts/{victim['id']}")
            assert response.status_code == 204
        expected[slug] += 1
        # A refused change in between must not burn a seq.
        newsroom.call("PATCH", f"/api/v1/stories/{slug}", "bagus", json={"title": "Tidak"})
    for slug in (one, two):
        events = all_events(newsroom, slug)
        assert [e["seq"] for e in events] == list(range(1, expected[slug] + 1))
        assert all(e["story"] == slug for e in events)
        assert log(newsroom, slug)["last_seq"] == expected[slug]
        created = [e["post"]["id"] for e in events if e["type"] == "post.created"]
        assert len(created) == len(set(created))
    assert min(expected.values()) > 0
