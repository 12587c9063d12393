"""Faults (issue 9, item 8): the database or Redis goes away and comes back.

While PostgreSQL is down: `/healthz` answers 503 naming the database, writes and pages get
a 503 (JSON `unavailable` with Retry-After under the API), and connected readers stay
connected. When it is back, writes succeed and readers get every event, none twice, on the
same connection. While Redis is down, writes still land in the log (the source of truth);
when Redis is back, the other processes' readers get what they missed (hub resync).
The tests stop only servers they started themselves.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Newsroom, rt
from flask import Flask
from postgres_process import PostgresProcess, available
from servers import Reader, RedisProcess, Server, prepare, server_env, wait_until

from liveblog import create_app
from liveblog.hub import Hub
from liveblog.outage import outage_of

DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/liveblog"
STORY = {"title": "Banjir di Bekasi", "language": "id", "timezone": "Asia/Jakarta"}


def call(
    server: Server, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any, Any]:
    """Call a running server; return (status, headers, JSON body) whatever the status."""
    request = urllib.request.Request(
        server.base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            parsed = json.loads(raw or b"null")
        except ValueError:
            parsed = raw.decode(errors="replace")
        return error.code, error.headers, parsed


def post(server: Server, token: str, slug: str, text: str) -> tuple[int, Any, Any]:
    return call(server, "POST", f"/api/v1/stories/{slug}/posts", token, {"body": f"<p>{text}</p>"})


# --- in-process: the 503 answers and the hub's tolerance -----------------------------------


class FlakyLog:
    """An event log that can be made unreachable."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []
        self.down = False

    def append(self) -> tuple[int, str]:
        event = (len(self.events) + 1, f'{{"seq":{len(self.events) + 1}}}')
        self.events.append(event)
        return event

    def last_seq(self, slug: str) -> int | None:
        return len(self.events)

    def events_after(self, slug: str, after: int) -> list[tuple[int, str]]:
        if self.down:
            raise ConnectionError("database is away")
        return [e for e in self.events if e[0] > after]


def test_hub_rides_out_an_unreachable_log_and_fills_the_gap_later() -> None:
    log = FlakyLog()
    hub = Hub(log)
    sub = hub.subscribe("s")
    hub.publish("s", *log.append())
    log.append()  # seq 2 never reaches the hub
    log.down = True
    hub.publish("s", *log.append())  # gap: the log cannot be read, and nothing raises
    hub.resync()  # nor here
    assert hub.last_seq("s") == 1
    log.down = False
    hub.resync()
    assert hub.last_seq("s") == 3
    sub.wait(0)
    with sub.lock:
        assert [f.seq for f in sub.take()] == [1, 2, 3]


def test_outage_classification() -> None:
    import redis
    from sqlalchemy import exc

    assert outage_of(exc.OperationalError("SELECT 1", {}, Exception("refused"))) == "database"
    assert outage_of(redis.ConnectionError("refused")) == "broker"
    assert outage_of(exc.IntegrityError("INSERT", {}, Exception("dup"))) is None
    assert outage_of(ValueError("bug")) is None


@pytest.fixture
def dead_db_app(tmp_path: Path) -> Iterator[Flask]:
    """An app whose PostgreSQL does not answer."""
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LIVEBLOG_DATABASE_URL": DEAD_POSTGRES,
            "LIVEBLOG_SECRET_KEY": "test-secret",
        }
    )
    yield app
    rt(app).db.dispose()


