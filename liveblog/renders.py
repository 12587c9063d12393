"""A small in-process cache of finished renders (pages, feeds), compressed once each.

A render is keyed by what decides its bytes: the story, its last event seq, the language,
the page and the site's base URL. A flood of the same request costs one render: the first
miss renders while identical misses wait for it (one lock per key), and each encoding of a
render (gzip, brotli) is computed once, the first time a client asks for it.

Bounded by entry count and total bytes, least recently used first out. No Flask here.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import brotli

#: The encodings offered for cached renders, the preferred first.
ENCODINGS = ("br", "gzip")
GZIP_LEVEL = 6
BROTLI_QUALITY = 9  # once per render, so better than Flask-Compress's per-request default


def compress(data: bytes, coding: str) -> bytes:
    """Return data in one content coding ("br" or "gzip")."""
    if coding == "br":
        result: bytes = brotli.compress(data, quality=BROTLI_QUALITY)
        return result
    if coding == "gzip":
        return gzip.compress(data, GZIP_LEVEL, mtime=0)
    raise ValueError(f"unknown content coding {coding!r}")


@dataclass
class Rendered:
    """One finished render: its bytes and type, and its encodings made so far."""

    body: bytes
    mimetype: str
    encoded: dict[str, bytes] = field(default_factory=dict)

    def encode(self, coding: str) -> bytes:
        """Return the body in one content coding, compressing it the first time only."""
        data = self.encoded.get(coding)
        if data is None:
            data = self.encoded[coding] = compress(self.body, coding)
        return data

    @property
    def size(self) -> int:
        """Return the bytes this render keeps."""
        return len(self.body) + sum(len(v) for v in self.encoded.values())


class RenderCache:
    """Bounded LRU of renders with one render at a time per key."""

    def __init__(self, max_entries: int = 256, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self.renders = 0  # misses that rendered, for tests and metrics
        self.hits = 0

    def get(self, key: Hashable, render: Callable[[], Rendered]) -> Rendered:
        """Return the cached render for key, rendering it once if it is missing."""
        found = self._lookup(key)
        if found is not None:
            return found
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._lookup(key)  # someone else rendered it while we waited
            if found is not None:
                return found
            try:
                rendered = render()
                self.renders += 1
                self._store(key, rendered)
            finally:
                with self._guard:
                    self._locks.pop(key, None)
        return rendered

    def trim(self) -> None:
        """Drop the least recently used renders until within bounds."""
        with self._guard:
            self._trim()

    def __len__(self) -> int:
        return len(self._entries)

    def _lookup(self, key: Hashable) -> Rendered | None:
        with self._guard:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return found

    def _store(self, key: Hashable, rendered: Rendered) -> None:
        with self._guard:
            self._entries[key] = rendered
            self._trim()

    def _trim(self) -> None:
        total = sum(r.size for r in self._entries.values())
        while self._entries and (len(self._entries) > self.max_entries or total > self.max_bytes):
            _, dropped = self._entries.popitem(last=False)
            total -= dropped.size
