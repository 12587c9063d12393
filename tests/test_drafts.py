"""Drafts, submissions and approval over the API and the desk, on SQLite and PostgreSQL.

A draft is private (its author and the editors) and never reaches the public event log,
the feeds or the pages; publishing it appends exactly one `post.created`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Newsroom, rt
from desk_client import Desk
from flask import Flask
from sqlalchemy import func, select, update

from liveblog.accounts import actor_of, create_token, create_user, set_disabled
from liveblog.drafts import DraftService
from liveblog.errors import Conflict
from liveblog.models import Draft, DraftState, Post, PostRevision, User
from liveblog.service import StoryService

API = "/api/v1/stories"
SECRET = "Sumber kami menyebut serangan siber, belum terverifikasi"


@pytest.fixture
def room(any_app: Flask) -> Newsroom:
    """Editor rina, reporters bagus and dewi, admin ada, and contributor sekar."""
    newsroom = Newsroom(any_app)
    create_user(rt(any_app).db, "sekar", "contributor", "pw-sekar", "Sekar")
    newsroom.tokens["sekar"] = create_token(rt(any_app).db, "sekar")
    return newsroom


def soon(seconds: float = 600) -> str:
    """Return an RFC 3339 time `seconds` ahead, in Jakarta's offset."""
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
    return at.astimezone(datetime.now().astimezone().tzinfo).isoformat()


