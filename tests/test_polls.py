"""Events polls in the live process: a current ETag gets 304 from the hub's last seq."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from liveblog.polls import FreshPolls, current_tag, events_etag

CACHE = "public, max-age=3, stale-while-revalidate=18, stale-if-error=86400"


class Hub:
    def __init__(self, last: dict[str, int]) -> None:
        self.last = last

    def last_seq(self, slug: str) -> int | None:
        return self.last.get(slug)


def app(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
    start("200 OK", [("ETag", '"from-app"')])
    return [b"app"]


def poll(layer: FreshPolls, tag: str | None, **extra: str) -> tuple[str, dict[str, str]]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v1/stories/malam/events",
        "QUERY_STRING": "after=20&limit=100",
        **extra,
    }
    if tag is not None:
        environ["HTTP_IF_NONE_MATCH"] = tag
    seen: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    list(layer(environ, start))
    return seen["status"], seen["headers"]


def test_a_poller_with_the_current_tag_gets_304_without_the_app() -> None:
    layer = FreshPolls(app, Hub({"malam": 7}), CACHE, "session")
    status, headers = poll(layer, '"ev7:br"')
    assert status.startswith("304")
    assert headers["ETag"] == '"ev7:br"'
    assert headers["Cache-Control"] == CACHE
    assert headers["Vary"] == "Accept-Encoding"
    assert poll(layer, 'W/"ev6", "ev7"')[0].startswith("304")


def test_everything_else_reaches_the_app() -> None:
    layer = FreshPolls(app, Hub({"malam": 7}), CACHE, "session")
    assert poll(layer, '"ev6:br"')[0] == "200 OK"  # an older copy
    assert poll(layer, None)[0] == "200 OK"  # no copy
    assert poll(layer, '"ev7"', HTTP_COOKIE="session=abc")[0] == "200 OK"  # a desk session
    assert poll(layer, '"ev7"', REQUEST_METHOD="HEAD")[0] == "200 OK"
    assert poll(layer, '"ev7"', PATH_INFO="/api/v1/stories/malam")[0] == "200 OK"
    quiet = FreshPolls(app, Hub({}), CACHE, "session")  # no readers here: unknown seq
    assert poll(quiet, '"ev7"')[0] == "200 OK"


def test_tags_are_matched_by_seq_not_by_prefix() -> None:
    assert events_etag(7) == "ev7"
    assert current_tag('"ev70:gzip"', 7) is None
    assert current_tag('"ev7:gzip"', 7) == "ev7:gzip"
    assert current_tag("*", 7) is None
