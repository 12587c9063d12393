"""How often partners and anonymous clients may read the feeds and events, and usage counts.

Imports nothing from Flask. Limits are fixed one-minute windows from the `limits` library
(the one Flask-Limiter is built on): per partner key at the key's own rate, per client
address for requests without a key. The counters live in Redis when the broker is Redis
(shared by every process and host), else in this process's memory: under `liveblog serve`
that is each app process on its own, so with `--app-workers N` a client may get up to N
times its limit, and the live process (WebSocket connects) counts apart. If Redis cannot
answer, a request is let through (logged): a limit is not worth an outage.

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
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Database
from .models import PartnerKeyUsage

log = logging.getLogger(__name__)


def storage_uri(broker_url: str) -> str:
    """Return the `limits` storage for a broker URL: Redis when it is Redis, else memory."""
    if broker_url.startswith(("redis://", "rediss://")):
        return broker_url
    if broker_url.startswith("unix://"):
        return "redis+" + broker_url
    return "memory://"


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go ahead, and when to come back if not."""

    allowed: bool
    retry_after: int = 0


class RateGate:
    """Fixed one-minute windows per partner key or per client address."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.limiter = FixedWindowRateLimiter(storage_from_string(uri))

    def take(self, scope: str, who: str, per_minute: int) -> Verdict:
        """Count one request of `who` in `scope`; refuse it past `per_minute`."""
        if per_minute <= 0:
            return Verdict(True)
        item = RateLimitItemPerMinute(per_minute)
        try:
            if self.limiter.hit(item, "liveblog", scope, who):
                return Verdict(True)
            reset = self.limiter.get_window_stats(item, "liveblog", scope, who).reset_time
        except Exception:  # Redis away: let it through rather than fail the read
            log.warning("rate limit storage %s unreachable; not limiting", self.uri.split(":")[0])
            return Verdict(True)
        return Verdict(False, max(1, math.ceil(reset - time.time())))


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
