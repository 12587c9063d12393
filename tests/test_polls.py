"""Events polls in the live process: a current ETag gets 304 from the hub's last seq."""

from __future__ import annotations

import threading
import time
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


class EventsApp:
    """The app side's events answer at a last seq, counting the requests that reach it."""

    def __init__(self, seq: int, cache: str = CACHE) -> None:
        self.seq = seq
        self.cache = cache
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        coding = "br" if "br" in environ.get("HTTP_ACCEPT_ENCODING", "") else ""
        start(
            "200 OK",
            [
                ("ETag", f'"ev{self.seq}{":" + coding if coding else ""}"'),
                ("Cache-Control", self.cache),
                ("X-Request-Id", f"r{self.calls}"),
            ],
        )
        return [f"{coding}page at {self.seq} for {environ['QUERY_STRING']}".encode()]


def poll(layer: FreshPolls, tag: str | None, **extra: str) -> tuple[str, dict[str, str]]:
    status, headers, _ = fetch(layer, tag, **extra)
    return status, headers


def fetch(layer: FreshPolls, tag: str | None, **extra: str) -> tuple[str, dict[str, str], bytes]:
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

    body = b"".join(layer(environ, start))
    return seen["status"], seen["headers"], body


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
    # A partner key or token is checked and counted by the app, never answered here.
    assert poll(layer, '"ev7"', HTTP_AUTHORIZATION="Bearer lbk_x")[0] == "200 OK"
    assert poll(layer, '"ev7"', QUERY_STRING="after=20&key=lbk_x")[0] == "200 OK"
    assert poll(layer, '"ev7"', QUERY_STRING="key=lbk_x")[0] == "200 OK"
    assert poll(layer, '"ev7"', QUERY_STRING="after=20&monkey=1")[0].startswith("304")
    quiet = FreshPolls(app, Hub({}), CACHE, "session")  # no readers here: unknown seq
    assert poll(quiet, '"ev7"')[0] == "200 OK"


def test_tags_are_matched_by_seq_not_by_prefix() -> None:
    assert events_etag(7) == "ev7"
    assert current_tag('"ev70:gzip"', 7) is None
    assert current_tag('"ev7:gzip"', 7) == "ev7:gzip"
    assert current_tag("*", 7) is None


def test_polls_without_a_tag_share_one_app_answer_per_seq_and_encoding() -> None:
    hub = Hub({"malam": 7})
    events = EventsApp(7)
    layer = FreshPolls(events, hub, CACHE, "session")
    first = fetch(layer, None, HTTP_ACCEPT_ENCODING="gzip, br")
    for _ in range(5):
        again = fetch(layer, None, HTTP_ACCEPT_ENCODING="gzip, br")
        assert again[2] == first[2] == b"brpage at 7 for after=20&limit=100"
        assert again[1]["ETag"] == '"ev7:br"'
        assert "X-Request-Id" not in again[1]  # it was the first request's
    assert events.calls == 1
    plain = fetch(layer, None)
    assert plain[2] == b"page at 7 for after=20&limit=100"  # another encoding, its own copy
    assert fetch(layer, None, QUERY_STRING="after=40&limit=100")[2].endswith(b"after=40&limit=100")
    assert events.calls == 3
    hub.last["malam"] = events.seq = 8  # a new event: the copies at 7 are not used again
    assert fetch(layer, None, HTTP_ACCEPT_ENCODING="gzip, br")[2].startswith(b"brpage at 8")
    assert events.calls == 4


def test_private_answers_and_unknown_stories_are_not_kept() -> None:
    private = EventsApp(7, cache="private, no-cache")
    layer = FreshPolls(private, Hub({"malam": 7}), CACHE, "session")
    fetch(layer, None)
    fetch(layer, None)
    assert private.calls == 2
    events = EventsApp(7)
    quiet = FreshPolls(events, Hub({}), CACHE, "session")
    fetch(quiet, None)
    fetch(quiet, None)
    assert events.calls == 2


def test_polls_arriving_while_the_app_answers_wait_for_that_one_answer() -> None:
    release = threading.Event()

    class SlowEvents(EventsApp):
        def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
            release.wait(5)
            return super().__call__(environ, start)

    events = SlowEvents(7)
    layer = FreshPolls(events, Hub({"malam": 7}), CACHE, "session")
    bodies: list[bytes] = []
    polls = [
        threading.Thread(target=lambda: bodies.append(fetch(layer, None)[2])) for _ in range(8)
    ]
    for poll_thread in polls:
        poll_thread.start()
    time.sleep(0.2)  # all eight are in: one at the app, seven waiting
    release.set()
    for poll_thread in polls:
        poll_thread.join(5)
    assert bodies == [b"page at 7 for after=20&limit=100"] * 8
    assert events.calls == 1
