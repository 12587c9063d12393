"""Prometheus metrics: what operators watch, counted where it happens, exposed at /metrics.

Boundary: no Flask here. The hub reports to a `HubMetrics` observer (readers, deliveries,
overflows, drops, publish-to-send lag); the web layer counts login failures and rate-limit
refusals from its answers and serves `exposition()` (views/metrics.py guards the route).

Several server processes: `liveblog serve` points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before any process starts (or empties the one the operator chose), so every
process writes its values to files there and /metrics sums them all. The live gunicorn
master calls `worker_exited` when a worker dies, which drops that worker's live gauges.
Without the variable (tests, `flask run`) the values live in this process.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import ParamSpec

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

READERS = Gauge(
    "liveblog_readers",
    "WebSocket readers connected now, per story (and per process when several run).",
    ["story"],
    multiprocess_mode="liveall",
)
DELIVERIES = Counter(
    "liveblog_deliveries", "Event frames handed to readers (one per event per reader)."
)
OVERFLOWS = Counter(
    "liveblog_queue_overflows", "Readers whose queue overflowed (told to resume with 4503)."
)
DROPPED = Counter(
    "liveblog_dropped_readers", "Readers hung up on by the server, by reason.", ["reason"]
)
LAG = Histogram(
    "liveblog_publish_to_send_seconds",
    "From an event's commit to the hub handing it to every reader's socket or queue.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOGIN_FAILURES = Counter(
    "liveblog_login_failures", "Desk sign-ins refused (wrong name or password)."
)
RATE_LIMITED = Counter(
    "liveblog_rate_limit_refusals", "Requests refused with 429, by endpoint.", ["endpoint"]
)

SHED = Counter(
    "liveblog_shed_readers",
    "WebSocket readers refused with 503 because the live process was at its capacity.",
)

_AT = re.compile(r'"at":\s*"([^"]+)"')


def _never_raises(method: Callable[P, None]) -> Callable[P, None]:
    """Keep a metrics failure (e.g. its directory gone) away from the readers' fan-out."""

    @functools.wraps(method)
    def safe(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except Exception:  # noqa: BLE001 - metrics must never cost a delivery
            log.warning("metrics: %s failed", method.__name__, exc_info=True)

    return safe


class HubMetrics:
    """The hub's observer: counts what happens to readers and frames; it never raises."""

    @_never_raises
    def readers(self, slug: str, count: int) -> None:
        """Record how many readers a story has in this process now."""
        READERS.labels(slug).set(count)

    @_never_raises
    def fanned_out(self, texts: list[str], receivers: int) -> None:
        """Count a fan-out of events to `receivers` readers and observe each event's lag."""
        if receivers:
            DELIVERIES.inc(len(texts) * receivers)
        now = time.time()
        for text in texts:
            found = _AT.search(text, 0, 300)
            if found is None:
                continue
            try:
                at = datetime.fromisoformat(found.group(1)).timestamp()
            except ValueError:
                continue
            LAG.observe(max(0.0, now - at))

    @_never_raises
    def overflowed(self) -> None:
        """Count a reader whose queue overflowed."""
        OVERFLOWS.inc()

    @_never_raises
    def dropped(self, reason: str) -> None:
        """Count a reader the server hung up on (e.g. "slow", "broken", "ping_timeout")."""
        DROPPED.labels(reason).inc()


def login_failed() -> None:
    """Count a refused desk sign-in."""
    LOGIN_FAILURES.inc()


def rate_limited(endpoint: str) -> None:
    """Count a request refused by a rate limit."""
    RATE_LIMITED.labels(endpoint).inc()


@_never_raises
def reader_shed() -> None:
    """Count a reader shed at the live process's capacity (it polls instead)."""
    SHED.inc()


def exposition() -> bytes:
    """Return every metric in Prometheus' text format, summed over processes if several."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def prepare_multiprocess_dir() -> None:
    """Empty an operator-chosen PROMETHEUS_MULTIPROC_DIR (call before any process starts).

    Without one, `liveblog serve`'s supervisor makes a fresh directory in its private run
    directory for the processes it starts, and removes it with that directory.
    """
    chosen = os.environ.get(MULTIPROC_ENV)
    if chosen:
        folder = Path(chosen)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):  # values of a previous run's processes
            stale.unlink(missing_ok=True)


def worker_exited(pid: int) -> None:
    """Forget a dead worker's live gauges (its counters still count)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
