"""Events polls answered in the live process: a poller whose copy is current gets 304 here.

WSGI only, no Flask, no I/O. Readers shed past the live process's capacity poll
`/api/v1/stories/<slug>/events` with the ETag of their last copy. The app side tags every
events page with the story's last seq (`ev<seq>`, plus the content coding), and this
process's hub knows that seq for every story it has readers of; a poll that names it is
answered `304` at once, without the hop to the app processes or a database read. Anything
else (another method, no tag, an older tag, a story with no readers here, a desk session)
passes on unchanged. The hub may lag the log by an event in flight: that poller is told
"not modified" once more and gets the event on its next poll, as from any shared cache.
"""

from __future__ import annotations

import re
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


class FreshPolls:
    """WSGI layer: answer an events poll that names the hub's last seq with 304."""

    def __init__(
        self, app: WSGIApp, hub: LastSeqs, cache_control: str, session_cookie: str
    ) -> None:
        self.app = app
        self.live_app = getattr(app, "live_app", app)
        self.hub = hub
        self.cache_control = cache_control  # the app side's, for a public events page
        self.session_cookie = f"{session_cookie}="

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer a current poller here; pass everything else on."""
        header = environ.get("HTTP_IF_NONE_MATCH")
        if header and environ.get("REQUEST_METHOD") == "GET":
            match = EVENTS_PATH.match(environ.get("PATH_INFO", ""))
            if match and self.session_cookie not in environ.get("HTTP_COOKIE", ""):
                last = self.hub.last_seq(match.group(1))
                tag = None if last is None else current_tag(header, last)
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
        return self.app(environ, start_response)
