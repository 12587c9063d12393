"""The readers' WebSocket: replay what they missed, then stream each new event once.

The handler subscribes to the hub first, then replays `seq > after` from the log in one
short read session, then drains live frames, skipping any seq already sent, so nothing
falls between replay and live. It never holds a database session while it waits.
Once caught up, it hands the hub a non-blocking writer so each new frame goes straight to
the socket. In the live process the handler then parks the connection (`parking.py`) and
ends, so a reader keeps no greenlet, request or environ; whatever the request held for it
(its address slot, its place) comes back when the parked connection ends. Elsewhere (Flask's
own server, in tests) the handler stays: it finishes writes the socket could not take at
once, pings, and hangs up, and simple-websocket's reader thread reads pongs and close.
Whoever writes holds the subscription's lock, so frames never interleave.

Capacity: past `LIVEBLOG_READER_CAPACITY` readers in this process, a new one is shed with
503 and a jittered Retry-After by `admission.ReaderGate`, before Flask sees the request;
the reader's page then polls the events API until there is room.

Abuse bounds: each client address holds at most `LIVEBLOG_WS_PER_IP` live connections
(one more is refused before the upgrade with 429 and Retry-After); a reader's message
larger than `LIVEBLOG_WS_MAX_MESSAGE` ends the connection with 1009 before it is buffered;
the request head must arrive within gunicorn's keep-alive time (5 s); a reader that does
not answer a ping within `LIVEBLOG_PING_SECONDS` is closed with 1011.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from functools import partial
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_sock import ConnectionClosed
from werkzeug.exceptions import TooManyRequests

from ..admission import PARKED, AddressSlots, Capacity, ReaderGate
from ..errors import Invalid
from ..hub import Frame, Subscription
from ..metrics import reader_shed
from ..outage import outage_of
from ..payloads import dumps
from ..queries import event_frames, require_story, story_by_slug
from ..runtime import runtime
from ..validation import whole_number
from .sockets import Sock

bp = Blueprint("live", __name__)
sock = Sock()

REPLAY_LIMIT = 10_000
PING = bytes((0x89, 0x00))

CLOSE_BAD_REQUEST = 4400  # malformed `after`
CLOSE_RESET = 4205  # the client must reload: we will not replay that far back
CLOSE_RESUME = 4503  # too slow: reconnect with after=<last seq>
CLOSE_TRY_AGAIN = 1013  # the log cannot be read right now: reconnect after a backoff
CLOSE_GOING_AWAY = 1001  # the server is stopping: reconnect (elsewhere) with after=<last seq>
RETRY_AFTER = 30  # seconds a refused address is asked to wait


def init_app(app: Flask) -> None:
    """Register the WebSocket route, and the reader capacity in front of the whole app."""
    sock.init_app(app)
    capacity = Capacity(app.config["LIVEBLOG_READER_CAPACITY"])
    app.extensions["liveblog.capacity"] = capacity
    app.wsgi_app = ReaderGate(  # type: ignore[method-assign]
        app.wsgi_app, capacity, app.config["LIVEBLOG_SHED_RETRY_AFTER"], reader_shed
    )


def address_slots(app: Flask) -> AddressSlots:
    """Return this process's count of live connections per client address."""
    slots: AddressSlots | None = app.extensions.get("liveblog.slots")
    if slots is None:
        slots = AddressSlots(app.config["LIVEBLOG_WS_PER_IP"])
        app.extensions["liveblog.slots"] = slots
    return slots


@bp.before_request
def _admit() -> None:
    """Refuse past the per-address cap (429) or an unknown story (404), before the upgrade."""
    address = request.remote_addr or ""
    if not address_slots(current_app).take(address):
        raise TooManyRequests(retry_after=RETRY_AFTER)
    g.live_slot = address
    slug = (request.view_args or {}).get("slug", "")
    rt = runtime()
    if rt.hub.last_seq(slug) is None:  # readers here already: the story exists
        with rt.db.read() as session:
            require_story(session, slug)
    # One frame is encoded once for every reader, so per-connection deflate is off.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


@bp.errorhandler(ConnectionError)
def _hung_up(_error: ConnectionError) -> Response:
    """A reader that hangs up during the handshake: no one to answer, nothing to render."""
    return Response(status=400)


@bp.teardown_request
def _release(_error: BaseException | None) -> None:
    """Give the address's slot back when the connection (or its refusal) ends."""
    address = g.pop("live_slot", None)
    if address is None:
        return
    slots = address_slots(current_app)
    parked = request.environ.get(PARKED)
    if parked is None:
        slots.give_back(address)
    else:
        parked.on_close(partial(slots.give_back, address))


def _parse_after(raw: str | None) -> int | None:
    if raw is None:
        return 0
    try:
        return whole_number(raw, "after")
    except Invalid:
        return None


