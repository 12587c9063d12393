"""Shedding benchmark: more readers arrive than one live process takes; nobody gets an error.

This is a harness, not a test. It starts a real `liveblog serve` (SQLite, in-process
broker, pinned to CPU 0) with `LIVEBLOG_READER_CAPACITY` set to --capacity, and sends it
--arrivals readers over --arrive-seconds (the client pinned to CPU 1). Each reader behaves
as static/live.js does: it opens the WebSocket; when refused (503 + Retry-After) it polls
`/api/v1/stories/<slug>/events?after=<rounded>` every max-age (with the ETag of its last
copy, as a browser's cache would: 304 when current), asks the live URL for room after
Retry-After (±25 %), and goes back to the WebSocket when there is. Seqs apply once, in order.

Phases: arrivals; a quiet spell (no updates: what each poll and probe costs the server);
updates (--updates, --interval apart: delivery lag by way of WebSocket
and of polling, server CPU per poll); departures (--leave WebSocket readers hang up: how
many pollers take their places within --return-seconds); a last update that every reader
must have. Reported: readers reading (hello or first poll) within 1, 2, 5, 10 s of
arriving, errors by reason (must be 0), polls by answer, the origin's CPU for polling.

    .venv/bin/python bench/shedding.py --arrivals 20000 --capacity 10000 \\
        --out bench/results/2026-12-06-shedding

Every phase is bounded; the server is stopped by PID whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import socket
import struct
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from procs import cpu_busy, foreign_pct, log, ms, percentile, raise_open_file_limit
from report import machine_info
from servers import LiveblogTarget, start_liveblog

IP_BIND_ADDRESS_NO_PORT = 24
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
POLL_ROUND = 20  # as live.js: after rounded down, so pollers share URLs
PAGE = 100
LINGER_RST = struct.pack("ii", 1, 0)


class Conn(asyncio.Protocol):
    """One connection: an HTTP request, then (for a 101) WebSocket frames."""

    def __init__(self, visitor: Visitor | None, request: bytes, done: asyncio.Future[Any]):
        self.visitor = visitor
        self.request = request
        self.done = done
        self.buf = bytearray()
        self.head: tuple[int, dict[str, str]] | None = None
        self.transport: asyncio.Transport | None = None
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.head is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            del self.buf[: end + 4]
            self.head = (status, headers)
            if status == 101:
                self.upgraded = True
                if not self.done.done():
                    self.done.set_result((101, headers, b""))
        if self.upgraded:
            self._frames()
            return
        assert self.head is not None
        length = int(self.head[1].get("content-length", "0") or 0)
        if self.head[0] in (204, 304) or len(self.buf) >= length:
            if not self.done.done():
                self.done.set_result((self.head[0], self.head[1], bytes(self.buf[:length])))
            self.transport.abort()  # type: ignore[union-attr]

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            size, head = buf[1] & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    return
                size, head = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size, head = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < head + size:
                return
            opcode, payload = buf[0] & 0x0F, bytes(buf[head : head + size])
            del buf[: head + size]
            if opcode == 0x1 and self.visitor is not None:
                self.visitor.frame(payload)
            elif opcode == 0x9:
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)  # type: ignore[union-attr]
            elif opcode == 0x8:
                self.transport.abort()  # type: ignore[union-attr]
                return

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"closed before an answer: {exc}"))
            self.done.exception()  # mark it seen: a timed-out request no longer awaits it
        elif self.upgraded and self.visitor is not None:
            self.visitor.bench.open_files.release()
            self.visitor.socket_lost(self)


class Bench:
    """The shared state of one run: the target, the clock, the counters."""

    def __init__(self, target: LiveblogTarget, args: argparse.Namespace) -> None:
        self.target, self.args = target, args
        self.sources = [f"127.0.0.{2 + i}" for i in range(args.sources)]
        self.next_source = 0
        self.visitors: list[Visitor] = []
        self.errors: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()  # "<kind> <status>"
        self.published: dict[int, float] = {}  # seq -> publish time
        self.lags: dict[str, list[float]] = {"ws": [], "poll": []}
        self.max_age = args.max_age
        self.open_files = asyncio.Semaphore(args.client_files)
        self.client_errors: Counter[str] = Counter()  # the harness's own, not the server's
        self.slow_opens = 0  # upgrades not answered within --open-timeout: polled instead

    async def request(
        self, visitor: Visitor | None, raw: bytes, kind: str, timeout: float | None = None
    ) -> tuple[int, Any]:
        """Send one request on a new connection; return (status, headers, body) and the Conn."""
        loop = asyncio.get_running_loop()
        async with self.open_files:  # the client's own descriptor limit, not the server's
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError as exc:
                self.client_errors[f"{kind} {exc.strerror}"] += 1
                return 0, None
            sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RST)  # no TIME_WAIT
            self.next_source += 1
            sock.bind((self.sources[self.next_source % len(self.sources)], 0))
            sock.setblocking(False)
            done: asyncio.Future[Any] = loop.create_future()
            conn = Conn(visitor, raw, done)
            try:
                async with asyncio.timeout(timeout or self.args.request_timeout):
                    await loop.sock_connect(sock, (self.target.host, self.target.port))
                    await loop.create_connection(lambda: conn, sock=sock)
                    status, headers, body = await done
            except TimeoutError:
                if kind == "ws":  # as live.js: a socket that does not open in time -> poll
                    self.slow_opens += 1
                else:
                    self.errors[f"{kind} timeout"] += 1
                conn.transport.abort() if conn.transport else sock.close()
                return 0, None
            except OSError as exc:
                self.errors[f"{kind} {exc.strerror or type(exc).__name__}"[:60]] += 1
                sock.close()
                return 0, None
            if status == 101:  # the socket stays open: it keeps its descriptor
                await self.open_files.acquire()
        self.answers[f"{kind} {status}"] += 1
        return status, (headers, body, conn)

    def get(self, path: str, extra: str = "") -> bytes:
        host = f"{self.target.host}:{self.target.port}"
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n".encode()


class Visitor:
    """One reader's page, as live.js behaves."""

    def __init__(self, bench: Bench, last_seq: int) -> None:
        self.bench = bench
        self.last = last_seq
        self.arrived = 0.0
        self.reading_at: float | None = None
        self.mode = "none"  # "ws" | "poll"
        self.socket: Conn | None = None
        self.etag = ""
        self.fresh_until = 0.0
        self.returned_at: float | None = None
        self.dups = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        self.arrived = time.monotonic()
        attempt = 0
        while not STOP.is_set():
            if await self.open_socket():
                return
            if self.mode != "poll":
                self.mode = "poll"
                self.task = asyncio.ensure_future(self.poll_loop())
            wait = random.random() * min(30.0, 0.5 * 2**attempt)
            attempt = min(attempt + 1, 16)
            while not STOP.is_set():  # ask for room, honouring Retry-After
                await asyncio.sleep(wait)
                status, got = await self.bench.request(
                    None, self.bench.get(self.bench.target.path), "probe"
                )
                if status in (503, 429):
                    wait = int(got[0].get("retry-after", "20")) * (0.75 + random.random() / 2)
                    continue
                if status not in (204, 0):
                    self.bench.errors[f"probe {status}"] += 1
                break

    async def open_socket(self) -> bool:
        b = self.bench
        raw = b.get(
            f"{b.target.path}?after={self.last}",
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n",
        ).replace(b"Connection: close\r\n", b"", 1)
        status, got = await b.request(self, raw, "ws", b.args.open_timeout)
        if status == 101:
            self.socket = got[2]
            return True
        if status not in (503, 429, 0):
            b.errors[f"ws {status}"] += 1
        return False

    def frame(self, payload: bytes) -> None:
        if b'"hello"' in payload[:40]:
            if self.mode == "poll":
                self.returned_at = time.monotonic()
            self.mode = "ws"
            if self.task is not None:
                self.task.cancel()
            self.reached()
            return
        seq = json.loads(payload)["seq"]
        self.apply(seq, "ws")

    def socket_lost(self, conn: Conn) -> None:
        if conn is self.socket and not STOP.is_set() and not LEAVING.get(id(self)):
            self.mode = "lost"
            self.bench.errors["ws dropped by the server"] += 1

    def reached(self) -> None:
        if self.reading_at is None:
            self.reading_at = time.monotonic()

    def apply(self, seq: int, how: str) -> None:
        if seq <= self.last:
            self.dups += 1  # already applied: skipped, as live.js does
            return
        if seq != self.last + 1:
            self.bench.errors[f"gap via {how}"] += 1
            return
        self.last = seq
        at = self.bench.published.get(seq)
        if at is not None:
            self.bench.lags[how].append(time.monotonic() - at)

    async def poll_loop(self) -> None:
        b = self.bench
        slug = b.target.slug
        while self.mode == "poll" and not STOP.is_set():
            now = time.monotonic()
            if now >= self.fresh_until:  # else the browser's cache answers, no request
                after = self.last - self.last % POLL_ROUND
                tag = f"If-None-Match: {self.etag}\r\n" if self.etag else ""
                path = f"/api/v1/stories/{slug}/events?after={after}&limit={PAGE}"
                status, got = await b.request(None, b.get(path, tag), "poll")
                if status in (200, 304):
                    self.fresh_until = time.monotonic() + b.max_age
                    self.etag = got[0].get("etag", self.etag)
                    self.reached()
                    if status == 200:
                        for event in json.loads(got[1])["events"]:
                            if self.mode == "poll":
                                self.apply(event["seq"], "poll")
                elif status:
                    b.errors[f"poll {status}"] += 1
            await asyncio.sleep(b.max_age * (0.75 + random.random() / 2))


