"""Many WebSocket readers on one asyncio loop, in a thread of their own inside a namespace.

Each reader behaves like static/live.js: it keeps every event frame (by seq, with its
arrival time), and when its connection ends it waits a jittered moment and reconnects with
`?after=<last seq>`, recording how long it was away. The loop thread enters the client's
network namespace once, so every socket it opens lives there. Bounded: `stop()` cancels
everything and joins the thread.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from netns import entered
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException


@dataclass
class ReaderLog:
    """What one reader saw."""

    source: str
    seqs: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    connects: int = 0
    hellos: int = 0
    down_since: float | None = None
    away: list[float] = field(default_factory=list)  # seconds from losing to a new hello
    dropped_at: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def last(self) -> int:
        """Return the highest seq received."""
        return max(self.seqs, default=0)


class Fleet:
    """N readers of one story through one URL, spread over source addresses."""

    def __init__(
        self,
        namespace: str,
        base: str,
        slug: str,
        sources: list[str],
        count: int,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.namespace = namespace
        self.url = f"{base}/stories/{slug}/live"
        self.tls = tls
        self.readers = [ReaderLog(sources[i % len(sources)]) for i in range(count)]
        self.loop = asyncio.new_event_loop()
        self._tasks: list[asyncio.Task[None]] = []
        self._gate = asyncio.Semaphore(100)  # connects in flight at once
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)
        self._stopping = False

    def start(self) -> Fleet:
        """Start every reader."""
        self._thread.start()
        return self

    def _run(self) -> None:
        with entered(self.namespace):
            asyncio.set_event_loop(self.loop)
            for reader in self.readers:
                self._tasks.append(self.loop.create_task(self._read(reader)))
            self.loop.run_forever()
            for task in self._tasks:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
            self.loop.close()

    async def _read(self, log: ReaderLog) -> None:
        attempt = 0
        while not self._stopping:
            try:
                async with self._gate:
                    ws = await connect(
                        f"{self.url}?after={log.last}",
                        ssl=self.tls,
                        local_addr=(log.source, 0),
                        open_timeout=15,
                        ping_interval=None,
                        close_timeout=1,
                        compression=None,
                    )
                log.connects += 1
                attempt = 0
                async with ws:
                    async for message in ws:
                        self._take(log, message)
            except (OSError, WebSocketException, TimeoutError) as exc:
                log.errors.append(f"{type(exc).__name__}: {str(exc)[:60]}")
            if self._stopping:
                return
            now = time.monotonic()
            if log.down_since is None:
                log.down_since = now
                log.dropped_at.append(now)
            attempt += 1
            await asyncio.sleep(random.uniform(0, min(2.0, 0.25 * 2**attempt)))

    @staticmethod
    def _take(log: ReaderLog, message: str | bytes) -> None:
        data: dict[str, Any] = json.loads(message)
        if "seq" in data:
            log.seqs.append(int(data["seq"]))
            log.times.append(time.monotonic())
        elif data.get("type") == "hello":
            log.hellos += 1
            if log.down_since is not None:
                log.away.append(time.monotonic() - log.down_since)
                log.down_since = None

    def connected(self) -> int:
        """Count the readers that have their hello and are not away."""
        return sum(1 for r in self.readers if r.hellos and r.down_since is None)

    def summary(self) -> str:
        """Describe the fleet's state for a failure message."""
        errors = Counter(e for r in self.readers for e in r.errors)
        never = sum(1 for r in self.readers if not r.hellos)
        return (
            f"{self.connected()} of {len(self.readers)} connected, {never} never got a hello,"
            f" errors {dict(errors.most_common(5))}"
        )

    def behind(self, seq: int) -> int:
        """Count the readers that have not yet received `seq`."""
        return sum(1 for r in self.readers if r.last < seq)

    def stop(self) -> None:
        """Stop every reader and the loop."""
        self._stopping = True
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
