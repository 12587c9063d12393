"""The reader fleet: lean asyncio WebSocket readers that time every update they receive.

No WebSocket library: raw frames, no compression, pongs with a zero mask, so the client
costs less than the servers it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import struct
import sys
import time
from collections import Counter

from servers import Target

IP_BIND_ADDRESS_NO_PORT = 24  # Linux: pick the source port at connect(), per 4-tuple
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # any 16 bytes, base64: the server only echoes a hash
PONG_MASK = b"\x00\x00\x00\x00"  # a zero mask leaves the payload as it is


class Reader(asyncio.Protocol):
    """One lean WebSocket reader: raw frames, no compression, pongs with a zero mask."""

    __slots__ = ("buf", "closed", "dups", "fleet", "got", "handshaken", "ready", "transport")

    def __init__(self, fleet: Fleet, ready: asyncio.Future[float]) -> None:
        self.fleet = fleet
        self.ready = ready
        self.buf = bytearray()
        self.handshaken = False
        self.transport: asyncio.Transport | None = None
        self.got: dict[int, float] = {}
        self.dups = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.fleet.upgrade)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buf
        buf += data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail("upgrade refused: " + buf[:40].decode(errors="replace").strip())
                return
            del buf[: end + 4]
            self.handshaken = True
        while len(buf) >= 2:
            b1 = buf[1]
            size = b1 & 0x7F
            head = 2
            if size == 126:
                if len(buf) < 4:
                    return
                size = int.from_bytes(buf[2:4], "big")
                head = 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size = int.from_bytes(buf[2:10], "big")
                head = 10
            if b1 & 0x80:
                head += 4  # servers never mask; tolerate it anyway (payload not unmasked)
            if len(buf) < head + size:
                return
            opcode = buf[0] & 0x0F
            payload = bytes(buf[head : head + size])
            del buf[: head + size]
            if opcode == 0x1:
                self._text(payload, now)
            elif opcode == 0x9:
                self.transport.write(  # type: ignore[union-attr]
                    bytes((0x8A, 0x80 | len(payload))) + PONG_MASK + payload
                )
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.fleet.closes[code] += 1
                self.transport.close()  # type: ignore[union-attr]
                return

    def _text(self, payload: bytes, now: float) -> None:
        at = payload.find(b'"seq":')
        if at < 0:
            if not self.ready.done():
                if b'"hello"' in payload:
                    self.ready.set_result(now)
                else:
                    self._fail("first frame not hello: " + payload[:40].decode(errors="replace"))
            return
        end = at + 6
        while payload[end] == 0x20:
            end += 1
        start = end
        while 0x30 <= payload[end] <= 0x39:
            end += 1
        seq = int(payload[start:end])
        fleet = self.fleet
        if seq in self.got:
            self.dups += 1
            return
        self.got[seq] = now
        if fleet.frame_bytes is None:
            fleet.frame_bytes = len(payload)
        if b"bm:%d:" % seq not in payload:
            fleet.corrupt += 1
        if seq in fleet.expected:
            fleet.counts[seq] += 1
            fleet.remaining -= 1
            if fleet.remaining <= 0 and not fleet.done.is_set():
                fleet.done.set()
        else:
            fleet.unexpected += 1

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before hello: {exc}"))
            return
        fleet = self.fleet
        fleet.lost += 1
        if fleet.expected:
            # What it will never get no longer holds the run up (it is counted as missed).
            fleet.remaining -= len(fleet.expected - self.got.keys())
            if fleet.remaining <= 0:
                fleet.done.set()

    def abort(self) -> None:
        """Close with a RST (no TIME_WAIT left behind on either side)."""
        if self.transport is None or self.closed:
            return
        sock = self.transport.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class LeanReader(Reader):
    """--lean: a reader that, after its hello, counts frames without decoding them.

    It parses only frame headers (opcode, length; servers never mask) in each recv buffer
    and keeps, per buffer, (text frames so far, receipt time): the server sends the events
    in seq order exactly once, so the n-th text frame after the hello is update n and every
    frame completed in one buffer was received at that buffer's time. The count must equal
    the number of updates (fewer: missed, more: duplicated); only the frame that completes
    the count is decoded, to check its seq and marker.
    """

    __slots__ = ("marks", "n", "sock")

    def __init__(self, fleet: Fleet, ready: asyncio.Future[float]) -> None:
        super().__init__(fleet, ready)
        self.n = 0
        self.marks: list[tuple[int, float]] = []
        self.sock: socket.socket | None = None  # read directly by Fleet.drain when raw

    def data_received(self, data: bytes) -> None:
        if not self.ready.done():  # handshake and hello: the full parser
            Reader.data_received(self, data)
            return
        self.feed(data, len(data), time.monotonic())

    def feed(self, data: bytes | bytearray, end: int, now: float) -> None:
        """Count the frames in data[:end], received at `now` (the tail waits in self.buf)."""
        buf = self.buf
        if buf:
            buf += data[:end]
            view: bytes | bytearray = buf
            end = len(buf)
        else:
            view = data
        pos, k, last, last_end = 0, 0, 0, 0
        while end - pos >= 2:
            b1 = view[pos + 1]
            size = b1 & 0x7F
            head = 2
            if size == 126:
                if end - pos < 4:
                    break
                size = (view[pos + 2] << 8) | view[pos + 3]
                head = 4
            elif size == 127:
                if end - pos < 10:
                    break
                size = int.from_bytes(view[pos + 2 : pos + 10], "big")
                head = 10
            if b1 & 0x80:
                head += 4
            stop = pos + head + size
            if stop > end:
                break
            opcode = view[pos] & 0x0F
            if opcode == 0x1:
                k += 1
                last, last_end = pos + head, stop
            elif opcode == 0x9:
                payload = bytes(view[pos + head : stop])
                self.transport.write(  # type: ignore[union-attr]
                    bytes((0x8A, 0x80 | len(payload))) + PONG_MASK + payload
                )
            elif opcode == 0x8:
                payload = bytes(view[pos + head : stop])
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.fleet.closes[code] += 1
                self.transport.close()  # type: ignore[union-attr]
                return
            pos = stop
        if k:
            fleet = self.fleet
            before = self.n
            n = self.n = before + k
            self.marks.append((n, now))
            owed = fleet.lean_updates - before
            if owed > 0:
                fleet.remaining -= k if k < owed else owed
                fleet.lean_got += k if k < owed else owed
                if fleet.remaining <= 0:
                    fleet.done.set()
            if n == fleet.lean_updates:
                self._check_last(bytes(view[last:last_end]))
        if view is buf:
            del buf[:pos]
        elif pos < end:
            buf += data[pos:end]

    def _check_last(self, payload: bytes) -> None:
        """Decode the frame that completes the count: it must be the last update."""
        fleet = self.fleet
        if fleet.frame_bytes is None:
            fleet.frame_bytes = len(payload)
        at = payload.find(b'"seq":')
        digits = payload[at + 6 : at + 30].lstrip(b" ")
        digits = digits[: len(digits) - len(digits.lstrip(b"0123456789"))]
        seq = fleet.lean_last_seq
        if at < 0 or digits != b"%d" % seq or b"bm:%d:" % seq not in payload:
            fleet.corrupt += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before hello: {exc}"))
            return
        fleet = self.fleet
        fleet.lost += 1
        owed = fleet.lean_updates - self.n
        if owed > 0:
            fleet.remaining -= owed
            if fleet.remaining <= 0:
                fleet.done.set()


class Fleet:
    """N readers of one target and what they received."""

    def __init__(self, target: Target, sources: list[str], lean: bool = False) -> None:
        self.target = target
        self.sources = sources
        self.lean = lean
        self.lean_updates = 0  # --lean: updates each reader is owed, the last one's seq
        self.lean_last_seq = 0
        self.lean_got = 0
        self.upgrade = (
            f"GET {target.path}?after={target.first_seq - 1} HTTP/1.1\r\n"
            f"Host: {target.host}:{target.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.readers: list[Reader] = []
        self.connect_times: list[float] = []
        self.failures: Counter[str] = Counter()
        self.closes: Counter[int] = Counter()
        self.expected: set[int] = set()
        self.counts: Counter[int] = Counter()
        self.remaining = 0
        self.done = asyncio.Event()
        self.corrupt = 0
        self.unexpected = 0
        self.lost = 0
        self.frame_bytes: int | None = None
        self.attempted = 0

    async def connect_one(self, index: int, t0: float, timeout: float) -> None:
        """Connect one reader and wait for its hello; record the time or the failure."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        reader: Reader | None = None
        try:
            async with asyncio.timeout(timeout):
                sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((self.sources[index % len(self.sources)], 0))
                sock.setblocking(False)
                await loop.sock_connect(sock, (self.target.host, self.target.port))
                ready: asyncio.Future[float] = loop.create_future()
                reader = (LeanReader if self.lean else Reader)(self, ready)
                if isinstance(reader, LeanReader):
                    reader.sock = sock
                await loop.create_connection(lambda: reader, sock=sock)  # type: ignore[arg-type,return-value]
                at = await ready
            self.readers.append(reader)
            self.connect_times.append(at - t0)
        except TimeoutError:
            self.failures["timeout"] += 1
            self._drop(reader, sock)
        except (OSError, ConnectionError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.failures[reason[:60]] += 1
            self._drop(reader, sock)

    @staticmethod
    def _drop(reader: Reader | None, sock: socket.socket) -> None:
        if reader is not None and reader.transport is not None:
            reader.abort()
        else:
            sock.close()

    def go_raw(self) -> None:
        """--lean: take the readers' sockets off the event loop and watch them with one
        epoll of our own, drained by a single loop callback: one callback per batch of ready
        sockets, each read with recv_into() into one shared buffer, instead of a callback,
        a fresh bytes object and a data_received() per socket."""
        self.epoll = select.epoll()
        self.raw: dict[int, LeanReader] = {}
        self.rbuf = bytearray(1 << 18)
        for reader in self.readers:
            if not isinstance(reader, LeanReader) or reader.sock is None or reader.closed:
                continue
            reader.transport.pause_reading()  # type: ignore[union-attr]
            fd = reader.sock.fileno()
            self.raw[fd] = reader
            self.epoll.register(fd, select.EPOLLIN)
        asyncio.get_running_loop().add_reader(self.epoll.fileno(), self.drain)

    def drain(self) -> None:
        """Read every ready socket once (level-triggered: what is left comes back)."""
        rbuf, raw, clock = self.rbuf, self.raw, time.monotonic
        for fd, _ in self.epoll.poll(0):
            reader = raw.get(fd)
            if reader is None:
                continue
            try:
                n = reader.sock.recv_into(rbuf)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            if n and not reader.transport.is_closing():  # type: ignore[union-attr]
                reader.feed(rbuf, n, clock())
            else:  # EOF or error: give it back to asyncio, which reports the loss
                del raw[fd]
                self.epoll.unregister(fd)
                if n == 0 and not reader.transport.is_closing():  # type: ignore[union-attr]
                    reader.transport.resume_reading()  # type: ignore[union-attr]

    def stop_raw(self) -> None:
        """Stop the epoll drain (the readers stay paused until they are aborted)."""
        epoll = getattr(self, "epoll", None)
        if epoll is not None and not epoll.closed:
            asyncio.get_running_loop().remove_reader(epoll.fileno())
            epoll.close()

    def delivered(self) -> int:
        """Return the deliveries counted so far."""
        return self.lean_got if self.lean else sum(self.counts.values())

    def close_all(self) -> None:
        """Abort every reader's connection."""
        for reader in self.readers:
            reader.abort()


class Progress:
    """A one-line progress report on stderr, at most every half second (every 2 s off a tty)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.t0 = time.monotonic()

    def show(self, text: str, force: bool = False) -> None:
        """Show `text` if enough time has passed since the last line."""
        now = time.monotonic()
        if not force and now - self.last < (0.5 if self.tty else 2.0):
            return
        self.last = now
        line = f"[{self.label}] {text} ({now - self.t0:5.1f}s)"
        sys.stderr.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        sys.stderr.flush()

    def end(self, text: str) -> None:
        """Finish the line."""
        self.show(text, force=True)
        if self.tty:
            sys.stderr.write("\n")


# -- one measurement -------------------------------------------------------------------------
