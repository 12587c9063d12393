"""Caught-up readers, parked in the event loop: no greenlet, request or context per reader.

Boundary: the live process only (gevent's loop); imports no Flask. A reader's handler
(`views/live.py`) replays what the reader missed, then parks the connection here and ends,
so the handler's greenlet, the Flask request and the WSGI environ are freed. From then on:

- the hub writes each new frame straight to the socket (`Subscription.direct`), as before;
- what the socket could not take at once (`Subscription.pending`, and frames the hub
  queued meanwhile) is finished by a write watcher, within `send_timeout` seconds;
- a read watcher answers the reader's pings and close, records pongs, and closes with
  1009 on a message larger than `max_message` (wsproto parses the frames); it pauses while
  the reader has not taken what it is owed, so nobody is owed more than one read's replies,
  and closes with 1008 a reader that sends more than `MAX_PINGS` pings in a ping round;
- one pinger per process pings each parked reader every `ping_seconds`, first a whole
  round after it joined, a slice of the readers each second, and closes with 1011 those
  that did not answer the ping before.

Every callback here runs in gevent's hub and never blocks: the socket is non-blocking, and
nobody holds a subscription's lock across a switch.
"""

from __future__ import annotations

import _socket
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

import gevent
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from .hub import Subscription

log = logging.getLogger(__name__)

PING = bytes((0x89, 0x00))
CLOSE_RESUME = 4503  # too slow: reconnect with after=<last seq>
CLOSE_GOING_AWAY = 1001  # the server is stopping
CLOSE_PING_TIMEOUT = 1011
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
#: Pings a reader may send per ping round. Browsers send none; past this it is a flood,
#: and answering it would cost the worker a frame parse and a pong per 6 bytes.
MAX_PINGS = 16
READ_BYTES = 4096
STOPPING = "server stopping: reconnect with after=<last seq>"


def close_frame(code: int, reason: str) -> bytes:
    """Return an unmasked close frame (RFC 6455, server side)."""
    payload = code.to_bytes(2, "big") + reason.encode()[:123]
    return bytes((0x88, len(payload))) + payload


class Lot:
    """This process's parked readers, and the pinger that keeps them honest."""

    def __init__(self, ping_seconds: float, send_timeout: float, max_message: int) -> None:
        self.ping_seconds = ping_seconds
        self.send_timeout = send_timeout
        self.max_message = max_message
        self.tick = min(1.0, ping_seconds)
        self.buckets: list[set[Parked]] = [
            set() for _ in range(max(1, round(ping_seconds / self.tick)))
        ]
        self._turn = 0  # the bucket the pinger sees next
        self._pinger: Any = None

    def park(self, fd: int, family: int, kind: int, conn: Connection, sub: Subscription) -> Parked:
        """Take over a reader's connection (its file descriptor) from its handler."""
        if self._pinger is None:
            self._pinger = gevent.spawn(self._ping_forever)
        # The bucket the pinger has just seen: a new reader's first ping comes a whole
        # round (ping_seconds) after it joined, not in the middle of the storm it came with.
        bucket = (self._turn - 1) % len(self.buckets)
        parked = Parked(self, bucket, _socket.socket(family, kind, 0, fd), conn, sub)
        self.buckets[bucket].add(parked)
        parked.start()
        return parked

    def close_all(self) -> None:
        """Tell every parked reader the server is stopping (1001), now."""
        for bucket in self.buckets:
            for parked in list(bucket):
                parked.close_with(CLOSE_GOING_AWAY, STOPPING)

    def _ping_forever(self) -> None:
        while True:
            gevent.sleep(self.tick)
            for parked in list(self.buckets[self._turn]):
                try:
                    parked.ping()
                except Exception:  # one reader's failure must not stop the pings
                    log.exception("pinging a parked reader")
                    parked.hang_up()
            self._turn = (self._turn + 1) % len(self.buckets)


