"""Webhook delivery under `liveblog serve`: latency to a quick partner while others are slow.

`python bench/webhooks.py [--events 100] [--slow 4] [--slow-delay 5]` starts a server on a
fresh SQLite file, one quick receiver and `--slow` receivers that take `--slow-delay`
seconds to answer (all on 127.0.0.1, with LIVEBLOG_WEBHOOK_ALLOW_PRIVATE=1), registers an
all-story endpoint for each, publishes `--events` posts one after another through the API
and prints one JSON object: the API's answer times, and for the quick partner the time
from sending the API request to the delivery (median, p95, max) and whether every event came in
order. The slow partners show that they hold only their own endpoint, not the others.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIVEBLOG = str(Path(sys.executable).with_name("liveblog"))


def receiver(delay: float, arrivals: dict[int, float] | None) -> ThreadingHTTPServer:
    """Start a receiver on 127.0.0.1 that answers 204 after `delay` and notes arrivals."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if arrivals is not None:
                arrivals.setdefault(json.loads(body)["seq"], time.monotonic())
            time.sleep(delay)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def call(base: str, token: str, path: str, body: Any) -> Any:
    """POST JSON to the write API."""
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main() -> None:
    """Run the measurement and print its JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--slow", type=int, default=4)
    parser.add_argument("--slow-delay", type=float, default=5.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBLOG_")}
    env.update(
        LIVEBLOG_INSTANCE_PATH=str(work),
        LIVEBLOG_DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
        LIVEBLOG_WEBHOOK_ALLOW_PRIVATE="1",
        LIVEBLOG_LOG_LEVEL="WARNING",
    )

    def cli(*argv: str, stdin: str = "") -> str:
        done = subprocess.run(
            [LIVEBLOG, *argv], env=env, input=stdin, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    cli("init-db")
    cli("create-user", "bench", "--role", "editor", "--password-stdin", stdin="bench-pw\n")
    token = cli("create-token", "bench")
    arrivals: dict[int, float] = {}
    quick = receiver(0.0, arrivals)
    cli("create-webhook", f"http://127.0.0.1:{quick.server_address[1]}/")
    for _ in range(args.slow):
        slow = receiver(args.slow_delay, None)
        cli("create-webhook", f"http://127.0.0.1:{slow.server_address[1]}/")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    log = open(work / "serve.log", "wb")  # noqa: SIM115 - open for the server's life
    server = subprocess.Popen(
        [LIVEBLOG, "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        slug = call(
            base, token, "/api/v1/stories", {"title": "Bench", "language": "en", "timezone": "UTC"}
        )["slug"]
        published: dict[int, float] = {}
        api_ms = []
        for n in range(args.events):
            published[n + 1] = time.monotonic()
            call(base, token, f"/api/v1/stories/{slug}/posts", {"body": f"<p>Update {n}.</p>"})
            api_ms.append((time.monotonic() - published[n + 1]) * 1000)
            time.sleep(0.05)
        deadline = time.monotonic() + 120
        while len(arrivals) < args.events and time.monotonic() < deadline:
            time.sleep(0.05)
        api_ms.sort()
        lag = sorted((arrivals[s] - published[s]) * 1000 for s in published if s in arrivals)
        print(json.dumps({
            "events": args.events,
            "slow_partners": args.slow,
            "slow_delay_s": args.slow_delay,
            "delivered": len(arrivals),
            "in_order": list(arrivals) == sorted(arrivals),
            "api_ms": {"median": round(statistics.median(api_ms), 1),
                       "p95": round(api_ms[int(len(api_ms) * 0.95) - 1], 1)},
            "delivery_lag_ms": {
                "median": round(statistics.median(lag), 1) if lag else None,
                "p95": round(lag[int(len(lag) * 0.95) - 1], 1) if lag else None,
                "max": round(lag[-1], 1) if lag else None,
            },
        }, indent=2))  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
