"""Every refusal of the write API: fitting status, the JSON error shape, and nothing changed.

The matrix shares one newsroom per module (building one takes most of a second); each case
compares a full snapshot before and after, and a case that changed anything marks the
world dirty so the next case starts from a fresh one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import Newsroom, make_app, rt

from liveblog.sanitize import MAX_BODY_CHARS

API = "/api/v1/stories"
LIVE, OTHER, ENDED = "banjir-jakarta", "gempa-cianjur", "pemilu-selesai"
SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


@dataclass(frozen=True)
class Case:
    """One refused request; `path` may name {rina_post}, {bagus_post}, ... of the world."""

    method: str
    path: str
    status: int | tuple[int, ...]
    code: str | None
    body: Any = None
    raw: str | bytes | None = None
    who: str | None = "rina"
    auth: str | None = None


@dataclass
class World:
    newsroom: Newsroom
    ids: dict[str, str] = field(default_factory=dict)
    dirty: bool = False


def build_world(tmp: Any) -> World:
    newsroom = Newsroom(make_app(tmp))
    world = World(newsroom)
    for slug in (LIVE, OTHER, ENDED):
        newsroom.story(slug=slug, title=slug.replace("-", " ").title())
    for who in ("rina", "bagus", "dewi"):
        world.ids[f"{who}_post"] = newsroom.post(LIVE, who)["id"]
    world.ids["other_post"] = newsroom.post(OTHER)["id"]
    world.ids["gone_post"] = gone = newsroom.post(LIVE)["id"]
    assert newsroom.call("DELETE", f"{API}/{LIVE}/posts/{gone}").status_code == 204
    r = newsroom.call("PATCH", f"{API}/{ENDED}", json={"status": "ended"})
    assert r.status_code == 200, r.get_json()
    return world


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[World]]:
    made = [build_world(tmp_path_factory.mktemp("refusals"))]
    yield made
    for world in made:
        rt(world.newsroom.app).db.dispose()


@pytest.fixture
def world(worlds: list[World], tmp_path_factory: pytest.TempPathFactory) -> World:
    """The shared world, rebuilt if an earlier case changed it."""
    if worlds[-1].dirty:
        worlds.append(build_world(tmp_path_factory.mktemp("refusals")))
    return worlds[-1]


@pytest.fixture
def published(world: World, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record what the write path hands to the fan-out from now on."""
    sent: list[tuple[str, int]] = []
    service = rt(world.newsroom.app).service
    monkeypatch.setattr(service, "publish", lambda slug, seq, _frame: sent.append((slug, seq)))
    return sent


def send(world: World, case: Case) -> Any:
    newsroom = world.newsroom
    auth = case.auth
    headers = newsroom.headers(case.who) if auth is None else {"Authorization": auth}
    kw: dict[str, Any] = {}
    if case.raw is not None:
        kw = {"data": case.raw, "content_type": "application/json"}
    elif case.body is not None:
        kw = {"json": case.body}
    path = case.path.format(**world.ids)
    return newsroom.client.open(path, method=case.method, headers=headers, **kw)


def assert_refused(
    world: World,
    published: list[tuple[str, int]],
    request: Any,
    status: int | tuple[int, ...],
    code: str | None,
) -> dict[str, Any]:
    """Send, then check status, error shape and that nothing changed; return the error."""
    newsroom = world.newsroom
    before = (newsroom.snapshot(), newsroom.counts())
    r = request()
    after = (newsroom.snapshot(), newsroom.counts())
    world.dirty = after != before or bool(published)
    text = r.get_data(as_text=True)[:500]
    assert r.status_code != 500, text
    allowed = status if isinstance(status, tuple) else (status,)
    assert r.status_code in allowed, text
    assert r.mimetype == "application/json", (r.mimetype, text)
    doc = r.get_json()
    assert isinstance(doc, dict), text
    assert set(doc) == {"error"}, text
    error = doc["error"]
    assert isinstance(error, dict), text
    assert isinstance(error.get("code"), str), text
    assert SNAKE.match(error["code"]), error["code"]
    if code is not None:
        assert error["code"] == code, text
    assert isinstance(error.get("message"), str), text
    assert error["message"].strip(), text
    if r.status_code == 401:
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert after == before, "a refused request changed stored data"
    assert published == [], "a refused request was broadcast"
    result: dict[str, Any] = error
    return result


# -- the matrix ------------------------------------------------------------------------

