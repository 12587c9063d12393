"""The in-process fan-out hub: one per server process, shared by every reader in it.

Imports nothing from Flask and does no I/O of its own: it reads the event log only through
the `EventSource` it is given. The hub hands each event's ready-made frame to every
subscriber of the story without encoding anything per reader. It keeps the last `seq` it
delivered per story, drops anything at or below it (so a broker that repeats a message
repeats nothing for readers) and fills any gap from the event log before delivering (so a
broker that loses a message loses nothing for readers).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

log = logging.getLogger(__name__)

Logged = tuple[int, str]
"""An event as the log stores it: its seq and its JSON text."""


def websocket_frame(payload: bytes) -> bytes:
    """Return one unmasked, uncompressed WebSocket text frame (RFC 6455, server side)."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 1 << 16:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


class Frame(NamedTuple):
    """An event ready to send: encoded once, shared by every reader."""

    seq: int
    text: str
    wire: bytes

    @classmethod
    def of(cls, seq: int, text: str) -> Frame:
        """Encode an event once for every reader."""
        return cls(seq, text, websocket_frame(text.encode()))


class EventSource(Protocol):
    """Where the hub reads the event log when it must catch up."""

    def last_seq(self, slug: str) -> int | None:
        """Return the story's last seq, or None if it does not exist."""

    def events_after(self, slug: str, after: int) -> list[Logged]:
        """Return every event of the story with seq > after, ascending."""


class Observer(Protocol):
    """What the hub reports for operators (see metrics.HubMetrics); all calls are cheap."""

    def readers(self, slug: str, count: int) -> None:
        """A story now has `count` readers in this process."""

    def fanned_out(self, texts: list[str], receivers: int) -> None:
        """These events were handed to `receivers` readers."""

    def overflowed(self) -> None:
        """A reader's queue overflowed."""

    def dropped(self, reason: str) -> None:
        """A reader was hung up on."""


class Quiet:
    """An observer that records nothing."""

    def readers(self, slug: str, count: int) -> None:
        """Record nothing."""

    def fanned_out(self, texts: list[str], receivers: int) -> None:
        """Record nothing."""

    def overflowed(self) -> None:
        """Record nothing."""

    def dropped(self, reason: str) -> None:
        """Record nothing."""