class Parked:
    """One parked reader: its socket, its frame protocol, its subscription."""

    __slots__ = (
        "_deadline",
        "_reading",
        "_writing",
        "bucket",
        "closed",
        "conn",
        "hang_up_when_flushed",
        "incoming",
        "lot",
        "pings",
        "pong",
        "releases",
        "scheduled",
        "sock",
        "sub",
    )

    def __init__(
        self, lot: Lot, bucket: int, sock: Any, conn: Connection, sub: Subscription
    ) -> None:
        self.lot = lot
        self.bucket = bucket
        self.sock = sock
        self.conn = conn
        self.sub = sub
        self.pong = True
        self.incoming = 0  # bytes of the reader's current message
        self.pings = 0  # pings the reader sent this ping round
        self.closed = False
        self.hang_up_when_flushed = False
        self.scheduled = False
        self.releases: list[Callable[[], None]] = []
        loop = gevent.get_hub().loop
        self._reading = loop.io(sock.fileno(), 1)
        self._writing: Any = None
        self._deadline: Any = None

    def start(self) -> None:
        """Write through from the hub, read from the socket, and see to anything queued."""
        self.sock.setblocking(False)
        self.sub.direct = self.send_now
        self.sub.notify(self)
        self._reading.start(self._readable)
        self.set()

    def on_close(self, release: Callable[[], None]) -> None:
        """Call `release` when the connection ends (at once if it has)."""
        if self.closed:
            release()
        else:
            self.releases.append(release)

    # The subscription's wakeup (an Event's set/wait/clear): service the connection soon.
    def set(self) -> None:
        """Service the connection from the loop, once however often it is asked."""
        if not self.scheduled and not self.closed:
            self.scheduled = True
            gevent.get_hub().loop.run_callback(self._service)

    def wait(self, timeout: float | None = None) -> bool:
        """Return at once: nobody waits on a parked connection."""
        return True

    def clear(self) -> None:
        """Nothing to clear."""

    def send_now(self, data: bytes) -> int:
        """Write what the socket takes at once; BlockingIOError if it takes nothing."""
        sent: int = self.sock.send(data, socket.MSG_DONTWAIT)
        return sent

    def ping(self) -> None:
        """Close a reader that did not answer the last ping (1011); ping it again."""
        if self.closed:
            return
        if not self.pong:
            self.sub.hub.observer.dropped("ping_timeout")
            self.close_with(CLOSE_PING_TIMEOUT, "ping timeout")
            return
        self.pong = False
        self.pings = 0
        self._write(PING)

    def close_with(self, code: int, reason: str) -> None:
        """Send a close frame after what is queued, then hang up."""
        if self.closed or self.hang_up_when_flushed:
            return
        self.hang_up_when_flushed = True
        self._write(close_frame(code, reason))

    def _service(self) -> None:
        self.scheduled = False
        if self.closed:
            return
        sub = self.sub
        if sub.broken:
            self.hang_up()
        elif sub.overflowed:
            self.close_with(CLOSE_RESUME, "too slow: reconnect with after=<last seq>")
        elif sub.closing:
            self.close_with(CLOSE_GOING_AWAY, STOPPING)
        else:
            self._write(b"")

    def _write(self, data: bytes) -> None:
        """Queue `data` after what is pending, and write as much as the socket takes."""
        sub = self.sub
        if not sub.lock.acquire(blocking=False):  # only a handler that has not parked yet
            gevent.get_hub().loop.run_callback(self._write, data)  # holds it: try again soon
            return
        moved = False
        try:
            out = sub.pending + data
            while True:
                if out:
                    sent = self.send_now(out)
                    moved = moved or sent > 0
                    out = out[sent:]
                    if out:
                        break
                frames = sub.take()
                if not frames:
                    break
                out = b"".join(frame.wire for frame in frames)
        except BlockingIOError:
            pass
        except OSError:
            if not sub.broken:
                sub.hub.observer.dropped("broken")
            sub.broken = True
            out = b""
        finally:
            sub.pending = out
            sub.lock.release()
        if sub.broken:
            self.hang_up()
        elif out:
            if moved:  # the reader is taking data: its deadline starts again
                self._drop_deadline()
            # Read nothing more until the reader takes what it is owed: a reader that
            # sends pings and never reads would otherwise grow this backlog without end.
            self._reading.stop()
            self._wait_writable()
        elif self.hang_up_when_flushed:
            self.hang_up()
        else:
            self._stop_waiting()
            if not self._reading.active:
                self._reading.start(self._readable)

    def _wait_writable(self) -> None:
        loop = gevent.get_hub().loop
        if self._writing is None:
            self._writing = loop.io(self.sock.fileno(), 2)
        if not self._writing.active:
            self._writing.start(self._write, b"")
        if self._deadline is None:
            self._deadline = loop.timer(self.lot.send_timeout)
            self._deadline.start(self._too_slow)

    def _stop_waiting(self) -> None:
        if self._writing is not None:
            self._writing.stop()
        self._drop_deadline()

    def _drop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.stop()
            self._deadline.close()
            self._deadline = None

    def _too_slow(self) -> None:
        self.sub.hub.observer.dropped("slow")
        self.hang_up()

    def _readable(self) -> None:
        try:
            data = self.sock.recv(READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the reader is gone
            self.hang_up()
            return
        replies = bytearray()  # pongs (and a close) for this read, written once, in order
        refusal: tuple[int, str] | None = None
        try:
            self.conn.receive_data(data)
            for event in self.conn.events():
                if isinstance(event, Ping):
                    self.pings += 1
                    if self.pings > MAX_PINGS:
                        refusal = (CLOSE_POLICY, "too many pings")
                        break
                    replies += self.conn.send(event.response())
                elif isinstance(event, Pong):
                    self.pong = True
                elif isinstance(event, CloseConnection):
                    self.hang_up_when_flushed = True
                    replies += self.conn.send(event.response())
                    break
                elif isinstance(event, TextMessage | BytesMessage):
                    # Readers have nothing to say: count a message's bytes, keep none.
                    self.incoming += len(event.data)
                    if self.incoming > self.lot.max_message:
                        refusal = (CLOSE_TOO_BIG, "Message is too big")
                        break
                    if event.message_finished:
                        self.incoming = 0
        except (LocalProtocolError, RemoteProtocolError):
            self.hang_up()
            return
        if replies:
            self._write(bytes(replies))
        if refusal is not None:
            self.close_with(*refusal)

    def hang_up(self) -> None:
        """End the connection and give back everything it held."""
        if self.closed:
            return
        self.closed = True
        self._reading.stop()
        self._reading.close()
        self._stop_waiting()
        if self._writing is not None:
            self._writing.close()
        self.lot.buckets[self.bucket].discard(self)
        self.sub.close()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        releases, self.releases = self.releases, []
        for release in releases:
            try:
                release()
            except Exception:  # noqa: BLE001 - one failed release must not keep the others
                log.exception("releasing a parked reader")