STORY = {"title": "Baru", "language": "id", "timezone": "Asia/Jakarta"}
BODY_ROUTES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "story-create": ("POST", API, STORY),
    "story-patch": ("PATCH", f"{API}/{LIVE}", {"title": "Judul lain"}),
    "post-create": ("POST", f"{API}/{LIVE}/posts", {"body": "<p>Baru</p>"}),
    "post-patch": (
        "PATCH", f"{API}/{LIVE}/posts/{{rina_post}}", {"version": 1, "body": "<p>Lain</p>"},
    ),
}  # fmt: skip
WRITE_ROUTES = {
    **{name: (method, path) for name, (method, path, _) in BODY_ROUTES.items()},
    "post-delete": ("DELETE", f"{API}/{LIVE}/posts/{{rina_post}}"),
}
CASES: list[Any] = []


def add(name: str, case: Case, *, xfail: str | None = None) -> None:
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    CASES.append(pytest.param(case, id=name, marks=marks))


def invalid(route: str, label: str, body: dict[str, Any]) -> None:
    method, path, _ = BODY_ROUTES[route]
    add(f"{route}-{label}", Case(method, path, 422, "invalid_field", body=body))


for route, (method, path, valid) in BODY_ROUTES.items():
    for label, raw in (
        ("truncated", '{"title": '),
        ("empty", ""),
        ("single-quotes", "{'title': 'x'}"),
        ("trailing", "{} {}"),
        ("not-utf8", b'{"title": "\xff\xfe"}'),
    ):
        add(f"{route}-malformed-{label}", Case(method, path, 400, "malformed_json", raw=raw))
    for label, raw in (("array", "[]"), ("string", '"x"'), ("number", "5"), ("null", "null")):
        add(f"{route}-json-{label}", Case(method, path, 400, "bad_request", raw=raw))
    deep = "[" * 100_000 + "]" * 100_000
    add(f"{route}-deeply-nested", Case(method, path, 400, None, raw=deep))
    invalid(route, "unknown-field", {**valid, "colour": "merah"})
deep = '{"a":' * 30_000 + "1" + "}" * 30_000
add("story-create-deeply-nested-object", Case("POST", API, 400, None, raw=deep))

for route, (method, path) in WRITE_ROUTES.items():
    body = BODY_ROUTES[route][2] if route in BODY_ROUTES else None
    for label, auth, code in (
        ("no-token", None, "unauthorized"),
        ("wrong-token", "Bearer lb_not-a-real-token", "invalid_token"),
        ("basic", "Basic cmluYTpwdy1yaW5h", "unauthorized"),
        ("empty-bearer", "Bearer ", "unauthorized"),
    ):
        who = None if auth is None else "rina"
        add(f"{route}-{label}", Case(method, path, 401, code, body=body, who=who, auth=auth))

for label, extra in {
    "title-int": {"title": 5},
    "title-null": {"title": None},
    "title-empty": {"title": ""},
    "title-blank": {"title": "   "},
    "title-too-long": {"title": "x" * 201},
    "summary-int": {"summary": 5},
    "language-int": {"language": 5},
    "language-fr": {"language": "fr"},
    "language-upper": {"language": "ID"},
    "language-empty": {"language": ""},
    "tz-int": {"timezone": 5},
    "tz-mars": {"timezone": "Mars/Olympus"},
    "tz-empty": {"timezone": ""},
    "tz-lowercase": {"timezone": "asia/jakarta"},
    "tz-host-localtime": {"timezone": "localtime"},
    "tz-posixrules": {"timezone": "posixrules"},
    "slug-int": {"slug": 5},
    "slug-bad": {"slug": "Bad Slug!"},
    "slug-leading-hyphen": {"slug": "-banjir"},
    "slug-too-long": {"slug": "a" * 81},
}.items():
    invalid("story-create", label, {**STORY, **extra})
for missing in ("title", "language", "timezone"):
    invalid("story-create", f"missing-{missing}", {k: v for k, v in STORY.items() if k != missing})
add("story-create-slug-taken", Case("POST", API, 409, "slug_taken", body={**STORY, "slug": LIVE}))

for label, body in {
    "nothing": {},
    "title-int": {"title": 5},
    "title-empty": {"title": ""},
    "summary-int": {"summary": 5},
    "status-paused": {"status": "paused"},
    "status-upper": {"status": "ENDED"},
    "status-null": {"status": None},
    "status-int": {"status": 1},
}.items():
    invalid("story-patch", label, body)

