"""Webhook endpoints and the dispatcher's cursor logic, on SQLite and on PostgreSQL.

The dispatcher runs in the test's process here (its `drain`, one endpoint at a time) against
a real HTTP receiver on 127.0.0.1; tests/test_dispatcher.py runs it under `liveblog serve`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from conftest import Newsroom, rt
from flask import Flask
from receiver import Receiver
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from liveblog.db import Database
from liveblog.dispatcher import Dispatcher, Settings, backoff
from liveblog.errors import Invalid, NotFound
from liveblog.models import Webhook, WebhookAttempt, WebhookCursor
from liveblog.wakeups import leadership
from liveblog.webhooks import (
    ATTEMPTS_KEPT,
    create_webhook,
    delete_webhook,
    list_webhooks,
    redeliver,
    set_paused,
    unseal,
)

KEY = "test-secret"
FAST = Settings(retry_base=0.01, retry_cap=0.02, timeout=5)


@pytest.fixture
def room(any_app: Flask) -> Newsroom:
    """A newsroom on SQLite, then on PostgreSQL."""
    return Newsroom(any_app)


@pytest.fixture(autouse=True)
def private_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let endpoints on 127.0.0.1 receive, as the configuration allows."""
    monkeypatch.setenv("LIVEBLOG_WEBHOOK_ALLOW_PRIVATE", "1")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _dispatcher(app: Flask, settings: Settings = FAST) -> Dispatcher:
    return Dispatcher(rt(app).db, KEY, settings)


def _events(room: Newsroom, slug: str) -> list[str]:
    body = room.client.get(f"/api/v1/stories/{slug}/events?limit=500").get_json()
    return [json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in body["events"]]


def test_every_event_arrives_signed_in_seq_order_as_events_serves_it(
    room: Newsroom, receiver: Receiver
) -> None:
    slug = room.story()["slug"]
    hook_id, secret = create_webhook(rt(room.app).db, KEY, receiver.url, slug)
    assert secret.startswith("whsec_")
    first = room.post(slug, body="<p>Siaran ditunda 45 menit.</p>")
    room.post(slug, body="<p>Pendengar mencapai sejuta.</p>")
    room.call(
        "PATCH", f"/api/v1/stories/{slug}/posts/{first['id']}", json={"version": 1, "pinned": True}
    )
    _dispatcher(room.app).drain(hook_id)

    assert receiver.seqs() == [1, 2, 3]
    assert receiver.ids() == [f"{slug}:1", f"{slug}:2", f"{slug}:3"]
    assert [e["seq"] for e in receiver.verified(secret)] == [1, 2, 3]
    served = [json.loads(f) for f in _events(room, slug)]
    assert [json.loads(body) for _, body in receiver.accepted] == served
    headers, body = receiver.accepted[0]
    assert headers["content-type"] == "application/json"
    assert headers["webhook-signature"].startswith("v1,")
    tampered = body.replace(b"45", b"90")
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(tampered, headers)
    with room.app.app_context(), rt(room.app).db.read() as session:
        assert session.get(WebhookCursor, (hook_id, 1)) is not None
    assert list_webhooks(rt(room.app).db)[0].cursor == {slug: 3}


def test_a_failing_partner_is_retried_with_backoff_then_served_without_gaps(
    room: Newsroom,
) -> None:
    slug = room.story()["slug"]
    for n in range(4):
        room.post(slug, body=f"<p>Kabar ke-{n}.</p>")
    with Receiver(fail_first=3) as receiver:
        hook_id, _ = create_webhook(rt(room.app).db, KEY, receiver.url, slug)
        dispatcher = _dispatcher(room.app)
        for expected_failures in (1, 2, 3):
            dispatcher.drain(hook_id)
            with rt(room.app).db.read() as session:
                hook = session.get(Webhook, hook_id)
                assert hook is not None
                assert hook.failures == expected_failures
                assert hook.failing_since is not None
                assert hook.next_attempt_at is not None
            assert list_webhooks(rt(room.app).db)[0].state == "failing"
            assert receiver.accepted == []
        dispatcher.drain(hook_id)
        assert receiver.seqs() == [1, 2, 3, 4]
        assert [json.loads(b)["seq"] for _, b in receiver.requests] == [1, 1, 1, 1, 2, 3, 4]
    view = list_webhooks(rt(room.app).db)[0]
    assert view.state == "active"
    assert view.cursor == {slug: 4}
    assert [(a.seq, a.status) for a in reversed(view.attempts)] == [
        (1, 500),
        (1, 500),
        (1, 500),
        (1, 204),
        (2, 204),
        (3, 204),
        (4, 204),
    ]
    assert all(a.duration_ms >= 0 and a.at is not None for a in view.attempts)