STOP = asyncio.Event()
LEAVING: dict[int, bool] = {}


async def publish(target: LiveblogTarget, seq: int) -> int:
    """Publish one update through the API; 0 when it could not be sent in 30 s."""
    try:
        async with asyncio.timeout(30):
            return await target.publish(seq)
    except (TimeoutError, OSError):
        return 0


def proc_cpu(target: LiveblogTarget) -> dict[str, float]:
    """Return CPU seconds of the live side and of the app side."""
    from procs import cpu_seconds

    out = {"live": 0.0, "app": 0.0}
    for pid in target.server.pids():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        out["live" if b"liveblog.server" in cmd or pid == target.server.pid else "app"] += (
            cpu_seconds(pid)
        )
    return out


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 3) for k in after}


async def run(args: argparse.Namespace, target: LiveblogTarget) -> dict[str, Any]:
    bench = Bench(target, args)
    seed = 0
    for _ in range(3):  # the page a reader arrives on was rendered after these
        seed += 1
        await publish(target, seed)
    t0 = time.monotonic()
    visitors = [Visitor(bench, seed) for _ in range(args.arrivals)]
    bench.visitors = visitors
    tasks = []
    for i, visitor in enumerate(visitors):  # arrivals spread evenly
        delay = t0 + args.arrive_seconds * i / args.arrivals - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(visitor.run()))
        if i % 2000 == 0:
            log(f"arrived {i}, reading {sum(v.reading_at is not None for v in visitors)}")
    await asyncio.sleep(args.settle)
    after_arrivals = {
        "ws": sum(v.mode == "ws" for v in visitors),
        "poll": sum(v.mode == "poll" for v in visitors),
        "none": sum(v.mode == "none" for v in visitors),
    }
    log(f"after arrivals: {after_arrivals}, errors {dict(bench.errors)}")

    # Quiet: no updates, so the server's work is the polls (and probes): their cost.
    answers_q, cpu_q, q0 = Counter(bench.answers), proc_cpu(target), time.monotonic()
    await asyncio.sleep(args.quiet_seconds)
    quiet_window = time.monotonic() - q0
    quiet_cpu = spent(cpu_q, proc_cpu(target))
    quiet = Counter({k: v - answers_q.get(k, 0) for k, v in bench.answers.items()})
    quiet_requests = sum(v for k, v in quiet.items() if k.startswith(("poll", "probe")))

    # Updates: delivery by socket and by polling, and what polling costs the origin.
    answers0, cpu0, busy0 = Counter(bench.answers), proc_cpu(target), cpu_busy()
    p0 = time.monotonic()
    seq = seed
    for _ in range(args.updates):
        seq += 1
        bench.published[seq] = time.monotonic()
        status = await publish(target, seq)
        if status != 201:
            bench.errors[f"publish {status}"] += 1
        await asyncio.sleep(args.interval)
    await asyncio.sleep(args.max_age * 2 + 1)
    window = time.monotonic() - p0
    cpu = spent(cpu0, proc_cpu(target))
    polls = Counter({k: v - answers0.get(k, 0) for k, v in bench.answers.items()})
    poll_requests = polls["poll 200"] + polls["poll 304"]
    busy1 = cpu_busy()
    other = {
        "server_cpu": foreign_pct(
            busy0, busy1, args.server_cpus, cpu["live"] + cpu["app"], window
        ),
        "client_cpu": foreign_pct(busy0, busy1, args.client_cpu, 0.0, window),
    }

    # Departures: WebSocket readers leave; pollers should take their places.
    leavers = [v for v in visitors if v.mode == "ws"][: args.leave]
    l0 = time.monotonic()
    for v in leavers:
        LEAVING[id(v)] = True
        v.mode = "gone"
        if v.socket is not None and v.socket.transport is not None:
            v.socket.transport.abort()
    await asyncio.sleep(args.return_seconds)
    returned = [v.returned_at - l0 for v in visitors if v.returned_at and v.returned_at > l0]

    # A last update everyone must have (departed readers aside).
    seq += 1
    bench.published[seq] = time.monotonic()
    if await publish(target, seq) != 201:
        bench.errors["last publish failed"] += 1
    staying = [v for v in visitors if v.mode != "gone"]
    final_wait = time.monotonic() + args.final_wait
    while time.monotonic() < final_wait and any(v.last < seq for v in staying):
        await asyncio.sleep(0.5)  # late is not lost: wait (bounded) for the slowest
    missed = sum(v.last < seq for v in staying)
    STOP.set()
    for task in tasks:
        task.cancel()
    for v in visitors:
        if v.task is not None:
            v.task.cancel()
        if v.socket is not None and v.socket.transport is not None:
            v.socket.transport.abort()

    waits = sorted(v.reading_at - v.arrived for v in visitors if v.reading_at)
    lag = {k: sorted(x) for k, x in bench.lags.items()}
    return {
        "arrivals": args.arrivals,
        "capacity": args.capacity,
        "reading_within_s": {str(n): sum(w <= n for w in waits) for n in (0.5, 1, 2, 5, 10)},
        "never_reading": args.arrivals - len(waits),
        "time_to_reading_ms": {
            "p50": ms(percentile(waits, 50)),
            "p99": ms(percentile(waits, 99)),
            "max": ms(waits[-1] if waits else None),
        },
        "after_arrivals": after_arrivals,
        "errors": dict(bench.errors),
        "client_errors": dict(bench.client_errors),
        "slow_opens_polled_instead": bench.slow_opens,
        "answers": dict(bench.answers),
        "quiet_phase": {
            "seconds": round(quiet_window, 2),
            "answers": dict(quiet),
            "requests_per_s": round(quiet_requests / quiet_window, 1),
            "server_cpu_s": quiet_cpu,
            "cpu_per_request_us": {
                k: round(1e6 * v / max(1, quiet_requests), 1) for k, v in quiet_cpu.items()
            },
        },
        "update_phase": {
            "seconds": round(window, 2),
            "updates": args.updates,
            "poll_requests": poll_requests,
            "polls_per_s": round(poll_requests / window, 1),
            "poll_answers": {k: v for k, v in polls.items() if k.startswith("poll")},
            "server_cpu_s": cpu,
            "cpu_per_poll_us": round(1e6 * (cpu["live"] + cpu["app"]) / max(1, poll_requests), 1),
            "other_load_pct": other,
        },
        "lag_ms": {
            k: {
                "n": len(x),
                "p50": ms(percentile(x, 50)),
                "p99": ms(percentile(x, 99)),
                "max": ms(x[-1] if x else None),
            }
            for k, x in lag.items()
        },
        "departures": {
            "left": len(leavers),
            "pollers_back_on_ws": len(returned),
            "within_s_p50_max": [
                round(percentile(sorted(returned), 50) or 0, 1),
                round(max(returned, default=0), 1),
            ],
        },
        "last_update_missed": missed,
        "duplicates_skipped": sum(v.dups for v in visitors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arrivals", type=int, default=20000)
    parser.add_argument("--capacity", type=int, default=10000)
    parser.add_argument("--arrive-seconds", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--quiet-seconds", type=float, default=10.0)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--leave", type=int, default=2000)
    parser.add_argument("--return-seconds", type=float, default=45.0)
    parser.add_argument("--retry-after", type=int, default=20)
    parser.add_argument("--max-age", type=int, default=3)
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--client-files", type=int, default=18000)
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--final-wait", type=float, default=60.0)
    parser.add_argument("--open-timeout", type=float, default=10.0)  # live.js's OPEN_TIMEOUT
    parser.add_argument("--total-timeout", type=float, default=600.0)
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--body-bytes", type=int, default=600)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    # What start_liveblog reads.
    args.db, args.broker, args.workers, args.liveblog_src = "sqlite", "", 1, None
    args.server_env = {
        "LIVEBLOG_READER_CAPACITY": str(args.capacity),
        "LIVEBLOG_SHED_RETRY_AFTER": str(args.retry_after),
        "LIVEBLOG_EVENTS_MAX_AGE": str(args.max_age),
        "LIVEBLOG_LOG_LEVEL": "WARNING",
    }
    raise_open_file_limit()
    import os

    if args.client_cpu:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpu.split(",")})
    workdir = Path(tempfile.mkdtemp(prefix="shedding-"))
    run_id = uuid.uuid4().hex[:8]
    target = start_liveblog(args, workdir, run_id)
    try:
        result = asyncio.run(asyncio.wait_for(run(args, target), args.total_timeout))
    finally:
        target.close()
        shutil.rmtree(workdir, ignore_errors=True)
    result["machine"] = machine_info()
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
