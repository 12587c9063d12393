"""End-to-end tests of the live stream: real `liveblog serve` processes, real WebSocket readers."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket
from servers import Reader, RedisProcess, Server, api, prepare, server_env, wait_until

pytestmark = pytest.mark.slow


def new_story(server: Server, token: str) -> str:
    """Create a story on the server and return its slug."""
    slug = f"live-{uuid.uuid4().hex[:10]}"
    api(
        server,
        token,
        "POST",
        "/api/v1/stories",
        {
            "title": "Siaran di X tersendat",
            "language": "id",
            "timezone": "Asia/Jakarta",
            "slug": slug,
        },
    )
    return slug


def post(server: Server, token: str, slug: str, text: str) -> dict[str, Any]:
    """Publish one post through the API."""
    result: dict[str, Any] = api(
        server, token, "POST", f"/api/v1/stories/{slug}/posts", {"body": f"<p>{text}</p>"}
    )
    return result


def exactly_once_in_order(reader: Reader, last: int) -> None:
    """Assert the reader got seq 1..last, each once, in order."""
    assert reader.seqs() == list(range(1, last + 1))


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """One server on a fresh SQLite database, with an editor's token."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    token = prepare(url)
    server = Server(server_env(tmp_path, url)).start()
    yield server, token
    server.stop()


def test_replay_then_live_in_order(sqlite_server: tuple[Server, str]) -> None:
    server, token = sqlite_server
    slug = new_story(server, token)
    for n in range(5):
        post(server, token, slug, f"sebelum {n}")
    reader = Reader(server.ws_url(slug)).start()
    try:
        reader.wait_for(5)
        for n in range(5):
            post(server, token, slug, f"sesudah {n}")
        reader.wait_for(10)
        time.sleep(0.3)
        exactly_once_in_order(reader, 10)
        assert reader.others[0] == {"type": "hello", "last_seq": 5}
        assert [e["type"] for e in reader.events] == ["post.created"] * 10
    finally:
        reader.close()


def test_resume_after_disconnect_gets_exactly_the_missed_events(
    sqlite_server: tuple[Server, str],
) -> None:
    server, token = sqlite_server
    slug = new_story(server, token)
    for n in range(3):
        post(server, token, slug, f"awal {n}")
    first = Reader(server.ws_url(slug)).start()
    first.wait_for(3)
    first.close()
    for n in range(4):
        post(server, token, slug, f"terlewat {n}")
    second = Reader(server.ws_url(slug, after=3)).start()
    try:
        second.wait_for(7)
        time.sleep(0.3)
        assert second.seqs() == [4, 5, 6, 7]
    finally:
        second.close()


def test_bad_after_closes_with_reason_and_unknown_story_is_refused(
    sqlite_server: tuple[Server, str],
) -> None:
    server, token = sqlite_server
    slug = new_story(server, token)
    ws = websocket.create_connection(server.ws_url(slug).replace("after=0", "after=x"), timeout=5)
    opcode, data = ws.recv_data(control_frame=True)
    ws.shutdown()
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 4400
    assert b"after" in data[2:]
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.ws_url("no-such-story"), timeout=5)
    assert refused.value.status_code == 404
    post(server, token, slug, "server still fine")
    assert server.get("/healthz")[0] == 200


def test_reader_ahead_of_the_log_is_told_to_reset(sqlite_server: tuple[Server, str]) -> None:
    server, token = sqlite_server
    slug = new_story(server, token)
    post(server, token, slug, "satu")
    ws = websocket.create_connection(server.ws_url(slug, after=50), timeout=5)
    try:
        assert json.loads(ws.recv()) == {"type": "reset", "last_seq": 1}
    finally:
        ws.shutdown()