def draft(room: Newsroom, slug: str, who: str, status: int = 201, **body: Any) -> Any:
    body.setdefault("payload", {"body": f"<p>{SECRET}</p>"})
    response = room.call("POST", f"{API}/{slug}/drafts", who, json=body)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def public_events(room: Newsroom, slug: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = room.call("GET", f"{API}/{slug}/events", None).get_json()[
        "events"
    ]
    return events


def assert_nowhere_public(room: Newsroom, slug: str) -> None:
    """The draft's words are in no public place: log, feeds, page."""
    assert SECRET not in str(public_events(room, slug))
    for path in (f"/stories/{slug}", f"/stories/{slug}/feed.json", f"/stories/{slug}/feed.atom"):
        response = room.client.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.get_data(as_text=True), path


def count(app: Flask, model: Any) -> int:
    with rt(app).db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_draft_is_private_until_published_then_one_event(room: Newsroom) -> None:
    slug = room.story()["slug"]
    saved = draft(room, slug, "bagus")
    assert saved["state"] == "draft"
    assert saved["version"] == 1
    assert saved["author"] == {"name": "Bagus"}
    assert saved["post"] is None
    assert_nowhere_public(room, slug)
    assert room.call("GET", f"{API}/{slug}", None).get_json()["last_seq"] == 0
    one = f"{API}/{slug}/drafts/{saved['id']}"

    # Only its author and the editors see it.
    assert room.call("GET", one, "dewi").status_code == 404
    assert room.call("GET", f"{API}/{slug}/drafts", "dewi").get_json() == {"drafts": []}
    assert room.call("GET", one, "rina").status_code == 200
    listed = room.call("GET", f"{API}/{slug}/drafts", "ada").get_json()["drafts"]
    assert [d["id"] for d in listed] == [saved["id"]]
    assert room.call("GET", one, None).status_code == 401

    # Edit at the version seen; a stale version is a 409 naming the current one.
    fields = {"body": "Dua", "headline": "Siaran tersendat", "coauthors": ["dewi"]}
    changed = room.call("PATCH", one, "bagus", json={"version": 1, "payload": fields})
    assert changed.status_code == 200
    assert changed.get_json()["version"] == 2
    stale = room.call("PATCH", one, "rina", json={"version": 1, "payload": {"body": "Tiga"}})
    assert stale.status_code == 409
    assert stale.get_json()["error"]["code"] == "stale_version"
    assert stale.get_json()["error"]["current"]["payload"] == fields

    before = public_events(room, slug)
    published = room.call("POST", one + "/publish", "bagus", json={"version": 2})
    assert published.status_code == 201, published.get_json()
    post = published.get_json()
    assert post["body"] == "Dua"
    assert post["author"] == {"name": "Bagus"}
    assert post["headline"] == "Siaran tersendat"  # the post's newer fields ride along
    assert [a["name"] for a in post["authors"]] == ["Bagus", "Dewi"]
    after = public_events(room, slug)
    assert [e["type"] for e in after[len(before) :]] == ["post.created"]
    assert after[-1]["post"]["id"] == post["id"]
    # Published once: the draft now names its post and cannot be published again.
    shown = room.call("GET", one, "bagus").get_json()
    assert shown["state"] == "published"
    assert shown["post"] == post["id"]
    again = room.call("POST", one + "/publish", "bagus")
    assert again.status_code == 409
    assert room.call("DELETE", one, "bagus").status_code == 409
    assert len(public_events(room, slug)) == len(after)


def test_delete_a_draft(room: Newsroom) -> None:
    slug = room.story()["slug"]
    saved = draft(room, slug, "bagus")
    one = f"{API}/{slug}/drafts/{saved['id']}"
    assert room.call("DELETE", one, "dewi").status_code == 404
    assert room.call("DELETE", one, "rina").status_code == 204
    assert room.call("GET", one, "bagus").status_code == 404
    assert count(room.app, Draft) == 0


BAD = [
    ({"payload": {"body": ""}}, "body"),
    ({"payload": {"body": "x", "colour": "red"}}, "colour"),
    ({"payload": "x"}, "payload"),
    ({}, "payload"),
    ({"payload": {"body": "x"}, "when": 1}, "when"),
    ({"payload": {"body": "x"}, "publish_at": "2020-01-01T00:00:00+07:00"}, "publish_at"),
    ({"payload": {"body": "x"}, "publish_at": "2099-01-01T00:00:00Z"}, "publish_at"),
    ({"payload": {"body": "x"}, "publish_at": "2026-12-06T20:45:00"}, "publish_at"),
    ({"payload": {"body": "x"}, "publish_at": "2026-02-30T20:45:00Z"}, "publish_at"),
    ({"payload": {"body": "x"}, "publish_at": 5}, "publish_at"),
    ({"payload": {"body": "x"}, "submit": "yes"}, "submit"),
    # A day ahead: the list is built at collection, long before the test runs in a full suite.
    ({"payload": {"body": "x"}, "submit": True, "publish_at": soon(86400)}, "submit"),
    ({"payload": {"body": "x", "format": "rtf"}}, "format"),
]


def test_bad_input_is_422_and_changes_nothing(room: Newsroom) -> None:
    slug = room.story()["slug"]
    saved = draft(room, slug, "bagus")
    counts, drafts = room.counts(), count(room.app, Draft)
    for body, field in BAD:
        refused(room, slug, saved, body, field)
    assert room.counts() == counts
    assert count(room.app, Draft) == drafts


def refused(room: Newsroom, slug: str, saved: Any, body: Any, field: str) -> None:
    """Both POST and PATCH refuse `body` naming `field`, and the draft stays as it was."""
    response = room.call("POST", f"{API}/{slug}/drafts", "bagus", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["field"] == field
    change = {k: v for k, v in body.items() if k != "payload"} or {"payload": body.get("payload")}
    patched = room.call(
        "PATCH", f"{API}/{slug}/drafts/{saved['id']}", "bagus", json={"version": 1, **change}
    )
    assert patched.status_code == 422, patched.get_json()
    assert room.call("GET", f"{API}/{slug}/drafts/{saved['id']}", "bagus").get_json() == saved


def test_schedule_and_the_scheduler_publishes_exactly_once(room: Newsroom) -> None:
    slug = room.story()["slug"]
    at = soon(120)
    saved = draft(room, slug, "bagus", publish_at=at)
    assert saved["state"] == "scheduled"
    assert datetime.fromisoformat(saved["publish_at"]) == datetime.fromisoformat(at)
    drafts = rt(room.app).drafts
    assert drafts.publish_due() == 0  # not due yet
    assert_nowhere_public(room, slug)
    later = datetime.now(UTC) + timedelta(minutes=3)
    # Two schedulers at once (two processes, or a restart racing the old one): one post.
    others = [DraftService(rt(room.app).db, StoryService(rt(room.app).db, lambda *a: None))]
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(s.publish_due(later)))
        for s in [drafts, *others, drafts]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 0, 1]
    created = [e for e in public_events(room, slug) if e["type"] == "post.created"]
    assert len(created) == 1
    assert created[0]["post"]["author"] == {"name": "Bagus"}
    assert count(room.app, Post) == 1
    shown = room.call("GET", f"{API}/{slug}/drafts/{saved['id']}", "bagus").get_json()
    assert shown["state"] == "published"
    assert shown["post"] == created[0]["post"]["id"]


