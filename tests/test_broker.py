"""Brokers: in-process by default; Redis counts readers across processes."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from liveblog.broker import LocalBroker, RedisBroker, make_broker
from liveblog.hub import Hub


class EmptyLog:
    def last_seq(self, slug: str) -> int | None:
        return 0

    def events_after(self, slug: str, after: int) -> list[tuple[int, str]]:
        return []


def test_make_broker_by_url() -> None:
    hub = Hub(EmptyLog())
    assert isinstance(make_broker("", hub), LocalBroker)
    assert isinstance(make_broker("redis://127.0.0.1:6379/0", hub), RedisBroker)
    with pytest.raises(ValueError, match="unsupported"):
        make_broker("amqp://x", hub)


def test_local_broker_counts_this_process() -> None:
    hub = Hub(EmptyLog())
    broker = LocalBroker(hub)
    hub.subscribe("s")
    hub.subscribe("s")
    assert broker.readers("s") == 2
    assert not broker.multiprocess


@pytest.mark.redis
def test_redis_broker_sums_readers_of_every_process(redis_url: str) -> None:
    slug = f"count-{uuid.uuid4().hex[:8]}"
    hubs = [Hub(EmptyLog()), Hub(EmptyLog())]
    brokers = [RedisBroker(redis_url, hub) for hub in hubs]
    for n, hub in enumerate(hubs):
        for _ in range(n + 2):
            hub.subscribe(slug)
    for broker in brokers:
        broker._report_readers()
    assert brokers[0].readers(slug) == 5
    assert brokers[1].readers(f"{slug}-other") == 0


class GrowingLog:
    def __init__(self) -> None:
        self.frames: list[tuple[int, str]] = []

    def last_seq(self, slug: str) -> int | None:
        return len(self.frames)

    def events_after(self, slug: str, after: int) -> list[tuple[int, str]]:
        return [(seq, frame) for seq, frame in self.frames if seq > after]


def test_redis_broker_resyncs_from_the_log_while_redis_is_unreachable() -> None:
    """Another process's event reaches this hub from the log, with Redis gone."""
    with socket.socket() as probe:  # a port nobody listens on: every connect is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = GrowingLog()
    hub = Hub(log)
    sub = hub.subscribe("s")
    broker = RedisBroker(f"redis://127.0.0.1:{port}/0", hub, resync_seconds=0.05)
    broker.start()
    log.frames.append((1, '{"seq": 1}'))  # committed elsewhere; its PUBLISH never came
    deadline = time.monotonic() + 5
    while hub.last_seq("s") != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not broker.connected.is_set()
    assert hub.last_seq("s") == 1
    with sub.lock:
        assert [f.seq for f in sub.take()] == [1]
