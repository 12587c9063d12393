"""The dispatcher process's surroundings: what wakes it, and one dispatcher at a time.

Imports nothing from Flask. The dispatcher wakes when the event log grows (a cheap look at
its newest row, and Redis pub/sub when there is a broker). Several `liveblog serve` hosts
on one database each start a dispatcher, but only the holder of a PostgreSQL advisory lock
(or of a file lock beside a SQLite file) delivers; the others wait to take over.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text

from .db import Database
from .models import Event

if TYPE_CHECKING:
    from .dispatcher import Dispatcher

log = logging.getLogger(__name__)

LOCK_KEY = 0x6C6277  # pg_advisory_lock key: "lbw"


def watch_log(dispatcher: Dispatcher, interval: float = 0.25) -> None:
    """Wake the dispatcher whenever the event log grows (a cheap look at its newest row)."""
    newest: int | None = None
    while not dispatcher.stopping.wait(interval):
        try:
            with dispatcher.db.read() as session:
                seen = session.scalar(select(func.max(Event.id)))
        except Exception:  # noqa: BLE001 - the scan loop reports database trouble
            log.debug("event log look failed", exc_info=True)
            continue
        if seen != newest:
            newest = seen
            dispatcher.notify()


def watch_redis(dispatcher: Dispatcher, url: str) -> None:
    """Wake the dispatcher at every event published on Redis."""
    import redis

    from .broker import CHANNEL

    while not dispatcher.stopping.is_set():
        try:
            pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            while not dispatcher.stopping.is_set():
                if pubsub.get_message(timeout=1.0):
                    dispatcher.notify()
        except Exception:  # noqa: BLE001 - the log watch still wakes it
            dispatcher.stopping.wait(5.0)


@contextlib.contextmanager
def leadership(db: Database, stopping: threading.Event) -> Iterator[bool]:
    """Hold the one-dispatcher lock while the block runs; yield False if stopped first."""
    if db.is_sqlite:
        path = Path(db.engine.url.database or "liveblog.db")
        with open(f"{path}.webhooks.lock", "a+b") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if stopping.wait(5.0):
                        yield False
                        return
            yield True
        return
    with db.engine.connect() as conn:
        while not conn.execute(text(f"SELECT pg_try_advisory_lock({LOCK_KEY})")).scalar():
            conn.rollback()
            if stopping.wait(5.0):
                yield False
                return
        conn.commit()
        try:
            yield True
        finally:  # the connection goes back to the pool: the lock must not go with it
            conn.execute(text(f"SELECT pg_advisory_unlock({LOCK_KEY})"))
            conn.commit()