def test_cancel_or_move_a_schedule(room: Newsroom) -> None:
    slug = room.story()["slug"]
    saved = draft(room, slug, "bagus", publish_at=soon(60))
    one = f"{API}/{slug}/drafts/{saved['id']}"
    moved = room.call("PATCH", one, "bagus", json={"version": 1, "publish_at": soon(7200)})
    assert moved.get_json()["state"] == "scheduled"
    cancelled = room.call("PATCH", one, "bagus", json={"version": 2, "publish_at": None})
    assert cancelled.get_json()["state"] == "draft"
    assert cancelled.get_json()["publish_at"] is None
    assert rt(room.app).drafts.publish_due(datetime.now(UTC) + timedelta(days=1)) == 0
    assert count(room.app, Post) == 0


def test_a_scheduled_draft_that_cannot_be_published_goes_back_with_the_reason(
    room: Newsroom,
) -> None:
    slug = room.story()["slug"]
    saved = draft(room, slug, "bagus", publish_at=soon(60))
    room.call("PATCH", f"{API}/{slug}", "rina", json={"status": "ended"})
    assert rt(room.app).drafts.publish_due(datetime.now(UTC) + timedelta(minutes=5)) == 0
    shown = room.call("GET", f"{API}/{slug}/drafts/{saved['id']}", "bagus").get_json()
    assert shown["state"] == "draft"
    assert "ended" in shown["reason"]
    assert count(room.app, Post) == 0


