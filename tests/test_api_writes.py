"""The write API's success paths and role rules, as contract sections 2 and 3 state them.

Every refusal (each 403 role rule included) is checked in test_api_refusals.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import Newsroom, public_post

from liveblog.sanitize import MAX_BODY_CHARS

API = "/api/v1/stories"
STORY_KEYS = {
    "slug", "title", "summary", "language", "timezone", "status",
    "created_at", "ended_at", "last_seq", "url", "feed_url",
}  # fmt: skip
POST_KEYS = {
    "id", "story", "body", "author", "verification", "pinned", "key_event",
    "published_at", "updated_at", "version", "corrections",
}  # fmt: skip
#: What issue 10 adds to the contract's post: the checks' timeline, who set the status.
TRUST_KEYS = {"verified_by_editor", "verification_history", "resolves", "followups"}
#: What issue 12 adds: the headline, the whole byline and the format the text was written in.
FIELD_KEYS = {"format", "headline", "authors"}
#: What only the writer's answer holds, never an event: the text as written, co-authors' logins.
WRITER_KEYS = {"source", "coauthors"}
#: ... and to the story: the editors' "what we know / what we don't know yet" wording.
STORY_TRUST_KEYS = {"known", "unknown"}
STORY = {"title": "Gempa", "language": "id", "timezone": "Asia/Jakarta"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$")


def instant(value: Any) -> datetime:
    """Parse an RFC 3339 time with an explicit offset, failing the test otherwise."""
    assert isinstance(value, str), value
    assert RFC3339.match(value), value
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() is not None
    return parsed


def recent(value: Any) -> datetime:
    """Parse a time that must be within a minute of now."""
    parsed = instant(value)
    assert abs(datetime.now(UTC) - parsed) < timedelta(minutes=1), value
    return parsed


def events(newsroom: Newsroom, slug: str, after: int = 0) -> list[dict[str, Any]]:
    """Return the story's public event log after a seq."""
    r = newsroom.call("GET", f"{API}/{slug}/events?after={after}", None)
    assert r.status_code == 200, r.get_json()
    result: list[dict[str, Any]] = r.get_json()["events"]
    return result


def patch(newsroom: Newsroom, slug: str, post_id: str, who: str = "rina", **body: Any) -> Any:
    """PATCH a post and return the response."""
    return newsroom.call("PATCH", f"{API}/{slug}/posts/{post_id}", who, json=body)


def get_story(newsroom: Newsroom, slug: str) -> dict[str, Any]:
    r = newsroom.call("GET", f"{API}/{slug}", None)
    assert r.status_code == 200, r.get_json()
    result: dict[str, Any] = r.get_json()
    return result


# -- stories ---------------------------------------------------------------------------


def test_create_story_returns_every_field(newsroom: Newsroom) -> None:
    body = {
        "title": "Banjir rendam Jakarta Utara",
        "language": "id",
        "timezone": "Asia/Jakarta",
        "summary": "Ketinggian air mencapai satu meter.",
    }
    r = newsroom.call("POST", API, json=body)
    assert r.status_code == 201, r.get_json()
    assert r.mimetype == "application/json"
    story = r.get_json()
    assert set(story) == STORY_KEYS | STORY_TRUST_KEYS
    slug = "banjir-rendam-jakarta-utara"
    expected = {**body, "slug": slug, "status": "live", "ended_at": None, "last_seq": 0}
    assert {k: story[k] for k in expected} == expected
    recent(story["created_at"])
    url, feed_url = urlsplit(story["url"]), urlsplit(story["feed_url"])
    assert (url.scheme, url.netloc, url.path) == ("http", "liveblog.test", f"/stories/{slug}")
    assert (feed_url.netloc, feed_url.path) == ("liveblog.test", f"/stories/{slug}/feed.json")
    assert r.headers["Location"] == story["url"]
    assert events(newsroom, slug) == []


