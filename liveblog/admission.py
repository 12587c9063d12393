"""Admission of WebSocket readers: a cap per client address, and a capacity per process.

Imports nothing from Flask and does no I/O. One `AddressSlots` per server process counts
the open live connections of each client address; the live view takes a slot before the
upgrade and gives it back when the connection ends, so a refusal costs no handshake.

`ReaderGate` is a plain WSGI layer in front of the live app: past the process's reader
capacity it answers a new reader `503` with a jittered `Retry-After` before any request
context, route or handshake exists, so shedding a reader costs almost nothing. A plain
`GET` of the live URL (no upgrade) asks whether there is room: `204` or the same `503`.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

#: The environ key where a live handler leaves its parked connection (`parking.Parked`):
#: whatever the request held for the reader is then given back when that connection ends.
PARKED = "liveblog.parked"

#: The readers' WebSocket path (`/stories/<slug>/live`).
LIVE_PATH = re.compile(r"^/stories/[^/]+/live$")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AddressSlots:
    """Count open connections per address and refuse one past `limit` (0: no cap)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> bool:
        """Take a slot for the address; return False when it already holds `limit`."""
        with self._lock:
            held = self._open.get(address, 0)
            if self.limit and held >= self.limit:
                return False
            self._open[address] = held + 1
            return True

    def give_back(self, address: str) -> None:
        """Return a slot taken for the address."""
        with self._lock:
            held = self._open.get(address, 0) - 1
            if held > 0:
                self._open[address] = held
            else:
                self._open.pop(address, None)

    def held(self, address: str) -> int:
        """Return how many slots the address holds now."""
        with self._lock:
            return self._open.get(address, 0)

    def addresses(self) -> int:
        """Return how many addresses hold a slot."""
        with self._lock:
            return len(self._open)


class Capacity:
    """Count this process's live readers and refuse one past `limit` (0: no cap)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.shed = 0  # readers refused since start
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a reader's place; return False (and count a shed reader) when full."""
        with self._lock:
            if self.limit and self.held >= self.limit:
                self.shed += 1
                return False
            self.held += 1
            return True

    def give_back(self) -> None:
        """Return a reader's place."""
        with self._lock:
            self.held = max(0, self.held - 1)

    def room(self) -> bool:
        """Tell whether one more reader would be admitted now."""
        with self._lock:
            return not self.limit or self.held < self.limit


def retry_after(base: int, rng: Callable[[], float] = random.random) -> int:
    """Return a Retry-After in [base/2, 3·base/2) seconds, so shed readers come back spread out."""
    return max(1, int(base * (0.5 + rng())))


#: The contract's JSON error; a reader's page never shows it (it falls back to polling).
BUSY = (
    b'{"error":{"code":"busy","message":"This server has as many live readers as it takes;'
    b' poll the events API and try again after Retry-After."}}'
)


def _shed(start_response: Callable[..., Any], base: int) -> Iterable[bytes]:
    body = BUSY
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(retry_after(base))),
            ("Cache-Control", "no-store"),
            ("X-Liveblog-Shed", "1"),
        ],
    )
    return [body]


def _room(start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("204 No Content", [("Cache-Control", "no-store"), ("Content-Length", "0")])
    return []


class ReaderGate:
    """WSGI layer: admit live readers up to `capacity`, shed the rest with a cheap 503."""

    def __init__(
        self,
        app: WSGIApp,
        capacity: Capacity,
        retry_base: int,
        on_shed: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.capacity = capacity
        self.retry_base = retry_base
        self.on_shed = on_shed  # e.g. a metrics counter

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Pass a request on; hold a place for a live reader for as long as it is connected."""
        if not LIVE_PATH.match(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):  # "is there room?"
                if self.capacity.room():
                    return _room(start_response)
                return _shed(start_response, self.retry_base)
            return self.app(environ, start_response)
        if not self.capacity.take():
            self.on_shed()
            return _shed(start_response, self.retry_base)
        try:
            # Under gunicorn the connection runs inside this call (flask-sock ends it by
            # raising StopIteration) until its handler ends or parks it; a parked reader's
            # place comes back when its connection ends.
            return self.app(environ, start_response)
        finally:
            parked = environ.get(PARKED)
            if parked is None:
                self.capacity.give_back()
            else:
                parked.on_close(self.capacity.give_back)
