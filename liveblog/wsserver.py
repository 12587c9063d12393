"""The WebSocket connection under flask-sock in the live process, made cheap to open.

Boundary: the live process (`server.py`, gevent) installs these for flask-sock; the route
API, the reading loop and the frame protocol stay flask-sock's, simple-websocket's and
wsproto's. Two costs of joining go:

- The handshake. simple-websocket rebuilds the request as HTTP text and parses it again
  with h11 (a whole h11 connection per reader) to answer it. gunicorn has parsed the
  headers already: `Server.handshake` checks them and answers the 101 itself, keeping only
  wsproto's frame protocol. Anything unusual (subprotocols, extensions, a missing header)
  takes simple-websocket's own handshake, unchanged.
- The reader thread. Under gevent's patching the default `threading.Thread` costs a Thread
  object with its locks and Condition, a gevent `Greenlet`, an entry in `threading._active`,
  and a switch to the new thread and back (`start()` waits for it). `ReaderThread` starts
  the reading loop in a bare greenlet, and gevent's `Event` replaces the patched one.

Imports no Flask; without gevent (tests of the app alone) nothing here is installed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import simple_websocket
from wsproto import ConnectionType
from wsproto.connection import Connection

#: RFC 6455's GUID, hashed with the client's key into Sec-WebSocket-Accept.
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ReaderThread:
    """Run a connection's reading loop in a bare greenlet; a `threading.Thread` stand-in."""

    __slots__ = ("_target", "name")

    def __init__(self, target: Callable[[], Any]) -> None:
        self._target = target
        self.name = "ws-reader(_thread)"  # simple-websocket renames its thread

    def start(self) -> None:
        """Schedule the reading loop; return at once."""
        gevent.spawn_raw(self._target)


def _plain_upgrade(environ: dict[str, Any]) -> bytes | None:
    """Return the client's key if the request is a plain RFC 6455 upgrade, else None."""
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "")
    tokens = environ.get("HTTP_CONNECTION", "").lower().split(",")
    plain = (
        key
        and environ.get("HTTP_SEC_WEBSOCKET_VERSION") == "13"
        and environ.get("HTTP_HOST")
        and environ.get("REQUEST_METHOD") == "GET"
        and environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        and any(token.strip() == "upgrade" for token in tokens)
        and "HTTP_SEC_WEBSOCKET_EXTENSIONS" not in environ
        and "HTTP_SEC_WEBSOCKET_PROTOCOL" not in environ
    )
    return key.encode("latin-1") if plain else None


class Server(simple_websocket.Server):  # type: ignore[misc]
    """simple-websocket's server side, answering a plain upgrade without h11."""

    def handshake(self) -> None:
        """Answer 101 from the headers gunicorn parsed; fall back for anything unusual."""
        key = None if self.subprotocols else _plain_upgrade(self.environ)
        if key is None:
            super().handshake()
            return
        accept = base64.b64encode(hashlib.sha1(key + GUID, usedforsecurity=False).digest())
        self.sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.ws = Connection(ConnectionType.SERVER)  # frames only: the handshake is done
        self.connected = True


def install(options: dict[str, Any]) -> dict[str, Any]:
    """Make flask-sock open connections the cheap way; return its server options for it."""
    import flask_sock

    flask_sock.Server = Server  # flask-sock's route looks `Server` up at each connection
    return {**options, "thread_class": ReaderThread, "event_class": gevent.event.Event}
