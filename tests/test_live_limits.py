"""The live stream's abuse bounds, against a real `liveblog serve`: per-address cap, message
size cap, handshake and ping timeouts, and memory that comes back."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket
from servers import Reader, Server, api, prepare, server_env, wait_until

pytestmark = pytest.mark.slow


def descendants(pid: int) -> list[int]:
    """Return the pid and every process below it."""
    found = [pid]
    for child in _children(pid):
        found.extend(descendants(child))
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree_rss(pid: int) -> int:
    """Return the resident memory of a process tree, in bytes."""
    total = 0
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def tree_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) a process tree has used."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in descendants(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def upgrade(port: int, slug: str, receive_buffer: int = 0) -> socket.socket:
    """Open a WebSocket by hand and return the socket after the 101 answer."""
    sock = socket.socket()
    if receive_buffer:  # before connecting, so the window stays that small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /stories/{slug}/live?after=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "the server hung up during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def close_code(sock: socket.socket) -> int | None:
    """Read frames until a close frame or the end; return its code (None: no close frame)."""
    buffer = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            return None
        buffer += chunk
        while len(buffer) >= 2:
            opcode, size = buffer[0] & 0x0F, buffer[1] & 0x7F
            start = 2
            if size == 126:
                size, start = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + size:
                break
            payload, buffer = buffer[start : start + size], buffer[start + size :]
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big")


def flood(sock: socket.socket, claimed: int, send: int) -> None:
    """Start one masked text frame that claims `claimed` bytes and send `send` of them."""
    header = bytes((0x81, 0x80 | 127)) + claimed.to_bytes(8, "big") + b"\0\0\0\0"
    chunk = b"a" * 65536
    with contextlib.suppress(OSError):
        sock.sendall(header)
        sent = 0
        while sent < send:
            sock.sendall(chunk)
            sent += len(chunk)


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A server allowing 3 live connections per address, pinging every second."""
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    token = prepare(url)
    env = server_env(tmp_path, url)
    env.update(LIVEBLOG_WS_PER_IP="3", LIVEBLOG_PING_SECONDS="1")
    server = Server(env).start()
    slug = "batas"
    api(
        server,
        token,
        "POST",
        "/api/v1/stories",
        {"title": "Batas", "slug": slug, "language": "id", "timezone": "Asia/Jakarta"},
    )
    yield server, slug
    server.stop()


def test_one_address_gets_only_its_share_of_readers(limited: tuple[Server, str]) -> None:
    server, slug = limited
    readers = [Reader(server.ws_url(slug)).start() for _ in range(3)]
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(server.ws_url(slug), timeout=5)
        assert refused.value.status_code == 429
        headers = {k.lower(): v for k, v in (refused.value.resp_headers or {}).items()}
        assert int(headers["retry-after"]) > 0
        assert server.get("/healthz")[0] == 200
        readers.pop().close()

        def admitted() -> bool:
            try:
                websocket.create_connection(server.ws_url(slug), timeout=5).close()
            except websocket.WebSocketBadStatusException:
                return False
            return True

        wait_until(admitted, 10, "a slot to come back when a reader leaves")
    finally:
        for reader in readers:
            reader.close()


def test_a_message_past_the_cap_is_refused_with_1009_and_not_kept(
    limited: tuple[Server, str],
) -> None:
    server, slug = limited
    assert server.proc is not None
    before = tree_rss(server.proc.pid)
    for _ in range(4):  # within the per-address cap each round
        socks = [upgrade(server.port, slug) for _ in range(3)]
        for sock in socks:
            flood(sock, claimed=512 * 2**20, send=8 * 2**20)
        codes = [close_code(sock) for sock in socks]
        for sock in socks:
            sock.close()
        assert codes == [1009, 1009, 1009]
    wait_until(lambda: server.get("/healthz")[0] == 200, 10, "healthz")
    grown = tree_rss(server.proc.pid) - before
    assert grown < 40 * 2**20, f"the server kept {grown // 2**20} MiB of refused messages"
    reader = Reader(server.ws_url(slug)).start()  # all slots came back
    reader.close()


def test_a_request_head_that_never_ends_is_dropped(limited: tuple[Server, str]) -> None:
    server, slug = limited
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(f"GET /stories/{slug}/live?after=0 HTTP/1.1\r\nHost: x\r\n".encode())
    try:
        assert sock.recv(4096) == b""  # closed without an answer
    finally:
        sock.close()


def test_a_reader_that_never_answers_pings_is_closed(limited: tuple[Server, str]) -> None:
    server, slug = limited
    sock = upgrade(server.port, slug)
    try:
        sock.settimeout(30)
        assert close_code(sock) == 1011
    finally:
        sock.close()


