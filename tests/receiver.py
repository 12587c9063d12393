"""A real HTTP receiver on 127.0.0.1 that records every webhook delivery it gets."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


class Receiver:
    """Record deliveries; answer 500 to the first `fail_first` of them, or while `failing`."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.fail_first = fail_first
        self.failing = False
        self.delay = delay
        self.requests: list[tuple[dict[str, str], bytes]] = []  # every request, failed or not
        self.accepted: list[tuple[dict[str, str], bytes]] = []  # those answered 2xx
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.requests.append((headers, body))
                    fail = receiver.failing or len(receiver.requests) <= receiver.fail_first
                    if not fail:
                        receiver.accepted.append((headers, body))
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Return the URL to register."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        """Return the webhook-id of every accepted delivery, in arrival order."""
        with self.lock:
            return [h["webhook-id"] for h, _ in self.accepted]

    def seqs(self, slug: str | None = None) -> list[int]:
        """Return the seq of every accepted delivery (of one story), in arrival order."""
        with self.lock:
            events = [json.loads(body) for _, body in self.accepted]
        return [e["seq"] for e in events if slug is None or e["story"] == slug]

    def verified(self, secret: str) -> list[Any]:
        """Verify every accepted delivery with the standardwebhooks library; return the events."""
        with self.lock:
            accepted = list(self.accepted)
        return [Webhook(secret).verify(body, headers) for headers, body in accepted]
