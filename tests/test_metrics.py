"""Prometheus /metrics (issue 9, item 9): what is counted, who may read it, several workers."""

from __future__ import annotations

import os
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import frozen, make_app, rt
from flask import Flask
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from servers import (
    Reader,
    RedisProcess,
    Server,
    api,
    live_workers,
    prepare,
    server_env,
    wait_until,
)

from liveblog.hub import Hub
from liveblog.metrics import HubMetrics

STORY = {"title": "Pemilu", "language": "id", "timezone": "Asia/Jakarta"}


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    """Return a metric's current value in this process (0 when it has none yet)."""
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


class Log:
    """A tiny event log for the hub."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []

    def add(self) -> tuple[int, str]:
        seq = len(self.events) + 1
        event = (seq, f'{{"seq":{seq},"type":"post.created","at":"2026-01-01T00:00:00+00:00"}}')
        self.events.append(event)
        return event

    def last_seq(self, slug: str) -> int | None:
        return len(self.events)

    def events_after(self, slug: str, after: int) -> list[tuple[int, str]]:
        return [e for e in self.events if e[0] > after]


def test_hub_reports_readers_deliveries_lag_and_overflows() -> None:
    log = Log()
    hub = Hub(log, queue_limit=1, observer=HubMetrics())
    story = {"story": "metrics-hub"}
    deliveries = sample("liveblog_deliveries_total")
    lags = sample("liveblog_publish_to_send_seconds_count")
    overflows = sample("liveblog_queue_overflows_total")
    a, b = hub.subscribe("metrics-hub"), hub.subscribe("metrics-hub")
    assert sample("liveblog_readers", story) == 2
    hub.publish("metrics-hub", *log.add())
    assert sample("liveblog_deliveries_total") == deliveries + 2
    assert sample("liveblog_publish_to_send_seconds_count") == lags + 1
    # The event is from long ago: its lag lands in the top bucket only.
    assert sample("liveblog_publish_to_send_seconds_bucket", {"le": "30.0"}) < sample(
        "liveblog_publish_to_send_seconds_count"
    )
    hub.publish("metrics-hub", *log.add())  # queues of one: both readers overflow, once each
    hub.publish("metrics-hub", *log.add())
    assert sample("liveblog_queue_overflows_total") == overflows + 2
    a.close()
    assert sample("liveblog_readers", story) == 1
    b.close()
    assert sample("liveblog_readers", story) == 0


def test_metrics_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    app = make_app(tmp_path, LIVEBLOG_METRICS_TOKEN="m3trics-token")
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/metrics", headers=wrong).status_code == 401
        right = client.get("/metrics", headers={"Authorization": "Bearer m3trics-token"})
        assert right.status_code == 200
        assert "liveblog_deliveries_total" in right.get_data(as_text=True)
        assert right.headers["Cache-Control"] == "no-store"
    finally:
        rt(app).db.dispose()


def test_without_a_token_only_loopback_without_a_proxy(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/metrics").status_code == 200
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 403
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403


def test_login_failures_and_rate_limit_refusals_are_counted(tmp_path: Path) -> None:
    app = frozen(make_app(tmp_path, WTF_CSRF_ENABLED=False, LIVEBLOG_LOGIN_LIMIT=2))
    try:
        client = app.test_client()
        failures = sample("liveblog_login_failures_total")
        limited = sample("liveblog_rate_limit_refusals_total", {"endpoint": "auth.login"})
        statuses = [
            client.post("/editor/login", data={"username": "x", "password": "y"}).status_code
            for _ in range(3)
        ]
        assert statuses == [401, 401, 429]
        assert sample("liveblog_login_failures_total") == failures + 2
        after = sample("liveblog_rate_limit_refusals_total", {"endpoint": "auth.login"})
        assert after == limited + 1
    finally:
        rt(app).db.dispose()


def scrape(server: Server) -> dict[str, list[tuple[dict[str, str], float]]]:
    """GET /metrics from a running server and parse it."""
    with urllib.request.urlopen(server.base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def readers_of(metrics: dict[str, list[tuple[dict[str, str], float]]], slug: str) -> float:
    return sum(v for labels, v in metrics.get("liveblog_readers", []) if labels["story"] == slug)


@pytest.mark.slow
@pytest.mark.redis
def test_several_workers_sum_up_and_a_dead_worker_is_forgotten(tmp_path: Path) -> None:
    redis_server = RedisProcess(tmp_path).start()
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    token = prepare(url)
    server = Server(server_env(tmp_path, url, redis_server.url), workers=2).start()
    readers: list[Reader] = []
    try:
        slug = api(server, token, "POST", "/api/v1/stories", STORY)["slug"]
        readers = [Reader(server.ws_url(slug)).start() for _ in range(8)]
        # Whichever worker answers, it reports all readers of both workers.
        for _ in range(4):
            wait_until(lambda: readers_of(scrape(server), slug) == 8, 15, "8 readers reported")
        pids = {
            labels.get("pid")
            for labels, v in scrape(server)["liveblog_readers"]
            if labels["story"] == slug and v
        }
        api(server, token, "POST", f"/api/v1/stories/{slug}/posts", {"body": "<p>Satu.</p>"})
        for reader in readers:
            reader.wait_for(1)
        metrics = scrape(server)
        assert sum(v for _, v in metrics["liveblog_deliveries_total"]) >= 8
        assert sum(v for _, v in metrics["liveblog_publish_to_send_seconds_count"]) >= 1

        assert server.proc is not None
        workers = live_workers(server.proc.pid)
        assert len(workers) == 2
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            now = live_workers(server.proc.pid)
            return len(now) == 2 and victim not in now

        wait_until(replaced, 20, "a new worker")

        def consistent() -> bool:
            alive = sum(1 for r in readers if r._thread.is_alive())
            return readers_of(scrape(server), slug) == alive

        wait_until(consistent, 20, "the dead worker's readers to be forgotten")
        if len(pids) == 2:  # readers were on both workers: some left with the dead one
            assert readers_of(scrape(server), slug) < 8
    finally:
        for reader in readers:
            reader.close()
        server.stop()
        redis_server.stop()


@pytest.mark.slow
def test_metrics_refused_to_a_proxied_request_on_a_real_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    prepare(url)
    server = Server(server_env(tmp_path, url)).start()
    try:
        request = urllib.request.Request(
            server.base + "/metrics", headers={"X-Forwarded-For": "198.51.100.7"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
        assert "liveblog_deliveries_total" in scrape(server)
    finally:
        server.stop()


def test_a_failing_metric_never_reaches_the_fan_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """E.g. the metrics directory was removed under a running server: readers still get events."""
    from liveblog import metrics

    def broken(*_args: object) -> None:
        raise FileNotFoundError("metrics directory is gone")

    monkeypatch.setattr(metrics.READERS, "labels", broken)
    monkeypatch.setattr(metrics.DELIVERIES, "inc", broken)
    log = Log()
    hub = Hub(log, observer=HubMetrics())
    sub = hub.subscribe("metrics-broken")
    hub.publish("metrics-broken", *log.add())
    sub.wait(0)
    with sub.lock:
        assert [f.seq for f in sub.take()] == [1]
    sub.close()
