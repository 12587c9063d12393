"""Partner keys: read-only, hashed, their own rate limit, usage counted (issue 13, item 4)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Newsroom, make_app, rt
from desk_client import Desk
from flask import Flask
from sqlalchemy import select

from liveblog.models import PartnerKey
from liveblog.partners import create_key, list_keys

FEEDS = ("feed.json", "feed.atom")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def papp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on SQLite or PostgreSQL that writes usage at once (no batching delay)."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    app = make_app(tmp_path, url, LIVEBLOG_USAGE_FLUSH_SECONDS=0)
    yield app
    rt(app).db.dispose()


@pytest.fixture
def room(papp: Flask) -> Newsroom:
    return Newsroom(papp)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def a_story(room: Newsroom) -> str:
    slug: str = room.story(title="Siaran di X membeku", slug="siaran")["slug"]
    room.post(slug, body="<p>Pendengar tertahan di layar tunggu.</p>")
    return slug


def test_cli_prints_the_key_alone_and_stores_only_its_hash(papp: Flask) -> None:
    runner = papp.test_cli_runner()
    result = runner.invoke(args=["create-partner-key", "kabar-daerah", "--rate", "7"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert result.stdout == key + "\n"
    assert key.startswith("lbk_")
    assert len(key) > 40
    with rt(papp).db.read() as session:
        row = session.scalars(select(PartnerKey)).one()
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert row.rate_per_minute == 7
        assert key not in repr([row.key_hash, row.name])
    again = runner.invoke(args=["create-partner-key", "kabar-daerah"])
    assert again.exit_code != 0  # one live key per partner
    done = runner.invoke(args=["revoke-partner-key", "kabar-daerah"])
    assert done.exit_code == 0
    assert runner.invoke(args=["revoke-partner-key", "kabar-daerah"]).exit_code != 0
    # Once revoked, the name may get a new key (rotation).
    assert runner.invoke(args=["create-partner-key", "kabar-daerah"]).exit_code == 0


def test_feeds_and_events_stay_public_and_keys_make_answers_private(room: Newsroom) -> None:
    slug = a_story(room)
    key = create_key(rt(room.app).db, "kabar", 100)
    client = room.app.test_client()
    for path in (*(f"/stories/{slug}/{f}" for f in FEEDS), f"/api/v1/stories/{slug}/events"):
        public = client.get(path)
        assert public.status_code == 200, path
        assert public.headers["Cache-Control"].startswith("public"), path
        keyed = client.get(path, headers=bearer(key))
        assert keyed.status_code == 200, path
        assert keyed.headers["Cache-Control"] == "private, no-cache", path
        in_url = client.get(f"{path}?key={key}")
        assert in_url.status_code == 200, path
        assert "public" not in in_url.headers["Cache-Control"], path
        assert keyed.data == public.data, path


def test_unknown_malformed_and_revoked_keys_get_a_json_401(room: Newsroom) -> None:
    slug = a_story(room)
    db = rt(room.app).db
    key = create_key(db, "kabar", 100)
    client = room.app.test_client()
    atom = f"/stories/{slug}/feed.atom"
    for bad in ("lbk_" + secrets.token_urlsafe(32), "not-a-key"):
        for response in (client.get(atom, headers=bearer(bad)), client.get(f"{atom}?key={bad}")):
            assert response.status_code == 401, bad
            assert response.get_json()["error"]["code"] == "invalid_key"
            assert response.headers["Cache-Control"] == "no-store"
    assert client.get(f"{atom}?key=").status_code == 401
    assert client.get(atom, headers=bearer(key)).status_code == 200
    assert room.app.test_cli_runner().invoke(args=["revoke-partner-key", "kabar"]).exit_code == 0
    for path in (atom, f"/stories/{slug}/feed.json", f"/api/v1/stories/{slug}/events"):
        refused = client.get(path, headers=bearer(key))
        assert refused.status_code == 401, path
        assert refused.get_json()["error"]["code"] == "invalid_key"
        assert client.get(f"{path}?key={key}").status_code == 401
        assert client.get(path).status_code == 200  # still public without it
    # A newsroom API token in the header reads as no key; a wrong one is refused.
    assert client.get(atom, headers=room.headers("rina")).status_code == 200
    assert client.get(atom, headers=bearer("lb_wrong")).status_code == 401


def test_a_key_has_its_own_limit_with_retry_after(room: Newsroom) -> None:
    slug = a_story(room)
    db = rt(room.app).db
    tight = create_key(db, "kecil", 3)
    other = create_key(db, "besar", 100)
    client = room.app.test_client()
    path = f"/stories/{slug}/feed.json"
    codes = [client.get(path, headers=bearer(tight)).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    over = client.get(f"/api/v1/stories/{slug}/events", headers=bearer(tight))
    assert over.status_code == 429
    assert over.get_json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert client.get(f"{path}?key={tight}").status_code == 429
    # Another key and the anonymous readers are not held back by it.
    assert client.get(path, headers=bearer(other)).status_code == 200
    assert client.get(path).status_code == 200


def test_keyless_requests_have_a_limit_per_address(tmp_path: Path) -> None:
    app = make_app(tmp_path, LIVEBLOG_FEED_RATE_PER_IP=2)
    room = Newsroom(app)
    slug = a_story(room)
    client = app.test_client()
    path = f"/stories/{slug}/feed.json"
    mine = {"REMOTE_ADDR": "203.0.113.7"}
    # Windows are clock minutes: of 5 quick requests at most one pair straddles a boundary,
    # so one window sees a third request whatever the second hand says.
    answers = [client.get(path, environ_base=mine) for _ in range(5)]
    codes = [answer.status_code for answer in answers]
    assert codes[:2] == [200, 200], codes
    assert 429 in codes, codes
    refused = answers[codes.index(429)]
    assert int(refused.headers["Retry-After"]) >= 1
    assert client.get(path, environ_base={"REMOTE_ADDR": "203.0.113.8"}).status_code == 200
    # A partner behind that address reads on its own key's limit.
    key = create_key(rt(app).db, "kabar", 10)
    assert client.get(path, headers=bearer(key), environ_base=mine).status_code == 200
    rt(app).db.dispose()


def test_usage_is_counted_per_key_day_and_kind(room: Newsroom) -> None:
    slug = a_story(room)
    db = rt(room.app).db
    key = create_key(db, "kabar", 100)
    quiet = create_key(db, "sepi", 100)
    client = room.app.test_client()
    for _ in range(3):
        client.get(f"/stories/{slug}/feed.json", headers=bearer(key))
    client.get(f"/stories/{slug}/feed.atom?key={key}")
    client.get(f"/api/v1/stories/{slug}/events?after=0", headers=bearer(key))
    client.get(f"/stories/{slug}/feed.json")  # keyless: nobody's usage
    views = {view.name: view for view in list_keys(db)}
    [(_, kinds)] = views["kabar"].usage.items()
    assert kinds == {"feed": 3, "atom": 1, "events": 1}
    assert views["kabar"].total == 5
    assert views["sepi"].usage == {}
    assert quiet  # issued, never used


def test_usage_is_written_in_batches_not_per_request(tmp_path: Path) -> None:
    app = make_app(tmp_path, LIVEBLOG_USAGE_FLUSH_SECONDS=3600)
    room = Newsroom(app)
    slug = a_story(room)
    key = create_key(rt(app).db, "kabar", 100)
    client = app.test_client()
    for _ in range(4):
        assert client.get(f"/stories/{slug}/feed.json", headers=bearer(key)).status_code == 200
    assert list_keys(rt(app).db)[0].usage == {}  # nothing written yet
    app.extensions["liveblog.partners"][1].flush()
    [(_, kinds)] = list_keys(rt(app).db)[0].usage.items()
    assert kinds == {"feed": 4}
    rt(app).db.dispose()


def test_a_partner_key_never_writes(room: Newsroom) -> None:
    slug = a_story(room)
    post_id = room.post(slug)["id"]
    key = create_key(rt(room.app).db, "kabar", 100)
    before = room.snapshot()
    client = room.app.test_client()
    writes: list[tuple[str, str, Any]] = [
        ("POST", "/api/v1/stories", {"title": "x", "language": "en", "timezone": "UTC"}),
        ("PATCH", f"/api/v1/stories/{slug}", {"title": "Diubah"}),
        ("POST", f"/api/v1/stories/{slug}/posts", {"body": "<p>Bukan dari redaksi.</p>"}),
        ("PATCH", f"/api/v1/stories/{slug}/posts/{post_id}", {"version": 1, "body": "x"}),
        ("DELETE", f"/api/v1/stories/{slug}/posts/{post_id}", None),
        ("POST", f"/api/v1/stories/{slug}/posts/{post_id}/purge", {"reason": "x"}),
    ]
    for method, path, body in writes:
        response = client.open(path, method=method, headers=bearer(key), json=body)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["error"]["code"] == "read_only_key"
        in_url = client.open(f"{path}?key={key}", method=method, json=body)
        assert in_url.status_code == 401, (method, path)
    assert room.snapshot() == before
    # Reading a story with it is fine; a revoked one is refused.
    assert client.get(f"/api/v1/stories/{slug}", headers=bearer(key)).status_code == 200


def test_the_admin_page_creates_shows_once_lists_and_revokes(room: Newsroom) -> None:
    app = room.app
    slug = a_story(room)
    desk = Desk(app)
    assert desk.login("ada").status_code == 303
    page = desk.get("/editor/admin/partners")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    refused = desk.client.post("/editor/admin/partners", data={"name": "kabar", "rate": "5"})
    assert refused.status_code == 400  # no CSRF token
    made = desk.form("/editor/admin/partners", {"name": "kabar", "rate": "5"})
    assert made.status_code == 200
    key = made.text.split('id="new-key">')[1].split("<")[0]
    assert key.startswith("lbk_")
    app.test_client().get(f"/stories/{slug}/feed.json", headers=bearer(key))
    listing = desk.get("/editor/admin/partners").text
    assert key not in listing
    assert 'data-name="kabar"' in listing
    assert '<span class="usage" data-kind="feed">JSON Feed 1</span>' in listing
    bad = desk.form("/editor/admin/partners", {"name": "kabar", "rate": "5"})
    assert bad.status_code == 409  # one live key per partner
    key_id = list_keys(rt(app).db)[0].id
    gone = desk.form(f"/editor/admin/partners/{key_id}/revoke", {})
    assert gone.status_code == 303
    assert list_keys(rt(app).db)[0].revoked_at is not None
    after = app.test_client().get(f"/stories/{slug}/feed.json", headers=bearer(key))
    assert after.status_code == 401
    # Not for editors.
    editor = Desk(app)
    assert editor.login("rina").status_code == 303
    assert editor.get("/editor/admin/partners").status_code == 403
    assert editor.form("/editor/admin/partners", {"name": "x"}).status_code == 403


@pytest.mark.redis
def test_with_redis_the_limit_is_shared_by_every_process(tmp_path: Path, redis_url: str) -> None:
    """Two apps (two processes' worth) on one database and one Redis share a key's limit."""
    first = make_app(tmp_path, LIVEBLOG_BROKER_URL=redis_url)
    room = Newsroom(first)
    slug = a_story(room)
    second = make_app(tmp_path, LIVEBLOG_BROKER_URL=redis_url)
    key = create_key(rt(first).db, "kabar", 4)
    path = f"/stories/{slug}/feed.json"
    codes = [
        app.test_client().get(path, headers=bearer(key)).status_code
        for app in (first, second, first, second, first, second)
    ]
    assert codes == [200, 200, 200, 200, 429, 429]
    refused = second.test_client().get(path, headers=bearer(key))
    assert int(refused.headers["Retry-After"]) >= 1
    for app in (first, second):
        app.extensions["liveblog.partners"][1].flush()
    [(_, kinds)] = list_keys(rt(first).db)[0].usage.items()
    assert kinds == {"feed": 4}  # refused requests are not usage
    for app in (first, second):
        rt(app).db.dispose()


@pytest.mark.slow
def test_keys_through_a_real_server_and_its_websocket(tmp_path: Path) -> None:
    """Under `liveblog serve`: the live process checks keys on the WebSocket, the app side
    on the feeds; usage from both reaches the database."""
    import urllib.error
    import urllib.request

    import websocket
    from servers import Server, api, prepare, server_env

    from liveblog.db import Database

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    token = prepare(url)
    db = Database(url)
    key = create_key(db, "kabar", 50)
    env = {**server_env(tmp_path, url), "LIVEBLOG_USAGE_FLUSH_SECONDS": "0"}
    server = Server(env).start()
    try:
        story = {"title": "Siaran di X", "language": "id", "timezone": "Asia/Jakarta"}
        slug = api(server, token, "POST", "/api/v1/stories", {**story, "slug": "siaran"})["slug"]
        request = urllib.request.Request(
            f"{server.base}/stories/{slug}/feed.json", headers=bearer(key)
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
            assert answer.headers["Cache-Control"] == "private, no-cache"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.base}/stories/{slug}/feed.atom?key=lbk_x", timeout=10)
        assert refused.value.code == 401
        ws = websocket.create_connection(f"{server.ws_url(slug)}&key={key}", timeout=10)
        try:
            assert '"hello"' in ws.recv()
        finally:
            ws.close()
        with pytest.raises(websocket.WebSocketBadStatusException) as bad:
            websocket.create_connection(f"{server.ws_url(slug)}&key=lbk_nope", timeout=10)
        assert bad.value.status_code == 401
        assert "hello" in websocket.create_connection(server.ws_url(slug), timeout=10).recv()
        [(_, kinds)] = list_keys(db)[0].usage.items()
        assert kinds == {"feed": 1, "live": 1}
    finally:
        server.stop()
        db.dispose()


def test_the_gate_counts_clock_minutes_and_says_when_to_come_back() -> None:
    from liveblog.partner_limits import MemoryWindows, RateGate

    now = [999_999_980.0]  # 20 s into a minute
    gate = RateGate(MemoryWindows(), clock=lambda: now[0])
    assert [gate.take("key", "a", 2).allowed for _ in range(3)] == [True, True, False]
    assert gate.take("key", "a", 2).retry_after == 40
    assert gate.take("key", "b", 2).allowed  # another key counts apart
    now[0] += 39.5
    assert gate.take("key", "a", 2).retry_after == 1
    now[0] += 1  # the next minute
    assert gate.take("key", "a", 2).allowed
    assert gate.take("address", "x", 0).allowed  # 0: no limit
