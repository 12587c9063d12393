"""Many writers on one story at once: the event log stays gapless, and stale edits lose."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from conftest import Newsroom, rt
from flask import Flask
from sqlalchemy import select

from liveblog.accounts import actor_of
from liveblog.models import Event, EventType, Post, Story, User
from liveblog.service import Actor

THREADS = 16
POSTS_PER_THREAD = 10
PATCHERS = 6


def actors(app: Flask) -> dict[str, Actor]:
    with rt(app).db.read() as session:
        return {u.username: actor_of(u) for u in session.scalars(select(User))}


def run_together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Start every job at the same moment in its own thread; return results or exceptions."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return results


Row = tuple[int, EventType, str]


def log_of(app: Flask, slug: str) -> tuple[int, list[Row], dict[str, tuple[int, int, str]]]:
    """Return last_seq, events (seq, type, payload) and posts (created_seq, version, body)."""
    with rt(app).db.read() as session:
        story = session.scalar(select(Story).where(Story.slug == slug))
        assert story is not None
        events = [
            (e.seq, e.type, e.payload)
            for e in session.scalars(
                select(Event).where(Event.story_id == story.id).order_by(Event.id)
            )
        ]
        posts = {
            p.id: (p.created_seq, p.version, p.body)
            for p in session.scalars(select(Post).where(Post.story_id == story.id))
        }
        return story.last_seq, events, posts


def test_concurrent_writers_keep_the_log_gapless(any_app: Flask) -> None:
    import json

    newsroom = Newsroom(any_app)
    service = rt(any_app).service
    people = actors(any_app)
    slug = service.create_story(
        people["rina"], {"title": "Ramai sekali", "language": "en", "timezone": "UTC"}
    ).slug
    # A second story written at the same time must not disturb the first one's numbering.
    other = service.create_story(
        people["rina"], {"title": "Cerita lain", "language": "id", "timezone": "Asia/Jakarta"}
    ).slug
    target = service.create_post(people["bagus"], slug, {"body": "<p>Sasaran</p>"})
    assert target["version"] == 1

    def poster(n: int) -> Callable[[], list[str]]:
        actor = people[("rina", "bagus", "dewi")[n % 3]]

        def job() -> list[str]:
            return [
                service.create_post(actor, slug, {"body": f"<p>Utas {n} pos {i}</p>"})["id"]
                for i in range(POSTS_PER_THREAD)
            ]

        return job

    def patcher(n: int) -> Callable[[], tuple[int, Any]]:
        client = any_app.test_client()

        def job() -> tuple[int, Any]:
            response = client.patch(
                f"/api/v1/stories/{slug}/posts/{target['id']}",
                headers=newsroom.headers("rina"),
                json={"version": 1, "body": f"<p>Versi dari penyunting {n}</p>"},
            )
            return response.status_code, response.get_json()

        return job

    def other_writer() -> int:
        for i in range(5):
            service.create_post(people["dewi"], other, {"body": f"<p>Lain {i}</p>"})
        return 5

    jobs: list[Callable[[], Any]] = [poster(n) for n in range(THREADS)]
    jobs += [patcher(n) for n in range(PATCHERS)]
    jobs.append(other_writer)
    results = run_together(jobs)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors

    created_ids = [pid for r in results[:THREADS] for pid in r]
    assert len(created_ids) == THREADS * POSTS_PER_THREAD
    assert len(set(created_ids)) == len(created_ids)

    patches = results[THREADS : THREADS + PATCHERS]
    statuses = Counter(status for status, _ in patches)
    assert statuses == {200: 1, 409: PATCHERS - 1}, patches
    winner = next(body for status, body in patches if status == 200)
    assert winner["version"] == 2
    for status, body in patches:
        if status == 409:
            assert body["error"]["code"] == "stale_version"

    expected = 1 + THREADS * POSTS_PER_THREAD + 1
    last_seq, events, posts = log_of(any_app, slug)
    seqs = [seq for seq, _, _ in events]
    assert sorted(seqs) == list(range(1, expected + 1))
    assert last_seq == expected
    for seq, _type, payload in events:
        frame = json.loads(payload)
        assert frame["seq"] == seq
        assert frame["story"] == slug
    types = Counter(t for _, t, _ in events)
    assert types == {EventType.POST_CREATED: expected - 1, EventType.POST_UPDATED: 1}

    created_events = Counter(
        json.loads(p)["post"]["id"] for _, t, p in events if t is EventType.POST_CREATED
    )
    assert set(created_events) == set(posts)
    assert set(created_events.values()) == {1}
    assert set(created_ids) | {target["id"]} == set(posts)
    assert sorted(created for created, _, _ in posts.values()) == sorted(
        seq for seq, t, _ in events if t is EventType.POST_CREATED
    )
    assert posts[target["id"]][1:] == (2, winner["body"])

    other_seq, other_events, _ = log_of(any_app, other)
    assert other_seq == 5
    assert sorted(seq for seq, _, _ in other_events) == [1, 2, 3, 4, 5]

    api = newsroom.call("GET", f"/api/v1/stories/{slug}/events?limit=1000", None).get_json()
    assert [e["seq"] for e in api["events"]] == list(range(1, expected + 1))
    assert api["last_seq"] == expected


def test_concurrent_edits_of_one_post_via_service(any_app: Flask) -> None:
    """Two rounds of same-version edits: exactly one winner per round, no lost versions."""
    from liveblog.errors import Conflict

    Newsroom(any_app)
    service = rt(any_app).service
    people = actors(any_app)
    slug = service.create_story(
        people["rina"], {"title": "Suntingan", "language": "en", "timezone": "UTC"}
    ).slug
    post = service.create_post(people["rina"], slug, {"body": "<p>0</p>"})
    post_id = post["id"]
    for round_ in range(2):
        version = post["version"]

        def edit(n: int, version: int = version, round_: int = round_) -> Any:
            return service.update_post(
                people["rina"],
                slug,
                post_id,
                {"version": version, "correction": f"Koreksi {round_}.{n}"},
            )

        results = run_together([lambda n=n: edit(n) for n in range(8)])
        winners = [r for r in results if isinstance(r, dict)]
        losers = [r for r in results if isinstance(r, Conflict)]
        assert len(winners) == 1, results
        assert len(losers) == 7, results
        post = winners[0]
        assert post["version"] == version + 1
        assert len(post["corrections"]) == round_ + 1
    last_seq, events, _ = log_of(any_app, slug)
    assert last_seq == 3
    assert [seq for seq, _, _ in events] == [1, 2, 3]
