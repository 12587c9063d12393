"""A deleted post's text leaves every public place, the log's replays included (contract
section 9); the private history keeps who, when and why; an admin's purge erases the text
from it too. On SQLite and PostgreSQL, over the API, the desk and a real WebSocket."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Newsroom, make_app, public_post, rt
from desk_client import Desk
from servers import Reader, Server, api, prepare, server_env
from sqlalchemy import select

from liveblog.models import Post, PostRevision

SECRET = "Jalan Melati 7"  # a witness's home address: it must not survive a takedown
NOTE = "Saksi di Melati"
CORRECTION = "Alamat Melati diralat"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None for SQLite, or a throwaway PostgreSQL database's URL."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return None


@pytest.fixture
def room(tmp_path: Path, db_url: str | None) -> Iterator[Newsroom]:
    """Editor rina, reporters bagus and dewi, admin ada, on either database."""
    app = make_app(tmp_path, db_url)
    yield Newsroom(app)
    rt(app).db.dispose()


def exposed_post(room: Newsroom) -> tuple[str, str]:
    """A post whose text went out in four events; return (slug, post id)."""
    slug = room.story()["slug"]
    room.post(slug, "dewi", body="<p>Tetap tayang.</p>")
    post = room.post(slug, "bagus", body=f"<p>Saksi tinggal di {SECRET}.</p>")
    base = f"/api/v1/stories/{slug}/posts/{post['id']}"
    for version, change in enumerate(
        (
            {"verification": {"status": "disputed", "note": NOTE}},
            {"correction": CORRECTION},
            {"body": f"<p>Saksi: {SECRET}, lantai 2.</p>"},
        ),
        start=1,
    ):
        r = room.call("PATCH", base, "rina", json={"version": version, **change})
        assert r.status_code == 200, r.get_json()
    return slug, post["id"]


def public_texts(room: Newsroom, slug: str) -> dict[str, str]:
    """Every public answer about the story, as text."""
    return {
        path: room.client.get(path).get_data(as_text=True)
        for path in (
            f"/api/v1/stories/{slug}/events?after=0&limit=1000",
            f"/stories/{slug}",
            f"/stories/{slug}/feed.json",
        )
    }


def assert_gone(texts: dict[str, str]) -> None:
    for path, text in texts.items():
        for secret in (SECRET, NOTE, CORRECTION):
            assert secret not in text, (path, secret)


def test_delete_scrubs_every_replay(room: Newsroom) -> None:
    slug, post_id = exposed_post(room)
    before = room.client.get(f"/api/v1/stories/{slug}/events").get_json()["events"]
    assert SECRET in json.dumps(before)
    r = room.call("DELETE", f"/api/v1/stories/{slug}/posts/{post_id}", "rina")
    assert r.status_code == 204
    texts = public_texts(room, slug)
    assert_gone(texts)
    after = json.loads(texts[f"/api/v1/stories/{slug}/events?after=0&limit=1000"])["events"]
    assert [(e["seq"], e["type"], e["at"]) for e in after[: len(before)]] == [
        (e["seq"], e["type"], e["at"]) for e in before
    ]
    for old, new in zip(before, after, strict=False):
        if old["post"]["id"] == post_id:
            assert new["post"] == {"id": post_id, "redacted": True}
            assert new.get("changes") == old.get("changes")
        else:
            assert new == old  # other posts' events are untouched
    assert after[-1]["type"] == "post.deleted"
    assert after[-1]["post"] == {"id": post_id}
    assert [e["seq"] for e in after] == list(range(1, len(before) + 2))


def test_history_keeps_who_when_and_why(tmp_path: Path, room: Newsroom) -> None:
    slug, post_id = exposed_post(room)
    r = room.call(
        "DELETE",
        f"/api/v1/stories/{slug}/posts/{post_id}",
        "rina",
        json={"reason": "Alamat pribadi saksi"},
    )
    assert r.status_code == 204
    desk = Desk(room.app)
    assert desk.login("rina").status_code == 303
    revisions = desk.get(f"/editor/api/stories/{slug}/posts/{post_id}/revisions").get_json()[
        "revisions"
    ]
    newest = revisions[0]
    assert newest["changes"] == ["deleted"]
    assert newest["reason"] == "Alamat pribadi saksi"
    assert newest["editor"] == {"name": "Rina"}
    assert SECRET in newest["body"]  # private: the text stays until a purge
    assert [r["version"] for r in revisions] == [5, 4, 3, 2, 1]


def test_bad_reason_changes_nothing(room: Newsroom) -> None:
    slug, post_id = exposed_post(room)
    before = room.snapshot()
    for body, status in (({"reason": 3}, 422), ({"why": "x"}, 422), ("[", 400)):
        kw: dict[str, Any] = {"json": body} if not isinstance(body, str) else {"data": body}
        r = room.call("DELETE", f"/api/v1/stories/{slug}/posts/{post_id}", "rina", **kw)
        assert r.status_code == status, r.get_json()
    assert room.snapshot() == before


def revisions_of(room: Newsroom, post_id: str) -> list[PostRevision]:
    with rt(room.app).db.read() as session:
        rows = session.scalars(
            select(PostRevision)
            .where(PostRevision.post_id == post_id)
            .order_by(PostRevision.version)
        )
        return list(rows)


@pytest.mark.parametrize("deleted_first", [False, True])
def test_admin_purge_erases_the_history_text(room: Newsroom, deleted_first: bool) -> None:
    slug, post_id = exposed_post(room)
    base = f"/api/v1/stories/{slug}/posts/{post_id}"
    if deleted_first:
        assert room.call("DELETE", base, "rina").status_code == 204
    last_seq = room.call("GET", f"/api/v1/stories/{slug}", None).get_json()["last_seq"]
    r = room.call("POST", f"{base}/purge", "ada", json={"reason": "Perintah pengadilan"})
    assert r.status_code == 204, r.get_json()
    story = room.call("GET", f"/api/v1/stories/{slug}", None).get_json()
    # Purging a post already down changes nothing public: no event. Otherwise one.
    assert story["last_seq"] == last_seq + (0 if deleted_first else 1)
    assert_gone(public_texts(room, slug))
    rows = revisions_of(room, post_id)
    assert all(row.body == "" and row.verification_note == "" for row in rows)
    assert rows[-1].changes == "purged"
    assert rows[-1].reason == "Perintah pengadilan"
    assert [row.changes for row in rows][-2] == "deleted"
    with rt(room.app).db.read() as session:
        post = session.get(Post, post_id)
        assert post is not None
        assert post.body == ""
        assert post.purged_at is not None
        assert SECRET not in json.dumps(post.verification_history)
        assert all(c.note == "" for c in post.corrections)
        assert NOTE not in json.dumps(post.verification_history)
    again = room.call("POST", f"{base}/purge", "ada", json={"reason": "Lagi"})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_purged"


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("rina", {"reason": "x"}, 403),
        ("bagus", {"reason": "x"}, 403),
        (None, {"reason": "x"}, 401),
        ("ada", {}, 422),
        ("ada", {"reason": ""}, 422),
        ("ada", {"reason": "x", "extra": 1}, 422),
        ("ada", [], 400),
    ],
)
def test_purge_refusals_change_nothing(
    room: Newsroom, who: str | None, body: Any, status: int
) -> None:
    slug, post_id = exposed_post(room)
    before = room.snapshot()
    r = room.call("POST", f"/api/v1/stories/{slug}/posts/{post_id}/purge", who, json=body)
    assert r.status_code == status, r.get_json()
    assert room.snapshot() == before
    assert SECRET in revisions_of(room, post_id)[0].body


def test_purge_of_unknown_post_is_404(room: Newsroom) -> None:
    slug = room.story()["slug"]
    r = room.call("POST", f"/api/v1/stories/{slug}/posts/nope/purge", "ada", json={"reason": "x"})
    assert r.status_code == 404


def test_desk_delete_with_reason_and_admin_purge(room: Newsroom) -> None:
    slug, post_id = exposed_post(room)
    other = room.post(slug, "bagus", body=f"<p>{SECRET} lagi.</p>")
    rina = Desk(room.app)
    assert rina.login("rina").status_code == 303
    r = rina.json("POST", f"/editor/api/stories/{slug}/posts/{post_id}/purge", {"reason": "x"})
    assert r.status_code == 403
    r = rina.json("DELETE", f"/editor/api/stories/{slug}/posts/{post_id}", {"reason": "Privasi"})
    assert r.status_code == 204
    ada = Desk(room.app)
    assert ada.login("ada").status_code == 303
    purge = f"/editor/api/stories/{slug}/posts/{other['id']}/purge"
    r = ada.json("POST", purge, {"reason": "Hukum"})
    assert r.status_code == 204, r.get_json()
    assert_gone(public_texts(room, slug))
    assert revisions_of(room, other["id"])[-1].reason == "Hukum"
    assert revisions_of(room, post_id)[-1].reason == "Privasi"
    page = ada.get(f"/editor/stories/{slug}?lang=en").text
    assert "Also erase the text from the private history" in page


# -- a real server and a real WebSocket reader ---------------------------------------------


def test_websocket_replay_from_zero_is_scrubbed(tmp_path: Path, db_url: str | None) -> None:
    url = db_url or f"sqlite:///{tmp_path / 'live.db'}"
    token = prepare(url)
    server = Server(server_env(tmp_path, url)).start()
    try:
        slug = f"takedown-{uuid.uuid4().hex[:8]}"
        story = {"title": "T", "language": "id", "timezone": "Asia/Jakarta", "slug": slug}
        api(server, token, "POST", "/api/v1/stories", story)
        posts = f"/api/v1/stories/{slug}/posts"
        kept = api(server, token, "POST", posts, {"body": "<p>Tetap.</p>"})
        gone = api(server, token, "POST", posts, {"body": f"<p>{SECRET}</p>"})
        live = Reader(server.ws_url(slug)).start()  # connected before the takedown
        try:
            live.wait_for(2)
            api(server, token, "DELETE", f"{posts}/{gone['id']}", {"reason": "Privasi"})
            live.wait_for(3)
        finally:
            live.close()
        late = Reader(server.ws_url(slug)).start()  # replays from 0 after it
        try:
            late.wait_for(3)
        finally:
            late.close()
        assert late.seqs() == [1, 2, 3]
        assert [e["type"] for e in late.events] == ["post.created"] * 2 + ["post.deleted"]
        assert late.events[0]["post"] == public_post(kept)
        assert late.events[1]["post"] == {"id": gone["id"], "redacted": True}
        assert SECRET not in json.dumps(late.events)
    finally:
        server.stop()


def test_cli_purge(room: Newsroom) -> None:
    slug, post_id = exposed_post(room)
    runner = room.app.test_cli_runner()
    args = ["purge-post", slug, post_id, "--reason", "Perintah pengadilan"]
    refused = runner.invoke(args=[*args, "--as", "rina"])
    assert refused.exit_code != 0
    assert "Only admins" in refused.output
    assert SECRET in revisions_of(room, post_id)[0].body
    result = runner.invoke(args=[*args, "--as", "ada"])
    assert result.exit_code == 0, result.output
    rows = revisions_of(room, post_id)
    assert all(SECRET not in row.body for row in rows)
    assert (rows[-1].changes, rows[-1].reason) == ("purged", "Perintah pengadilan")
    assert_gone(public_texts(room, slug))
