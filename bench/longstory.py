"""Long story read path: a 1,000-post story's first page against /healthz, side by side.

    .venv/bin/python bench/longstory.py [--posts 1000] [--seconds 5] [--clients 8]

Starts `liveblog serve` (one gevent worker, SQLite in a temp dir), writes the posts through
the API, then for each target runs `--clients` keep-alive HTTP clients for `--seconds` and
reports requests/s and the bytes of one answer. "page, new event" posts an update between
requests so that every page request misses the render cache (the cost of one render).
Stops the server it started by PID. Loopback only; well under a minute at the defaults.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import Server, api, prepare, server_env  # noqa: E402


def hammer(port: int, path: str, headers: dict[str, str], seconds: float, clients: int) -> float:
    """Return requests per second from `clients` keep-alive clients over `seconds`."""
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def size(port: int, path: str, headers: dict[str, str]) -> int:
    """Return the length of one answer's body as sent."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers)
    body = conn.getresponse().read()
    conn.close()
    return len(body)


def long_story(server: Server, token: str, posts: int) -> str:
    """Create a story of `posts` posts through the API; return its slug."""
    slug = f"long-{os.urandom(3).hex()}"
    story = {"title": "Banjir", "language": "id", "timezone": "Asia/Jakarta", "slug": slug}
    api(server, token, "POST", "/api/v1/stories", story)
    filler = "Air mulai surut di Kampung Melayu, petugas masih berjaga. " * 3
    for n in range(posts):
        api(server, token, "POST", f"/api/v1/stories/{slug}/posts",
            {"body": f"<p>Pembaruan {n}: {filler}</p>"})  # fmt: skip
    return slug


def main() -> None:
    """Run the comparison and print a Markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="liveblog-long-") as tmp:
        url = f"sqlite:///{tmp}/long.db"
        token = prepare(url)
        server = Server(server_env(Path(tmp), url)).start()
        try:
            slug = long_story(server, token, args.posts)
            page = f"/stories/{slug}?lang=id"
            br = {"Accept-Encoding": "br"}
            gz = {"Accept-Encoding": "gzip"}
            rows = [
                ("/healthz", hammer(server.port, "/healthz", {}, args.seconds, args.clients)),
                ("page (br)", hammer(server.port, page, br, args.seconds, args.clients)),
                ("feed.json (gzip)", hammer(
                    server.port, f"/stories/{slug}/feed.json", gz, args.seconds, args.clients)),
            ]  # fmt: skip
            stop = threading.Event()

            def write() -> None:
                while not stop.is_set():
                    api(server, token, "POST", f"/api/v1/stories/{slug}/posts",
                        {"body": "<p>Baru.</p>"})  # fmt: skip

            writer = threading.Thread(target=write)
            writer.start()
            rows.append(("page (br) while posts arrive", hammer(
                server.port, page, br, args.seconds, args.clients)))  # fmt: skip
            stop.set()
            writer.join()
            sizes = {
                "identity": size(server.port, page, {}),
                "gzip": size(server.port, page, gz),
                "br": size(server.port, page, br),
            }
        finally:
            server.stop()
    print(f"{args.posts} posts, {args.clients} clients, {args.seconds:.0f} s each, 1 worker")
    print()
    print("| target | requests/s |")
    print("|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f} |")
    print()
    print("first page bytes: " + json.dumps(sizes))


if __name__ == "__main__":
    main()
