"""Many hosts, for real: three `liveblog serve` hosts behind deploy/nginx, in namespaces.

One network (tests/netns.py): PostgreSQL, Redis, three app hosts, nginx (running the
shipped deploy/nginx/nginx.conf and liveblog.conf with this run's addresses, certificate
and directories swapped in) and a client namespace whose readers come from 40 addresses,
so the hosts' per-address cap (30 here) holds only if X-Forwarded-For reaches them. The readers
(tests/fleet.py, reconnecting like live.js with ?after=<last seq>) follow one story while
updates are posted through nginx and the cluster is hurt three ways: one host killed with
SIGKILL mid-story, Redis killed and started again, one host cut off from Redis for 10 s.
Every reader must end with every seq of the story exactly once, in order.

LIVEBLOG_MANY_HOSTS_READERS sets the number of readers (default 1,000);
LIVEBLOG_MANY_HOSTS_OUT names a file for the timings (JSON).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netns
import postgres_process
import pytest
from cluster import HOSTS, NGINX, PORT, REDIS, SOURCES, Cluster, build, established, usage
from conftest import service_missing
from fleet import Fleet, ReaderLog
from servers import wait_until

pytestmark = pytest.mark.slow

READERS = int(os.environ.get("LIVEBLOG_MANY_HOSTS_READERS", "1000"))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """The cluster of tests/cluster.py; a skip (a failure in CI) without its tools."""
    why = netns.available()
    if why:
        service_missing("network namespaces", why)
    for tool in ("nginx", "redis-server", "openssl"):
        if shutil.which(tool) is None:
            service_missing(tool, f"{tool} is not installed (apt-get install nginx-light)")
    if not postgres_process.available():
        service_missing("PostgreSQL binaries", "initdb/pg_ctl not found")
    with build(tmp_path) as running:
        yield running


class Story:
    """One story's updates, posted through nginx, with their publish times."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        status, story = cluster.call(
            "POST",
            f"https://{NGINX}/api/v1/stories",
            {"title": "Siaran langsung di X macet", "language": "id", "timezone": "Asia/Jakarta"},
        )
        assert status == 201, story
        self.slug: str = story["slug"]
        self.posted: list[tuple[float, float]] = []  # (request start, answer) per update
        self.looks = 0

    def post(self, n: int) -> None:
        """Post update n through nginx; it must commit whatever the cluster is going through.

        nginx does not pass a POST on to another host once it has sent it (it may have
        committed), so a POST that went down a kept-alive connection to a host just killed
        gets 502. The desk's answer to that is a careful client's: look in the log, and
        send it again only if it is not there.
        """
        started = time.monotonic()
        text = f"Kabar {n}: ribuan pendengar masih menunggu suara pembawa acara."
        for _ in range(3):
            status, body = self.cluster.call(
                "POST",
                f"https://{NGINX}/api/v1/stories/{self.slug}/posts",
                {"body": f"<p>{text}</p>"},
            )
            if status not in (502, 504) or self.logged(text):
                break
            time.sleep(0.5)
        assert status in (201, 502, 504), (n, status, body)
        assert self.logged(text), (n, status, body)
        self.posted.append((started, time.monotonic()))

    def logged(self, text: str) -> bool:
        """Tell whether an update with this text is in the story's event log (uncached)."""
        self.looks += 1  # a URL of its own each time: no cache in between may answer it
        limit = 1000 - self.looks
        status, page = self.cluster.call(
            "GET", f"https://{NGINX}/api/v1/stories/{self.slug}/events?after=0&limit={limit}"
        )
        assert status == 200, (status, page)
        return sum(text in json.dumps(e.get("post", {})) for e in page["events"]) == 1


def wait_all(fleet: Fleet, seq: int, timeout: float) -> float:
    """Wait until every reader has `seq`; return how long it took."""
    started = time.monotonic()
    try:
        wait_until(lambda: fleet.behind(seq) == 0, timeout, f"all readers at seq {seq}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {fleet.behind(seq)} behind; {fleet.summary()}") from None
    return time.monotonic() - started


def wait_connected(fleet: Fleet, timeout: float) -> None:
    """Wait until every reader is connected."""
    try:
        wait_until(lambda: fleet.connected() == READERS, timeout, "every reader connected")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {fleet.summary()}") from None


def describe(reader: ReaderLog, expected: list[int]) -> str:
    """Say what is wrong with a reader's seqs: missing, duplicated, out of order."""
    counts = Counter(reader.seqs)
    missing = sorted(set(expected) - set(counts))
    doubled = sorted(seq for seq, n in counts.items() if n > 1)
    arrival = [round(t - reader.times[0], 2) for t in reader.times]
    return (
        f"missing {missing}, doubled {doubled}, seqs {reader.seqs}, at {arrival},"
        f" connects {reader.connects}, errors {reader.errors}"
    )


