"""Three liveblog hosts, PostgreSQL, Redis and nginx in network namespaces, for a test.

`build()` starts them all on one bridge (tests/netns.py) and takes everything down when
its block ends, however it ends: PostgreSQL and Redis private to the run, three
`liveblog serve` hosts, nginx running the shipped deploy/nginx/nginx.conf and
liveblog.conf with this run's addresses, certificate and directories swapped in
(`nginx_config()` fails if those lines changed form), and a client namespace with 40
source addresses. `Cluster` reaches it all from the client's namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netns
import postgres_process
from servers import LIVEBLOG, ROOT, prepare, wait_until

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


@contextlib.contextmanager
def build(root: Path) -> Iterator[Cluster]:
    """Build the network, start every server in it, and take it all down afterwards."""
    started = time.monotonic()
    net = netns.Network()
    pg: postgres_process.PostgresProcess | None = None
    cluster = Cluster(net, root)
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
                root / f"host-{address}.log",
                env=host_env(root, address),
                cwd=ROOT,
            )
        make_certificate(root)
        tls = ssl.create_default_context(cafile=str(root / "cert.pem"))
        tls.check_hostname = False
        cluster.tls = tls
        conf = nginx_config(root)
        cluster.nginx = net.popen(
            nginx_ns, ["nginx", "-c", str(conf), "-g", "daemon off;"], root / "nginx.log"
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
