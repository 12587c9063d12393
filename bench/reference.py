"""A minimal fan-out server to measure liveblog against: asyncio + `websockets.broadcast()`.

It is what the live stream would be with nothing but the essentials: no database, no
Flask, no per-reader queue. Readers connect to `/stories/<slug>/live` (any slug, any query)
and get one `{"type": "hello", "last_seq": 0}` frame, then every broadcast. The harness
connects to `/control` and sends text messages; each one is broadcast as-is to every reader
(the harness builds it the same size as liveblog's post.created frame, carrying its seq and
publish time) and answered with `ok <readers>` once `broadcast()` has returned.
`GET /healthz` answers 200 for readiness checks.

    python bench/reference.py --port 8765

Compression is off (as in liveblog, which encodes one frame for everyone), and the ping
interval matches liveblog's 25 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve

READERS: set[ServerConnection] = set()
HELLO = json.dumps({"type": "hello", "last_seq": 0}, separators=(",", ":"))


def raise_open_file_limit() -> None:
    """Raise the soft limit on open files to the hard limit, as `liveblog serve` does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def health(connection: ServerConnection, request: Any) -> Any:
    """Answer plain HTTP readiness checks; let WebSocket upgrades through."""
    if request.path == "/healthz":
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def handler(ws: ServerConnection) -> None:
    """Serve one reader (until it leaves) or the control connection."""
    path = ws.request.path.split("?", 1)[0] if ws.request else ""
    if path == "/control":
        async for message in ws:
            broadcast(READERS, message)
            await ws.send(f"ok {len(READERS)}")
        return
    if not (path.startswith("/stories/") and path.endswith("/live")):
        await ws.close(4404, "not found")
        return
    READERS.add(ws)
    try:
        await ws.send(HELLO)
        await ws.wait_closed()
    finally:
        READERS.discard(ws)


async def run(host: str, port: int, ping_interval: float) -> None:
    """Serve until SIGTERM or SIGINT."""
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handler,
        host,
        port,
        compression=None,
        process_request=health,
        ping_interval=ping_interval,
        ping_timeout=20,
        backlog=4096,  # the same listen backlog as liveblog's gunicorn
        max_size=1 << 20,
    ):
        await stop


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--ping-interval", type=float, default=25.0)
    args = parser.parse_args()
    raise_open_file_limit()
    asyncio.run(run(args.host, args.port, args.ping_interval))


if __name__ == "__main__":
    main()
