"""Carry committed events to every server process: in-process by default, or Redis pub/sub.

Imports nothing from Flask. The database stays the source of truth: a process that loses
its Redis connection resynchronizes its hub from the event log when it reconnects, and
every few seconds anyway (on a timer of its own, so a hanging Redis connection does not
stop it), so a lost pub/sub message delays an update but never loses it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from typing import Protocol

import redis

from .hub import Hub

log = logging.getLogger(__name__)

CHANNEL = "liveblog:events"
READER_COUNTS = "liveblog:readers:"  # + process id: JSON {slug: readers here}, expiring
READER_PROCESSES = "liveblog:reader-processes"  # sorted set: process id -> last report


class Broker(Protocol):
    """What the write path and the live stream need from a broker."""

    def publish(self, slug: str, seq: int, frame: str) -> None:
        """Send a committed event to every process."""

    def start(self) -> None:
        """Begin receiving other processes' events (idempotent)."""

    def ping(self) -> None:
        """Raise if the broker cannot be reached."""

    @property
    def multiprocess(self) -> bool:
        """Tell whether events cross process boundaries."""

    def readers(self, slug: str) -> int:
        """Count the readers of a story across every process."""


class LocalBroker:
    """Deliver events to this process's hub only."""

    multiprocess = False

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def publish(self, slug: str, seq: int, frame: str) -> None:
        """Hand the event straight to the hub."""
        self.hub.publish(slug, seq, frame)

    def start(self) -> None:
        """Do nothing: there is no one else to listen to."""

    def ping(self) -> None:
        """Do nothing: the in-process broker is always there."""

    def readers(self, slug: str) -> int:
        """Count this process's readers: there are no others."""
        return self.hub.readers(slug)


class RedisBroker:
    """Publish events on one Redis channel and feed every process's hub from it."""

    multiprocess = True

    def __init__(self, url: str, hub: Hub, *, resync_seconds: float = 5.0) -> None:
        self.url = url
        self.hub = hub
        self.resync_seconds = resync_seconds
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._started = False
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.process_id = uuid.uuid4().hex

    def publish(self, slug: str, seq: int, frame: str) -> None:
        """Deliver locally now and tell the other processes through Redis."""
        self.hub.publish(slug, seq, frame)
        try:
            self.client.publish(CHANNEL, f"{slug}\n{seq}\n{frame}")
        except redis.RedisError as exc:
            log.warning("broker publish failed, peers will catch up from the log: %s", exc)

    def ping(self) -> None:
        """Raise if Redis does not answer."""
        self.client.ping()

    def readers(self, slug: str) -> int:
        """Sum the reader counts that live processes reported in the last few seconds."""
        self.start()
        fresh = time.time() - self.resync_seconds * 3
        try:
            ids: list[bytes] = self.client.zrangebyscore(READER_PROCESSES, fresh, "+inf")  # type: ignore[assignment]
            keys = [READER_COUNTS + i.decode() for i in ids]
            counts: list[bytes | None] = self.client.mget(keys) if keys else []  # type: ignore[assignment]
        except redis.RedisError:
            return self.hub.readers(slug)
        return sum(json.loads(c).get(slug, 0) for c in counts if c)

    def _report_readers(self) -> None:
        """Tell the other processes how many readers each story has here."""
        counts = {slug: self.hub.readers(slug) for slug in self.hub.slugs()}
        ttl = int(self.resync_seconds * 3) + 1
        pipe = self.client.pipeline()
        pipe.set(READER_COUNTS + self.process_id, json.dumps(counts), ex=ttl)
        pipe.zadd(READER_PROCESSES, {self.process_id: time.time()})
        pipe.zremrangebyscore(READER_PROCESSES, "-inf", time.time() - ttl)
        pipe.execute()

    def start(self) -> None:
        """Start the listener thread (a greenlet under gevent) once."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._listen_forever, name="liveblog-broker", daemon=True).start()
        threading.Thread(target=self._resync_forever, name="liveblog-resync", daemon=True).start()

    def _resync_forever(self) -> None:
        """Read the log every few seconds, whether Redis answers or not.

        A host cut off from Redis (its connection hanging, not refused) still delivers
        every event to its readers within a resync period.
        """
        while True:
            time.sleep(self.resync_seconds)
            try:
                self.hub.resync()
            except Exception as exc:  # noqa: BLE001 - keep resyncing whatever happens
                log.warning("resync failed: %s", exc)

    def _listen_forever(self) -> None:
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                self._listen()
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                log.warning("broker connection lost: %s", exc)
            self.connected.clear()
            if time.monotonic() - started > 30:
                attempt = 0
            attempt += 1
            time.sleep(random.uniform(0, min(10.0, 0.2 * 2**attempt)))  # noqa: S311

    def _listen(self) -> None:
        listener = redis.Redis.from_url(
            self.url, socket_timeout=self.resync_seconds * 3, socket_connect_timeout=2
        )
        pubsub = listener.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call,unused-ignore]
        try:
            pubsub.subscribe(CHANNEL)
            self.connected.set()
            self.hub.resync()
            self._report_readers()
            next_check = time.monotonic() + self.resync_seconds
            while True:
                message = pubsub.get_message(timeout=self.resync_seconds)
                if message is not None and message["type"] == "message":
                    slug, seq, frame = message["data"].decode().split("\n", 2)
                    self.hub.publish(slug, int(seq), frame)
                if time.monotonic() >= next_check:
                    listener.ping()
                    self._report_readers()
                    next_check = time.monotonic() + self.resync_seconds
        finally:
            pubsub.close()
            listener.close()


def make_broker(url: str, hub: Hub, events_socket: str = "") -> Broker:
    """Return the broker the URL names: Redis for redis:// URLs, in-process when empty.

    In-process means the event channel to the live process when `liveblog serve` runs the
    app in processes of its own (`events_socket`), this process's hub otherwise.
    """
    if not url:
        if events_socket:
            from .channel import ChannelBroker

            return ChannelBroker(events_socket, hub)
        return LocalBroker(hub)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url, hub)
    raise ValueError(f"unsupported LIVEBLOG_BROKER_URL scheme: {url!r}")
