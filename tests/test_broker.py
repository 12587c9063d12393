"""Brokers: in-process by default; Redis counts readers across processes."""

from __future__ import annotations

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