def test_an_endpoint_failing_too_long_is_paused_until_resumed(room: Newsroom) -> None:
    slug = room.story()["slug"]
    room.post(slug)
    with Receiver() as receiver:
        receiver.failing = True
        hook_id, _ = create_webhook(rt(room.app).db, KEY, receiver.url, slug)
        dispatcher = _dispatcher(room.app, Settings(retry_base=0.01, pause_after=0))
        dispatcher.drain(hook_id)
        view = list_webhooks(rt(room.app).db)[0]
        assert view.state == "paused"
        assert view.paused_at is not None
        assert view.pause_reason
        assert dispatcher.due()[0] == []
        receiver.failing = False
        dispatcher.drain(hook_id)
        assert len(receiver.requests) == 1  # paused: nothing sent
        set_paused(rt(room.app).db, hook_id, paused=False)
        assert dispatcher.due()[0] == [hook_id]
        dispatcher.drain(hook_id)
        assert receiver.seqs() == [1]


def test_an_all_stories_endpoint_keeps_a_cursor_per_story(
    room: Newsroom, receiver: Receiver
) -> None:
    a = room.story(title="Siaran tersendat")["slug"]
    b = room.story(title="Klaim serangan siber")["slug"]
    hook_id, _ = create_webhook(rt(room.app).db, KEY, receiver.url)
    story_only, _ = create_webhook(rt(room.app).db, KEY, receiver.url.replace("/hook", "/b"), b)
    for n in range(3):
        room.post(a, body=f"<p>A {n}</p>")
        room.post(b, body=f"<p>B {n}</p>")
    _dispatcher(room.app).drain(hook_id)
    assert receiver.seqs(a) == [1, 2, 3]
    assert receiver.seqs(b) == [1, 2, 3]
    assert len(receiver.accepted) == 6
    views = {v.id: v for v in list_webhooks(rt(room.app).db)}
    assert views[hook_id].cursor == {a: 3, b: 3}
    assert views[hook_id].story is None
    _dispatcher(room.app).drain(story_only)  # the story filter: only b's events
    assert [h["webhook-id"] for h, _ in receiver.accepted[6:]] == [f"{b}:1", f"{b}:2", f"{b}:3"]


def test_redeliver_from_a_seq_sends_those_events_again(room: Newsroom, receiver: Receiver) -> None:
    slug = room.story()["slug"]
    for _ in range(3):
        room.post(slug)
    hook_id, _ = create_webhook(rt(room.app).db, KEY, receiver.url, slug)
    dispatcher = _dispatcher(room.app)
    dispatcher.drain(hook_id)
    redeliver(rt(room.app).db, hook_id, 2)
    dispatcher.drain(hook_id)
    assert receiver.seqs() == [1, 2, 3, 2, 3]
    with pytest.raises(Invalid):
        redeliver(rt(room.app).db, hook_id, 0)
    other = room.story(title="Lain")["slug"]
    with pytest.raises(Invalid):
        redeliver(rt(room.app).db, hook_id, 1, other)


def test_a_takedown_before_delivery_is_delivered_scrubbed(
    room: Newsroom, receiver: Receiver
) -> None:
    slug = room.story()["slug"]
    post = room.post(slug, body="<p>Teks yang akan dihapus.</p>")
    assert room.call("DELETE", f"/api/v1/stories/{slug}/posts/{post['id']}").status_code == 204
    hook_id, _ = create_webhook(rt(room.app).db, KEY, receiver.url, slug)
    _dispatcher(room.app).drain(hook_id)
    first, second = (json.loads(body) for _, body in receiver.accepted)
    assert first["post"] == {"id": post["id"], "redacted": True}
    assert second["type"] == "post.deleted"
    assert b"dihapus" not in b"".join(body for _, body in receiver.accepted)


def test_delete_stops_delivery_and_removes_the_log(room: Newsroom, receiver: Receiver) -> None:
    slug = room.story()["slug"]
    room.post(slug)
    hook_id, _ = create_webhook(rt(room.app).db, KEY, receiver.url, slug)
    dispatcher = _dispatcher(room.app)
    dispatcher.drain(hook_id)
    delete_webhook(rt(room.app).db, hook_id)
    room.post(slug)
    dispatcher.drain(hook_id)
    assert receiver.seqs() == [1]
    assert dispatcher.due()[0] == []
    with rt(room.app).db.read() as session:
        for model in (Webhook, WebhookCursor, WebhookAttempt):
            assert session.scalar(select(func.count()).select_from(model)) == 0
    with pytest.raises(NotFound):
        delete_webhook(rt(room.app).db, hook_id)