def test_contributor_posts_wait_for_an_editor(room: Newsroom) -> None:
    slug = room.story()["slug"]
    counts = room.counts()
    response = room.call("POST", f"{API}/{slug}/posts", "sekar", json={"body": f"<p>{SECRET}</p>"})
    assert response.status_code == 202, response.get_json()
    submission = response.get_json()
    assert submission["state"] == "pending"
    assert submission["author"] == {"name": "Sekar"}
    assert response.headers["Location"].endswith(f"/drafts/{submission['id']}")
    assert room.counts() == counts  # no post, no event
    assert_nowhere_public(room, slug)
    one = f"{API}/{slug}/drafts/{submission['id']}"

    # What a contributor may not do.
    for body in (
        {"body": "x", "pinned": True},
        {"body": "x", "key_event": True},
        {"body": "x", "verification": {"status": "disputed"}},
        {"body": "x", "verification": {"status": "unverified", "note": "Dicek redaksi."}},
    ):
        refused = room.call("POST", f"{API}/{slug}/posts", "sekar", json=body)
        assert refused.status_code == 403, body
    assert room.call("POST", one + "/publish", "sekar").status_code == 403
    scheduled = room.call("PATCH", one, "sekar", json={"version": 1, "publish_at": soon()})
    assert scheduled.status_code == 403
    theirs = draft(room, slug, "bagus")
    assert room.call("GET", f"{API}/{slug}/drafts/{theirs['id']}", "sekar").status_code == 404
    listed = room.call("GET", f"{API}/{slug}/drafts", "sekar").get_json()["drafts"]
    assert [d["id"] for d in listed] == [submission["id"]]
    # A reporter cannot approve or reject (nor see) it.
    assert room.call("POST", one + "/publish", "bagus").status_code == 404
    assert room.call("POST", one + "/reject", "bagus", json={"reason": "x"}).status_code == 403
    assert room.counts() == counts

    # The editor rejects with a reason; the contributor sees it, edits and resubmits.
    rejected = room.call("POST", one + "/reject", "rina", json={"reason": "Sumbernya siapa?"})
    assert rejected.status_code == 200, rejected.get_json()
    seen = room.call("GET", one, "sekar").get_json()
    assert seen["state"] == "rejected"
    assert seen["reason"] == "Sumbernya siapa?"
    assert seen["reviewer"] == {"name": "Rina"}
    assert seen["reviewed_at"]
    body = {"body": "<p>Sumber: juru bicara platform.</p>"}
    edited = room.call("PATCH", one, "sekar", json={"version": 2, "payload": body, "submit": True})
    assert edited.get_json()["state"] == "pending"

    # The editor approves: published with the contributor as its author, once.
    approved = room.call("POST", one + "/publish", "rina", json={"version": 3})
    assert approved.status_code == 201, approved.get_json()
    post = approved.get_json()
    assert post["author"] == {"name": "Sekar"}
    created = [e for e in public_events(room, slug) if e["type"] == "post.created"]
    assert [e["post"]["id"] for e in created] == [post["id"]]
    audit = room.call("GET", one, "sekar").get_json()
    assert audit["state"] == "published"
    assert audit["reviewer"] == {"name": "Rina"}
    with rt(room.app).db.read() as session:
        revision = session.scalars(select(PostRevision).where(PostRevision.post_id == post["id"]))
        assert [r.editor.username for r in revision] == ["rina"]  # who approved it

    # Published, it is not the contributor's to change or delete.
    path = f"{API}/{slug}/posts/{post['id']}"
    assert room.call("PATCH", path, "sekar", json={"version": 1, "body": "y"}).status_code == 403
    assert room.call("DELETE", path, "sekar").status_code == 403


def test_the_desk_drafts_queue_needs_csrf_and_speaks_story_time(any_app: Flask) -> None:
    room = Newsroom(any_app)
    create_user(rt(any_app).db, "sekar", "contributor", "pw-sekar", "Sekar")
    slug = room.story()["slug"]
    contributor, editor = Desk(any_app), Desk(any_app)
    assert contributor.login("sekar").status_code == 303
    assert editor.login("rina").status_code == 303
    url = f"/editor/api/stories/{slug}/drafts"
    no_token = contributor.client.post(url, json={"payload": {"body": "x"}, "submit": True})
    assert no_token.status_code == 400
    assert no_token.get_json()["error"]["code"] == "csrf_failed"
    # The desk's publish button, for a contributor, submits.
    sent = contributor.publish(slug, body="Dari lapangan: antrean panjang.")
    assert sent.status_code == 202, sent.get_json()
    queue = editor.get(url).get_json()["drafts"]
    assert [(d["state"], d["reviewable"]) for d in queue] == [("pending", True)]
    assert "antrean" in queue[0]["html"]
    first = queue[0]["id"]
    assert contributor.get(url).get_json()["drafts"][0]["reviewable"] is False
    # The poll answers 204 while nothing changed, and the list again once something did.
    key = editor.get(url).get_json()["key"]
    assert editor.get(f"{url}?seen={key}").status_code == 204
    contributor.publish(slug, body="Pendengar melapor siaran terputus.")
    assert len(editor.get(f"{url}?seen={key}").get_json()["drafts"]) == 2

    # An editor schedules a draft by the story's wall clock (Asia/Jakarta, UTC+7).
    wall = (datetime.now(UTC) + timedelta(hours=7, minutes=30)).replace(tzinfo=None)
    local = wall.strftime("%Y-%m-%dT%H:%M")
    made = editor.json("POST", url, {"payload": {"body": "x"}, "publish_at_local": local})
    assert made.status_code == 201, made.get_json()
    stamp = datetime.fromisoformat(made.get_json()["publish_at"])
    assert stamp == wall.replace(second=0, microsecond=0, tzinfo=UTC) - timedelta(hours=7)
    assert "WIB" in made.get_json()["publish_at_label"]
    approved = editor.json("POST", f"{url}/{first}/publish")
    assert approved.status_code == 201
    assert approved.get_json()["author"] == {"name": "Sekar"}