def test_unreachable_database_is_503_json_with_retry_after(dead_db_app: Flask) -> None:
    client = dead_db_app.test_client()
    response = client.post(
        "/api/v1/stories", json=STORY, headers={"Authorization": "Bearer whatever"}
    )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert response.get_json()["error"]["service"] == "database"
    assert int(response.headers["Retry-After"]) > 0
    for path in ("/api/v1/stories/gempa/events", "/stories/gempa/feed.json"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.get_json()["error"]["code"] == "unavailable"
    page = client.get("/stories/gempa")
    assert page.status_code == 503
    assert "Retry-After" in page.headers
    assert page.mimetype == "text/html"


def test_a_bug_is_still_a_500(app: Flask, newsroom: Newsroom, monkeypatch: Any) -> None:
    """Only outages become 503: an ordinary exception stays an internal error."""

    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(rt(app).service, "create_story", broken)
    response = newsroom.call("POST", "/api/v1/stories", json=STORY)
    assert response.status_code == 500


# --- real servers: a private PostgreSQL and a private Redis --------------------------------


@pytest.fixture
def private_postgres() -> Iterator[PostgresProcess]:
    """A PostgreSQL of our own, which the test may stop and start."""
    if not available():
        pytest.skip("PostgreSQL binaries are not installed here")
    pg = PostgresProcess().start()
    yield pg
    pg.remove()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_outage_keeps_readers_and_resumes_without_gap(
    tmp_path: Path, private_postgres: PostgresProcess
) -> None:
    token = prepare(private_postgres.url)
    env = server_env(tmp_path, private_postgres.url)
    env["LIVEBLOG_PING_SECONDS"] = "1"  # pings keep running through the outage
    server = Server(env).start()
    reader: Reader | None = None
    try:
        status, _, story = call(server, "POST", "/api/v1/stories", token, STORY)
        assert status == 201
        slug = story["slug"]
        assert post(server, token, slug, "Air naik.")[0] == 201
        reader = Reader(server.ws_url(slug)).start()
        reader.wait_for(1)

        private_postgres.stop()
        status, body = server.get("/healthz")
        assert status == 503
        assert "database" in body["problems"]
        status, headers, body = post(server, token, slug, "Tidak tersimpan.")
        assert status == 503
        assert body["error"]["code"] == "unavailable"
        assert int(headers["Retry-After"]) > 0
        page = urllib.request.Request(f"{server.base}/stories/{slug}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(page, timeout=20)
        assert refused.value.code == 503
        # Several ping rounds pass; the reader answers them and is never hung up on.
        pings_seen = reader.pings
        wait_until(lambda: reader.pings >= pings_seen + 2, 20, "pings during the outage")
        assert reader.connects == 1
        assert reader.closes == []

        private_postgres.start()
        wait_until(lambda: server.get("/healthz")[0] == 200, 30, "healthz after restart")
        assert post(server, token, slug, "Air surut.")[0] == 201
        reader.wait_for(2)
        assert reader.seqs() == [1, 2]
        assert reader.connects == 1
        status, _, log = call(server, "GET", f"/api/v1/stories/{slug}/events", token)
        assert [e["seq"] for e in log["events"]] == [1, 2]
    finally:
        if reader is not None:
            reader.close()
        server.stop()


@pytest.mark.slow
@pytest.mark.redis
def test_redis_outage_keeps_readers_and_resyncs_when_it_returns(tmp_path: Path) -> None:
    redis_server = RedisProcess(tmp_path).start()
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    token = prepare(url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # Readers on A; writes through B: A hears of them only through Redis (or a resync).
    a = Server(server_env(tmp_path / "a", url, redis_server.url)).start()
    b = Server(server_env(tmp_path / "b", url, redis_server.url)).start()
    readers: list[Reader] = []
    try:
        status, _, story = call(b, "POST", "/api/v1/stories", token, STORY)
        assert status == 201
        slug = story["slug"]
        readers = [Reader(a.ws_url(slug)).start() for _ in range(3)]
        assert post(b, token, slug, "Satu.")[0] == 201
        for reader in readers:
            reader.wait_for(1)

        redis_server.stop()
        wait_until(lambda: a.get("/healthz")[0] == 503, 20, "A's healthz to notice")
        assert "broker" in a.get("/healthz")[1]["problems"]
        assert post(b, token, slug, "Dua, saat Redis mati.")[0] == 201  # the log takes it
        time.sleep(1)  # let A's listener fail over at least once
        redis_server.start()
        wait_until(lambda: a.get("/healthz")[0] == 200, 30, "A's healthz after restart")
        for reader in readers:
            reader.wait_for(2, timeout=30)  # the resync on reconnect
        assert post(b, token, slug, "Tiga.")[0] == 201
        for reader in readers:
            reader.wait_for(3, timeout=30)
            assert reader.seqs() == [1, 2, 3]
            assert reader.connects == 1
            assert reader.closes == []
    finally:
        for reader in readers:
            reader.close()
        a.stop()
        b.stop()
        redis_server.stop()


def test_websocket_reader_of_unknown_story_during_outage_is_refused(dead_db_app: Flask) -> None:
    """Before the upgrade, a story the hub does not know needs the database: 503, not 500."""
    response = dead_db_app.test_client().get(
        "/stories/gempa/live", headers={"Upgrade": "websocket", "Connection": "Upgrade"}
    )
    assert response.status_code == 503


def test_desk_during_outage_is_503_not_500(dead_db_app: Flask) -> None:
    """A signed-in desk needs the database for the user: its JSON API and pages say 503."""
    client = dead_db_app.test_client()
    with client.session_transaction() as session:
        session["sid"] = "a-desk-session"  # looking it up needs the database
        session["pw"] = "x"
    api = client.get("/editor/api/stories/gempa/state")
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "unavailable"
    assert "Retry-After" in api.headers
    page = client.get("/editor/stories/gempa")
    assert page.status_code == 503
