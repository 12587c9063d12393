"""The front's pieces without a server: client address, forwarded headers, event channel."""

from __future__ import annotations

import io
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any

import pytest
from servers import wait_until

from liveblog.channel import ChannelBroker, ChannelListener
from liveblog.hub import Hub, Logged
from liveblog.proxy import (
    Front,
    _request_headers,
    behind_front,
    client_address,
    trusted_networks,
)


def environ(peer: str, forwarded: str | None = None, **extra: str) -> dict[str, Any]:
    """Return a minimal WSGI environ from a peer with an optional X-Forwarded-For."""
    env: dict[str, Any] = {"REMOTE_ADDR": peer, "wsgi.url_scheme": "http", **extra}
    if forwarded is not None:
        env["HTTP_X_FORWARDED_FOR"] = forwarded
    return env


def test_a_client_cannot_forge_its_address() -> None:
    assert client_address(environ("203.0.113.9", "10.0.0.1"), []) == "203.0.113.9"
    trusted = trusted_networks("127.0.0.1, 10.1.0.0/16")
    assert client_address(environ("203.0.113.9", "10.0.0.1"), trusted) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client() -> None:
    trusted = trusted_networks("127.0.0.1,10.1.0.0/16")
    chain = "198.51.100.7, 203.0.113.5, 10.1.2.3"  # forged first hop, client, inner proxy
    assert client_address(environ("127.0.0.1", chain), trusted) == "203.0.113.5"
    assert client_address(environ("127.0.0.1", "10.1.0.1"), trusted) == "127.0.0.1"
    assert client_address(environ("127.0.0.1", "not-an-ip"), trusted) == "127.0.0.1"
    assert client_address(environ("127.0.0.1"), trusted) == "127.0.0.1"


def test_forwarded_headers_are_replaced_and_hop_by_hop_dropped() -> None:
    env = environ(
        "203.0.113.9",
        "10.0.0.1",
        HTTP_X_REAL_IP="10.0.0.2",
        HTTP_FORWARDED="for=10.0.0.3",
        HTTP_CONNECTION="keep-alive",
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_COOKIE="session=abc",
        HTTP_HOST="example.test",
        CONTENT_TYPE="application/json",
    )
    headers = dict(_request_headers(env))
    assert headers == {
        "cookie": "session=abc",
        "host": "example.test",
        "content-type": "application/json",
        "x-forwarded-for": "203.0.113.9",
        "x-forwarded-proto": "http",
        "x-liveblog-proxied": "1",  # the client named a proxy hop: not "this host"
    }
    plain = dict(_request_headers(environ("203.0.113.9", HTTP_HOST="example.test")))
    assert "x-liveblog-proxied" not in plain
    assert plain["x-forwarded-for"] == "203.0.113.9"


def test_the_app_side_takes_the_client_from_the_front() -> None:
    seen: dict[str, Any] = {}

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(env)
        return []

    behind_front(app)(environ("", "203.0.113.9", HTTP_X_FORWARDED_PROTO="https"), None)
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "https"


class Log:
    """An event log in memory."""

    def __init__(self) -> None:
        self.events: list[Logged] = []

    def last_seq(self, slug: str) -> int | None:
        return self.events[-1][0] if self.events else 0

    def events_after(self, slug: str, after: int) -> list[Logged]:
        return [e for e in self.events if e[0] > after]


@pytest.fixture
def short_path() -> Any:
    """A Unix socket path short enough for AF_UNIX."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lb-") as folder:
        yield str(Path(folder) / "events.sock")


def test_events_cross_the_channel_in_order_and_reader_counts_come_back(short_path: str) -> None:
    log = Log()
    live_hub = Hub(log)
    listener = ChannelListener(short_path, live_hub, resync_seconds=0.2)
    listener.start()
    sub = live_hub.subscribe("cerita")
    broker = ChannelBroker(short_path, Hub(Log()))
    try:
        broker.ping()
        assert broker.readers("cerita") == 1
        assert broker.readers("lain") == 0
        log.events += [(1, '{"seq": 1}'), (2, '{"seq": 2}'), (3, '{"seq": 3}')]
        broker.publish("cerita", 1, '{"seq": 1}')
        broker.publish("cerita", 3, '{"seq": 3}')  # 2 was lost on the way: filled from the log
        received: list[int] = []
        wait_until(
            lambda: received.extend(f.seq for f in sub.take()) or received == [1, 2, 3],
            5,
            "events",
        )
        # An event that never crossed (the live side was away) arrives by the periodic resync.
        log.events.append((4, '{"seq": 4}'))
        wait_until(lambda: [f.seq for f in sub.take()] == [4], 5, "resync")
    finally:
        sub.close()
        listener.close()


def test_the_app_side_reconnects_when_the_live_side_comes_back(short_path: str) -> None:
    hub = Hub(Log())
    first = ChannelListener(short_path, hub)
    first.start()
    broker = ChannelBroker(short_path, Hub(Log()))
    broker.ping()
    first.close()
    with pytest.raises((ConnectionError, FileNotFoundError)):
        broker.ping()
    broker.publish("cerita", 1, "{}")  # logged, not raised: the log is the truth
    assert broker.readers("cerita") == 0
    second = ChannelListener(short_path, hub)
    second.start()
    try:
        broker.ping()
    finally:
        second.close()


def test_garbage_on_the_channel_drops_only_that_connection(short_path: str) -> None:
    hub = Hub(Log())
    listener = ChannelListener(short_path, hub)
    listener.start()
    try:
        with socket.socket(socket.AF_UNIX) as rogue:
            rogue.connect(short_path)
            rogue.sendall((2**31).to_bytes(4, "big"))
            rogue.settimeout(5)
            assert rogue.recv(10) == b""
        ChannelBroker(short_path, hub).ping()
    finally:
        listener.close()
    assert threading.active_count() >= 1


class _Named(socketserver.BaseRequestHandler):
    """Answer any request with the name of the pool it reached."""

    def handle(self) -> None:
        self.request.recv(65536)
        name = self.server.name  # type: ignore[attr-defined]
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(name)}\r\nConnection: close\r\n\r\n{name}".encode()
        )


def test_writes_go_to_their_own_pool(tmp_path: Path) -> None:
    servers = []
    for name in ("app", "write"):
        server = socketserver.ThreadingUnixStreamServer(str(tmp_path / f"{name}.sock"), _Named)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    front = Front(None, str(tmp_path / "app.sock"), "", str(tmp_path / "write.sock"))

    def reached(method: str, path: str) -> str:
        env = environ(
            "192.0.2.1",
            REQUEST_METHOD=method,
            PATH_INFO=path,
            SERVER_PROTOCOL="HTTP/1.1",
            CONTENT_LENGTH="0",
        )
        env["wsgi.input"] = io.BytesIO(b"")
        return b"".join(front(env, lambda *_: None)).decode()

    try:
        assert reached("POST", "/api/v1/stories/banjir/posts") == "write"
        assert reached("PATCH", "/api/v1/stories/banjir/posts/abc") == "write"
        assert reached("DELETE", "/editor/api/stories/banjir/posts/abc") == "write"
        assert reached("GET", "/api/v1/stories/banjir/events") == "app"
        assert reached("GET", "/stories/banjir") == "app"
        assert reached("POST", "/editor/login") == "app"  # a sign-in flood stays there
        assert reached("POST", "/editor/preview") == "app"
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