for label, body in {
    "missing-body": {},
    "body-int": {"body": 12},
    "body-null": {"body": None},
    "body-empty": {"body": ""},
    "body-blank": {"body": "  \n "},
    "body-only-script": {"body": "<script>x</script>"},
    "body-only-style": {"body": "<style>p{color:red}</style>"},
    "pinned-string": {"body": "x", "pinned": "yes"},
    "key-event-int": {"body": "x", "key_event": 1},
    "verification-string": {"body": "x", "verification": "confirmed"},
    "verification-maybe": {"body": "x", "verification": {"status": "maybe"}},
    "verification-no-status": {"body": "x", "verification": {"note": "n"}},
    "verification-note-int": {"body": "x", "verification": {"status": "disputed", "note": 3}},
    "verification-extra": {"body": "x", "verification": {"status": "disputed", "by": "me"}},
}.items():
    invalid("post-create", label, body)

for label, body in {
    "missing-version": {"body": "x"},
    "version-string": {"version": "1", "body": "x"},
    "version-true": {"version": True, "body": "x"},
    "version-zero": {"version": 0, "body": "x"},
    "version-float": {"version": 1.5, "body": "x"},
    "nothing": {"version": 1},
    "body-int": {"version": 1, "body": 12},
    "body-only-script": {"version": 1, "body": "<script>x</script>"},
    "pinned-string": {"version": 1, "pinned": "yes"},
    "key-event-int": {"version": 1, "key_event": 1},
    "verification-string": {"version": 1, "verification": "confirmed"},
    "verification-maybe": {"version": 1, "verification": {"status": "maybe"}},
    "verification-note-int": {"version": 1, "verification": {"status": "disputed", "note": 3}},
    "correction-empty": {"version": 1, "correction": ""},
    "correction-int": {"version": 1, "correction": 5},
}.items():
    invalid("post-patch", label, body)

POSTS, RINA_POST = f"{API}/{LIVE}/posts", f"{API}/{LIVE}/posts/{{rina_post}}"
BAGUS_POST = f"{API}/{LIVE}/posts/{{bagus_post}}"
LONG = "a" * (MAX_BODY_CHARS + 1)
add("post-create-body-too-long", Case("POST", POSTS, 413, "too_large", body={"body": LONG}))
add(
    "post-patch-body-too-long",
    Case("PATCH", RINA_POST, 413, "too_large", body={"version": 1, "body": LONG}),
)

for label, (method, path, body) in {
    "story-get": ("GET", f"{API}/nope", None),
    "story-patch": ("PATCH", f"{API}/nope", {"title": "x"}),
    "post-create": ("POST", f"{API}/nope/posts", {"body": "x"}),
    "post-patch": ("PATCH", f"{API}/nope/posts/{{rina_post}}", {"version": 1, "body": "x"}),
    "post-delete": ("DELETE", f"{API}/nope/posts/{{rina_post}}", None),
    "events": ("GET", f"{API}/nope/events", None),
}.items():
    add(f"unknown-story-{label}", Case(method, path, 404, "not_found", body=body))
for which in ("nope", "{other_post}", "{gone_post}"):
    path = f"{API}/{LIVE}/posts/{which}"
    label = which.strip("{}")
    add(f"patch-{label}", Case("PATCH", path, 404, "not_found", body={"version": 1, "body": "x"}))
    add(f"delete-{label}", Case("DELETE", path, 404, "not_found"))

for label, (method, path, who, body) in {
    "reporter-creates-story": ("POST", API, "bagus", STORY),
    "reporter-patches-story": ("PATCH", f"{API}/{LIVE}", "dewi", {"title": "Judul"}),
    "reporter-ends-story": ("PATCH", f"{API}/{LIVE}", "dewi", {"status": "ended"}),
    "reporter-creates-pinned": ("POST", POSTS, "bagus", {"body": "x", "pinned": True}),
    "reporter-creates-confirmed": (
        "POST", POSTS, "bagus", {"body": "x", "verification": {"status": "confirmed"}},
    ),
    "reporter-creates-false": (
        "POST", POSTS, "bagus", {"body": "x", "verification": {"status": "false"}},
    ),
    "reporter-pins-own": ("PATCH", BAGUS_POST, "bagus", {"version": 1, "pinned": True}),
    "reporter-confirms-own": (
        "PATCH", BAGUS_POST, "bagus", {"version": 1, "verification": {"status": "confirmed"}},
    ),
    "reporter-falsifies-own-with-body": (
        "PATCH", BAGUS_POST, "bagus",
        {"version": 1, "body": "<p>Ubah</p>", "verification": {"status": "false"}},
    ),
    "reporter-edits-other-reporter": (
        "PATCH", f"{API}/{LIVE}/posts/{{dewi_post}}", "bagus", {"version": 1, "body": "x"},
    ),
    "reporter-corrects-editor-post": (
        "PATCH", RINA_POST, "dewi", {"version": 1, "correction": "Salah"},
    ),
    "reporter-deletes-own": ("DELETE", BAGUS_POST, "bagus", None),
    "reporter-deletes-other": ("DELETE", RINA_POST, "dewi", None),
}.items():  # fmt: skip
    add(f"forbidden-{label}", Case(method, path, 403, "forbidden", body=body, who=who))

