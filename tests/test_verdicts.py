"""A verdict binds the text it judged (contract section 9), over the API and the desk,
on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Newsroom, public_post
from desk_client import Desk
from flask import Flask


@pytest.fixture
def room(any_app: Flask) -> Newsroom:
    """Editor rina, reporters bagus and dewi, admin ada, on either database."""
    return Newsroom(any_app)


def patch(room: Newsroom, slug: str, post: dict[str, Any], who: str, **body: Any) -> Any:
    """PATCH a post at the version the caller has; return the response."""
    return room.call("PATCH", f"/api/v1/stories/{slug}/posts/{post['id']}", who, json={**body})


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def statuses(post: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in post["verification_history"]]


def confirmed_post(room: Newsroom, status: str = "confirmed") -> tuple[str, dict[str, Any]]:
    """A reporter's post an editor has judged; return (slug, post at version 2)."""
    slug = room.story()["slug"]
    post = room.post(slug, "bagus", body="<p>Polisi: 4 korban.</p>")
    post = ok(
        patch(room, slug, post, "rina", version=1, verification={"status": status, "note": "Cek"})
    )
    assert post["verification"] == {"status": status, "note": "Cek"}
    assert post["verified_by_editor"] is True
    return slug, post


@pytest.mark.parametrize("status", ["confirmed", "false"])
@pytest.mark.parametrize("who", ["bagus", "rina"])
def test_body_change_undoes_the_verdict(room: Newsroom, status: str, who: str) -> None:
    slug, post = confirmed_post(room, status)
    edited = ok(patch(room, slug, post, who, version=2, body="<p>Polisi: 40 korban.</p>"))
    assert edited["verification"] == {"status": "unverified", "note": ""}
    assert edited["verified_by_editor"] is False
    assert statuses(edited) == ["unverified", status, "unverified"]
    assert edited["verification_history"][-1]["reason"] == "text_changed"
    assert edited["verification_history"][1]["note"] == "Cek"
    events = room.client.get(f"/api/v1/stories/{slug}/events?after=2").get_json()["events"]
    assert events[0]["changes"] == ["body", "verification"]
    assert events[0]["post"] == public_post(edited)
    # The reporter may now give it a status of their own again.
    again = ok(patch(room, slug, edited, "bagus", version=3, verification={"status": "disputed"}))
    assert again["verification"]["status"] == "disputed"


@pytest.mark.parametrize("status", ["confirmed", "false", "disputed"])
def test_editor_judges_the_new_text_in_the_same_request(room: Newsroom, status: str) -> None:
    slug, post = confirmed_post(room)
    edited = ok(
        patch(
            room,
            slug,
            post,
            "rina",
            version=2,
            body="<p>Polisi: 5 korban.</p>",
            verification={"status": status, "note": "Cek ulang"},
        )
    )
    assert edited["verification"] == {"status": status, "note": "Cek ulang"}
    assert statuses(edited) == ["unverified", "confirmed", status]
    assert edited["verified_by_editor"] is True


def test_same_verdict_again_is_a_new_judgement(room: Newsroom) -> None:
    slug, post = confirmed_post(room)
    edited = ok(
        patch(
            room,
            slug,
            post,
            "ada",
            version=2,
            body="<p>Polisi: 4 korban, 2 luka.</p>",
            verification={"status": "confirmed", "note": "Cek"},
        )
    )
    assert edited["verification"] == {"status": "confirmed", "note": "Cek"}
    assert statuses(edited) == ["unverified", "confirmed", "confirmed"]


def test_changes_without_body_keep_the_verdict(room: Newsroom) -> None:
    slug, post = confirmed_post(room)
    edited = ok(patch(room, slug, post, "bagus", version=2, key_event=True, correction="Jam."))
    assert edited["verification"] == {"status": "confirmed", "note": "Cek"}
    same_body = ok(
        patch(room, slug, edited, "bagus", version=3, body=post["body"], key_event=False)
    )
    assert same_body["verification"]["status"] == "confirmed"


