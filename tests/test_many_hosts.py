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
import re
import shutil
import ssl
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netns
import postgres_process
import pytest
from conftest import service_missing
from fleet import Fleet, ReaderLog
from servers import LIVEBLOG, ROOT, prepare, wait_until

pytestmark = pytest.mark.slow

READERS = int(os.environ.get("LIVEBLOG_MANY_HOSTS_READERS", "1000"))
DEPLOY = ROOT / "deploy" / "nginx"
PG, REDIS, NGINX = "10.44.0.2", "10.44.0.3", "10.44.0.5"
HOSTS = ["10.44.0.11", "10.44.0.12", "10.44.0.13"]
CLIENT = "10.44.0.100"
SOURCES = [f"10.44.1.{i}" for i in range(1, 41)]
PORT = 8000


@dataclass
class Cluster:
    """The running pieces and how to reach them from the client's namespace."""

    net: netns.Network
    root: Path
    client: str = ""
    hosts: dict[str, Any] = field(default_factory=dict)  # address -> Popen
    host_ns: dict[str, str] = field(default_factory=dict)
    redis_ns: str = ""
    redis: Any = None
    nginx: Any = None
    tls: ssl.SSLContext | None = None
    token: str = ""
    setup_s: float = 0.0

    def call(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        """Make an HTTP request from the client's namespace; return (status, JSON)."""
        request = urllib.request.Request(
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with netns.entered(self.client):
            try:
                with urllib.request.urlopen(request, timeout=30, context=self.tls) as response:
                    return response.status, json.loads(response.read() or b"null")
            except urllib.error.HTTPError as error:
                return error.code, error.read()[:300]

    def head(self, path: str, **headers: str) -> dict[str, str]:
        """GET a path through nginx and return the answer's headers (lower-case names)."""
        request = urllib.request.Request(f"https://{NGINX}{path}", headers=headers)
        with (
            netns.entered(self.client),
            urllib.request.urlopen(request, timeout=30, context=self.tls) as response,
        ):
            response.read()
            return {k.lower(): v for k, v in response.headers.items()}

    def start_redis(self) -> None:
        """Start (or start again) the private Redis in its namespace."""
        self.redis = self.net.popen(
            self.redis_ns,
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", "6379", "--bind", REDIS, "--protected-mode", "no"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.root)),
            ],
            self.root / "redis.log",
        )


def render(text: str, swaps: list[tuple[str, str, int]]) -> str:
    """Apply (pattern, replacement, expected count) swaps; fail if a pattern is missing."""
    for pattern, replacement, count in swaps:
        text, made = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert made == count, f"deploy config changed: {pattern!r} matched {made}, not {count}"
    return text


def nginx_config(root: Path) -> Path:
    """Write the shipped nginx files with this run's addresses and paths; return nginx.conf."""
    site = render(
        (DEPLOY / "liveblog.conf").read_text(),
        [
            (r"/var/cache/nginx/liveblog", str(root / "cache"), 1),
            (r"^(\s*)server 10\.0\.1\.11:8000 ", rf"\g<1>server {HOSTS[0]}:{PORT} ", 1),
            (r"^\s*server 10\.0\.1\.1[23]:8000 ([^;]*);\n", "", 2),
            (r"^(\s*)listen 80;", rf"\g<1>listen {NGINX}:80;", 1),
            (r"^(\s*)listen 443 ssl ", rf"\g<1>listen {NGINX}:443 ssl ", 1),
            (r"^\s*listen \[::\]:(80|443 ssl);\n", "", 2),
            (r"/etc/ssl/liveblog/fullchain\.pem", str(root / "cert.pem"), 1),
            (r"/etc/ssl/liveblog/privkey\.pem", str(root / "key.pem"), 1),
        ],
    )
    # The other hosts go right after the first, with the same options.
    site = re.sub(
        rf"^(\s*)server {re.escape(HOSTS[0])}:{PORT} ([^;]*);",
        lambda m: "\n".join(f"{m[1]}server {h}:{PORT} {m[2]};" for h in HOSTS),
        site,
        flags=re.MULTILINE,
    )
    main = render(
        (DEPLOY / "nginx.conf").read_text(),
        [
            (r"^user www-data;", "user root;", 1),  # our directories are root's alone
            (r"/run/nginx\.pid", str(root / "nginx.pid"), 1),
            (r"/var/log/nginx/error\.log", str(root / "nginx-error.log"), 1),
            (r"/etc/nginx/conf\.d/liveblog\.conf", str(root / "liveblog.conf"), 1),
        ],
    )
    (root / "cache").mkdir()
    (root / "liveblog.conf").write_text(site)
    (root / "nginx.conf").write_text(main)
    return root / "nginx.conf"


def host_env(root: Path, address: str) -> dict[str, str]:
    """Return one host's environment, as deploy/liveblog.env describes it."""
    instance = root / f"host-{address}"
    instance.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBLOG_")}
    env.update(
        LIVEBLOG_INSTANCE_PATH=str(instance),
        LIVEBLOG_DATABASE_URL=f"postgresql+psycopg://postgres@{PG}:5432/liveblog",
        LIVEBLOG_BROKER_URL=f"redis://{REDIS}:6379/0",
        LIVEBLOG_SECRET_KEY="many-hosts-secret",
        LIVEBLOG_TRUSTED_PROXIES=NGINX,
        LIVEBLOG_ALLOWED_HOSTS=NGINX,
        LIVEBLOG_LOG_LEVEL="WARNING",
        # Under the 25 readers each client address brings, over the 33 per host that one
        # address (the balancer's) would bring: passes only if X-Forwarded-For arrives.
        LIVEBLOG_WS_PER_IP="30",
    )
    return env


def start_postgres(net: netns.Network, namespace: str, pg: Any) -> None:
    """Start the private PostgreSQL in its namespace, open to the network, with a database."""
    pg.port = 5432
    with open(pg.data / "pg_hba.conf", "a") as hba:
        hba.write("host all all 10.44.0.0/16 trust\n")
    options = f"-p 5432 -k {pg.root} -c listen_addresses={PG} -c fsync=off -c max_connections=300"
    as_postgres = ["runuser", "-u", "postgres", "--"]
    pg_ctl = postgres_process._bin("pg_ctl")
    net.run(
        namespace,
        *as_postgres,
        pg_ctl,
        "-D",
        str(pg.data),
        "-l",
        str(pg.log),
        "-o",
        options,
        "-w",
        "start",
        timeout=120,
    )
    net.run(namespace, *as_postgres, "psql", "-h", str(pg.root), "-c", "CREATE DATABASE liveblog")


def make_certificate(root: Path) -> None:
    """Write a throwaway ECDSA certificate and key for nginx (cert.pem, key.pem)."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=live.example.org",
            "-keyout",
            str(root / "key.pem"),
            "-out",
            str(root / "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Build the network, start every server in it, and take it all down afterwards."""
    why = netns.available()
    if why:
        service_missing("network namespaces", why)
    for tool in ("nginx", "redis-server", "openssl"):
        if shutil.which(tool) is None:
            service_missing(tool, f"{tool} is not installed (apt-get install nginx-light)")
    if not postgres_process.available():
        service_missing("PostgreSQL binaries", "initdb/pg_ctl not found")
    started = time.monotonic()
    net = netns.Network()
    pg: postgres_process.PostgresProcess | None = None
    cluster = Cluster(net, tmp_path)
    try:
        pg_ns = net.node("pg", PG)
        cluster.redis_ns = net.node("redis", REDIS)
        cluster.client = net.node("client", CLIENT, *SOURCES)
        nginx_ns = net.node("nginx", NGINX)
        for i, address in enumerate(HOSTS, 1):
            cluster.host_ns[address] = net.node(f"h{i}", address)

        pg = postgres_process.PostgresProcess()
        start_postgres(net, pg_ns, pg)
        cluster.start_redis()
        with netns.entered(cluster.client):
            cluster.token = prepare(f"postgresql+psycopg://postgres@{PG}:5432/liveblog")
        for address in HOSTS:
            cluster.hosts[address] = net.popen(
                cluster.host_ns[address],
                [LIVEBLOG, "serve", "--host", address, "--port", str(PORT)],
                tmp_path / f"host-{address}.log",
                env=host_env(tmp_path, address),
                cwd=ROOT,
            )
        make_certificate(tmp_path)
        tls = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        tls.check_hostname = False
        cluster.tls = tls
        conf = nginx_config(tmp_path)
        cluster.nginx = net.popen(
            nginx_ns, ["nginx", "-c", str(conf), "-g", "daemon off;"], tmp_path / "nginx.log"
        )
        for address in HOSTS:
            wait_until(
                lambda a=address: cluster.call("GET", f"http://{a}:{PORT}/healthz")[0] == 200,
                240,  # three hosts boot at once; a busy 2-core machine needs minutes
                f"host {address}",
            )
        wait_until(lambda: cluster.call("GET", f"https://{NGINX}/healthz")[0] == 200, 30, "nginx")
        cluster.setup_s = round(time.monotonic() - started, 1)
        yield cluster
    finally:
        try:
            net.close()
        finally:
            if pg is not None:
                pg.remove()


def usage(procs: list[Any]) -> tuple[int, float]:
    """Return the resident memory (KiB) and CPU time (s) of processes and their descendants."""
    rss, cpu = 0, 0.0
    for proc in procs:
        for pid in [proc.pid, *netns.descendants(proc.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found = re.search(r"VmRSS:\s+(\d+)", status)
            rss += int(found[1]) if found else 0
            cpu += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


def established(cluster: Cluster, address: str) -> int:
    """Count the TCP connections a host holds on its public port (readers and keep-alives)."""
    out = cluster.net.run(
        cluster.host_ns[address], "ss", "-Htn", "state", "established", f"( sport = :{PORT} )"
    )
    return len(out.splitlines())


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

    def post(self, n: int) -> None:
        """Post update n through nginx; it must commit whatever the cluster is going through."""
        started = time.monotonic()
        status, body = self.cluster.call(
            "POST",
            f"https://{NGINX}/api/v1/stories/{self.slug}/posts",
            {"body": f"<p>Kabar {n}: ribuan pendengar masih menunggu suara pembawa acara.</p>"},
        )
        assert status == 201, (n, status, body)
        self.posted.append((started, time.monotonic()))


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
