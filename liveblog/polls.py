"""Events polls answered in the live process, from what its hub knows: 304, or a kept copy.

WSGI only, no Flask, no I/O. Readers shed past the live process's capacity poll
`/api/v1/stories/<slug>/events` with the ETag of their last copy. The app side tags every
events page with the story's last seq (`ev<seq>`, plus the content coding), and this
process's hub knows that seq for every story it has readers of. So a poll that names it is
answered `304` here, and a poll without it gets the app's answer for the same URL and
`Accept-Encoding` kept here since the story's last event (the first such poll after an
event goes to the app while the others wait for its answer; thousands of polls cost one
app request and no database read of their own).
Anything else (another method, a story with no readers here, a desk session, a partner
key or token to check and count, a private answer) passes on unchanged. The hub may lag
the log by an event in flight: that poller gets the older page once more and the event on
its next poll, as from any shared cache.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

EVENTS_PATH = re.compile(r"^/api/v1/stories/([^/]+)/events$")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def events_etag(last_seq: int) -> str:
    """Return the ETag (before its content coding) of any events page at this last seq."""
    return f"ev{last_seq}"


class LastSeqs(Protocol):
    """What this layer needs of the hub."""

    def last_seq(self, slug: str) -> int | None:
        """Return the story's last seq delivered here, or None when it has no readers here."""


def current_tag(header: str, last_seq: int) -> str | None:
    """Return the tag in an If-None-Match header that names `last_seq`, or None."""
    wanted = events_etag(last_seq)
    for raw in header.split(","):
        tag = raw.strip().removeprefix("W/").strip('"')
        if tag.split(":", 1)[0] == wanted:
            return tag
    return None


#: Answer headers a kept copy does not repeat (they belong to the request that fetched it).
PER_REQUEST = {"x-request-id", "set-cookie", "date", "server"}
KEPT_PAGES = 256  # copies kept: (URL, Accept-Encoding) pairs at the current seqs
KEPT_BYTES = 16 * 2**20  # and their bytes, at most
FETCH_WAIT = 10.0  # seconds a poll waits for another's app request for the same copy


def tag_seq(headers: list[tuple[str, str]]) -> int | None:
    """Return the last seq an events answer's ETag names, or None."""
    for name, value in headers:
        if name.lower() == "etag":
            tag = value.removeprefix("W/").strip('"').split(":", 1)[0]
            if tag.startswith("ev") and tag[2:].isdigit():
                return int(tag[2:])
    return None


def _keyed(environ: dict[str, Any]) -> bool:
    """Tell whether a poll carries credentials: the app checks and counts those itself."""
    query = "&" + environ.get("QUERY_STRING", "")
    return "HTTP_AUTHORIZATION" in environ or "&key=" in query


class FreshPolls:
    """WSGI layer: answer events polls at the hub's last seq with 304 or a kept copy."""

    def __init__(
        self, app: WSGIApp, hub: LastSeqs, cache_control: str, session_cookie: str
    ) -> None:
        self.app = app
        self.live_app = getattr(app, "live_app", app)
        self.hub = hub
        self.cache_control = cache_control  # the app side's, for a public events page
        self.session_cookie = f"{session_cookie}="
        # (path, query, Accept-Encoding) -> (seq, status line, headers, body)
        self.kept: dict[tuple[str, str, str], tuple[int, str, list[tuple[str, str]], bytes]] = {}
        self.kept_bytes = 0
        self.fetching: dict[tuple[str, str, str], threading.Event] = {}

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer a poll at the current seq here; pass everything else on."""
        if environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        match = EVENTS_PATH.match(environ.get("PATH_INFO", ""))
        if not match or self.session_cookie in environ.get("HTTP_COOKIE", "") or _keyed(environ):
            return self.app(environ, start_response)
        last = self.hub.last_seq(match.group(1))
        if last is None:
            return self.app(environ, start_response)
        header = environ.get("HTTP_IF_NONE_MATCH")
        tag = current_tag(header, last) if header else None
        if tag is not None:
            start_response(
                "304 Not Modified",
                [
                    ("ETag", f'"{tag}"'),
                    ("Cache-Control", self.cache_control),
                    ("Vary", "Accept-Encoding"),
                ],
            )
            return []
        key = (
            environ["PATH_INFO"],
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_ACCEPT_ENCODING", ""),
        )
        kept = self.kept.get(key)
        if kept is None or kept[0] != last:
            fetching = self.fetching.get(key)
            if fetching is None:
                return self._fetch(key, environ, start_response)
            fetching.wait(FETCH_WAIT)  # one poll asks the app; the others wait for its answer
            kept = self.kept.get(key)
            if kept is None or kept[0] < last:
                return self.app(environ, start_response)
        start_response(kept[1], list(kept[2]))
        return [kept[3]]

    def _fetch(
        self,
        key: tuple[str, str, str],
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        """Ask the app while the same copy's other polls wait, and keep its answer."""
        answer: dict[str, Any] = {}
        self.fetching[key] = done = threading.Event()
        try:
            return self._keep(key, environ, start_response, answer)
        finally:
            del self.fetching[key]
            done.set()

    def _keep(
        self,
        key: tuple[str, str, str],
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        answer: dict[str, Any],
    ) -> Iterable[bytes]:
        """Pass the request on; keep a public 200 that names its seq."""

        def keep_start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            answer["status"], answer["headers"] = status, headers
            return start_response(status, headers, *exc)

        result = self.app(environ, keep_start)
        status = answer.get("status", "")
        headers: list[tuple[str, str]] = answer.get("headers", [])
        public = any(n.lower() == "cache-control" and v.startswith("public") for n, v in headers)
        seq = tag_seq(headers)
        if status.startswith("200") and public and seq is not None and isinstance(result, list):
            body = b"".join(result)
            if len(self.kept) >= KEPT_PAGES or self.kept_bytes + len(body) > KEPT_BYTES:
                self.kept.clear()  # mostly old seqs: the next polls fetch them again
                self.kept_bytes = 0
            if len(body) <= KEPT_BYTES // 16:
                kept = [(n, v) for n, v in headers if n.lower() not in PER_REQUEST]
                old = self.kept.get(key)
                self.kept_bytes += len(body) - (len(old[3]) if old else 0)
                self.kept[key] = (seq, status, kept, body)
        return result
