"""A first pass over the write API as a partner would use it."""

from __future__ import annotations

from conftest import Newsroom


def test_story_post_edit_delete_round_trip(newsroom: Newsroom) -> None:
    story = newsroom.story(summary="Ringkasan")
    assert story["slug"] == "wawancara-di-x-tersendat"
    assert story["last_seq"] == 0
    post = newsroom.post(story["slug"], "bagus")
    assert post["version"] == 1
    r = newsroom.call(
        "PATCH",
        f"/api/v1/stories/{story['slug']}/posts/{post['id']}",
        "bagus",
        json={"version": 1, "body": "<p>Baru</p>", "correction": "Jam diperbaiki."},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == 2
    r = newsroom.call("DELETE", f"/api/v1/stories/{story['slug']}/posts/{post['id']}")
    assert r.status_code == 204
    events = newsroom.call("GET", f"/api/v1/stories/{story['slug']}/events", None).get_json()
    assert [e["seq"] for e in events["events"]] == [1, 2, 3]
    assert [e["type"] for e in events["events"]] == [
        "post.created",
        "post.updated",
        "post.deleted",
    ]
    assert events["events"][1]["changes"] == ["body", "corrections"]
    assert events["last_seq"] == 3