def pctl(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of values, 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_readers_get_everything_through_nginx_while_hosts_and_redis_fail(
    cluster: Cluster,
) -> None:
    """Kill a host, restart Redis, cut a host off Redis: every reader gets every seq once."""
    timings: dict[str, Any] = {"readers": READERS, "setup_s": cluster.setup_s}
    story = Story(cluster)
    base_seq = cluster.call("GET", f"http://{HOSTS[0]}:{PORT}/api/v1/stories/{story.slug}")[1][
        "last_seq"
    ]
    fleet = Fleet(cluster.client, f"wss://{NGINX}", story.slug, SOURCES, READERS, cluster.tls)
    # Public answers are cached as the hosts say, compressed by them once per coding.
    feed = f"/stories/{story.slug}/feed.json"
    first = cluster.head(feed, **{"Accept-Encoding": "gzip, deflate, br"})
    again = cluster.head(feed, **{"Accept-Encoding": "gzip, deflate, br"})
    assert first["content-encoding"] == again["content-encoding"] == "br", first
    # HIT, or (on a machine so busy that max-age ran out in between) a cached copy refreshed
    assert again["x-cache-status"] in {"HIT", "UPDATING", "STALE", "REVALIDATED"}, again
    assert cluster.head(feed, **{"Accept-Encoding": "gzip"})["content-encoding"] == "gzip"
    assert "content-encoding" not in cluster.head(feed)

    hosts = list(cluster.hosts.values())
    before = {"nginx": usage([cluster.nginx]), "hosts": usage(hosts)}
    started = time.monotonic()
    fleet.start()
    try:
        wait_connected(fleet, 180)
        timings["connect_all_s"] = round(time.monotonic() - started, 2)
        time.sleep(1)  # let the last handshakes' work settle before reading the counters
        after = {"nginx": usage([cluster.nginx]), "hosts": usage(hosts)}
        for side in ("nginx", "hosts"):
            timings[f"{side}_kib_per_reader"] = round(
                (after[side][0] - before[side][0]) / READERS, 1
            )
            timings[f"{side}_cpu_ms_per_connect"] = round(
                (after[side][1] - before[side][1]) * 1000 / READERS, 3
            )
        spread = {a: established(cluster, a) for a in HOSTS}
        timings["connections_per_host"] = spread
        assert all(n >= READERS // 5 for n in spread.values()), spread  # balanced, not sticky

        posted = 0

        def post(count: int, pause: float) -> None:
            nonlocal posted
            for _ in range(count):
                posted += 1
                story.post(posted)
                time.sleep(pause)

        # 1. A host dies mid-story: its readers come back through nginx to the others.
        post(5, 0.3)
        wait_all(fleet, base_seq + posted, 120)
        victim = HOSTS[1]
        killed_at = time.monotonic()
        netns.kill_tree(cluster.hosts[victim])
        post(5, 0.3)
        timings["kill_catch_up_s"] = round(wait_all(fleet, base_seq + posted, 120), 2)
        moved = [r for r in fleet.readers if any(t >= killed_at for t in r.dropped_at)]
        wait_connected(fleet, 120)
        away = [r.away[-1] for r in moved]
        timings["killed_host_readers"] = len(moved)
        timings["reconnect_s"] = {
            "p50": round(pctl(away, 0.5), 3),
            "p99": round(pctl(away, 0.99), 3),
            "max": round(max(away, default=0), 3),
        }
        assert READERS // 5 <= len(moved) <= READERS // 2, len(moved)

        # 2. Redis dies and comes back: writes still commit, everyone gets everything.
        netns.kill_tree(cluster.redis)
        post(3, 0.3)
        cluster.start_redis()
        post(3, 0.3)
        timings["redis_catch_up_s"] = round(wait_all(fleet, base_seq + posted, 120), 2)

        # 3. One host cannot reach Redis for 10 s (both directions dropped).
        cut = HOSTS[0]
        cluster.net.ip(cluster.host_ns[cut], "route", "add", "blackhole", f"{REDIS}/32")
        cluster.net.ip(cluster.redis_ns, "route", "add", "blackhole", f"{cut}/32")
        cut_at = time.monotonic()
        first_in_cut = posted + 1
        while time.monotonic() - cut_at < 10:
            post(1, 1.0)
        last_in_cut = posted
        cluster.net.ip(cluster.host_ns[cut], "route", "del", "blackhole", f"{REDIS}/32")
        cluster.net.ip(cluster.redis_ns, "route", "del", "blackhole", f"{cut}/32")
        post(3, 0.3)
        timings["cut_catch_up_s"] = round(wait_all(fleet, base_seq + posted, 120), 2)

        # Every seq of the story, exactly once and in order, for every reader.
        status, log = cluster.call(
            "GET", f"http://{HOSTS[0]}:{PORT}/api/v1/stories/{story.slug}/events?limit=500"
        )
        assert status == 200
        expected = [e["seq"] for e in log["events"]]
        assert expected == list(range(1, base_seq + posted + 1))
        wrong = [describe(r, expected) for r in fleet.readers if r.seqs != expected]
        assert not wrong, f"{len(wrong)} readers got the wrong seqs: {wrong[:5]}"

        # Delivery gap per update: its POST's start to its slowest reader.
        gaps = []
        for n, (sent, _answered) in enumerate(story.posted, 1):
            seq = base_seq + n
            slowest = max(r.times[r.seqs.index(seq)] for r in fleet.readers)
            gaps.append(round(slowest - sent, 3))
        timings["slowest_reader_per_update_s"] = gaps
        timings["cut_updates"] = [first_in_cut, last_in_cut]
        timings["post_s"] = [round(b - a, 3) for a, b in story.posted]
        timings["delivery_p50_s"] = round(
            statistics.median(
                r.times[r.seqs.index(base_seq + n)] - sent
                for n, (sent, _) in enumerate(story.posted, 1)
                for r in fleet.readers[:: max(1, READERS // 100)]
            ),
            3,
        )
    finally:
        fleet.stop()
    timings["test_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(timings))
    out = os.environ.get("LIVEBLOG_MANY_HOSTS_OUT")
    if out:
        Path(out).write_text(json.dumps(timings, indent=1) + "\n")
