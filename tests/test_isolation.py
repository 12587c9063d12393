"""Isolation, against a real `liveblog serve`: heavy pages/API work never starves the readers.

The load is 20 clients publishing bleach-heavy posts (as heavy as the bounds allow) at
once. While it is still running, the live process answers `/healthz` and WebSocket pings;
when it is over, no process was replaced, readers stayed connected and got every update
once. (Speed goes to bench/.)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websocket
from servers import Reader, Server, api, prepare, server_env, wait_until
from test_live_limits import descendants

pytestmark = pytest.mark.slow

HEAVY = "<p>" + "<b>k</b> " * 990 + "</p>"  # about 0.1 s of bleach, within the bounds


def story(server: Server, token: str, slug: str) -> None:
    """Create a story."""
    api(
        server,
        token,
        "POST",
        "/api/v1/stories",
        {"title": slug, "slug": slug, "language": "id", "timezone": "Asia/Jakarta"},
    )


def healthz(server: Server) -> int:
    """Return /healthz's status, waiting at most 5 s."""
    try:
        with urllib.request.urlopen(server.base + "/healthz", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_readers_and_healthz_are_served_while_the_app_is_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    token = prepare(url)
    server = Server(server_env(tmp_path, url)).start()
    readers: list[Reader] = []
    try:
        story(server, token, "dibaca")
        story(server, token, "berat")
        api(server, token, "POST", "/api/v1/stories/dibaca/posts", {"body": "<p>satu</p>"})
        readers = [Reader(server.ws_url("dibaca")).start() for _ in range(3)]
        for reader in readers:
            reader.wait_for(1)
        pinger = websocket.create_connection(server.ws_url("dibaca", after=1), timeout=20)
        assert server.proc is not None
        processes = sorted(descendants(server.proc.pid))

        in_flight = [0]
        statuses: list[int] = []
        lock = threading.Lock()

        def heavy() -> None:
            for _ in range(5):
                try:
                    api(server, token, "POST", "/api/v1/stories/berat/posts", {"body": HEAVY})
                    status = 201
                except urllib.error.HTTPError as error:
                    status = error.code
                with lock:
                    statuses.append(status)
            with lock:
                in_flight[0] -= 1

        in_flight[0] = 20
        threads = [threading.Thread(target=heavy, daemon=True) for _ in range(20)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # let the load reach the app processes

        # The live process answers while the app processes are still busy.
        assert healthz(server) == 200
        assert in_flight[0] > 0, "the load ended before /healthz answered"
        pinger.ping(b"busy?")
        while True:
            opcode, data = pinger.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_PONG:
                break
        assert data == b"busy?"
        assert in_flight[0] > 0, "the load ended before the live process answered a ping"

        api(server, token, "POST", "/api/v1/stories/dibaca/posts", {"body": "<p>dua</p>"})
        for thread in threads:
            thread.join(120)
        for reader in readers:
            reader.wait_for(2)
        pinger.close()

        assert sorted(descendants(server.proc.pid)) == processes, "a process was replaced"
        assert "WORKER TIMEOUT" not in server.log.read_text()
        assert all(status < 500 for status in statuses), statuses
        for reader in readers:
            assert reader.seqs() == [1, 2]
            assert reader.connects == 1
            assert reader.closes == []
    finally:
        for reader in readers:
            reader.close()
        server.stop()


def test_readers_stay_when_the_app_side_dies_and_comes_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    token = prepare(url)
    server = Server(server_env(tmp_path, url)).start()
    reader = None
    try:
        story(server, token, "tetap")
        reader = Reader(server.ws_url("tetap")).start()
        assert server.proc is not None
        app_master = next(
            pid
            for pid in descendants(server.proc.pid)
            if b"liveblog.appserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        os.kill(app_master, signal.SIGKILL)
        wait_until(lambda: healthz(server) == 503, 10, "healthz to see the app side gone")
        wait_until(lambda: healthz(server) == 200, 60, "the app side to come back")
        api(server, token, "POST", "/api/v1/stories/tetap/posts", {"body": "<p>kembali</p>"})
        reader.wait_for(1)
        assert reader.connects == 1
        assert reader.closes == []
    finally:
        if reader is not None:
            reader.close()
        server.stop()


def _raw(port: int, request: bytes) -> bytes:
    """Send one raw HTTP request and return the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_the_front_passes_bodies_on_and_refusals_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'front.db'}"
    token = prepare(url)
    server = Server(server_env(tmp_path, url)).start()
    try:
        story(server, token, "lewat")
        body = json.dumps({"body": "<p>lewat potongan</p>"}).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        answer = _raw(
            server.port,
            b"POST /api/v1/stories/lewat/posts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
        )
        assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
        big = json.dumps({"body": "<p>" + "x" * (3 * 2**20) + "</p>"}).encode()
        answer = _raw(
            server.port,
            b"POST /api/v1/stories/lewat/posts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(big) + big,
        )
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b'"too_large"' in answer
        head = _raw(
            server.port, b"HEAD /stories/lewat HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert head.startswith(b"HTTP/1.1 200")
        assert head.endswith(b"\r\n\r\n")  # headers only
        assert (
            api(server, token, "GET", "/api/v1/stories/lewat")["last_seq"] == 1
        )  # the chunked post, not the refused one
    finally:
        server.stop()