def test_the_plain_desk_form_of_a_contributor_submits(any_app: Flask) -> None:
    room = Newsroom(any_app)
    create_user(rt(any_app).db, "sekar", "contributor", "pw-sekar", "Sekar")
    slug = room.story()["slug"]
    desk = Desk(any_app)
    assert desk.login("sekar").status_code == 303
    counts = room.counts()
    form = {"body": "Antrean di lobi.", "format": "text", "key_event": "on"}
    sent = desk.form(f"/editor/stories/{slug}/posts", form)
    assert sent.status_code == 303
    assert room.counts() == counts
    page = desk.get(f"/editor/stories/{slug}").get_data(as_text=True)
    assert "Sent to the editors for approval." in page
    assert 'id="verification"' not in page
    with rt(any_app).db.read() as session:
        drafts = list(session.scalars(select(Draft)))
    assert [(d.state.value, d.payload) for d in drafts] == [
        ("pending", {"body": "Antrean di lobi.", "format": "text"})
    ]


def test_a_contributor_cannot_change_what_an_editor_scheduled(room: Newsroom) -> None:
    """An editor approves a submission by scheduling it; a later edit needs approval again."""
    slug = room.story()["slug"]
    submitted = room.call("POST", f"{API}/{slug}/posts", "sekar", json={"body": "<p>Aman.</p>"})
    one = f"{API}/{slug}/drafts/{submitted.get_json()['id']}"
    scheduled = room.call("PATCH", one, "rina", json={"version": 1, "publish_at": soon(60)})
    assert scheduled.get_json()["state"] == "scheduled"
    swapped = {"body": f"<p>{SECRET}</p>"}
    edited = room.call("PATCH", one, "sekar", json={"version": 2, "payload": swapped})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["state"] == "pending"
    assert edited.get_json()["publish_at"] is None
    assert rt(room.app).drafts.publish_due(datetime.now(UTC) + timedelta(minutes=5)) == 0
    assert count(room.app, Post) == 0
    assert_nowhere_public(room, slug)


def test_a_disabled_users_schedule_is_not_published(room: Newsroom) -> None:
    slug = room.story()["slug"]
    saved = draft(room, slug, "bagus", publish_at=soon(60))
    set_disabled(rt(room.app).db, "bagus", True)
    assert rt(room.app).drafts.publish_due(datetime.now(UTC) + timedelta(minutes=5)) == 0
    assert count(room.app, Post) == 0
    assert_nowhere_public(room, slug)
    shown = room.call("GET", f"{API}/{slug}/drafts/{saved['id']}", "rina").get_json()
    assert shown["state"] == "draft"
    assert shown["reason"]