def test_auto_slug_from_accented_indonesian_title(newsroom: Newsroom) -> None:
    title = "Pémilu Dàerah: Hasil Sementara di Jawa Barat — Çukup Ketat!"
    first = newsroom.story(title=title)
    assert first["slug"] == "pemilu-daerah-hasil-sementara-di-jawa-barat-cukup-ketat"
    assert first["title"] == title
    second = newsroom.story(title=title)
    assert second["slug"] != first["slug"]
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", second["slug"])
    assert get_story(newsroom, first["slug"])["title"] == title


def test_auto_slug_of_long_duplicate_title_is_well_formed(newsroom: Newsroom) -> None:
    title = "ab " * 66
    slugs = [newsroom.story(title=title)["slug"] for _ in range(2)]
    assert slugs[0] != slugs[1]
    for slug in slugs:
        assert len(slug) <= 80
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug), slug


def test_explicit_slug_is_kept(newsroom: Newsroom) -> None:
    story = newsroom.story(
        title="Anything at all", slug="gempa-cianjur-2022", language="en", timezone="Asia/Makassar"
    )
    assert story["slug"] == "gempa-cianjur-2022"
    assert (story["language"], story["timezone"], story["summary"]) == ("en", "Asia/Makassar", "")
    assert urlsplit(story["url"]).path == "/stories/gempa-cianjur-2022"
    public = newsroom.client.get(f"{API}/gempa-cianjur-2022")
    assert (public.status_code, public.get_json()) == (200, story)


