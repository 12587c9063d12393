"""Experiment: what gunicorn's gevent worker alone costs per WebSocket handshake.

The floor under liveblog's handshake (issue 14, item 1). A bare WSGI callable (no Flask,
no flask-sock, no admission, no hub) answers each upgrade with the 101 and a hello frame
and keeps the socket, under gunicorn's gevent worker with `liveblog serve`'s settings.
`bench/reference.py` (asyncio + websockets) gets the same storm. The readers are raw
asyncio sockets on the other core; each sends the upgrade and waits for the hello.
Reported: server CPU (user + system, every server process) per handshake, and the ratio.

    .venv/bin/python bench/experiments/bare_upgrade.py --readers 5000 --rounds 3

Servers are stopped by PID whatever happens; every connection has a timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCH))

from procs import cpu_seconds, raise_open_file_limit  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HELLO = b'{"type":"hello","last_seq":0}'
HELLO_FRAME = bytes((0x81, len(HELLO))) + HELLO
KEPT: list[socket.socket] = []  # the bare server's parked connections


def app(environ: dict, start_response):  # type: ignore[no-untyped-def,type-arg]
    """The bare server: answer an upgrade with 101 + hello and keep the socket."""
    if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]
    sock = environ["gunicorn.socket"]
    key = environ["HTTP_SEC_WEBSOCKET_KEY"].encode()
    accept = base64.b64encode(hashlib.sha1(key + GUID, usedforsecurity=False).digest())
    sock.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + HELLO_FRAME
    )
    KEPT.append(socket.socket(fileno=sock.detach()))
    raise StopIteration  # gunicorn: the connection is not an HTTP answer


def start(kind: str, port: int) -> subprocess.Popen[bytes]:
    """Start the bare gunicorn server or the websockets reference, pinned to CPU 0."""
    if kind == "bare":
        here = str(Path(__file__).parent)
        cmd = [
            sys.executable, "-m", "gunicorn", "bare_upgrade:app", "--chdir", here,
            "-k", "gevent", "--worker-connections", "20000", "--backlog", "4096",
            "--keep-alive", "5", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
        ]  # fmt: skip
    else:
        cmd = [sys.executable, str(BENCH / "reference.py"), "--port", str(port)]
    proc = subprocess.Popen(["taskset", "-c", "0", *cmd], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(1.0)  # let gunicorn's worker boot behind its master
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{kind} did not start")


def tree(pid: int) -> list[int]:
    """Return the pid and its children's pids."""
    found = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for kid in kids:
        found.extend(tree(int(kid)))
    return found


async def reader(port: int, n: int, writers: list[asyncio.StreamWriter]) -> bool:
    """Open one WebSocket by hand; return True once its hello has arrived."""
    source = f"127.0.0.{2 + n % 8}"
    try:
        r, w = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 30
        )
        key = base64.b64encode(os.urandom(16)).decode()
        w.write(
            f"GET /stories/bench/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
        frame = await asyncio.wait_for(r.readexactly(2), 30)
        await asyncio.wait_for(r.readexactly(frame[1] & 0x7F), 30)
        writers.append(w)
        return head.startswith(b"HTTP/1.1 101")
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return False


async def storm(port: int, readers: int) -> tuple[int, list[asyncio.StreamWriter]]:
    """Connect every reader at once; return how many got their hello, and the writers."""
    writers: list[asyncio.StreamWriter] = []
    done = await asyncio.gather(*(reader(port, n, writers) for n in range(readers)))
    return sum(done), writers


def measure(kind: str, port: int, readers: int) -> tuple[float, int]:
    """Return (server CPU ms per handshake, readers connected) for one storm."""
    proc = start(kind, port)
    try:
        pids = tree(proc.pid)
        before = sum(cpu_seconds(p) for p in pids)
        loop = asyncio.new_event_loop()
        ok, writers = loop.run_until_complete(storm(port, readers))
        after = sum(cpu_seconds(p) for p in tree(proc.pid))
        for w in writers:
            w.close()
        loop.close()
        return (after - before) / max(1, ok) * 1000, ok
    finally:
        for pid in reversed(tree(proc.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)


def main() -> None:
    """Alternate the two servers for --rounds rounds and print each round's ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()
    raise_open_file_limit()
    os.sched_setaffinity(0, {1})
    for n in range(1, args.rounds + 1):
        bare, bare_ok = measure("bare", args.port, args.readers)
        ref, ref_ok = measure("reference", args.port + 1, args.readers)
        print(
            f"round {n}: bare gunicorn {bare:.3f} ms ({bare_ok} ok), "
            f"websockets {ref:.3f} ms ({ref_ok} ok), ratio {bare / ref:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