@sock.route("/stories/<slug>/live", bp=bp)
def live(ws: Any, slug: str) -> None:
    """Stream a story's events to one reader."""
    after = _parse_after(request.args.get("after"))
    if after is None:
        ws.close(CLOSE_BAD_REQUEST, "after must be a whole number >= 0")
        return
    rt = runtime()
    ping_seconds: float = current_app.config["LIVEBLOG_PING_SECONDS"]
    rt.broker.start()
    sub = rt.hub.subscribe(slug, wakeup=ws.event)
    parked = False
    try:
        try:
            last_seq, too_far, replay = _replay(rt, slug, after)
        except Exception as exc:
            if outage_of(exc) is None:
                raise
            ws.close(CLOSE_TRY_AGAIN, "database unavailable: try again later")
            return
        if too_far:
            ws.send(dumps({"type": "reset", "last_seq": last_seq}))
            ws.close(CLOSE_RESET, "reload the story")
            return
        ws.send(dumps({"type": "hello", "last_seq": last_seq}))
        # Writes carry a deadline, so a reader that stops reading is dropped after
        # `send_timeout`; reads (pongs, close) stay with simple-websocket's thread.
        out = TimedWriter(ws.sock, current_app.config["LIVEBLOG_SEND_TIMEOUT"])
        try:
            with sub.lock:
                sub.sent = _send_new(out, after, replay)
                # Caught up: from now on the hub writes frames straight to this socket.
                sub.direct = out.send_now
                _send_new(out, after, [(f.seq, f.wire) for f in sub.take()])
            parked = _park(ws, sub)
            if not parked:
                _stream(ws, out, sub, ping_seconds)
        except TimeoutError:
            rt.hub.observer.dropped("slow")
            _hang_up(ws)
        finally:
            if not parked:
                sub.direct = None
    except (ConnectionClosed, OSError):
        pass
    finally:
        if not parked:
            sub.close()


class TimedWriter:
    """Write to a reader's socket without blocking the worker, within a deadline."""

    def __init__(self, sock: Any, timeout: float) -> None:
        self.sock = getattr(sock, "_sock", sock)  # gevent's socket wraps the OS socket
        self.timeout = timeout

    def send_now(self, data: bytes) -> int:
        """Write what the socket takes at once; BlockingIOError if it takes nothing."""
        sent: int = self.sock.send(data, socket.MSG_DONTWAIT)
        return sent

    def sendall(self, data: bytes) -> None:
        """Write everything, waiting (cooperatively) for room; TimeoutError past the deadline."""
        view = memoryview(data)
        deadline = time.monotonic() + self.timeout
        while view:
            try:
                view = view[self.send_now(view) :]  # type: ignore[arg-type]
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError from None
                poller = select.poll()
                poller.register(self.sock, select.POLLOUT)
                poller.poll(remaining * 1000)


def _replay(rt: Any, slug: str, after: int) -> tuple[int, bool, list[tuple[int, str]]]:
    """Return (last seq, too far to replay?, events after `after`) in one short session.

    A reader already as far as this process's hub needs no database work at all: the
    hub has subscribed it, so anything newer reaches it live.
    """
    known = rt.hub.last_seq(slug)
    if known is not None and after == known:
        return known, False, []
    with rt.db.read() as session:
        story = story_by_slug(session, slug)
        if story is None:
            return 0, True, []
        last_seq = story.last_seq
        if after > last_seq or last_seq - after > REPLAY_LIMIT:
            return last_seq, True, []
        return last_seq, False, event_frames(session, story.id, after)


def _park(ws: Any, sub: Subscription) -> bool:
    """Hand a caught-up reader's connection to the process's lot, if it has one.

    Only the live process (gevent) has a lot; the handler then ends, and whatever the
    request held for the reader (its address slot, its place) is given back when the
    parked connection ends.
    """
    lot = current_app.extensions.get("liveblog.lot")
    park = getattr(ws, "park", None)
    if lot is None or park is None:
        return False
    parked = park(sub, lot)
    if parked is None:
        return False
    request.environ[PARKED] = parked
    return True


def _close(ws: Any, out: Any, code: int, reason: str) -> None:
    """Send a close frame through the timed socket and stop treating the reader as open."""
    payload = code.to_bytes(2, "big") + reason.encode()[:123]
    out.sendall(bytes((0x88, len(payload))) + payload)
    _hang_up(ws)


def _hang_up(ws: Any) -> None:
    """End the TCP connection (after what is queued), which also ends the reader thread."""
    ws.connected = False
    with contextlib.suppress(OSError):
        ws.sock.shutdown(socket.SHUT_RDWR)


def _send_new(out: Any, sent: int, frames: list[tuple[int, Any]]) -> int:
    """Send the frames newer than `sent` (text or wire bytes) in order; return the last seq."""
    for seq, data in frames:
        if seq > sent:
            out.sendall(data if isinstance(data, bytes) else Frame.of(seq, data).wire)
            sent = seq
    return sent


def _stream(ws: Any, out: Any, sub: Subscription, ping_seconds: float) -> None:
    """Finish what the hub could not write at once, ping, and hang up when told to."""
    next_ping = time.monotonic() + ping_seconds
    while ws.connected:
        sub.wait(timeout=max(0.0, next_ping - time.monotonic()))
        ws.input_buffer.clear()  # readers have nothing to say; don't let it pile up
        with sub.lock:
            if sub.broken:
                _hang_up(ws)
                return
            if sub.pending:
                out.sendall(sub.pending)
                sub.pending = b""
            for frame in sub.take():
                out.sendall(frame.wire)
            if sub.overflowed:
                _close(ws, out, CLOSE_RESUME, "too slow: reconnect with after=<last seq>")
                return
            if sub.closing:
                _close(
                    ws, out, CLOSE_GOING_AWAY, "server stopping: reconnect with after=<last seq>"
                )
                return
            if time.monotonic() >= next_ping:
                if not ws.pong_received:
                    sub.hub.observer.dropped("ping_timeout")
                    _close(ws, out, 1011, "ping timeout")
                    return
                ws.pong_received = False
                out.sendall(PING)
                next_ping = time.monotonic() + ping_seconds