def test_a_contributor_cannot_read_a_taken_down_posts_history(any_app: Flask) -> None:
    """The text of a deleted post stays with the newsroom, not its outside contributors."""
    room = Newsroom(any_app)
    create_user(rt(any_app).db, "sekar", "contributor", "pw-sekar", "Sekar")
    slug = room.story()["slug"]
    post = room.post(slug, body=f"<p>{SECRET}</p>")
    assert room.call("DELETE", f"{API}/{slug}/posts/{post['id']}", "rina").status_code == 204
    history = f"/editor/api/stories/{slug}/posts/{post['id']}/revisions"
    stringer = Desk(any_app)
    assert stringer.login("sekar").status_code == 303
    refused = stringer.get(history)
    assert refused.status_code == 404
    assert SECRET not in refused.get_data(as_text=True)
    reporter = Desk(any_app)
    assert reporter.login("bagus").status_code == 303
    assert SECRET in reporter.get(history).get_data(as_text=True)


def test_an_edit_racing_the_publish_cannot_reopen_the_published_draft(room: Newsroom) -> None:
    """The edit waits for the publish's lock, then finds the draft published: 409."""
    slug = room.story()["slug"]
    submitted = room.call("POST", f"{API}/{slug}/posts", "sekar", json={"body": "<p>Aman.</p>"})
    draft_id = submitted.get_json()["id"]
    one = f"{API}/{slug}/drafts/{draft_id}"
    rejected = room.call("POST", one + "/reject", "rina", json={"reason": "Sumber?"})
    assert rejected.status_code == 200
    db = rt(room.app).db
    with db.read() as session:
        sekar = actor_of(session.scalars(select(User).where(User.username == "sekar")).one())
    claimed = threading.Event()

    def publish_slowly() -> None:
        with db.write() as session:
            session.execute(
                update(Draft)
                .where(Draft.id == draft_id)
                .values(state=DraftState.PUBLISHED, version=Draft.version + 1)
            )
            claimed.set()
            time.sleep(1.0)

    publisher = threading.Thread(target=publish_slowly)
    publisher.start()
    assert claimed.wait(10)
    change = {"version": 2, "payload": {"body": f"<p>{SECRET}</p>"}}
    with pytest.raises(Conflict):
        rt(room.app).drafts.update(sekar, slug, draft_id, change)
    publisher.join(10)
    with db.read() as session:
        assert session.get(Draft, draft_id).state is DraftState.PUBLISHED  # type: ignore[union-attr]


def test_the_desk_queue_renders_each_draft_version_once(
    room: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One changed draft costs one render, however many drafts the editors' queue lists."""
    from liveblog.views import drafts as views

    slug = room.story()["slug"]
    saved = [draft(room, slug, "sekar", submit=True) for _ in range(3)]
    rendered: list[str] = []
    real = views.body_html
    monkeypatch.setattr(
        views, "body_html", lambda raw, fmt: rendered.append(raw) or real(raw, fmt)
    )
    editor = Desk(room.app)
    assert editor.login("rina").status_code == 303
    queue = f"/editor/api/stories/{slug}/drafts"
    assert len(editor.get(queue).get_json()["drafts"]) == 3
    one = f"{API}/{slug}/drafts/{saved[0]['id']}"
    changed = room.call(
        "PATCH", one, "sekar", json={"version": 1, "payload": {"body": "<p>Baru.</p>"}}
    )
    assert changed.status_code == 200
    assert len(editor.get(queue).get_json()["drafts"]) == 3
    assert len(rendered) == 4  # three, then only the changed one


def test_a_submission_an_editor_scheduled_records_the_editor_as_reviewer(room: Newsroom) -> None:
    slug = room.story()["slug"]
    submitted = room.call("POST", f"{API}/{slug}/posts", "sekar", json={"body": "<p>Aman.</p>"})
    one = f"{API}/{slug}/drafts/{submitted.get_json()['id']}"
    room.call("PATCH", one, "rina", json={"version": 1, "publish_at": soon(60)})
    assert rt(room.app).drafts.publish_due(datetime.now(UTC) + timedelta(minutes=5)) == 1
    audit = room.call("GET", one, "sekar").get_json()
    assert audit["state"] == "published"
    assert audit["reviewer"] == {"name": "Rina"}
    assert audit["reviewed_at"]
