"""Real server processes and real WebSocket readers for the end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import websocket

from liveblog.accounts import create_token, create_user
from liveblog.cli import upgrade_database
from liveblog.db import Database

ROOT = Path(__file__).resolve().parent.parent
LIVEBLOG = str(Path(sys.executable).with_name("liveblog"))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Any, timeout: float, what: str) -> Any:
    """Poll `check()` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - not ready yet
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Server:
    """A `liveblog serve` process on its own port, ended by PID when the test is done."""

    def __init__(self, env: dict[str, str], workers: int = 1, port: int | None = None) -> None:
        self.env = env
        self.workers = workers
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(env["LIVEBLOG_INSTANCE_PATH"]) / f"serve-{self.port}.log"

    @property
    def base(self) -> str:
        """Return the server's HTTP base URL."""
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, slug: str, after: int = 0) -> str:
        """Return the live stream URL for a story."""
        return f"ws://127.0.0.1:{self.port}/stories/{slug}/live?after={after}"

    def start(self) -> Server:
        """Start the server and wait until /healthz answers."""
        cmd = [LIVEBLOG, "serve", "--port", str(self.port), "--workers", str(self.workers)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log, cwd=ROOT)
        try:
            wait_until(lambda: self.get("/healthz")[0] == 200, 60, f"server on {self.port}")
        except AssertionError:
            self.kill()  # a server that never came up is not left running
            raise
        return self

    def get(self, path: str) -> tuple[int, Any]:
        """GET a JSON path and return (status, body)."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def kill(self) -> None:
        """End the server at once (SIGKILL to every process of it)."""
        if self.proc and self.proc.poll() is None:
            for pid in _descendants(self.proc.pid):
                _signal(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop the server gracefully, or kill it if it does not stop in time."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def _children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in out.split()]


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for child in _children(pid):
        found.extend([child, *_descendants(child)])
    return found


def live_workers(top: int) -> list[int]:
    """Return the live side's gevent workers under a `liveblog serve` supervisor."""
    for pid in _descendants(top):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"liveblog.server" in cmdline:  # the first one found is the live master
            return _children(pid)
    return []


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def server_env(tmp_path: Path, database_url: str, broker_url: str = "") -> dict[str, str]:
    """Return the environment for a server process on the given database and broker."""
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBLOG_")}
    env.update(
        LIVEBLOG_INSTANCE_PATH=str(instance),
        LIVEBLOG_DATABASE_URL=database_url,
        LIVEBLOG_SECRET_KEY="test-secret",
        LIVEBLOG_BROKER_URL=broker_url,
    )
    return env


class Reader:
    """A WebSocket reader in a thread that records every frame it receives."""

    def __init__(self, url: str, *, reconnect: bool = False) -> None:
        self.url = url
        self._base, _, after = url.partition("?after=")
        self._after = int(after or 0)
        self.reconnect = reconnect
        self.events: list[dict[str, Any]] = []
        self.others: list[dict[str, Any]] = []
        self.closes: list[int] = []
        self.connects = 0
        self.pings = 0
        self._stop = threading.Event()
        self._ws: websocket.WebSocket | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Reader:
        """Connect and start reading."""
        self._thread.start()
        wait_until(lambda: self.connects > 0, 10, "reader to connect")
        return self

    @property
    def last_seq(self) -> int:
        """Return the highest seq received."""
        return self.events[-1]["seq"] if self.events else self._after

    def seqs(self) -> list[int]:
        """Return the seqs received, in arrival order."""
        return [e["seq"] for e in self.events]

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                ws = websocket.create_connection(f"{self._base}?after={self.last_seq}", timeout=2)
            except (OSError, websocket.WebSocketException):
                if not self.reconnect:
                    return
                time.sleep(0.2)
                continue
            self._ws = ws
            self.connects += 1
            try:
                self._read(ws)
            finally:
                ws.shutdown()
            if not self.reconnect:
                return
            time.sleep(0.1)

    def _read(self, ws: websocket.WebSocket) -> None:
        while not self._stop.is_set():
            try:
                opcode, data = ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            except (OSError, websocket.WebSocketException):
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closes.append(int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005)
                return
            if opcode == websocket.ABNF.OPCODE_PING:
                self.pings += 1
                ws.pong(data)
                continue
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            message = json.loads(data)
            (self.events if "seq" in message else self.others).append(message)

    def wait_for(self, seq: int, timeout: float = 20) -> None:
        """Wait until the reader has received `seq`."""
        wait_until(lambda: self.last_seq >= seq, timeout, f"seq {seq} at {self.url}")

    def close(self) -> None:
        """Stop reading and close the connection."""
        self._stop.set()
        if self._ws is not None:
            with contextlib.suppress(OSError, websocket.WebSocketException):
                self._ws.close(timeout=1)
        self._thread.join(5)


class RedisProcess:
    """A private redis-server on its own port, so a test may stop and restart it."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        """Start it and wait until it answers."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        wait_until(lambda: redis.Redis(port=self.port).ping(), 10, "private redis")
        return self

    def stop(self) -> None:
        """Kill it."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def prepare(database_url: str) -> str:
    """Migrate the database, add an editor and return the editor's API token."""
    upgrade_database(database_url)
    db = Database(database_url)
    try:
        name = f"ed{uuid.uuid4().hex[:6]}"
        create_user(db, name, "editor", None, "Editor")
        return create_token(db, name)
    finally:
        db.dispose()


def api(server: Server, token: str, method: str, path: str, body: Any = None) -> Any:
    """Call the write API of a running server."""
    request = urllib.request.Request(
        server.base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")
