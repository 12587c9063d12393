"""How often partners and anonymous clients may read the feeds and events, and usage counts.

Imports nothing from Flask. Limits are fixed one-minute windows (aligned to the clock's
minutes), one counter per partner key at the key's own rate, and one per client address
for requests without a key. The counters are Redis `INCR` + `EXPIRE` when the broker is
Redis (shared by every process and host, as the sign-in limit in `logins.py`), else a
dictionary in this process's memory: under `liveblog serve` that is each app process on
its own, so with `--app-workers N` a client may get up to N times its limit, and the live
process (WebSocket connects) counts apart. If Redis cannot answer, a request is let
through (logged): a limit is not worth an outage. Neither costs a database write.

Usage is counted per key, UTC day and kind ("feed", "atom", "events", "live") in memory
and added to `partner_key_usage` in one upsert per row at most every
`LIVEBLOG_USAGE_FLUSH_SECONDS` (and at exit): no database write per request. A process
that dies loses at most that many seconds of counts.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import redis
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Database
from .models import PartnerKeyUsage

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


class Windows(Protocol):
    """Fixed-window counters."""

    def hit(self, name: str, window_end: int) -> int:
        """Add one to `name`'s count in the window ending at `window_end`; return the count."""


class MemoryWindows:
    """This process's counters: only the current window is kept."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.window = 0
        self.counts: Counter[str] = Counter()

    def hit(self, name: str, window_end: int) -> int:
        """Count in memory; a new window starts every count again."""
        with self.lock:
            if window_end != self.window:
                self.window, self.counts = window_end, Counter()
            self.counts[name] += 1
            return self.counts[name]


class RedisWindows:
    """Counters shared by every process: `INCR` and `EXPIRE` in one round trip."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def hit(self, name: str, window_end: int) -> int:
        """Count in Redis; the key goes away shortly after its window."""
        key = f"liveblog:rate:{name}:{window_end}"
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 5)
        count, _ = pipe.execute()
        return int(count)


def make_windows(broker_url: str) -> Windows:
    """Return Redis counters when the broker is Redis, this process's memory otherwise."""
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisWindows(broker_url)
    return MemoryWindows()


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go ahead, and when to come back if not."""

    allowed: bool
    retry_after: int = 0


class RateGate:
    """One-minute windows per partner key or per client address."""

    def __init__(self, windows: Windows, clock: Callable[[], float] = time.time) -> None:
        self.windows = windows
        self.clock = clock

    def take(self, scope: str, who: str, per_minute: int) -> Verdict:
        """Count one request of `who` in `scope`; refuse it past `per_minute`."""
        if per_minute <= 0:
            return Verdict(True)
        now = self.clock()
        window_end = (int(now) // WINDOW_SECONDS + 1) * WINDOW_SECONDS
        try:
            count = self.windows.hit(f"{scope}:{who}", window_end)
        except redis.RedisError:
            log.warning("Redis unreachable; not limiting partner and feed requests")
            return Verdict(True)
        if count <= per_minute:
            return Verdict(True)
        return Verdict(False, max(1, math.ceil(window_end - now)))


class UsageTally:
    """Per-key request counts, kept in memory and added to the database in batches."""

    def __init__(self, db: Database, every: float, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.every = every
        self.clock = clock
        self.lock = threading.Lock()
        self.pending: Counter[tuple[int, date, str]] = Counter()
        self.flushed_at = clock()
        atexit.register(self.flush)

    def count(self, key_id: int, kind: str) -> None:
        """Count one request; write the batch if it is due."""
        now = self.clock()
        day = datetime.fromtimestamp(now, UTC).date()
        with self.lock:
            self.pending[(key_id, day, kind)] += 1
            due = now - self.flushed_at >= self.every
        if due:
            self.flush()

    def flush(self) -> None:
        """Add the pending counts to the database (one upsert per key, day and kind)."""
        with self.lock:
            batch, self.pending = self.pending, Counter()
            self.flushed_at = self.clock()
        if not batch:
            return
        insert: Any = sqlite_insert if self.db.is_sqlite else pg_insert
        try:
            with self.db.write() as session:
                for (key_id, day, kind), count in sorted(batch.items()):
                    stmt = insert(PartnerKeyUsage).values(
                        key_id=key_id, day=day, kind=kind, count=count
                    )
                    session.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["key_id", "day", "kind"],
                            set_={"count": PartnerKeyUsage.count + stmt.excluded.count},
                        )
                    )
        except Exception:
            log.warning("partner usage not written; keeping %d counts for later", len(batch))
            with self.lock:
                self.pending.update(batch)