def _stalled_reader(port: int, slug: str) -> socket.socket:
    """Open a WebSocket by hand with a tiny receive buffer, then never read from it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /stories/{slug}/live?after=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return sock


def test_a_reader_that_stops_reading_does_not_delay_the_others(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'slow.db'}"
    token = prepare(url)
    env = server_env(tmp_path, url)
    env.update(LIVEBLOG_QUEUE_LIMIT="8", LIVEBLOG_SEND_TIMEOUT="3")
    server = Server(env).start()
    try:
        slug = new_story(server, token)
        stalled = _stalled_reader(server.port, slug)
        fast = Reader(server.ws_url(slug)).start()
        # About 20 kB per event, 7 MB in all: more than the kernel buffers on both ends
        # hold (4 MB send buffer at most here), so the stalled reader really stalls.
        big = "kabar " * 3300
        total = 350
        for n in range(total):
            post(server, token, slug, f"{n} {big}")
        fast.wait_for(total, timeout=60)
        exactly_once_in_order(fast, total)
        # The stalled reader is cut off (queue overflow or send timeout), not waited for:
        # once it reads again it finds the end of the connection after what was queued.
        stalled.settimeout(0.5)
        received = bytearray()

        def cut_off() -> bool:
            try:
                while chunk := stalled.recv(1 << 20):
                    received.extend(chunk)
                return True
            except TimeoutError:
                return False

        wait_until(cut_off, 30, "the stalled reader to be disconnected")
        stalled.close()
        assert len(received) < total * len(big), "the server should not have sent it everything"
        fast.close()
    finally:
        server.stop()


@pytest.mark.postgres
@pytest.mark.redis
def test_two_processes_on_postgres_and_redis_reach_every_reader(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    token = prepare(postgres_url)
    env = server_env(tmp_path, postgres_url, redis_url)
    one, two = Server(env).start(), Server(env).start()
    readers: list[Reader] = []
    try:
        slug = new_story(one, token)
        readers = [Reader(s.ws_url(slug)).start() for s in (one, two, one, two)]
        for n in range(10):
            post(one if n % 2 else two, token, slug, f"lintas proses {n}")
        for reader in readers:
            reader.wait_for(10)
        time.sleep(0.5)
        for reader in readers:
            exactly_once_in_order(reader, 10)
    finally:
        for reader in readers:
            reader.close()
        one.stop()
        two.stop()


def test_kill_9_while_updates_flow_then_restart_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    token = prepare(url)
    server = Server(server_env(tmp_path, url)).start()
    slug = new_story(server, token)
    readers = [Reader(server.ws_url(slug), reconnect=True).start() for _ in range(3)]
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                post(server, token, slug, f"arus {written[0]}")
                written[0] += 1
            except OSError:
                time.sleep(0.1)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        wait_until(lambda: written[0] >= 15, 30, "first updates")
        server.kill()
        time.sleep(0.5)
        server.start()
        wait_until(lambda: written[0] >= 40, 30, "updates after the restart")
        stop.set()
        thread.join(15)
        last = api(server, token, "GET", f"/api/v1/stories/{slug}")["last_seq"]
        for reader in readers:
            reader.wait_for(last, timeout=30)
        time.sleep(0.3)
        for reader in readers:
            exactly_once_in_order(reader, last)
            assert reader.connects >= 2
    finally:
        stop.set()
        for reader in readers:
            reader.close()
        server.stop()


@pytest.mark.redis
def test_redis_restarted_mid_stream_loses_nothing(tmp_path: Path, redis_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'redis.db'}"
    token = prepare(url)
    redis_proc = RedisProcess(tmp_path).start()
    env = server_env(tmp_path, url, redis_proc.url)
    writer_side, reader_side = Server(env).start(), Server(env).start()
    reader = None
    try:
        slug = new_story(writer_side, token)
        reader = Reader(reader_side.ws_url(slug)).start()
        for n in range(5):
            post(writer_side, token, slug, f"sebelum {n}")
        reader.wait_for(5)
        redis_proc.stop()
        wait_until(
            lambda: reader_side.get("/healthz")[0] == 503, 10, "healthz to see the broker down"
        )
        assert "broker" in reader_side.get("/healthz")[1]["problems"]
        for n in range(5):
            post(writer_side, token, slug, f"selama mati {n}")
        redis_proc.start()
        for n in range(5):
            post(writer_side, token, slug, f"sesudah {n}")
        reader.wait_for(15, timeout=40)
        time.sleep(0.3)
        exactly_once_in_order(reader, 15)
        assert reader_side.get("/healthz")[0] == 200
    finally:
        if reader is not None:
            reader.close()
        writer_side.stop()
        reader_side.stop()
        redis_proc.stop()


def test_stopping_the_server_tells_readers_to_reconnect(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    token = prepare(url)
    server = Server(server_env(tmp_path, url)).start()
    slug = new_story(server, token)
    post(server, token, slug, "satu")
    reader = Reader(server.ws_url(slug)).start()
    try:
        reader.wait_for(1)
        server.stop()  # SIGTERM: the worker hangs up on readers instead of waiting them out
        wait_until(lambda: reader.closes, 10, "the close frame")
        assert reader.closes == [1001]
        assert server.proc is not None
        assert server.proc.returncode is not None
    finally:
        reader.close()
        server.kill()
