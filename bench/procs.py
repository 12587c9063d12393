"""Process plumbing for the benchmarks: ports, PIDs, CPU and memory readings, HTTP calls.

Everything here reads /proc or talks to 127.0.0.1; nothing here knows about liveblog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def ms(seconds: float | None) -> float | None:
    """Return seconds as milliseconds, rounded to 0.01 ms."""
    return None if seconds is None else round(seconds * 1000, 2)


def rounded(value: float | None, digits: int) -> float | None:
    """Round a value that may be missing."""
    return None if value is None else round(value, digits)


# -- the run ---------------------------------------------------------------------------------
