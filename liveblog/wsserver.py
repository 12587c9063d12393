"""The WebSocket connection under flask-sock in the live process, made cheap to open.

Boundary: the live process (`server.py`, gevent) installs these for flask-sock; the route
API stays flask-sock's and the frame protocol wsproto's. Three costs of joining go:

- The handshake. simple-websocket rebuilds the request as HTTP text and parses it again
  with h11 (a whole h11 connection per reader) to answer it. gunicorn has parsed the
  headers already: a plain RFC 6455 upgrade is checked and answered here, keeping only
  wsproto's frame protocol. Anything unusual (subprotocols, extensions, a missing header)
  takes simple-websocket's own handshake and reader, unchanged.
- The reader thread. A plain connection starts none: nothing reads it until the handler
  parks it (`Server.park`), and then the lot's read watcher does. (For the unusual ones,
  `ReaderThread` starts simple-websocket's reading loop in a bare greenlet.)
- The connection's life. A parked connection (`parking.py`) keeps no greenlet, request,
  context or environ: the handler ends once its reader has caught up.

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
from wsproto.frame_protocol import CloseReason

from .hub import Subscription
from .parking import Lot, Parked

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
    """simple-websocket's server side, answering a plain upgrade without h11, and parkable."""

    def __init__(self, environ: dict[str, Any], subprotocols: Any = None, **options: Any) -> None:
        """Answer 101 from the headers gunicorn parsed; fall back for anything unusual."""
        key = None if subprotocols else _plain_upgrade(environ)
        self.lean = key is not None and "gunicorn.socket" in environ
        if key is None or not self.lean:
            super().__init__(environ, subprotocols, **options)
            return
        # simple-websocket's own attributes, as Base.__init__ sets them, without its h11
        # connection and without a reader: nothing reads until the handler parks.
        self.environ = environ
        self.subprotocols: list[str] = []
        self.subprotocol = None
        self.mode = "gunicorn"
        self.sock = environ["gunicorn.socket"]
        self.receive_bytes = options.get("receive_bytes", 4096)
        self.ping_interval = None
        self.max_message_size = options.get("max_message_size")
        self.pong_received = True
        self.input_buffer: list[Any] = []
        self.incoming_message = None
        self.incoming_message_len = 0
        self.is_server = True
        self.close_reason = CloseReason.NO_STATUS_RCVD
        self.close_message = None
        self.event = (options.get("event_class") or gevent.event.Event)()
        accept = base64.b64encode(hashlib.sha1(key + GUID, usedforsecurity=False).digest())
        self.sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.ws = Connection(ConnectionType.SERVER)  # frames only: the handshake is done
        self.connected = True

    def park(self, sub: Subscription, lot: Lot) -> Parked | None:
        """Hand the connection to the lot and let go of it (None: this one cannot park)."""
        if not self.lean or not self.connected:
            return None
        inner = self.sock._sock  # gevent's socket wraps the OS socket
        family, kind = inner.family, inner.type
        fd = self.sock.detach()  # gunicorn's socket object lets go; closing it closes nothing
        self.connected = False  # flask-sock's closing handshake is now the lot's business
        return lot.park(fd, family, kind, self.ws, sub)


def install(app: Any) -> None:
    """Make flask-sock open connections the cheap way, and park them in a `Lot`."""
    import flask_sock

    flask_sock.Server = Server  # flask-sock's route looks `Server` up at each connection
    config = app.config
    config["SOCK_SERVER_OPTIONS"] = {
        **config["SOCK_SERVER_OPTIONS"],
        "thread_class": ReaderThread,
        "event_class": gevent.event.Event,
    }
    app.extensions["liveblog.lot"] = Lot(
        config["LIVEBLOG_PING_SECONDS"],
        config["LIVEBLOG_SEND_TIMEOUT"],
        config["LIVEBLOG_WS_MAX_MESSAGE"],
    )