def test_a_forged_forwarded_for_buys_no_more_slots(limited: tuple[Server, str]) -> None:
    server, slug = limited
    readers = [Reader(server.ws_url(slug)).start() for _ in range(3)]
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(
                server.ws_url(slug), timeout=5, header=["X-Forwarded-For: 198.51.100.1"]
            )
        assert refused.value.status_code == 429
    finally:
        for reader in readers:
            reader.close()


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_share(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'proxied.db'}"
    token = prepare(url)
    env = server_env(tmp_path, url)
    env.update(LIVEBLOG_WS_PER_IP="1", LIVEBLOG_TRUSTED_PROXIES="127.0.0.0/8")
    server = Server(env).start()
    opened: list[websocket.WebSocket] = []
    try:
        api(
            server,
            token,
            "POST",
            "/api/v1/stories",
            {"title": "Proksi", "slug": "proksi", "language": "id", "timezone": "Asia/Jakarta"},
        )
        for n in range(3):
            forwarded = f"X-Forwarded-For: 198.51.100.{n}"
            opened.append(
                websocket.create_connection(server.ws_url("proksi"), timeout=5, header=[forwarded])
            )
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(
                server.ws_url("proksi"), timeout=5, header=["X-Forwarded-For: 198.51.100.0"]
            )
        assert refused.value.status_code == 429
    finally:
        for ws in opened:
            ws.close()
        server.stop()


def test_past_its_capacity_the_process_sheds_readers_fast_with_503(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'capacity.db'}"
    token = prepare(url)
    env = server_env(tmp_path, url)
    env.update(LIVEBLOG_READER_CAPACITY="3", LIVEBLOG_SHED_RETRY_AFTER="8")
    server = Server(env).start()
    readers: list[Reader] = []
    try:
        slug = "penuh"
        api(
            server,
            token,
            "POST",
            "/api/v1/stories",
            {"title": "Penuh", "slug": slug, "language": "id", "timezone": "Asia/Jakarta"},
        )
        readers = [Reader(server.ws_url(slug)).start() for _ in range(3)]
        for reader in readers:
            wait_until(lambda r=reader: r.others, 10, "hello")  # type: ignore[misc]
        waits = []
        for _ in range(5):
            started = time.monotonic()
            with pytest.raises(websocket.WebSocketBadStatusException) as refused:
                websocket.create_connection(server.ws_url(slug), timeout=5)
            waits.append(time.monotonic() - started)
            assert refused.value.status_code == 503
            headers = {k.lower(): v for k, v in (refused.value.resp_headers or {}).items()}
            assert 4 <= int(headers["retry-after"]) < 12  # 8 s, spread by ±50 %
            assert headers["cache-control"] == "no-store"
        assert min(waits) < 1.0, waits  # answered at once, not after a handshake or a timeout
        # Asking for room without an upgrade: 503 now, and nothing is taken.
        probe = urllib.request.Request(f"{server.base}/stories/{slug}/live")
        with pytest.raises(urllib.error.HTTPError) as full:
            urllib.request.urlopen(probe, timeout=5)
        assert full.value.code == 503
        assert int(full.value.headers["Retry-After"]) > 0
        # The readers inside are untouched: they still get every update.
        post = api(server, token, "POST", f"/api/v1/stories/{slug}/posts", {"body": "<p>a</p>"})
        assert post["id"]
        for reader in readers:
            reader.wait_for(1)
        # A shed reader polls the events API; a current copy is revalidated with 304.
        events = f"{server.base}/api/v1/stories/{slug}/events?after=0&limit=100"
        with urllib.request.urlopen(events, timeout=5) as answer:
            etag = answer.headers["ETag"]
            assert [e["seq"] for e in json.loads(answer.read())["events"]] == [1]
        revalidate = urllib.request.Request(events, headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as same:
            urllib.request.urlopen(revalidate, timeout=5)
        assert same.value.code == 304
        assert same.value.headers["Cache-Control"].startswith("public, max-age=")
        readers.pop().close()

        def room() -> bool:
            with urllib.request.urlopen(probe, timeout=5) as answer:
                return bool(answer.status == 204)

        wait_until(room, 10, "room once a reader left")
        admitted = Reader(server.ws_url(slug)).start()
        readers.append(admitted)
        wait_until(lambda: admitted.others, 10, "the new reader's hello")
        assert server.get("/healthz")[0] == 200
    finally:
        for reader in readers:
            reader.close()
        server.stop()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Server, str, str]]:
    """A server with room for 2 readers, 2 per address, and 4 queued frames per reader
    (pinging rarely, so a reader that does not read is cut off by its queue)."""
    url = f"sqlite:///{tmp_path / 'small.db'}"
    token = prepare(url)
    env = server_env(tmp_path, url)
    env.update(
        LIVEBLOG_READER_CAPACITY="2",
        LIVEBLOG_WS_PER_IP="2",
        LIVEBLOG_QUEUE_LIMIT="4",
        LIVEBLOG_PING_SECONDS="600",
    )
    server = Server(env).start()
    slug = "parkir"
    api(
        server,
        token,
        "POST",
        "/api/v1/stories",
        {"title": "Parkir", "slug": slug, "language": "id", "timezone": "Asia/Jakarta"},
    )
    yield server, token, slug
    server.stop()