def test_patch_story_title_and_summary(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    r = newsroom.call("PATCH", f"{API}/{slug}", json={"title": "Judul baru", "summary": "Baru"})
    assert r.status_code == 200, r.get_json()
    story = r.get_json()
    assert set(story) == STORY_KEYS | STORY_TRUST_KEYS
    assert (story["slug"], story["title"], story["summary"]) == (slug, "Judul baru", "Baru")
    assert (story["status"], story["last_seq"]) == ("live", 1)
    assert get_story(newsroom, slug) == story
    [event] = events(newsroom, slug)
    assert (event["seq"], event["type"], event["story"]) == (1, "story.updated", slug)
    assert event["changes"] == ["title", "summary"]
    recent(event["at"])


def test_end_and_reopen_story(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    r = newsroom.call("PATCH", f"{API}/{slug}", json={"status": "ended"})
    assert r.status_code == 200, r.get_json()
    ended = r.get_json()
    assert ended["status"] == "ended"
    recent(ended["ended_at"])
    assert get_story(newsroom, slug)["ended_at"] == ended["ended_at"]
    r = newsroom.call("PATCH", f"{API}/{slug}", json={"status": "live"})
    assert r.status_code == 200, r.get_json()
    reopened = r.get_json()
    assert (reopened["status"], reopened["ended_at"], reopened["last_seq"]) == ("live", None, 2)
    log = events(newsroom, slug)
    assert [(e["seq"], e["type"], e["changes"]) for e in log] == [
        (1, "story.updated", ["status"]),
        (2, "story.updated", ["status"]),
    ]


@pytest.mark.parametrize(
    "fields", [{"summary": "Sama"}, {"status": "live"}, {"title": "Wawancara di X tersendat"}]
)
def test_patch_story_that_changes_nothing(newsroom: Newsroom, fields: dict[str, Any]) -> None:
    story = newsroom.story(summary="Sama")
    before = newsroom.snapshot()
    r = newsroom.call("PATCH", f"{API}/{story['slug']}", json=fields)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json() == story
    assert newsroom.snapshot() == before


# -- posts -----------------------------------------------------------------------------


def test_create_post_returns_every_field(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    r = newsroom.call(
        "POST", f"{API}/{slug}/posts", "bagus", json={"body": "<p>Air <strong>naik</strong></p>"}
    )
    assert r.status_code == 201, r.get_json()
    post = r.get_json()
    assert set(post) == POST_KEYS | TRUST_KEYS | FIELD_KEYS | WRITER_KEYS
    assert isinstance(post["id"], str)
    assert post["id"]
    skip = {"id", "published_at", "updated_at", *TRUST_KEYS}
    assert {k: v for k, v in post.items() if k not in skip} == {
        "story": slug,
        "body": "<p>Air <strong>naik</strong></p>",
        "author": {"name": "Bagus"},
        "authors": [{"name": "Bagus"}],
        "format": "html",
        "source": "<p>Air <strong>naik</strong></p>",
        "headline": None,
        "coauthors": [],
        "verification": {"status": "unverified", "note": ""},
        "pinned": False,
        "key_event": False,
        "version": 1,
        "corrections": [],
    }
    assert recent(post["published_at"]) == instant(post["updated_at"])
    [event] = events(newsroom, slug)
    assert (event["seq"], event["type"], event["story"]) == (1, "post.created", slug)
    assert event["post"] == public_post(post)
    assert get_story(newsroom, slug)["last_seq"] == 1
    assert len({post["id"], *(newsroom.post(slug)["id"] for _ in range(4))}) == 5
    longest = newsroom.post(slug, body="a" * MAX_BODY_CHARS)
    assert longest["body"] == "a" * MAX_BODY_CHARS


DISPUTED = {"status": "disputed", "note": "Dibantah"}


@pytest.mark.parametrize(
    ("fields", "changes", "expect"),
    [
        ({"body": "<p>Baru</p>"}, ["body"], {"body": "<p>Baru</p>"}),
        ({"verification": DISPUTED}, ["verification"], {"verification": DISPUTED}),
        (
            {"verification": {"status": "confirmed"}},
            ["verification"],
            {"verification": {"status": "confirmed", "note": ""}},
        ),
        ({"pinned": True}, ["pinned"], {"pinned": True}),
        ({"key_event": True}, ["key_event"], {"key_event": True}),
        ({"correction": "Jam diperbaiki."}, ["corrections"], {}),
        (
            {"body": "<p>B</p>", "key_event": True, "correction": "Salah ketik."},
            ["body", "key_event", "corrections"],
            {"body": "<p>B</p>", "key_event": True},
        ),
    ],
)
def test_patch_post_one_version_one_event(
    newsroom: Newsroom, fields: dict[str, Any], changes: list[str], expect: dict[str, Any]
) -> None:
    slug = newsroom.story()["slug"]
    old = newsroom.post(slug, "bagus")
    r = patch(newsroom, slug, old["id"], version=1, **fields)
    assert r.status_code == 200, r.get_json()
    new = r.get_json()
    assert set(new) == POST_KEYS | TRUST_KEYS | FIELD_KEYS | WRITER_KEYS
    assert new["version"] == 2
    assert instant(new["updated_at"]) >= instant(old["updated_at"])
    untouched = POST_KEYS - {"version", "updated_at", "corrections", *expect}
    assert {k: new[k] for k in untouched} == {k: old[k] for k in untouched}
    assert {k: new[k] for k in expect} == expect
    if "correction" in fields:
        [notice] = new["corrections"]
        assert notice["note"] == fields["correction"]
        recent(notice["at"])
    else:
        assert new["corrections"] == []
    log = events(newsroom, slug, after=1)
    assert len(log) == 1
    assert (log[0]["seq"], log[0]["type"], log[0]["changes"]) == (2, "post.updated", changes)
    assert log[0]["post"] == public_post(new)


def test_version_rises_by_one_per_change(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    post_id = newsroom.post(slug)["id"]
    steps: list[dict[str, Any]] = [
        {"correction": "Pertama."},
        {"verification": {"status": "false", "note": "Hoaks"}},
        {"correction": "Kedua."},
        {"pinned": True},
    ]
    for version, step in enumerate(steps, start=1):
        r = patch(newsroom, slug, post_id, version=version, **step)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["version"] == version + 1
    final = r.get_json()
    assert [c["note"] for c in final["corrections"]] == ["Pertama.", "Kedua."]
    first_at, second_at = (instant(c["at"]) for c in final["corrections"])
    assert first_at <= second_at
    log = events(newsroom, slug)
    assert [e["seq"] for e in log] == [1, 2, 3, 4, 5]
    assert [e["post"]["version"] for e in log] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "fields",
    [
        {"body": "<p>Siaran belum dimulai.</p>"},
        {"body": "<p>Siaran belum dimulai.</p><script>alert(1)</script>"},
        {"pinned": False},
        {"key_event": False},
        {"verification": {"status": "unverified"}},
        {
            "verification": {"status": "unverified", "note": ""},
            "body": "<p>Siaran belum dimulai.</p>",
        },
    ],
)
def test_patch_that_changes_nothing(newsroom: Newsroom, fields: dict[str, Any]) -> None:
    slug = newsroom.story()["slug"]
    post = newsroom.post(slug)
    before, counts = newsroom.snapshot(), newsroom.counts()
    r = patch(newsroom, slug, post["id"], version=1, **fields)
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == post
    assert (newsroom.snapshot(), newsroom.counts()) == (before, counts)
    assert get_story(newsroom, slug)["last_seq"] == 1


@pytest.mark.parametrize("fields", [{}, {"format": "markdown"}])
def test_patch_without_a_changeable_field_names_them_all(
    newsroom: Newsroom, fields: dict[str, Any]
) -> None:
    slug = newsroom.story()["slug"]
    post = newsroom.post(slug)
    before = newsroom.snapshot()
    r = patch(newsroom, slug, post["id"], version=1, **fields)
    assert r.status_code == 422, r.get_json()
    message = r.get_json()["error"]["message"]
    for field in ("body", "format", "headline", "coauthors", "verification", "resolves"):
        assert field in message, field
    assert newsroom.snapshot() == before


def test_delete_post(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    keep = newsroom.post(slug, "dewi")
    gone = newsroom.post(slug, "bagus")
    r = newsroom.call("DELETE", f"{API}/{slug}/posts/{gone['id']}")
    assert r.status_code == 204
    assert r.get_data() == b""
    [event] = events(newsroom, slug, after=2)
    assert (event["seq"], event["type"], event["story"]) == (3, "post.deleted", slug)
    assert event["post"]["id"] == gone["id"]
    recent(event["at"])
    assert get_story(newsroom, slug)["last_seq"] == 3
    for method, body in (("PATCH", {"version": 1, "body": "x"}), ("DELETE", None)):
        r = newsroom.call(method, f"{API}/{slug}/posts/{gone['id']}", json=body)
        assert r.status_code == 404, (method, r.get_json())
    feed = newsroom.client.get(f"/stories/{slug}/feed.json").get_json()
    assert [item["id"] for item in feed["items"]] == [keep["id"]]
    assert newsroom.post(slug)["id"] not in (keep["id"], gone["id"])


def test_seq_is_gapless_and_per_story(newsroom: Newsroom) -> None:
    a = newsroom.story(title="Story A")["slug"]
    b = newsroom.story(title="Story B")["slug"]
    pa = newsroom.post(a)["id"]
    newsroom.post(b)
    assert patch(newsroom, a, pa, version=1, key_event=True).status_code == 200
    assert newsroom.call("PATCH", f"{API}/{b}", json={"title": "Story B2"}).status_code == 200
    newsroom.post(a, "bagus")
    assert newsroom.call("DELETE", f"{API}/{a}/posts/{pa}").status_code == 204
    assert [e["seq"] for e in events(newsroom, a)] == [1, 2, 3, 4]
    assert [e["type"] for e in events(newsroom, a)] == [
        "post.created", "post.updated", "post.created", "post.deleted",
    ]  # fmt: skip
    assert [e["seq"] for e in events(newsroom, b)] == [1, 2]
    assert {e["story"] for e in events(newsroom, b)} == {b}
    assert [e["seq"] for e in events(newsroom, a, after=2)] == [3, 4]
    page = newsroom.call("GET", f"{API}/{a}/events?after=1&limit=2", None).get_json()
    assert ([e["seq"] for e in page["events"]], page["last_seq"]) == ([2, 3], 4)
    assert (get_story(newsroom, a)["last_seq"], get_story(newsroom, b)["last_seq"]) == (4, 2)


# -- roles -----------------------------------------------------------------------------


def test_reporter_edits_own_post_and_may_dispute(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    post = newsroom.post(slug, "bagus", verification={"status": "disputed", "note": "Ragu"})
    assert post["verification"] == {"status": "disputed", "note": "Ragu"}
    steps: list[dict[str, Any]] = [
        {"body": "<p>Lagi</p>", "key_event": True, "correction": "Ralat."},
        {"verification": {"status": "unverified"}},
        {"verification": {"status": "disputed"}},
    ]
    for version, step in enumerate(steps, start=1):
        r = patch(newsroom, slug, post["id"], "bagus", version=version, **step)
        assert (r.status_code, r.get_json()["version"]) == (200, version + 1)


@pytest.mark.parametrize("status", ["confirmed", "false"])
def test_reporter_may_not_confirm_or_falsify(newsroom: Newsroom, status: str) -> None:
    slug = newsroom.story()["slug"]
    own = newsroom.post(slug, "bagus")
    before = newsroom.snapshot()
    body = {"body": "x", "verification": {"status": status}}
    assert newsroom.call("POST", f"{API}/{slug}/posts", "bagus", json=body).status_code == 403
    r = patch(newsroom, slug, own["id"], "bagus", version=1, verification={"status": status})
    assert r.status_code == 403
    assert newsroom.snapshot() == before
    r = patch(newsroom, slug, own["id"], "rina", version=1, verification={"status": status})
    assert (r.status_code, r.get_json()["verification"]["status"]) == (200, status)


@pytest.mark.parametrize(("editor", "name"), [("rina", "Rina"), ("ada", "Ada")])
def test_editor_and_admin_powers(newsroom: Newsroom, editor: str, name: str) -> None:
    slug = newsroom.story(editor, title="Meja redaksi")["slug"]
    verified = {"status": "confirmed", "note": "Dikonfirmasi BPBD"}
    own = newsroom.post(slug, editor, verification=verified, pinned=True, key_event=True)
    assert (own["verification"], own["pinned"], own["key_event"]) == (verified, True, True)
    assert own["author"] == {"name": name}
    other = newsroom.post(slug, "bagus")
    r = patch(
        newsroom, slug, other["id"], editor, version=1, body="<p>Disunting</p>", pinned=True,
        verification={"status": "false", "note": "Hoaks"},
    )  # fmt: skip
    assert r.status_code == 200, r.get_json()
    edited = r.get_json()
    assert (edited["body"], edited["pinned"], edited["author"]) == (
        "<p>Disunting</p>", True, {"name": "Bagus"},
    )  # fmt: skip
    assert edited["verification"] == {"status": "false", "note": "Hoaks"}
    assert newsroom.call("DELETE", f"{API}/{slug}/posts/{other['id']}", editor).status_code == 204
    r = newsroom.call("PATCH", f"{API}/{slug}", editor, json={"status": "ended"})
    assert (r.status_code, r.get_json()["status"]) == (200, "ended")
    assert [e["type"] for e in events(newsroom, slug)] == [
        "post.created", "post.created", "post.updated", "post.deleted", "story.updated",
    ]  # fmt: skip


# -- sanitizing ------------------------------------------------------------------------

DIRTY = (
    '<p onclick="steal()">Hai<script>alert(1)</script>'
    '<img src="https://example.org/a.png" onerror="alert(2)">'
    '<a href="javascript:alert(3)">klik</a></p><iframe src="https://evil.test"></iframe>'
)


def assert_clean(body: str) -> None:
    lowered = body.lower()
    for needle in ("<script", "alert(", "onerror", "onclick", "javascript:", "<iframe"):
        assert needle not in lowered, body
    assert "Hai" in body
    assert 'src="https://example.org/a.png"' in body


def test_dirty_body_is_stored_and_served_clean(newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    created = newsroom.post(slug, "bagus", body=DIRTY)
    assert_clean(created["body"])
    r = patch(newsroom, slug, created["id"], "bagus", version=1, body=DIRTY + "<p>Lagi</p>")
    assert r.status_code == 200, r.get_json()
    updated = r.get_json()
    assert_clean(updated["body"])
    assert updated["body"].endswith("<p>Lagi</p>")
    log = events(newsroom, slug)
    assert [e["post"]["body"] for e in log] == [created["body"], updated["body"]]
    raw = newsroom.call("GET", f"{API}/{slug}/events", None).get_data(as_text=True)
    assert "onerror" not in raw
    assert "<script" not in raw
