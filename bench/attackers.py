"""The hostile half of bench/attacks.py: every attack of issue 9, at once, for a while.

Run as its own process (so its threads never share a core's loop with the measured
readers): `python bench/attackers.py --base http://127.0.0.1:PORT --token T ...`. It prints
one JSON object with what each attack sent and what came back. Every attack is bounded in
count and time and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
HEAVY = "<p>" + "<b>k</b> " * 990 + "</p>"  # accepted: about 0.1 s of bleach each


class Tally:
    """Thread-safe counts of answers per attack."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: dict[str, Counter[str]] = {}
        self.notes: dict[str, Any] = {}

    def add(self, attack: str, status: int | str) -> None:
        """Count one answer (an HTTP status, or a word for what happened)."""
        with self.lock:
            self.status.setdefault(attack, Counter())[str(status)] += 1

    def server_errors(self) -> int:
        """Return how many answers were 5xx, the shedding answers 503 left out."""
        return sum(
            n
            for counts in self.status.values()
            for code, n in counts.items()
            if code.isdigit() and 500 <= int(code) < 600 and code != "503"
        )


class Attacks:
    """The attacks against one server; each method runs in its own thread(s)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        parts = urlsplit(args.base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.tally = Tally()
        self.stop_at = time.monotonic() + args.duration

    def running(self) -> bool:
        """Say whether the attack window is still open."""
        return time.monotonic() < self.stop_at

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Make one HTTP request on a new connection; return status, headers, body."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.args.timeout)
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def guarded(self, attack: str, call: Callable[[], int | str]) -> None:
        """Run one attempt, counting its status or the exception that ended it."""
        try:
            self.tally.add(attack, call())
        except (OSError, http.client.HTTPException) as exc:
            self.tally.add(attack, type(exc).__name__)

    # -- 2: bleach bombs and amplification through the write API --------------------------

    def post_body(self, body: str) -> int:
        """POST a post to the attack story through the API."""
        status, _, _ = self.request(
            "POST",
            f"/api/v1/stories/{self.args.slug}/posts",
            json.dumps({"body": body}).encode(),
            {"Authorization": f"Bearer {self.args.token}", "Content-Type": "application/json"},
        )
        return status

    def bleach_bomb(self) -> None:
        """Send nested lists of 20 KB (about 2 s of bleach each before issue 9)."""
        for _ in range(self.args.bomb_rounds):
            if not self.running():
                return
            self.guarded("bleach_bomb", lambda: self.post_body("<ul><li>" * 2500))

    def amplification(self) -> None:
        """Send 20 KB of unclosed anchors (stored as 280 KB before issue 9)."""
        for _ in range(self.args.bomb_rounds):
            if not self.running():
                return
            self.guarded("amplification", lambda: self.post_body("<a>" * 6666))

    def heavy_posts(self) -> None:
        """Post, without pause, the heaviest body the sanitizer's bounds let through."""
        while self.running():
            self.guarded("heavy_post", lambda: self.post_body(HEAVY))

    # -- 3: a login flood against one user ---------------------------------------------------

    def login_form(self) -> tuple[str, str]:
        """Open the sign-in form; return its session cookie and CSRF token."""
        status, headers, body = self.request("GET", "/editor/login")
        match = CSRF.search(body)
        if status != 200 or match is None:
            raise OSError(f"sign-in form answered {status}")
        cookie = headers.get("set-cookie", "").split(";", 1)[0]
        return cookie, match.group(1).decode()

    def login_flood(self) -> None:
        """Send N wrong passwords for one user at the same moment, each from its own session."""
        forms: list[tuple[str, str]] = []
        for _ in range(self.args.logins):
            with contextlib.suppress(OSError, http.client.HTTPException):
                forms.append(self.login_form())
        self.tally.notes["login_forms"] = len(forms)
        barrier = threading.Barrier(len(forms) or 1)

        def attempt(cookie: str, token: str) -> None:
            body = f"username={self.args.user}&password=wrong-{os.urandom(4).hex()}"
            body += f"&csrf_token={token}"
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=30)
            self.guarded(
                "login",
                lambda: self.request("POST", "/editor/login", body.encode(), headers)[0],
            )

        threads = [threading.Thread(target=attempt, args=form) for form in forms]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.args.timeout + 30)

    # -- 4: WebSocket abuse -------------------------------------------------------------------

    def ws_open(self) -> socket.socket:
        """Open a WebSocket to the readers' story; raise if the upgrade is refused."""
        sock = socket.create_connection((self.host, self.port), timeout=self.args.timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /stories/{self.args.live_slug}/live HTTP/1.1\r\nHost: {self.host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = sock.recv(4096)
        if not head.startswith(b"HTTP/1.1 101"):
            sock.close()
            raise ConnectionRefusedError(head[:12].decode(errors="replace"))
        return sock

    def ws_big_message(self) -> None:
        """Announce a 512 MiB message and stream up to --big-mib of it."""

        def send() -> str:
            sock = self.ws_open()
            try:
                header = bytes((0x82, 0x80 | 127)) + struct.pack(">Q", 512 << 20) + b"\0" * 4
                sock.sendall(header)
                chunk = b"\0" * (1 << 16)
                sent = 0
                while sent < self.args.big_mib << 20 and self.running():
                    sock.sendall(chunk)
                    sent += len(chunk)
                return f"sent {sent >> 20} MiB"
            except OSError:
                return "closed by server"
            finally:
                sock.close()

        self.guarded("ws_big_message", send)

    def ws_flood(self) -> None:
        """Open --ws-flood WebSockets from one address within a few seconds, then leave."""
        opened: list[socket.socket] = []
        try:
            for _ in range(self.args.ws_flood):
                if not self.running():
                    break
                try:
                    opened.append(self.ws_open())
                    self.tally.add("ws_flood", 101)
                except ConnectionRefusedError as exc:
                    self.tally.add("ws_flood", str(exc).split(" ")[-1] or "refused")
                except OSError as exc:
                    self.tally.add("ws_flood", type(exc).__name__)
            time.sleep(min(5.0, max(0.0, self.stop_at - time.monotonic())))
        finally:
            for sock in opened:
                sock.close()

    # -- 1,000-post page, over and over -------------------------------------------------------

    def page_flood(self) -> None:
        """GET the long story's page until the window closes."""
        while self.running():
            self.guarded(
                "long_page", lambda: self.request("GET", f"/stories/{self.args.long_slug}")[0]
            )

    def run(self) -> dict[str, Any]:
        """Run every attack at once; return the tally."""
        plan: list[Callable[[], None]] = [self.login_flood, self.ws_big_message, self.ws_flood]
        plan += [self.bleach_bomb] * self.args.bombs + [self.amplification] * 2
        plan += [self.page_flood] * self.args.page_threads + [self.heavy_posts] * self.args.heavy
        threads = [threading.Thread(target=job, daemon=True) for job in plan]
        t0 = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(1.0, self.stop_at + self.args.timeout + 60 - time.monotonic()))
        return {
            "wall_s": round(time.monotonic() - t0, 1),
            "answers": {k: dict(v) for k, v in self.tally.status.items()},
            "server_errors": self.tally.server_errors(),
            **self.tally.notes,
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--token", required=True, help="an editor's API token")
    parser.add_argument("--slug", required=True, help="story the bombs are posted to")
    parser.add_argument("--live-slug", required=True, help="story the readers watch")
    parser.add_argument("--long-slug", required=True, help="the 1,000-post story")
    parser.add_argument("--user", required=True, help="the login flood's target")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=40.0, help="per request")
    parser.add_argument("--bombs", type=int, default=20, help="concurrent bleach bombs")
    parser.add_argument("--bomb-rounds", type=int, default=3)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--big-mib", type=int, default=64)
    parser.add_argument("--ws-flood", type=int, default=3000)
    parser.add_argument("--page-threads", type=int, default=8)
    parser.add_argument("--heavy", type=int, default=0, help="clients posting heavy bodies")
    args = parser.parse_args(argv)
    if urlsplit(args.base).hostname not in ("127.0.0.1", "localhost"):
        parser.error("attacks target 127.0.0.1 only")
    return args


if __name__ == "__main__":
    print(json.dumps(Attacks(parse_args()).run()))
    sys.exit(0)