def test_disputed_survives_a_body_change(room: Newsroom) -> None:
    slug, post = confirmed_post(room, "disputed")
    edited = ok(patch(room, slug, post, "bagus", version=2, body="<p>Lain.</p>"))
    assert edited["verification"] == {"status": "disputed", "note": "Cek"}


@pytest.mark.parametrize(
    ("status", "change"),
    [
        ("false", {"verification": {"status": "unverified"}}),
        ("false", {"verification": {"status": "disputed", "note": "Cek"}}),
        ("confirmed", {"verification": {"status": "confirmed", "note": "Lain"}}),
        ("disputed", {"verification": {"status": "unverified"}}),
        ("disputed", {"verification": {"status": "disputed", "note": "Bukan"}}),
        ("confirmed", {"body": "<p>X</p>", "verification": {"status": "confirmed"}}),
        ("false", {"body": "<p>X</p>", "verification": {"status": "disputed"}}),
    ],
)
def test_reporter_cannot_change_an_editors_status(
    room: Newsroom, status: str, change: dict[str, Any]
) -> None:
    slug, post = confirmed_post(room, status)
    before = room.snapshot()
    r = patch(room, slug, post, "bagus", version=2, **change)
    assert r.status_code == 403, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] in ("verdict_locked", "forbidden")
    assert "editor" in error["message"]
    assert room.snapshot() == before


def test_lock_message_names_the_reason(room: Newsroom) -> None:
    slug, post = confirmed_post(room, "false")
    r = patch(room, slug, post, "bagus", version=2, verification={"status": "unverified"})
    assert r.get_json()["error"] == {
        "code": "verdict_locked",
        "message": "An editor set this update's verification status; only an editor may "
        "change it.",
    }


def test_reporters_own_status_stays_theirs(room: Newsroom) -> None:
    slug = room.story()["slug"]
    post = room.post(slug, "bagus", verification={"status": "disputed", "note": "Ragu"})
    assert post["verified_by_editor"] is False
    edited = ok(patch(room, slug, post, "bagus", version=1, verification={"status": "unverified"}))
    assert edited["verification"]["status"] == "unverified"
    assert statuses(edited) == ["disputed", "unverified"]


def test_history_records_time_and_note(room: Newsroom) -> None:
    _, post = confirmed_post(room)
    first, second = post["verification_history"]
    assert first == {"status": "unverified", "note": "", "at": post["published_at"]}
    assert second == {"status": "confirmed", "note": "Cek", "at": post["updated_at"]}


# -- the desk ------------------------------------------------------------------------------


def desk_as(app: Flask, name: str) -> Desk:
    desk = Desk(app)
    assert desk.login(name).status_code == 303
    return desk


def test_desk_obeys_the_same_rules(any_app: Flask, room: Newsroom) -> None:
    slug, post = confirmed_post(room, "false")
    bagus = desk_as(any_app, "bagus")
    r = bagus.edit(slug, post["id"], version=2, verification={"status": "unverified"})
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "verdict_locked"
    r = bagus.edit(slug, post["id"], version=2, body="<p>Polisi: 40 korban.</p>")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["verification"]["status"] == "unverified"
    rina = desk_as(any_app, "rina")
    r = rina.edit(
        slug,
        post["id"],
        version=3,
        body="<p>Polisi: 4 korban.</p>",
        verification={"status": "confirmed", "note": "Lagi"},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["verification"] == {"status": "confirmed", "note": "Lagi"}


def test_desk_explains_the_rule(any_app: Flask, room: Newsroom) -> None:
    slug = room.story()["slug"]
    for lang, expected in (
        ("en", "only an editor can change it"),
        ("id", "hanya editor yang dapat mengubahnya"),
    ):
        desk = desk_as(any_app, "bagus")
        page = desk.get(f"/editor/stories/{slug}?lang={lang}").text
        assert expected in page