def test_a_caught_up_reader_answers_pings_and_close_and_gives_its_place_back(
    small: tuple[Server, str, str],
) -> None:
    server, token, slug = small
    first = websocket.create_connection(server.ws_url(slug), timeout=10)
    second = websocket.create_connection(server.ws_url(slug), timeout=10)
    try:
        assert json.loads(first.recv())["type"] == "hello"
        assert json.loads(second.recv())["type"] == "hello"
        first.ping("apa kabar")
        opcode, frame = first.recv_data_frame(True)
        assert (opcode, frame.data) == (websocket.ABNF.OPCODE_PONG, b"apa kabar")
        second.send_close(websocket.STATUS_NORMAL)
        opcode, frame = second.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame.data[:2], "big") == websocket.STATUS_NORMAL
        assert second.sock.recv(1) == b""  # and the server hangs up
        # Its place and its address's slot come back: a third reader gets in.
        third = wait_until(
            lambda: _admitted(server.ws_url(slug)), 10, "the second reader's place back"
        )
        assert json.loads(third.recv())["type"] == "hello"
        api(server, token, "POST", f"/api/v1/stories/{slug}/posts", {"body": "<p>satu</p>"})
        for reader in (first, third):
            assert json.loads(reader.recv())["seq"] == 1
        third.close()
    finally:
        first.close()
        second.close()
    assert "Traceback" not in server.log.read_text(errors="replace")


def _admitted(url: str) -> websocket.WebSocket | None:
    try:
        return websocket.create_connection(url, timeout=10)
    except websocket.WebSocketBadStatusException:
        return None


def test_a_reader_that_falls_behind_its_queue_is_told_to_resume(
    small: tuple[Server, str, str],
) -> None:
    server, token, slug = small
    stalled = upgrade(server.port, slug, receive_buffer=4096)
    try:
        big = "kabar " * 3300  # near the longest post
        for n in range(300):  # about 6 MB: more than both kernels' buffers hold (4 MB)
            api(server, token, "POST", f"/api/v1/stories/{slug}/posts", {"body": f"{n} {big}"})
        stalled.settimeout(30)
        assert close_code(stalled) == 4503
    finally:
        stalled.close()
    assert "Traceback" not in server.log.read_text(errors="replace")


def test_a_reader_that_floods_pings_and_never_reads_costs_a_bounded_amount(
    small: tuple[Server, str, str],
) -> None:
    server, _token, slug = small
    assert server.proc is not None
    before = tree_rss(server.proc.pid)
    cpu_before = tree_cpu(server.proc.pid)
    sock = upgrade(server.port, slug, receive_buffer=4096)
    ping = bytes((0x89, 0x80)) + b"\0\0\0\0"  # a masked, empty ping: 6 bytes, 2 back
    burst = ping * 100_000
    sock.settimeout(10)
    accepted = 0
    try:
        while accepted < 96 * 2**20:  # at most 32 MiB of pongs owed, if it kept reading
            accepted += sock.send(burst)
    except (TimeoutError, ConnectionError):
        pass  # the server stopped reading, or hung up (1008)
    finally:
        sock.close()
    grown = tree_rss(server.proc.pid) - before
    spent = tree_cpu(server.proc.pid) - cpu_before
    # A reader gets 16 pongs a ping round, then 1008; the server does not read on until it
    # has taken what it is owed. Answering every ping into an ever longer backlog took the
    # worker's whole core for as long as the flood lasted.
    assert accepted < 48 * 2**20, f"the server read {accepted // 2**20} MiB of pings"
    assert spent < 5, f"the server spent {spent:.1f} s of CPU on one flooding reader"
    assert grown < 40 * 2**20, f"the server kept {grown // 2**20} MiB of unsent pongs"
    wait_until(lambda: server.get("/healthz")[0] == 200, 10, "healthz")
    # A reader that reads is told why: 16 pongs, then a close with 1008.
    ws = websocket.create_connection(server.ws_url(slug), timeout=10)
    try:
        assert json.loads(ws.recv())["type"] == "hello"
        for _ in range(17):
            ws.ping("x")
        opcodes = []
        while not opcodes or opcodes[-1] != websocket.ABNF.OPCODE_CLOSE:
            opcode, frame = ws.recv_data_frame(True)
            opcodes.append(opcode)
        assert opcodes.count(websocket.ABNF.OPCODE_PONG) == 16
        assert int.from_bytes(frame.data[:2], "big") == 1008
    finally:
        ws.close()
