"""Probes that run beside a measurement: /healthz timing, server memory, commit times.

Each reads the server under test from outside (HTTP, /proc); none changes anything.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from procs import http_json, http_request
from servers import LiveblogTarget


def commit_times(target: LiveblogTarget, count: int) -> dict[int, float]:
    """Return each seq's commit time on this process's monotonic clock, from the events API."""
    offset = time.time() - time.monotonic()
    base = f"http://{target.host}:{target.port}"
    path = f"/api/v1/stories/{target.slug}/events?after=0&limit={min(count, 500)}"
    status, answer = http_json(base, "GET", path)
    if status != 200:
        return {}
    return {
        e["seq"]: datetime.fromisoformat(e["at"]).timestamp() - offset
        for e in answer["events"]
        if e.get("at")
    }


async def probe_health(target: LiveblogTarget, stop: asyncio.Event, out: list[float]) -> None:
    """Time GET /healthz every 0.25 s until `stop`; a failure counts as its full wait."""
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            status, _ = await asyncio.wait_for(
                http_request(target.host, target.port, "GET", "/healthz", b"", {}), 30
            )
        except (TimeoutError, OSError):
            status = 0
        out.append(time.monotonic() - t0 if status == 200 else 30.0)
        await asyncio.sleep(0.25)


async def sample_memory(target: LiveblogTarget, stop: asyncio.Event, out: list[int]) -> None:
    """Sample the server's summed RSS (KiB) every 0.5 s until `stop`."""
    while not stop.is_set():
        out.append(target.server.rss_kib())
        await asyncio.sleep(0.5)
