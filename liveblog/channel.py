"""The local event channel: app worker processes hand committed events to the live process.

Imports nothing from Flask. With no Redis configured, `liveblog serve` runs the write path
(pages, API, desk) in app processes and the readers in one live process; this channel is
the in-process broker stretched over a Unix socket between them, so no server is needed.
App workers hold a `ChannelBroker` (the `Broker` protocol); the live process runs a
`ChannelListener` that hands each event to its hub and answers reader counts. The event
log stays the source of truth: the listener resynchronizes the hub from it every few
seconds, so an event lost on the way (the live process restarting) is late, never lost.

Wire format, both ways: a 4-byte big-endian length, then the message. App to live:
`E<slug>\\n<seq>\\n<frame>` (publish), `R<slug>` (count readers, answered with the number)
and `P` (ping, answered with `ok`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time

from .hub import Hub

log = logging.getLogger(__name__)

MAX_MESSAGE = 16 * 2**20
TIMEOUT = 5.0


def _send(sock: socket.socket, body: bytes) -> None:
    sock.sendall(len(body).to_bytes(4, "big") + body)


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise ConnectionError("channel closed")
        chunks.extend(chunk)
    return bytes(chunks)


def _receive(sock: socket.socket) -> bytes:
    size = int.from_bytes(_receive_exactly(sock, 4), "big")
    if size > MAX_MESSAGE:
        raise ConnectionError(f"channel message of {size} bytes")
    return _receive_exactly(sock, size)


class ChannelBroker:
    """The app side: send events to the live process, ask it for reader counts."""

    multiprocess = True

    def __init__(self, path: str, hub: Hub) -> None:
        self.path = path
        self.hub = hub  # unused here: readers are in the live process
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _call(self, body: bytes, *, answer: bool) -> bytes:
        """Send one message (retrying once on a fresh connection); return the answer."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._sock is None:
                        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        sock.settimeout(TIMEOUT)
                        sock.connect(self.path)
                        self._sock = sock
                    _send(self._sock, body)
                    return _receive(self._sock) if answer else b""
                except OSError:
                    self._drop()
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def publish(self, slug: str, seq: int, frame: str) -> None:
        """Hand a committed event to the live process (it catches up from the log if lost)."""
        try:
            self._call(f"E{slug}\n{seq}\n{frame}".encode(), answer=False)
        except OSError as exc:
            log.warning("event channel publish failed, readers catch up from the log: %s", exc)

    def start(self) -> None:
        """Do nothing: this side only sends."""

    def ping(self) -> None:
        """Raise if the live process does not answer."""
        if self._call(b"P", answer=True) != b"ok":
            raise ConnectionError("unexpected answer on the event channel")

    def readers(self, slug: str) -> int:
        """Ask the live process how many readers the story has."""
        try:
            return int(self._call(b"R" + slug.encode(), answer=True))
        except (OSError, ValueError):
            return 0


class ChannelListener:
    """The live side: feed the hub from app workers' events, and resync it from the log."""

    def __init__(self, path: str, hub: Hub, *, resync_seconds: float = 5.0) -> None:
        self.path = path
        self.hub = hub
        self.resync_seconds = resync_seconds
        self._server: socket.socket | None = None
        self._connections: set[socket.socket] = set()

    def start(self) -> None:
        """Listen on the socket path and serve connections in background threads."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.path)
        os.chmod(self.path, 0o600)
        server.listen(128)
        self._server = server
        threading.Thread(target=self._accept, name="liveblog-channel", daemon=True).start()
        threading.Thread(target=self._resync, name="liveblog-resync", daemon=True).start()

    def close(self) -> None:
        """Stop listening and hang up on every app process."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while self._server is not None:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        self._connections.add(conn)
        with conn:
            while self._server is not None:
                try:
                    message = _receive(conn)
                    answer = self.handle(message)
                    if answer is not None:
                        _send(conn, answer)
                except (OSError, ValueError) as exc:
                    if not isinstance(exc, ConnectionError) or "closed" not in str(exc):
                        log.warning("event channel connection dropped: %s", exc)
                    break
        self._connections.discard(conn)

    def handle(self, message: bytes) -> bytes | None:
        """Act on one message; return the answer to send, if any."""
        kind, body = message[:1], message[1:]
        if kind == b"E":
            slug, seq, frame = body.decode().split("\n", 2)
            self.hub.publish(slug, int(seq), frame)
            return None
        if kind == b"R":
            return str(self.hub.readers(body.decode())).encode()
        if kind == b"P":
            return b"ok"
        raise ValueError(f"unknown channel message {kind!r}")

    def _resync(self) -> None:
        while self._server is not None:
            time.sleep(self.resync_seconds)
            try:
                self.hub.resync()
            except Exception as exc:  # noqa: BLE001 - try again next time
                log.warning("hub resync from the log failed: %s", exc)
