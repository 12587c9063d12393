"""Fan-out benchmark: a connect storm of N WebSocket readers, then M updates to all of them.

This is a harness, not a test. In one run it measures, one after the other, a real
`liveblog serve` (SQLite in a temp dir, or a throwaway PostgreSQL database; in-process or
Redis broker) and `bench/reference.py` (asyncio + `websockets.broadcast()`), each pinned to
the server core, with a lean asyncio reader fleet pinned to the other core:

1. connect storm: N readers connect all at once (time until all connected, failures);
2. idle: RSS of the server processes (master + workers) and their idle CPU;
3. publish: M updates `--interval` seconds apart, through POST /api/v1/stories/<slug>/posts
   for liveblog and the reference's /control socket; the publish time is taken right
   before the request, readers match deliveries by seq and check the body marker;
4. report: latency p50/p99/max (publish to receipt), missed/duplicated deliveries, server
   CPU time per delivery, deliveries per second.

Outputs under --out: results.json, results.md (one table line per server), latency.png.

--lean swaps in a cheaper reader for servers faster than the default client: after the hello
its sockets are read through one epoll and only frame headers are parsed (the n-th text
frame is update n; only the last one is decoded to check its seq and marker).

    .venv/bin/python bench/fanout.py --readers 5000 --updates 20 --interval 0.3 \\
        --out bench/results/2026-11-25-N5000

Every phase is bounded (--connect-timeout, --update-timeout, --total-timeout); the servers
it starts are stopped by PID whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import resource
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
IP_BIND_ADDRESS_NO_PORT = 24  # Linux: pick the source port at connect(), per 4-tuple
CLK_TCK = os.sysconf("SC_CLK_TCK")
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # any 16 bytes, base64: the server only echoes a hash
PONG_MASK = b"\x00\x00\x00\x00"  # a zero mask leaves the payload as it is


# -- small helpers ---------------------------------------------------------------------------


def log(message: str) -> None:
    """Print a progress message on stderr."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def percentile(ordered: list[float], q: float) -> float | None:
    """Return the nearest-rank percentile q (0..100) of an ascending list."""
    if not ordered:
        return None
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def descendants(pid: int) -> list[int]:
    """Return the PIDs of a process's children, grandchildren, ... (not the process)."""
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 1000:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = Path(f"/proc/{parent}/task/{task}/children").read_text()
            except OSError:
                continue
            for child in map(int, text.split()):
                if child not in found:
                    found.append(child)
                    todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """Return a process's user + system CPU time (all its threads), 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def rss_kib(pid: int) -> int:
    """Return a process's resident set size (VmRSS) in KiB, 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_busy() -> dict[str, float]:
    """Return busy CPU seconds per CPU from /proc/stat: "cpuN" for process time (user,
    nice, system, steal) and "cpuN-irq" for interrupts (loopback delivery runs there)."""
    busy: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, values[:8])
                busy[name] = (user + nice + system + steal) / CLK_TCK
                busy[f"{name}-irq"] = (irq + softirq) / CLK_TCK
    return busy


def foreign_pct(
    before: dict[str, float],
    after: dict[str, float],
    cpus: str | None,
    own: float,
    wall: float,
    suffix: str = "",
) -> float | None:
    """Return how busy `cpus` were with other work than `own` CPU seconds, in % of `wall`
    (with suffix "-irq": how busy with interrupts and softirqs)."""
    if not cpus or wall <= 0:
        return None
    names = [f"cpu{c}{suffix}" for c in cpus.split(",")]
    busy = sum(after.get(n, 0.0) - before.get(n, 0.0) for n in names)
    return round(max(0.0, busy - own) / wall * 100, 1)


