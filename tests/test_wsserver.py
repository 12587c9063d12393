"""The live process's cheap WebSocket handshake answers like simple-websocket's own."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import simple_websocket
from wsproto.events import TextMessage

from liveblog.wsserver import ReaderThread, Server, _plain_upgrade

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455, section 1.3
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


class NoThread:
    """Keep the reading loop from running: the test reads the socket itself."""

    def __init__(self, target: Callable[[], Any]) -> None:
        self.name = "test(_thread)"

    def start(self) -> None:
        """Do nothing."""


def _environ(sock: socket.socket, **extra: str) -> dict[str, Any]:
    return {
        "gunicorn.socket": sock,
        "REQUEST_METHOD": "GET",
        "HTTP_HOST": "example.test",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "keep-alive, Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": KEY,
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        **extra,
    }


def _answer(server_class: type[Any], **extra: str) -> tuple[Any, bytes, socket.socket]:
    ours, theirs = socket.socketpair()
    ws = server_class(_environ(ours, **extra), thread_class=NoThread)
    theirs.settimeout(2)
    return ws, theirs.recv(4096), theirs


def test_plain_upgrade_gets_the_rfc_accept_token_and_frames_work() -> None:
    ws, answer, theirs = _answer(Server)
    assert answer.startswith(b"HTTP/1.1 101 ")
    assert b"Sec-WebSocket-Accept: " + ACCEPT + b"\r\n" in answer
    assert answer.endswith(b"\r\n\r\n")
    assert ws.connected
    ws.send("hello")
    assert theirs.recv(4096) == b"\x81\x05hello"
    ws.ws.receive_data(b"\x81\x82abcd" + bytes(a ^ b for a, b in zip(b"hi", b"ab", strict=True)))
    assert [e.data for e in ws.ws.events() if isinstance(e, TextMessage)] == ["hi"]


def test_same_accept_token_as_simple_websockets_own_handshake() -> None:
    _ws, stock, _theirs = _answer(simple_websocket.Server)
    assert b"Sec-WebSocket-Accept: " + ACCEPT in stock


def test_unusual_requests_take_the_stock_handshake() -> None:
    with socket.socket() as sock:
        assert _plain_upgrade(_environ(sock)) == KEY.encode()
        assert _plain_upgrade(_environ(sock, HTTP_SEC_WEBSOCKET_VERSION="8")) is None
        assert _plain_upgrade(_environ(sock, HTTP_CONNECTION="close")) is None
        assert _plain_upgrade(_environ(sock, HTTP_SEC_WEBSOCKET_KEY="")) is None
        assert _plain_upgrade(_environ(sock, HTTP_SEC_WEBSOCKET_PROTOCOL="chat")) is None
        extensions = _environ(sock, HTTP_SEC_WEBSOCKET_EXTENSIONS="permessage-deflate")
        assert _plain_upgrade(extensions) is None
    # Offered compression goes through wsproto, which negotiates it as before.
    _ws, answer, _theirs = _answer(Server, HTTP_SEC_WEBSOCKET_EXTENSIONS="permessage-deflate")
    assert b"Sec-WebSocket-Accept: " + ACCEPT in answer
    assert b"permessage-deflate" in answer


def test_reader_thread_is_named_like_a_thread() -> None:
    thread = ReaderThread(lambda: None)
    thread.name = thread.name.replace("(_thread)", "(simple_websocket.Base._thread)")
    assert thread.name.endswith("(simple_websocket.Base._thread)")
