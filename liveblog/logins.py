"""The desk's sign-in limit: atomic attempt counters, taken before any password is checked.

Imports nothing from Flask. A counter is one fixed window (a minute) per key, incremented
atomically: Redis `INCR` when the broker is Redis, else one `INSERT … ON CONFLICT DO UPDATE
… RETURNING` in the database. Both are shared by every worker and host and survive a
restart. An attempt first takes its counters; only if every one is within its limit is the
password checked, so a flood of concurrent attempts checks no more passwords than allowed.
A sign-in that succeeds gives its counts back.

Nobody can lock a user out from elsewhere: the tight limit is per (user, client address);
a device that has signed in as that user before (a signed cookie) counts on its own key
and skips the wider limits. The wider ones, per address (password spraying) and per user
from unknown devices (a botnet against one name), are generous, and only they can be used
up from elsewhere, which never stops a known device.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Database
from .models import LoginAttempt

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
DEFAULT_LIMIT = 10  # attempts per (user, address) or (user, known device) per window
ADDRESS_FACTOR = 5  # attempts per address, any users
ACCOUNT_FACTOR = 10  # attempts per user from devices it has never signed in on
DEVICE_COOKIE = "lb_device"
DEVICE_MAX_AGE = 365 * 86400
DEVICE_MAX_USERS = 5

_failure_hooks: list[Callable[[str], None]] = []


def on_failure(hook: Callable[[str], None]) -> None:
    """Call `hook(reason)` on every refused sign-in: "password" or "rate_limited"."""
    _failure_hooks.append(hook)


def report_failure(reason: str) -> None:
    """Tell the hooks (e.g. metrics) a sign-in was refused."""
    for hook in _failure_hooks:
        try:
            hook(reason)
        except Exception:
            log.exception("login failure hook failed")


#: (counter key, limit) pairs, taken in order.
Buckets = list[tuple[str, int]]


class Counter(Protocol):
    """Fixed-window counters."""

    def take(self, buckets: Buckets, window_end: int) -> tuple[list[str], bool]:
        """Add one to each key in turn, stopping at the first over its limit.

        Return the keys taken and whether every one stayed within its limit.
        """

    def give_back(self, keys: list[str], window_end: int) -> None:
        """Take one back from each key's count in that window."""


class DatabaseCounter:
    """Counters in the `login_attempts` table: atomic upserts, one transaction an attempt."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.insert = sqlite_insert if db.is_sqlite else pg_insert

    def _upsert(self, key: str, expires: datetime) -> Any:
        stmt: Any = self.insert(LoginAttempt).values(key=key, count=1, expires_at=expires)
        return stmt.on_conflict_do_update(
            index_elements=[LoginAttempt.key], set_={"count": LoginAttempt.count + 1}
        ).returning(LoginAttempt.count)

    def take(self, buckets: Buckets, window_end: int) -> tuple[list[str], bool]:
        """Insert each counter at 1 or add one to it (one statement each)."""
        expires = datetime.fromtimestamp(window_end, UTC)
        taken: list[str] = []
        with self.db.write() as session:
            for key, limit in buckets:
                taken.append(key)
                count: int = session.execute(
                    self._upsert(f"{key}:{window_end}", expires)
                ).scalar_one()
                if count == 1:  # a new window: clear the ones that ended a while ago
                    ended = datetime.now(UTC) - timedelta(seconds=WINDOW_SECONDS)
                    session.execute(delete(LoginAttempt).where(LoginAttempt.expires_at < ended))
                if count > limit:
                    return taken, False
        return taken, True

    def give_back(self, keys: list[str], window_end: int) -> None:
        """Lower the counters by one."""
        names = [f"{key}:{window_end}" for key in keys]
        with self.db.write() as session:
            session.execute(
                update(LoginAttempt)
                .where(LoginAttempt.key.in_(names))
                .values(count=LoginAttempt.count - 1)
            )


class RedisCounter:
    """Counters in Redis (`INCR` + `EXPIRE`); the database stands in while Redis is down."""

    def __init__(self, url: str, fallback: DatabaseCounter) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.fallback = fallback

    def take(self, buckets: Buckets, window_end: int) -> tuple[list[str], bool]:
        """Count in Redis, or in the database if Redis cannot answer."""
        taken: list[str] = []
        try:
            for key, limit in buckets:
                name = f"liveblog:login:{key}:{window_end}"
                pipe = self.client.pipeline(transaction=True)
                pipe.incr(name)
                pipe.expire(name, WINDOW_SECONDS + 5)
                count, _ = pipe.execute()
                taken.append(key)
                if int(count) > limit:
                    return taken, False
        except redis.RedisError:
            log.warning("Redis unreachable; counting sign-in attempts in the database")
            return self.fallback.take(buckets, window_end)
        return taken, True

    def give_back(self, keys: list[str], window_end: int) -> None:
        """Lower the counters by one (best effort)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.decr(f"liveblog:login:{key}:{window_end}")
            pipe.execute()
        except redis.RedisError:
            self.fallback.give_back(keys, window_end)