def test_private_addresses_are_refused_at_creation_and_at_delivery(
    room: Newsroom, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = room.story()["slug"]
    room.post(slug)
    hook_id, _ = create_webhook(rt(room.app).db, KEY, receiver.url, slug)
    monkeypatch.delenv("LIVEBLOG_WEBHOOK_ALLOW_PRIVATE")
    with pytest.raises(Invalid) as refused:
        create_webhook(rt(room.app).db, KEY, receiver.url, slug)
    assert "127.0.0.1" in str(refused.value)
    _dispatcher(room.app).drain(hook_id)
    assert receiver.requests == []
    attempt = list_webhooks(rt(room.app).db)[0].attempts[0]
    assert attempt.status is None
    assert "private" in attempt.error
    with pytest.raises(NotFound):
        create_webhook(rt(room.app).db, KEY, "https://93.184.215.14/", "no-such-story")


def test_the_secret_is_kept_sealed(app: Flask) -> None:
    hook_id, secret = create_webhook(rt(app).db, KEY, "http://127.0.0.1:9/")
    with rt(app).db.read() as session:
        hook = session.get(Webhook, hook_id)
        assert hook is not None
        assert secret not in hook.secret
        assert secret[6:] not in hook.secret
        assert unseal(hook.secret, KEY) == secret
        with pytest.raises(ValueError, match="secret key"):
            unseal(hook.secret, "another-key")


def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling() -> None:
    settings = Settings(retry_base=1, retry_cap=60)
    for failures, ceiling in ((1, 1), (2, 2), (4, 8), (7, 60), (500, 60)):
        waits = [backoff(failures, settings) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # spread, not fixed


def test_the_delivery_log_keeps_the_newest_attempts(app: Flask) -> None:
    room = Newsroom(app)
    slug = room.story()["slug"]
    for _ in range(ATTEMPTS_KEPT + 5):
        room.post(slug)
    with Receiver() as receiver:
        hook_id, _ = create_webhook(rt(app).db, KEY, receiver.url, slug)
        _dispatcher(app, Settings(batch=500)).drain(hook_id)
    with rt(app).db.read() as session:
        seqs = session.scalars(select(WebhookAttempt.seq).order_by(WebhookAttempt.id)).all()
    assert list(seqs) == list(range(6, ATTEMPTS_KEPT + 6))


def test_due_waits_for_the_backoff(app: Flask) -> None:
    hook_id, _ = create_webhook(rt(app).db, KEY, "http://127.0.0.1:9/")
    dispatcher = _dispatcher(app, Settings(scan_seconds=5))
    with rt(app).db.write() as session:
        hook = session.get(Webhook, hook_id)
        assert hook is not None
        hook.next_attempt_at = hook.created_at + timedelta(days=1)
    ready, wait = dispatcher.due()
    assert ready == []
    assert wait == 5


def test_only_one_dispatcher_delivers_at_a_time(room: Newsroom) -> None:
    db = rt(room.app).db
    first, second = threading.Event(), threading.Event()
    with leadership(db, first) as leading:
        assert leading
        outcome: list[bool] = []

        def contend() -> None:
            with leadership(Database(db.url), second) as other:
                outcome.append(other)

        contender = threading.Thread(target=contend)
        contender.start()
        time.sleep(0.5)
        assert outcome == []  # still waiting for the lock
        second.set()
        contender.join(10)
        assert outcome == [False]
    third = threading.Event()
    give_up = threading.Timer(10, third.set)  # never hang: give up after 10 s
    give_up.start()
    with leadership(Database(db.url), third) as leading:
        assert leading  # released with the first
    give_up.cancel()


def test_settings_come_from_the_configuration_and_bad_values_keep_the_defaults() -> None:
    settings = Settings.from_config(
        {
            "LIVEBLOG_WEBHOOK_TIMEOUT": "2.5",
            "LIVEBLOG_WEBHOOK_CONCURRENCY": "3",
            "LIVEBLOG_WEBHOOK_RETRY_BASE": "ten",
            "LIVEBLOG_WEBHOOK_PAUSE_AFTER": "-1",
        }
    )
    assert (settings.timeout, settings.concurrency) == (2.5, 3)
    assert (settings.retry_base, settings.pause_after) == (1.0, 86400.0)
