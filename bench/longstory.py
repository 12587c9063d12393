"""Long story read path: a 1,000-post story's first page against /healthz, side by side.

    .venv/bin/python bench/longstory.py [--posts 1000] [--seconds 5] [--clients 8] [--rounds 3]

Starts `liveblog serve` (one gevent worker, SQLite in a temp dir), writes the posts through
the API, then for each target runs `--clients` keep-alive HTTP clients for `--seconds` and
reports requests/s and the bytes of one answer. `/healthz` and the first page alternate
for `--rounds` rounds, so that a shared machine's changing load falls on both alike: the
ratio page / `/healthz` is given per round and as the median of the rounds. "page while
posts arrive" posts updates meanwhile, so that page requests miss the render cache (the
cost of a render). Stops the server it started by PID. Loopback only; about a minute.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from servers import LIVEBLOG, Server, api, prepare, server_env, wait_until  # noqa: E402


class PatientServer(Server):
    """A `liveblog serve` given two minutes to come up on a busy shared machine."""

    def start(self) -> PatientServer:
        cmd = [LIVEBLOG, "serve", "--port", str(self.port), "--workers", str(self.workers)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log, cwd=ROOT)
        try:
            wait_until(lambda: self.get("/healthz")[0] == 200, 120, f"server on {self.port}")
        except AssertionError:
            self.stop()
            raise
        return self


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
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="liveblog-long-") as tmp:
        url = f"sqlite:///{tmp}/long.db"
        token = prepare(url)
        server = PatientServer(server_env(Path(tmp), url)).start()
        try:
            slug = long_story(server, token, args.posts)
            page = f"/stories/{slug}?lang=id"
            br = {"Accept-Encoding": "br"}
            gz = {"Accept-Encoding": "gzip"}
            pairs = [
                (
                    hammer(server.port, "/healthz", {}, args.seconds, args.clients),
                    hammer(server.port, page, br, args.seconds, args.clients),
                )
                for _ in range(args.rounds)
            ]
            rows = [
                ("/healthz (median of rounds)", statistics.median(h for h, _ in pairs)),
                ("page (br) (median of rounds)", statistics.median(p for _, p in pairs)),
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
    ratios = [p / h for h, p in pairs]
    print(
        "page / healthz per round: "
        + ", ".join(f"{h:.0f} / {p:.0f} = {p / h:.2f}" for h, p in pairs)
        + f"; median ratio {statistics.median(ratios):.2f} (target >= 0.33)"
    )
    print("first page bytes: " + json.dumps(sizes))


if __name__ == "__main__":
    main()