add(
    "stale-version",
    Case("PATCH", RINA_POST, 409, "stale_version", body={"version": 2, "body": "<p>x</p>"}),
)
ENDED_POSTS = f"{API}/{ENDED}/posts"
add("post-to-ended", Case("POST", ENDED_POSTS, 409, "story_ended", body={"body": "x"}))

for query in ("after=-1", "after=abc", "after=1.5", "limit=0", "limit=100000", "limit=x"):
    path = f"{API}/{LIVE}/events?{query}"
    add(f"events-{query}", Case("GET", path, 422, "invalid_field", who=None))

for label, (method, path) in {
    "put-post": ("PUT", RINA_POST),
    "get-post": ("GET", RINA_POST),
    "delete-story": ("DELETE", f"{API}/{LIVE}"),
    "post-events": ("POST", f"{API}/{LIVE}/events"),
    "put-stories": ("PUT", API),
}.items():
    add(f"method-{label}", Case(method, path, 405, "method_not_allowed", body={"x": 1}))
add("no-such-route-get", Case("GET", "/api/v1/whatever", 404, "not_found", who=None))
add("no-such-route-post", Case("POST", "/api/v1/whatever", 404, "not_found", body={"a": 1}))

for route, body in (
    ("story-create", {**STORY, "title": "Banjir \ud800"}),
    ("post-create", {"body": "<p>Air \ud800</p>"}),
    ("post-patch", {"version": 1, "correction": "Jam \udfff"}),
):
    method, path, _ = BODY_ROUTES[route]
    case = Case(method, path, (400, 422), None, raw=json.dumps(body))
    add(f"{route}-lone-surrogate", case)


@pytest.mark.parametrize("case", CASES)
def test_refusal(world: World, published: list[tuple[str, int]], case: Case) -> None:
    assert_refused(world, published, lambda: send(world, case), case.status, case.code)


# -- refusals that need more than the matrix -------------------------------------------


@pytest.mark.parametrize("route", sorted(BODY_ROUTES))
def test_request_over_max_content_length(
    world: World, published: list[tuple[str, int]], route: str
) -> None:
    method, path, _ = BODY_ROUTES[route]
    limit = world.newsroom.app.config["MAX_CONTENT_LENGTH"]
    assert isinstance(limit, int)
    raw = b'{"body": "' + b"a" * limit + b'"}'
    case = Case(method, path, 413, "too_large", raw=raw)
    assert_refused(world, published, lambda: send(world, case), 413, "too_large")


def test_stale_version_names_the_current_version(
    world: World, published: list[tuple[str, int]]
) -> None:
    newsroom, world.dirty = world.newsroom, True
    path = f"{API}/{LIVE}/posts/{newsroom.post(LIVE)['id']}"
    for version in (1, 2):
        r = newsroom.call("PATCH", path, json={"version": version, "correction": f"No {version}"})
        assert r.status_code == 200, r.get_json()
    published.clear()
    case = Case("PATCH", path, 409, "stale_version", body={"version": 2, "body": "<p>x</p>"})
    error = assert_refused(world, published, lambda: send(world, case), 409, "stale_version")
    world.dirty = True
    current = error.get("current")
    named = isinstance(current, dict) and current.get("version") == 3
    assert named or re.search(r"\b3\b", error["message"]), error


def test_method_not_allowed_lists_allowed_methods(world: World) -> None:
    r = world.newsroom.call("PUT", f"{API}/{LIVE}/posts/{world.ids['rina_post']}", json={})
    assert r.status_code == 405
    assert r.mimetype == "application/json"
    allowed = {m.strip() for m in r.headers.get("Allow", "").split(",")}
    assert {"PATCH", "DELETE"} <= allowed, r.headers