def http_json(
    base: str, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    """Make one blocking HTTP request (setup only, never during a measurement)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll GET /healthz until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {base} not healthy after {timeout}s")


async def http_request(
    host: str, port: int, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    """Make one HTTP/1.1 request on the event loop (no threads, no GIL hand-offs)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        data = await reader.read()
    finally:
        writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.partition(b"\r\n\r\n")[2]


# -- server processes ------------------------------------------------------------------------


class ServerProcess:
    """A server started (optionally under taskset) by this harness and stopped by its PID."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], logfile: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env
        self.logfile = logfile
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, cpus: str | None) -> None:
        """Start it; with `cpus`, under `taskset -c` so its workers inherit the pinning."""
        cmd = (["taskset", "-c", cpus] if cpus else []) + self.cmd
        with open(self.logfile, "ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                stdout=out,
                stderr=out,
                cwd=self.logfile.parent,  # not the checkout: its liveblog/ would shadow PYTHONPATH
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """Return the main process's PID (taskset execs, so it is the server's own)."""
        assert self.proc is not None
        return self.proc.pid

    def pids(self) -> list[int]:
        """Return the server's PIDs: the main process and every descendant (workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.pid, *descendants(self.pid)]

    def workers(self) -> list[int]:
        """Return the worker PIDs (the descendants), or the main PID if there are none."""
        return descendants(self.pid) or [self.pid]

    def cpu(self) -> dict[int, float]:
        """Return CPU seconds per PID."""
        return {pid: cpu_seconds(pid) for pid in self.pids()}

    def rss_kib(self) -> int:
        """Return the summed VmRSS of all its processes."""
        return sum(rss_kib(pid) for pid in self.pids())

    def stop(self) -> None:
        """SIGTERM the main process; after 15 s, SIGKILL it and its descendants by PID."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = descendants(self.pid)
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(10)
        for pid in children:  # a worker the master could not reap in time
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """Return the CPU seconds spent between two samples (processes present in `after`)."""
    return sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())


# -- targets: what the readers connect to and how an update is published -------------------


def liveblog_body(seq: int, run: str, body_bytes: int) -> str:
    """Return a post body carrying the marker the readers check, about body_bytes long."""
    text = f"bm:{seq}:{run}: Air mulai surut di Kampung Melayu; petugas BPBD masih berjaga. "
    while len(text) < body_bytes:
        text += "Warga diminta tetap waspada terhadap hujan susulan malam ini. "
    return f"<p>{text[:body_bytes]}</p>"


@dataclass
class Target:
    """A server under test."""

    name: str
    host: str
    port: int
    path: str
    server: ServerProcess
    workdir: Path
    info: dict[str, Any] = field(default_factory=dict)
    first_seq: int = 1  # seq of the first measured update

    async def publish(self, seq: int) -> int:
        """Publish update `seq`; return the status (201 / 200 when accepted)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the server and forget its files."""
        self.server.stop()


class LiveblogTarget(Target):
    """A real `liveblog serve` with its own database and an editor's token."""

    token: str
    slug: str
    run: str
    body_bytes: int
    admin_db: str | None = None

    async def publish(self, seq: int) -> int:
        body = json.dumps({"body": liveblog_body(seq, self.run, self.body_bytes)}).encode()
        status, _ = await http_request(
            self.host,
            self.port,
            "POST",
            f"/api/v1/stories/{self.slug}/posts",
            body,
            {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        return status

    def close(self) -> None:
        super().close()
        if self.admin_db:
            drop_postgres(*self.admin_db.split("\n"))


class ReferenceTarget(Target):
    """bench/reference.py, fed through its /control WebSocket."""

    control: Any = None
    payload_bytes: int = 600
    run: str = ""

    def payload(self, seq: int) -> str:
        """Return the broadcast text: seq, marker and publish time, padded to the size."""
        head = {"seq": seq, "type": "post.created", "t": time.monotonic(), "body": ""}
        marker = f"<p>bm:{seq}:{self.run}: "
        base = len(json.dumps(head, separators=(",", ":"))) + len(marker) + len("</p>")
        head["body"] = marker + "x" * max(0, self.payload_bytes - base) + "</p>"
        return json.dumps(head, separators=(",", ":"))

    async def open_control(self) -> None:
        """Connect the control socket (before the readers, so it is not in the storm)."""
        from websockets.asyncio.client import connect

        self.control = await connect(
            f"ws://{self.host}:{self.port}/control", compression=None, max_size=1 << 20
        )

    async def publish(self, seq: int) -> int:
        await self.control.send(self.payload(seq))
        answer = await self.control.recv()
        return 200 if str(answer).startswith("ok") else 500

    def close(self) -> None:
        if self.control is not None:
            with contextlib.suppress(Exception):
                self.control.transport.abort()
        super().close()


def create_postgres(url: str) -> tuple[str, str]:
    """Create a throwaway database next to `url`'s; return (its URL, admin URL + name)."""
    import psycopg

    name = f"liveblog_bench_{uuid.uuid4().hex[:10]}"
    admin = url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = url.rpartition("/")[0]
    return f"{base}/{name}", f"{admin}\n{name}"


def drop_postgres(admin: str, name: str) -> None:
    """Drop a database made by create_postgres."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_liveblog(args: argparse.Namespace, workdir: Path, run: str) -> LiveblogTarget:
    """Prepare a database with liveblog's own functions, start `liveblog serve`, add a story."""
    from liveblog.accounts import create_token, create_user
    from liveblog.cli import upgrade_database
    from liveblog.db import Database

    admin_db = None
    if args.db == "sqlite":
        db_url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        db_url, admin_db = create_postgres(args.db)
    upgrade_database(db_url)
    db = Database(db_url)
    try:
        create_user(db, "bench", "editor", None, "Bench Desk")
        token = create_token(db, "bench")
    finally:
        db.dispose()

    instance = workdir / "instance"
    instance.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBLOG_")}
    env.update(
        LIVEBLOG_INSTANCE_PATH=str(instance),
        LIVEBLOG_DATABASE_URL=db_url,
        LIVEBLOG_SECRET_KEY=secrets.token_hex(16),
        LIVEBLOG_BROKER_URL=args.broker,
        LIVEBLOG_WS_PER_IP="0",  # every reader comes from this machine
    )
    # The server runs in the temp dir: make PYTHONPATH entries absolute. --liveblog-src puts
    # an experimental copy of the package first, for A/B runs.
    paths = [args.liveblog_src] if args.liveblog_src else []
    paths += [Path(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(str(p.resolve()) for p in paths)
    exe = Path(sys.executable).with_name("liveblog")
    liveblog = str(exe) if exe.exists() else (shutil.which("liveblog") or "liveblog")
    port = free_port()
    cmd = [liveblog, "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(args.workers)]
    server = ServerProcess("liveblog", cmd, env, workdir / "liveblog.log")
    target = LiveblogTarget("liveblog", "127.0.0.1", port, "", server, workdir)
    target.admin_db = admin_db
    target.token, target.run, target.body_bytes = token, run, args.body_bytes
    server.start(args.server_cpus)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server.proc, 60)  # type: ignore[arg-type]
        deadline = time.monotonic() + 30
        while len(server.workers()) < args.workers and time.monotonic() < deadline:
            time.sleep(0.1)
        slug = f"bench-{run}"
        status, story = http_json(
            f"http://127.0.0.1:{port}",
            "POST",
            "/api/v1/stories",
            {
                "title": "Banjir Jakarta (bench)",
                "language": "id",
                "timezone": "Asia/Jakarta",
                "slug": slug,
            },
            token,
        )
        if status != 201:
            raise RuntimeError(f"could not create the story: {status} {story!r}")
    except BaseException:
        target.close()
        raise
    target.slug = slug
    target.path = f"/stories/{slug}/live"
    target.info = {
        "workers": args.workers,
        "broker": args.broker or "in-process",
        "db": "sqlite" if args.db == "sqlite" else "postgresql",
    }
    return target


def start_reference(args: argparse.Namespace, workdir: Path, run: str) -> ReferenceTarget:
    """Start bench/reference.py pinned like liveblog."""
    port = free_port()
    cmd = [sys.executable, str(BENCH / "reference.py"), "--port", str(port)]
    server = ServerProcess("reference", cmd, dict(os.environ), workdir / "reference.log")
    path = "/stories/bench/live"
    target = ReferenceTarget("reference", "127.0.0.1", port, path, server, workdir)
    target.run = run
    server.start(args.server_cpus)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server.proc, 30)  # type: ignore[arg-type]
    except BaseException:
        target.close()
        raise
    import websockets

    target.info = {"workers": 1, "websockets": websockets.__version__}
    return target


# -- the reader fleet ------------------------------------------------------------------------


class Reader(asyncio.Protocol):
    """One lean WebSocket reader: raw frames, no compression, pongs with a zero mask."""

    __slots__ = ("buf", "closed", "dups", "fleet", "got", "handshaken", "ready", "transport")

    def __init__(self, fleet: Fleet, ready: asyncio.Future[float]) -> None:
        self.fleet = fleet
        self.ready = ready
        self.buf = bytearray()
        self.handshaken = False
        self.transport: asyncio.Transport | None = None
        self.got: dict[int, float] = {}
        self.dups = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.fleet.upgrade)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buf
        buf += data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail("upgrade refused: " + buf[:40].decode(errors="replace").strip())
                return
            del buf[: end + 4]
            self.handshaken = True
        while len(buf) >= 2:
            b1 = buf[1]
            size = b1 & 0x7F
            head = 2
            if size == 126:
                if len(buf) < 4:
                    return
                size = int.from_bytes(buf[2:4], "big")
                head = 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size = int.from_bytes(buf[2:10], "big")
                head = 10
            if b1 & 0x80:
                head += 4  # servers never mask; tolerate it anyway (payload not unmasked)
            if len(buf) < head + size:
                return
            opcode = buf[0] & 0x0F
            payload = bytes(buf[head : head + size])
            del buf[: head + size]
            if opcode == 0x1:
                self._text(payload, now)
            elif opcode == 0x9:
                self.transport.write(  # type: ignore[union-attr]
                    bytes((0x8A, 0x80 | len(payload))) + PONG_MASK + payload
                )
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.fleet.closes[code] += 1
                self.transport.close()  # type: ignore[union-attr]
                return

    def _text(self, payload: bytes, now: float) -> None:
        at = payload.find(b'"seq":')
        if at < 0:
            if not self.ready.done():
                if b'"hello"' in payload:
                    self.ready.set_result(now)
                else:
                    self._fail("first frame not hello: " + payload[:40].decode(errors="replace"))
            return
        end = at + 6
        while payload[end] == 0x20:
            end += 1
        start = end
        while 0x30 <= payload[end] <= 0x39:
            end += 1
        seq = int(payload[start:end])
        fleet = self.fleet
        if seq in self.got:
            self.dups += 1
            return
        self.got[seq] = now
        if fleet.frame_bytes is None:
            fleet.frame_bytes = len(payload)
        if b"bm:%d:" % seq not in payload:
            fleet.corrupt += 1
        if seq in fleet.expected:
            fleet.counts[seq] += 1
            fleet.remaining -= 1
            if fleet.remaining <= 0 and not fleet.done.is_set():
                fleet.done.set()
        else:
            fleet.unexpected += 1

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before hello: {exc}"))
            return
        fleet = self.fleet
        fleet.lost += 1
        if fleet.expected:
            # What it will never get no longer holds the run up (it is counted as missed).
            fleet.remaining -= len(fleet.expected - self.got.keys())
            if fleet.remaining <= 0:
                fleet.done.set()

    def abort(self) -> None:
        """Close with a RST (no TIME_WAIT left behind on either side)."""
        if self.transport is None or self.closed:
            return
        sock = self.transport.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


class LeanReader(Reader):
    """--lean: a reader that, after its hello, counts frames without decoding them.

    It parses only frame headers (opcode, length; servers never mask) in each recv buffer
    and keeps, per buffer, (text frames so far, receipt time): the server sends the events
    in seq order exactly once, so the n-th text frame after the hello is update n and every
    frame completed in one buffer was received at that buffer's time. The count must equal
    the number of updates (fewer: missed, more: duplicated); only the frame that completes
    the count is decoded, to check its seq and marker.
    """

    __slots__ = ("marks", "n", "sock")

    def __init__(self, fleet: Fleet, ready: asyncio.Future[float]) -> None:
        super().__init__(fleet, ready)
        self.n = 0
        self.marks: list[tuple[int, float]] = []
        self.sock: socket.socket | None = None  # read directly by Fleet.drain when raw

    def data_received(self, data: bytes) -> None:
        if not self.ready.done():  # handshake and hello: the full parser
            Reader.data_received(self, data)
            return
        self.feed(data, len(data), time.monotonic())

    def feed(self, data: bytes | bytearray, end: int, now: float) -> None:
        """Count the frames in data[:end], received at `now` (the tail waits in self.buf)."""
        buf = self.buf
        if buf:
            buf += data[:end]
            view: bytes | bytearray = buf
            end = len(buf)
        else:
            view = data
        pos, k, last, last_end = 0, 0, 0, 0
        while end - pos >= 2:
            b1 = view[pos + 1]
            size = b1 & 0x7F
            head = 2
            if size == 126:
                if end - pos < 4:
                    break
                size = (view[pos + 2] << 8) | view[pos + 3]
                head = 4
            elif size == 127:
                if end - pos < 10:
                    break
                size = int.from_bytes(view[pos + 2 : pos + 10], "big")
                head = 10
            if b1 & 0x80:
                head += 4
            stop = pos + head + size
            if stop > end:
                break
            opcode = view[pos] & 0x0F
            if opcode == 0x1:
                k += 1
                last, last_end = pos + head, stop
            elif opcode == 0x9:
                payload = bytes(view[pos + head : stop])
                self.transport.write(  # type: ignore[union-attr]
                    bytes((0x8A, 0x80 | len(payload))) + PONG_MASK + payload
                )
            elif opcode == 0x8:
                payload = bytes(view[pos + head : stop])
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.fleet.closes[code] += 1
                self.transport.close()  # type: ignore[union-attr]
                return
            pos = stop
        if k:
            fleet = self.fleet
            before = self.n
            n = self.n = before + k
            self.marks.append((n, now))
            owed = fleet.lean_updates - before
            if owed > 0:
                fleet.remaining -= k if k < owed else owed
                fleet.lean_got += k if k < owed else owed
                if fleet.remaining <= 0:
                    fleet.done.set()
            if n == fleet.lean_updates:
                self._check_last(bytes(view[last:last_end]))
        if view is buf:
            del buf[:pos]
        elif pos < end:
            buf += data[pos:end]

    def _check_last(self, payload: bytes) -> None:
        """Decode the frame that completes the count: it must be the last update."""
        fleet = self.fleet
        if fleet.frame_bytes is None:
            fleet.frame_bytes = len(payload)
        at = payload.find(b'"seq":')
        digits = payload[at + 6 : at + 30].lstrip(b" ")
        digits = digits[: len(digits) - len(digits.lstrip(b"0123456789"))]
        seq = fleet.lean_last_seq
        if at < 0 or digits != b"%d" % seq or b"bm:%d:" % seq not in payload:
            fleet.corrupt += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before hello: {exc}"))
            return
        fleet = self.fleet
        fleet.lost += 1
        owed = fleet.lean_updates - self.n
        if owed > 0:
            fleet.remaining -= owed
            if fleet.remaining <= 0:
                fleet.done.set()


class Fleet:
    """N readers of one target and what they received."""

    def __init__(self, target: Target, sources: list[str], lean: bool = False) -> None:
        self.target = target
        self.sources = sources
        self.lean = lean
        self.lean_updates = 0  # --lean: updates each reader is owed, the last one's seq
        self.lean_last_seq = 0
        self.lean_got = 0
        self.upgrade = (
            f"GET {target.path}?after={target.first_seq - 1} HTTP/1.1\r\n"
            f"Host: {target.host}:{target.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.readers: list[Reader] = []
        self.connect_times: list[float] = []
        self.failures: Counter[str] = Counter()
        self.closes: Counter[int] = Counter()
        self.expected: set[int] = set()
        self.counts: Counter[int] = Counter()
        self.remaining = 0
        self.done = asyncio.Event()
        self.corrupt = 0
        self.unexpected = 0
        self.lost = 0
        self.frame_bytes: int | None = None
        self.attempted = 0

    async def connect_one(self, index: int, t0: float, timeout: float) -> None:
        """Connect one reader and wait for its hello; record the time or the failure."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        reader: Reader | None = None
        try:
            async with asyncio.timeout(timeout):
                sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((self.sources[index % len(self.sources)], 0))
                sock.setblocking(False)
                await loop.sock_connect(sock, (self.target.host, self.target.port))
                ready: asyncio.Future[float] = loop.create_future()
                reader = (LeanReader if self.lean else Reader)(self, ready)
                if isinstance(reader, LeanReader):
                    reader.sock = sock
                await loop.create_connection(lambda: reader, sock=sock)  # type: ignore[arg-type,return-value]
                at = await ready
            self.readers.append(reader)
            self.connect_times.append(at - t0)
        except TimeoutError:
            self.failures["timeout"] += 1
            self._drop(reader, sock)
        except (OSError, ConnectionError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.failures[reason[:60]] += 1
            self._drop(reader, sock)

    @staticmethod
    def _drop(reader: Reader | None, sock: socket.socket) -> None:
        if reader is not None and reader.transport is not None:
            reader.abort()
        else:
            sock.close()

    def go_raw(self) -> None:
        """--lean: take the readers' sockets off the event loop and watch them with one
        epoll of our own, drained by a single loop callback: one callback per batch of ready
        sockets, each read with recv_into() into one shared buffer, instead of a callback,
        a fresh bytes object and a data_received() per socket."""
        self.epoll = select.epoll()
        self.raw: dict[int, LeanReader] = {}
        self.rbuf = bytearray(1 << 18)
        for reader in self.readers:
            if not isinstance(reader, LeanReader) or reader.sock is None or reader.closed:
                continue
            reader.transport.pause_reading()  # type: ignore[union-attr]
            fd = reader.sock.fileno()
            self.raw[fd] = reader
            self.epoll.register(fd, select.EPOLLIN)
        asyncio.get_running_loop().add_reader(self.epoll.fileno(), self.drain)

    def drain(self) -> None:
        """Read every ready socket once (level-triggered: what is left comes back)."""
        rbuf, raw, clock = self.rbuf, self.raw, time.monotonic
        for fd, _ in self.epoll.poll(0):
            reader = raw.get(fd)
            if reader is None:
                continue
            try:
                n = reader.sock.recv_into(rbuf)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                n = 0
            if n and not reader.transport.is_closing():  # type: ignore[union-attr]
                reader.feed(rbuf, n, clock())
            else:  # EOF or error: give it back to asyncio, which reports the loss
                del raw[fd]
                self.epoll.unregister(fd)
                if n == 0 and not reader.transport.is_closing():  # type: ignore[union-attr]
                    reader.transport.resume_reading()  # type: ignore[union-attr]

    def stop_raw(self) -> None:
        """Stop the epoll drain (the readers stay paused until they are aborted)."""
        epoll = getattr(self, "epoll", None)
        if epoll is not None and not epoll.closed:
            asyncio.get_running_loop().remove_reader(epoll.fileno())
            epoll.close()

    def delivered(self) -> int:
        """Return the deliveries counted so far."""
        return self.lean_got if self.lean else sum(self.counts.values())

    def close_all(self) -> None:
        """Abort every reader's connection."""
        for reader in self.readers:
            reader.abort()


class Progress:
    """A one-line progress report on stderr, at most every half second (every 2 s off a tty)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.t0 = time.monotonic()

    def show(self, text: str, force: bool = False) -> None:
        """Show `text` if enough time has passed since the last line."""
        now = time.monotonic()
        if not force and now - self.last < (0.5 if self.tty else 2.0):
            return
        self.last = now
        line = f"[{self.label}] {text} ({now - self.t0:5.1f}s)"
        sys.stderr.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        sys.stderr.flush()

    def end(self, text: str) -> None:
        """Finish the line."""
        self.show(text, force=True)
        if self.tty:
            sys.stderr.write("\n")


# -- one measurement -------------------------------------------------------------------------


async def measure(target: Target, args: argparse.Namespace, deadline: float) -> dict[str, Any]:
    """Run the storm, idle and publish phases against one target; return its results."""
    progress = Progress(target.name)
    result: dict[str, Any] = {"server": target.name, **target.info, "readers": args.readers}

    # Warm-up: the first writes pay for lazy imports and caches; measure the write CPU.
    before = target.server.cpu()
    for k in range(args.warmup):
        if k == 1:  # the first one pays for lazy imports: leave it out of the write cost
            before = target.server.cpu()
        status = await target.publish(target.first_seq)
        if status not in (200, 201):
            raise RuntimeError(f"{target.name}: warm-up publish answered {status}")
        target.first_seq += 1
    if args.warmup > 1:
        result["publish_cpu_ms_no_readers"] = round(
            cpu_delta(before, target.server.cpu()) / (args.warmup - 1) * 1000, 2
        )
    sources = [f"127.0.0.{2 + i}" for i in range(args.sources)]
    fleet = Fleet(target, sources, lean=args.lean)
    await asyncio.sleep(0.5)
    result["rss_base_mib"] = round(target.server.rss_kib() / 1024, 1)

    # 1. Connect storm: every reader at once.
    gc.collect()
    gc.freeze()
    cpu0 = target.server.cpu()
    busy0 = cpu_busy()
    t0 = time.monotonic()
    timeout = min(args.connect_timeout, deadline - t0)
    tasks = [asyncio.ensure_future(fleet.connect_one(i, t0, timeout)) for i in range(args.readers)]
    while True:
        finished = sum(task.done() for task in tasks)
        progress.show(
            f"connect storm {len(fleet.readers)}/{args.readers} "
            f"failed {sum(fleet.failures.values())}"
        )
        if finished == len(tasks):
            break
        await asyncio.sleep(0.1)
    storm_s = time.monotonic() - t0
    storm_cpu = cpu_delta(cpu0, target.server.cpu())
    storm_foreign = foreign_pct(busy0, cpu_busy(), args.server_cpus, storm_cpu, storm_s)
    connected = len(fleet.readers)
    progress.end(f"connected {connected}/{args.readers}, failed {dict(fleet.failures)}")
    times = sorted(fleet.connect_times)
    result.update(
        connected=connected,
        failed=args.readers - connected,
        failures=dict(fleet.failures),
        connect_all_s=round(times[-1], 3) if connected == args.readers else None,
        connect_phase_s=round(storm_s, 3),
        connect_p50_s=_round(percentile(times, 50), 3),
        connect_p99_s=_round(percentile(times, 99), 3),
        connect_cpu_ms_per_reader=round(storm_cpu / max(1, connected) * 1000, 3),
        connect_foreign_cpu_pct=storm_foreign,
    )

    # 2. Idle: let the storm settle, then memory and idle CPU.
    cpu1 = target.server.cpu()
    await asyncio.sleep(args.settle)
    idle_cpu = cpu_delta(cpu1, target.server.cpu())
    rss = target.server.rss_kib()
    result.update(
        rss_idle_mib=round(rss / 1024, 1),
        rss_per_reader_kib=round((rss - result["rss_base_mib"] * 1024) / max(1, connected), 2),
        idle_cpu_pct=round(idle_cpu / args.settle * 100, 1),
        server_pids=target.server.pids(),
    )

    # 3. Publish M updates, `interval` apart; readers count what arrives.
    # Every reader that got its hello is owed every update: one the server has dropped
    # since counts as missing them all.
    alive = list(fleet.readers)
    dropped_before = sum(r.closed for r in alive)
    seqs = list(range(target.first_seq, target.first_seq + args.updates))
    fleet.expected = set(seqs)
    fleet.lean_updates, fleet.lean_last_seq = len(seqs), seqs[-1] if seqs else 0
    fleet_total = len(alive) * len(seqs)
    fleet.remaining = fleet_total - dropped_before * len(seqs)
    if fleet.remaining <= 0:
        fleet.done.set()
    published: dict[int, float] = {}
    acked: dict[int, float] = {}
    statuses: dict[int, int] = {}
    if args.lean:
        fleet.go_raw()
    gc.disable()
    client_cpu0 = time.process_time()
    client_times0 = os.times()
    cpu2 = target.server.cpu()
    busy2 = cpu_busy()
    start = time.monotonic()
    try:
        for k, seq in enumerate(seqs):
            delay = start + k * args.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() > deadline:
                raise TimeoutError("total run timeout while publishing")
            published[seq] = time.monotonic()
            try:
                statuses[seq] = await asyncio.wait_for(target.publish(seq), args.update_timeout)
                acked[seq] = time.monotonic()
            except (TimeoutError, OSError) as exc:
                statuses[seq] = -1  # counted under publish_statuses; its deliveries are missed
                log(f"[{target.name}] publish {seq} failed: {exc!r}")
            got = fleet.delivered()
            progress.show(f"published {k + 1}/{len(seqs)}, deliveries {got}/{fleet_total}")
        wait = min(args.update_timeout, max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fleet.done.wait(), wait)
        end = time.monotonic()
        cpu3 = target.server.cpu()
        server_cpu = cpu_delta(cpu2, cpu3)
        busy3 = cpu_busy()
        client_cpu = time.process_time() - client_cpu0
        client_times = os.times()
    finally:
        fleet.stop_raw()
        gc.enable()
        gc.unfreeze()
    progress.end(f"published {len(published)}, deliveries {fleet.delivered()}")

    # 4. Tally.
    latencies: list[float] = []
    last_receipt = start
    missed = duplicated = 0
    per_update: dict[int, list[float]] = {seq: [] for seq in seqs}
    for reader in alive:
        if isinstance(reader, LeanReader):  # the n-th frame is update n, at its buffer's time
            missed += max(0, len(seqs) - reader.n)
            duplicated += max(0, reader.n - len(seqs))
            done = 0
            for upto, at in reader.marks:
                for seq in seqs[done : min(upto, len(seqs))]:
                    lat = at - published[seq]
                    latencies.append(lat)
                    per_update[seq].append(lat)
                    last_receipt = max(last_receipt, at)
                done = upto
            continue
        duplicated += reader.dups
        for seq in seqs:
            at = reader.got.get(seq)
            if at is None:
                missed += 1
                continue
            lat = at - published[seq]
            latencies.append(lat)
            per_update[seq].append(lat)
            last_receipt = max(last_receipt, at)
    latencies.sort()
    # Fan-out spread: each delivery's lag behind the first reader to get the same update,
    # which leaves out the publish path (HTTP + database for liveblog).
    spread = sorted(
        lat - min(per_update[seq]) for seq in seqs if per_update[seq] for lat in per_update[seq]
    )
    deliveries = len(latencies)
    span = max(1e-9, last_receipt - start)
    result.update(
        updates=len(seqs),
        expected_deliveries=len(alive) * len(seqs),
        deliveries=deliveries,
        missed=missed,
        duplicated=duplicated,
        corrupt=fleet.corrupt,
        unexpected=fleet.unexpected,
        lost_connections=fleet.lost,
        dropped_before_publish=dropped_before,
        close_codes={str(k): v for k, v in fleet.closes.items()},
        publish_statuses=dict(Counter(statuses.values())),
        frame_bytes=fleet.frame_bytes,
        latency_ms={
            "p50": _ms(percentile(latencies, 50)),
            "p90": _ms(percentile(latencies, 90)),
            "p99": _ms(percentile(latencies, 99)),
            "max": _ms(latencies[-1] if latencies else None),
            "mean": _ms(sum(latencies) / deliveries if deliveries else None),
        },
        spread_ms={
            "p50": _ms(percentile(spread, 50)),
            "p99": _ms(percentile(spread, 99)),
            "max": _ms(spread[-1] if spread else None),
        },
        publish_ack_ms={
            "p50": _ms(percentile(sorted(acked[s] - published[s] for s in acked), 50)),
            "max": _ms(max((acked[s] - published[s] for s in acked), default=None)),
        },
        per_update=[
            {
                "seq": seq,
                "delivered": len(per_update[seq]),
                "p50_ms": _ms(percentile(sorted(per_update[seq]), 50)),
                "max_ms": _ms(max(per_update[seq], default=None)),
                "ack_ms": _ms(acked[seq] - published[seq] if seq in acked else None),
            }
            for seq in seqs
        ],
        publish_phase_s=round(end - start, 3),
        # Other processes' CPU time on the server's (and the client's) cores meanwhile: a
        # busy machine skews the numbers; compare runs only when these are near 0.
        foreign_cpu_pct_server_cores=foreign_pct(
            busy2, busy3, args.server_cpus, server_cpu, end - start
        ),
        foreign_cpu_pct_client_cores=foreign_pct(
            busy2, busy3, args.client_cpus, client_cpu, end - start
        ),
        softirq_pct_server_cores=foreign_pct(
            busy2, busy3, args.server_cpus, 0.0, end - start, "-irq"
        ),
        softirq_pct_client_cores=foreign_pct(
            busy2, busy3, args.client_cpus, 0.0, end - start, "-irq"
        ),
        server_cpu_s=round(server_cpu, 3),
        server_cpu_per_worker_s={
            str(pid): round(cpu3.get(pid, 0) - cpu2.get(pid, 0), 3) for pid in cpu3
        },
        cpu_per_delivery_us=round(server_cpu / deliveries * 1e6, 2) if deliveries else None,
        deliveries_per_s=round(deliveries / span),
        deliveries_per_server_cpu_s=round(deliveries / server_cpu) if server_cpu else None,
        client_cpu_s=round(client_cpu, 3),
        client_cpu_per_delivery_us=round(client_cpu / deliveries * 1e6, 2) if deliveries else None,
        client_cpu_user_s=round(client_times.user - client_times0.user, 3),
        client_cpu_system_s=round(client_times.system - client_times0.system, 3),
        client="lean" if args.lean else "full",
        latency_quantiles_ms=[_ms(percentile(latencies, q / 10)) for q in range(1, 1001)]
        if latencies
        else [],
    )
    fleet.close_all()
    await asyncio.sleep(0.5)
    return result


def start_profilers(
    args: argparse.Namespace, name: str, target: Target
) -> list[subprocess.Popen[bytes]]:
    """With --profile, run `py-spy record` on each server worker (on the client's CPUs)."""
    if not args.profile:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists() and not shutil.which(spy):
        log("py-spy is not installed: no profile")
        return []
    args.out.mkdir(parents=True, exist_ok=True)
    procs = []
    for pid in target.server.workers():
        for fmt, ext in (("flamegraph", "svg"), ("raw", "txt")):
            cmd = ["taskset", "-c", args.client_cpus] if args.client_cpus else []
            cmd += [spy, "record", "--pid", str(pid), "--rate", "100", "--format", fmt]
            cmd += ["-o", str(args.out / f"profile-{name}-{pid}.{ext}")]
            cmd += ["--duration", str(int(args.total_timeout))]
            # Native stacks need the process stopped for each sample, which perturbs it a
            # lot; Python stacks are sampled without stopping it.
            cmd.append("--native" if args.profile == "native" else "--nonblocking")
            procs.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
    time.sleep(1.0)  # let py-spy attach before the storm
    return procs


def stop_profilers(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop py-spy with SIGINT (it writes its output then), by PID."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# -- the run ---------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """Describe the machine and the software versions."""
    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    with contextlib.suppress(OSError):
        info["cpu"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    with contextlib.suppress(OSError, StopIteration):
        info["mem_gib"] = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(ROOT)]
        info["git_head"] = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "liveblog"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split("\n")
        info["liveblog_uncommitted_files"] = len([line for line in dirty if line.strip()])
    from importlib.metadata import PackageNotFoundError, version

    for package in ("gunicorn", "gevent", "websockets", "flask-sock", "simple-websocket"):
        with contextlib.suppress(PackageNotFoundError):
            info[package] = version(package)
    return info


def table(results: list[dict[str, Any]]) -> str:
    """Return the Markdown table of the results, one line per server."""
    head = (
        "| server | workers | broker | readers | connected / failed | all connected (s) "
        "| idle RSS (MiB) | KiB/reader | p50 (ms) | p99 (ms) | max (ms) | missed | dup "
        "| CPU/delivery (µs) | deliveries/s | other load (%) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"| {r['server']} | error: {r['error']} |")
            continue
        lat = r["latency_ms"]
        dropped = f" (+{r['lost_connections']} dropped)" if r.get("lost_connections") else ""
        lines.append(
            f"| {r['server']} | {r.get('workers', 1)} | {r.get('broker', '-')} | {r['readers']} "
            f"| {r['connected']} / {r['failed']}{dropped} | {r['connect_all_s'] or 'n/a'} "
            f"| {r['rss_idle_mib']} | {r['rss_per_reader_kib']} | {lat['p50']} | {lat['p99']} "
            f"| {lat['max']} | {r['missed']} | {r['duplicated']} | {r['cpu_per_delivery_us']} "
            f"| {r['deliveries_per_s']} | {r.get('foreign_cpu_pct_server_cores')}"
            f" / {r.get('foreign_cpu_pct_client_cores')} |"
        )
    return head + "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]], path: Path, title: str) -> str | None:
    """Draw the latency CDF and per-update p50/max; return a note if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot"
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for index, r in enumerate(results):
        q = r.get("latency_quantiles_ms") or []
        if not q:
            continue
        color = f"C{index}"
        label = f"{r['server']} ({r.get('workers', 1)}w)"
        left.plot(q, [i / 10 for i in range(1, len(q) + 1)], color=color, label=label)
        seqs = [u["seq"] - r["per_update"][0]["seq"] + 1 for u in r["per_update"]]
        p50 = [u["p50_ms"] for u in r["per_update"]]
        right.plot(seqs, p50, color=color, marker="o", label=f"{label} p50")
        top = [u["max_ms"] for u in r["per_update"]]
        right.plot(seqs, top, color=color, ls="--", label=f"{label} max")
    left.set_xscale("log")
    left.set_xlabel("publish → receipt latency (ms, log)")
    left.set_ylabel("percent of deliveries")
    left.grid(True, which="both", alpha=0.3)
    left.legend()
    right.set_xlabel("update #")
    right.xaxis.get_major_locator().set_params(integer=True)
    right.set_ylabel("latency (ms)")
    right.grid(True, alpha=0.3)
    if right.lines:
        right.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def wait_quiet(limit_s: float, threshold_pct: float = 15.0) -> float | None:
    """Wait (at most limit_s) until the machine is nearly idle; return its last busy %."""
    deadline = time.monotonic() + limit_s
    pct = None
    while True:
        before = cpu_busy()
        time.sleep(1.0)
        after = cpu_busy()
        cpus = [name for name in after if not name.endswith("-irq")]
        pct = sum(after[n] + after[f"{n}-irq"] - before[n] - before[f"{n}-irq"] for n in cpus)
        pct = round(pct / max(1, len(cpus)) * 100, 1)
        if pct < threshold_pct or time.monotonic() > deadline:
            return pct
        log(f"machine busy ({pct}% CPU): waiting for it to quiet down")
        time.sleep(4.0)


def noise(result: dict[str, Any]) -> float:
    """Return how much other work shared the cores during a result's publish phase."""
    return (result.get("foreign_cpu_pct_server_cores") or 0.0) + (
        result.get("foreign_cpu_pct_client_cores") or 0.0
    )


async def run_all(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[Any]]:
    """Measure every requested server, one after the other, `--repeat` rounds, within the
    total timeout; return the quietest round's result per server, and every round's."""
    deadline = time.monotonic() + args.total_timeout
    run = uuid.uuid4().hex[:8]
    rounds: list[list[dict[str, Any]]] = []
    frame_bytes: int | None = None
    for number in range(args.repeat):
        results: list[dict[str, Any]] = []
        rounds.append(results)
        for name in args.servers:
            if time.monotonic() > deadline:
                results.append({"server": name, "error": "total run timeout before start"})
                continue
            if args.repeat > 1:
                log(f"-- round {number + 1}/{args.repeat}: {name}")
            result = await run_one(args, name, f"{run}{number}", frame_bytes, deadline)
            if name == "liveblog" and result.get("frame_bytes"):
                frame_bytes = result["frame_bytes"]
            result["round"] = number + 1
            results.append(result)
    best = []
    for index in range(len(args.servers)):
        candidates = [r[index] for r in rounds if "error" not in r[index]]
        if not candidates:
            best.append(rounds[-1][index])
            continue
        # Of the rounds about as quiet as the quietest, the one with the median p99.
        quiet = min(noise(r) for r in candidates) + 5.0
        calm = sorted(
            (r for r in candidates if noise(r) <= quiet),
            key=lambda r: r["latency_ms"]["p99"] or 0.0,
        )
        best.append(calm[(len(calm) - 1) // 2])
    return best, rounds


async def run_one(
    args: argparse.Namespace, name: str, run: str, frame_bytes: int | None, deadline: float
) -> dict[str, Any]:
    """Start one server, measure it, stop it; return its results (or the error)."""
    busy = wait_quiet(args.wait_quiet) if args.wait_quiet else None
    workdir = Path(tempfile.mkdtemp(prefix=f"liveblog-bench-{name}-"))
    target: Target | None = None
    try:
        if name == "liveblog":
            target = start_liveblog(args, workdir, run)
        else:
            target = start_reference(args, workdir, run)
            target.payload_bytes = frame_bytes or args.payload_bytes  # type: ignore[attr-defined]
            await target.open_control()  # type: ignore[attr-defined]
        log(f"[{name}] serving on port {target.port}, pids {target.server.pids()}")
        spies = start_profilers(args, name, target)
        try:
            result = await measure(target, args, deadline)
        finally:
            stop_profilers(spies)
        result["machine_busy_pct_before"] = busy
        return result
    except Exception as exc:  # noqa: BLE001 - report it and go on with the next server
        log(f"[{name}] failed: {exc!r}")
        logfile = workdir / f"{name}.log"
        if logfile.exists():
            log(logfile.read_text(errors="replace")[-3000:])
        return {"server": name, "error": repr(exc)[:300]}
    finally:
        if target is not None:
            target.close()
        logfile = workdir / f"{name}.log"
        if logfile.exists():  # keep the server's own log beside the results
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(logfile, args.out / f"{name}-server.log")
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="WebSocket fan-out benchmark: liveblog vs a websockets.broadcast() reference."
    )
    parser.add_argument("--readers", type=int, default=1000, help="N readers (connect storm)")
    parser.add_argument("--updates", type=int, default=20, help="M updates to publish")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between updates")
    parser.add_argument("--servers", default="liveblog,reference")
    parser.add_argument("--workers", type=int, default=1, help="liveblog gunicorn workers")
    parser.add_argument("--broker", default="", help="liveblog broker URL (redis://...)")
    parser.add_argument(
        "--db", default="sqlite", help="sqlite, or a PostgreSQL admin URL for a throwaway DB"
    )
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    parser.add_argument("--server-cpus", default="0", help="taskset list for the servers")
    parser.add_argument("--client-cpus", default="1", help="CPUs for this (client) process")
    parser.add_argument("--no-pin", action="store_true", help="pin nothing")
    parser.add_argument("--sources", type=int, default=0, help="client source IPs (0: auto)")
    parser.add_argument("--warmup", type=int, default=3, help="updates before the readers")
    parser.add_argument(
        "--lean",
        action="store_true",
        help="readers count frames from their headers (n-th frame = update n) and decode "
        "only the last: a cheaper client, for measuring servers faster than the default one",
    )
    parser.add_argument("--settle", type=float, default=2.0, help="idle seconds after connect")
    parser.add_argument("--body-bytes", type=int, default=280, help="liveblog post body size")
    parser.add_argument(
        "--payload-bytes", type=int, default=640, help="reference frame size if liveblog not run"
    )
    parser.add_argument(
        "--profile",
        choices=["", "python", "native"],
        default="",
        help="py-spy record each server worker into --out (python or native stacks)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds; the table shows, of each server's quiet rounds, the median-p99 one",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="before each server, wait up to this many seconds for an idle machine",
    )
    parser.add_argument(
        "--liveblog-src",
        type=Path,
        default=None,
        help="experiments: a directory holding a modified copy of the liveblog package",
    )
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--update-timeout", type=float, default=30.0)
    parser.add_argument("--total-timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - {"liveblog", "reference"}
    if unknown:
        parser.error(f"unknown servers: {sorted(unknown)}")
    if args.workers > 1 and not args.broker:
        parser.error("--workers above 1 needs --broker redis://...")
    if args.sources <= 0:
        args.sources = max(1, -(-args.readers // 20000))
    if args.no_pin or (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        args.server_cpus = None
        args.client_cpus = None
    if args.out is None:
        args.out = BENCH / "results" / f"{datetime.now(UTC):%Y-%m-%d}-N{args.readers}"
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write results.json, results.md and latency.png under --out."""
    args = parse_args(argv)
    limit = raise_open_file_limit()
    if limit < args.readers + 256:
        log(f"warning: open-file limit {limit} is below readers + 256")
    if args.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    args.out.mkdir(parents=True, exist_ok=True)
    command = " ".join([Path(sys.executable).name, *sys.argv]) if argv is None else str(argv)
    started = time.monotonic()
    results, rounds = asyncio.run(run_all(args))
    report: dict[str, Any] = {
        "command": command,
        "machine": machine_info(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "wall_s": round(time.monotonic() - started, 1),
        "results": results,
    }
    if args.repeat > 1:
        report["rounds"] = [
            [{k: v for k, v in r.items() if k != "latency_quantiles_ms"} for r in one]
            for one in rounds
        ]
    ok = [r for r in results if "error" not in r]
    ref = next((r for r in ok if r["server"] == "reference"), None)
    lb = next((r for r in ok if r["server"] == "liveblog"), None)
    if ref and lb and ref["latency_ms"]["p99"] and ref["cpu_per_delivery_us"]:
        report["liveblog_vs_reference"] = {
            "p99_ratio": round(lb["latency_ms"]["p99"] / ref["latency_ms"]["p99"], 2),
            "cpu_per_delivery_ratio": round(
                lb["cpu_per_delivery_us"] / ref["cpu_per_delivery_us"], 2
            ),
            "rss_per_reader_ratio": round(lb["rss_per_reader_kib"] / ref["rss_per_reader_kib"], 2)
            if ref["rss_per_reader_kib"]
            else None,
        }
    title = f"{args.readers} readers, {args.updates} updates every {args.interval}s"
    note = plot(results, args.out / "latency.png", title)
    if note:
        report["plot"] = note
        log(note)
    (args.out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    md = table(results)
    (args.out / "results.md").write_text(md)
    print(md, end="")
    if "liveblog_vs_reference" in report:
        print(f"liveblog vs reference: {report['liveblog_vs_reference']}")
    return 0 if ok and len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