class Wakeup(Protocol):
    """What a subscription sets when its reader has something to do (an Event will do)."""

    def set(self) -> None:
        """Something is waiting for the reader's connection."""

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set, up to `timeout` seconds."""

    def clear(self) -> None:
        """Forget that it was set."""


Writer = Callable[[bytes], int]
"""Write bytes without blocking: return how many were taken, raise BlockingIOError if none."""


class Subscription:
    """One reader: frames are written straight to its connection while it keeps up, and queued
    (boundedly) for its handler when it does not.

    Whoever writes to the reader's connection holds `lock`. While the handler holds it (it is
    replaying, or draining a backlog into a slow socket) frames queue up; once it has caught
    up it sets `direct`, and the hub writes each frame through it at once, the way
    `websockets.broadcast()` does, without waking the handler at all.
    """

    def __init__(self, hub: Hub, slug: str, limit: int, wakeup: Wakeup | None = None) -> None:
        self.hub = hub
        self.slug = slug
        self.limit = limit
        self.overflowed = False
        self.closing = False
        self.broken = False
        self.lock = threading.Lock()
        self.direct: Writer | None = None
        self.pending = b""  # the unwritten tail of a frame the hub wrote directly
        # The last seq written to the reader. A reconnecting reader's replay comes from the
        # log, which may be ahead of this hub (the event's PUBLISH is still on its way), so
        # the hub must not write that event again when it arrives.
        self.sent = 0
        self._frames: deque[Frame] = deque()
        self._ready: Wakeup = wakeup or threading.Event()

    def deliver(self, frames: Iterable[Frame]) -> None:
        """Write frames through, or queue them; past the limit, mark the reader overflowed."""
        queued = False
        for frame in frames:
            if frame.seq <= self.sent:
                continue
            if self._write_through(frame):
                continue
            if len(self._frames) >= self.limit:
                if not self.overflowed:
                    self.hub.observer.overflowed()
                self.overflowed = True
                queued = True
                break
            self._frames.append(frame)
            queued = True
        if queued:
            self._ready.set()

    def _write_through(self, frame: Frame) -> bool:
        """Try the direct path; return False when the frame must be queued instead."""
        if self.direct is None or self._frames or self.pending:
            return False
        if not self.lock.acquire(blocking=False):
            return False
        try:
            if self.direct is None or self._frames or self.pending:
                return False
            if frame.seq <= self.sent:
                return True
            try:
                written = self.direct(frame.wire)
            except BlockingIOError:
                return False
            except OSError:
                if not self.broken:
                    self.hub.observer.dropped("broken")
                self.broken = True
                self._ready.set()
                return True
            self.sent = frame.seq
            if written < len(frame.wire):
                self.pending = frame.wire[written:]
                self._ready.set()
            return True
        finally:
            self.lock.release()

    def wait(self, timeout: float) -> None:
        """Wait up to `timeout` seconds until there is something for the handler to do."""
        idle = not (self._frames or self.pending or self.overflowed or self.closing)
        if idle and not self.broken:
            self._ready.wait(timeout)
        self._ready.clear()

    def take(self) -> list[Frame]:
        """Return and forget the queued frames not yet written (call it holding `lock`).

        The caller writes them all, so `sent` moves to the last one.
        """
        out: list[Frame] = []
        while self._frames:
            frame = self._frames.popleft()
            if frame.seq > self.sent:
                out.append(frame)
                self.sent = frame.seq
        return out

    def wake(self) -> None:
        """Make a pending `wait` return at once (used when closing)."""
        self._ready.set()

    def notify(self, wakeup: Wakeup) -> None:
        """Set `wakeup` from now on when the reader has something to do (a parked reader)."""
        self._ready = wakeup

    def close(self) -> None:
        """Stop receiving frames."""
        self.direct = None
        self.hub.unsubscribe(self)


class Hub:
    """Subscribers by story, with per-story dedup and gap filling."""

    def __init__(
        self, source: EventSource, *, queue_limit: int = 256, observer: Observer | None = None
    ) -> None:
        self.source = source
        self.observer: Observer = observer or Quiet()
        self.queue_limit = queue_limit
        self._subs: dict[str, set[Subscription]] = {}
        self._last: dict[str, int] = {}
        self._lock = threading.RLock()
        self.closing = False

    def subscribe(self, slug: str, wakeup: Wakeup | None = None) -> Subscription:
        """Start queueing the story's new events for one more reader.

        `wakeup` lets the reader's connection share the event its waits block on, so a
        closed connection ends the wait at once.
        """
        sub = Subscription(self, slug, self.queue_limit, wakeup)
        sub.closing = self.closing  # a reader arriving during shutdown is sent away at once
        with self._lock:
            if slug not in self._subs:
                self._last[slug] = self.source.last_seq(slug) or 0
                self._subs[slug] = set()
            self._subs[slug].add(sub)
            self.observer.readers(slug, len(self._subs[slug]))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a reader; forget the story when its last reader leaves."""
        with self._lock:
            subs = self._subs.get(sub.slug)
            if subs is None:
                return
            subs.discard(sub)
            self.observer.readers(sub.slug, len(subs))
            if not subs:
                del self._subs[sub.slug]
                self._last.pop(sub.slug, None)

    def last_seq(self, slug: str) -> int | None:
        """Return the last seq delivered to the story's readers here (None: no readers)."""
        with self._lock:
            return self._last.get(slug)

    def readers(self, slug: str | None = None) -> int:
        """Count the readers connected to this process (for one story, or all)."""
        with self._lock:
            if slug is not None:
                return len(self._subs.get(slug, ()))
            return sum(len(s) for s in self._subs.values())

    def slugs(self) -> list[str]:
        """Return the stories that have readers here."""
        with self._lock:
            return list(self._subs)

    def publish(self, slug: str, seq: int, frame: str) -> None:
        """Deliver one committed event to the story's readers, in order and once."""
        with self._lock:
            last = self._last.get(slug)
            if last is None or seq <= last:
                return
            if seq == last + 1:
                self._fan_out(slug, [(seq, frame)])
            else:
                self._fan_out(slug, self._read_log(slug, last))

    def close_all(self) -> None:
        """Tell every reader's handler to hang up (the process is shutting down)."""
        with self._lock:
            self.closing = True
            subs = [sub for subs in self._subs.values() for sub in subs]
        for sub in subs:
            sub.closing = True
            sub.wake()

    def resync(self) -> None:
        """Deliver whatever the event log holds beyond what each story's readers got."""
        with self._lock:
            for slug, last in list(self._last.items()):
                self._fan_out(slug, self._read_log(slug, last))

    def _read_log(self, slug: str, after: int) -> list[Logged]:
        """Read the log after `after`; while it is unreachable, read nothing.

        Nothing is lost: `_last` does not move, so the next event or resync reads the gap.
        Readers stay connected meanwhile.
        """
        try:
            return self.source.events_after(slug, after)
        except Exception as exc:  # noqa: BLE001 - an outage must not reach the caller
            log.warning("event log unreachable, %s stays at seq %d: %s", slug, after, exc)
            return []

    def _fan_out(self, slug: str, logged: list[Logged]) -> None:
        if not logged:
            return
        frames = [Frame.of(seq, text) for seq, text in logged]
        self._last[slug] = frames[-1].seq
        subs = self._subs.get(slug, ())
        for sub in subs:
            sub.deliver(frames)
        self.observer.fanned_out([text for _, text in logged], len(subs))