def make_counter(db: Database, broker_url: str) -> Counter:
    """Return Redis counters when the broker is Redis, database counters otherwise."""
    fallback = DatabaseCounter(db)
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCounter(broker_url, fallback)
    return fallback


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


@dataclass
class Ticket:
    """The counters one admitted attempt took, to give back if it succeeds."""

    window_end: int
    keys: list[str] = field(default_factory=list)


class LoginLimit:
    """Decide, before any password check, whether an attempt may go ahead."""

    def __init__(
        self, counter: Counter, limit: int = DEFAULT_LIMIT, clock: Callable[[], float] = time.time
    ) -> None:
        self.counter = counter
        self.limit = limit
        self.clock = clock

    def admit(self, username: str, address: str, device: str | None) -> Ticket | None:
        """Take the attempt's counters; None when one of them is over its limit.

        `device` is the id of a device that has signed in as this user before, if any.
        """
        name = username.strip().lower()
        window_end = (int(self.clock()) // WINDOW_SECONDS + 1) * WINDOW_SECONDS
        ticket = Ticket(window_end)
        buckets: Buckets
        if device:
            buckets = [(_key("device", device, name), self.limit)]
        else:
            buckets = [
                (_key("address", address), self.limit * ADDRESS_FACTOR),
                (_key("pair", name, address), self.limit),
                (_key("account", name), self.limit * ACCOUNT_FACTOR),
            ]
        ticket.keys, admitted = self.counter.take(buckets, window_end)
        return ticket if admitted else None

    def succeeded(self, ticket: Ticket) -> None:
        """Give the counts back: signing in successfully never uses up the limit."""
        self.counter.give_back(ticket.keys, ticket.window_end)


class DeviceCookies:
    """The signed cookie naming a device and the users who have signed in on it."""

    def __init__(self, secret: str) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="liveblog-login-device")

    def read(self, value: str | None) -> tuple[str, list[str]]:
        """Return (device id, user names); a new id when the cookie is missing or forged."""
        if value:
            try:
                data = self.serializer.loads(value, max_age=DEVICE_MAX_AGE)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("d"), str):
                users = [u for u in data.get("u", []) if isinstance(u, str)]
                return data["d"], users[:DEVICE_MAX_USERS]
        return secrets.token_urlsafe(16), []

    def device_for(self, value: str | None, username: str) -> str | None:
        """Return the device id if this device has signed in as `username` before."""
        device, users = self.read(value)
        return device if username.strip().lower() in users else None

    def issue(self, value: str | None, username: str) -> str:
        """Return the cookie value after `username` signed in on this device."""
        device, users = self.read(value)
        name = username.strip().lower()
        users = [name, *(u for u in users if u != name)][:DEVICE_MAX_USERS]
        return self.serializer.dumps({"d": device, "u": users})
