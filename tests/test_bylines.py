"""Post fields of issue 12: format and source kept, headline, co-authors; on both databases.

Over the write API, the desk's JSON, the reader page, the permalink, the JSON Feed and the
Atom feed; takedowns and purges scrub the source and headline with the body.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import Newsroom, public_post, rt
from desk_client import Desk
from flask import Flask
from sqlalchemy import select

from liveblog.accounts import create_user, set_disabled
from liveblog.models import Post, PostCoauthor, PostRevision

API = "/api/v1/stories"
# Markdown the reporter wrote: its marks never appear in the HTML that is served.
MARKDOWN = "Siaran **tersendat** lagi.\n\nPendengar: _sekitar satu juta_."
HEADLINE = "Siaran di X <tersendat> & molor"


@pytest.fixture
def room(any_app: Flask) -> Newsroom:
    """Editor rina, reporters bagus and dewi, admin ada; on SQLite or PostgreSQL."""
    create_user(rt(any_app).db, "sari", "reporter", "pw-sari", "Sari W.")
    return Newsroom(any_app)


def events(room: Newsroom, slug: str, after: int = 0) -> list[dict[str, Any]]:
    r = room.client.get(f"{API}/{slug}/events?after={after}")
    assert r.status_code == 200
    result: list[dict[str, Any]] = r.get_json()["events"]
    return result


def patch(room: Newsroom, slug: str, post: dict[str, Any], who: str, **fields: Any) -> Any:
    return room.call("PATCH", f"{API}/{slug}/posts/{post['id']}", who, json=fields)


def rows(room: Newsroom, post_id: str) -> tuple[Post, list[PostRevision], list[str]]:
    """Return the stored post, its revisions and its co-authors' usernames."""
    with rt(room.app).db.read() as session:
        post = session.get(Post, post_id)
        assert post is not None
        session.expunge(post)
        revisions = list(
            session.scalars(
                select(PostRevision)
                .where(PostRevision.post_id == post_id)
                .order_by(PostRevision.version)
            )
        )
        links = session.scalars(
            select(PostCoauthor)
            .where(PostCoauthor.post_id == post_id)
            .order_by(PostCoauthor.position)
        )
        names = [link.user.username for link in links]
        return post, revisions, names


def test_round_trip_of_format_source_headline_and_coauthors(room: Newsroom) -> None:
    slug = room.story()["slug"]
    post = room.post(
        slug,
        "bagus",
        body=MARKDOWN,
        format="markdown",
        headline=f"  {HEADLINE}  ",
        coauthors=["sari", "bagus", "dewi", "sari"],  # the author and repeats drop out
    )
    assert post["format"] == "markdown"
    assert post["source"] == MARKDOWN
    assert "<strong>tersendat</strong>" in post["body"]
    assert "**" not in post["body"]
    assert post["headline"] == HEADLINE  # trimmed; stored as text, escaped on output
    assert post["coauthors"] == ["sari", "dewi"]
    assert post["author"] == {"name": "Bagus"}
    assert post["authors"] == [{"name": "Bagus"}, {"name": "Sari W."}, {"name": "Dewi"}]
    [created] = events(room, slug)
    assert created["post"] == public_post(post)
    assert "source" not in created["post"]
    assert "coauthors" not in created["post"]
    stored, [revision], names = rows(room, post["id"])
    assert (stored.format, stored.source, stored.headline) == ("markdown", MARKDOWN, HEADLINE)
    assert (revision.format, revision.source, revision.headline) == (
        "markdown",
        MARKDOWN,
        HEADLINE,
    )
    assert names == ["sari", "dewi"]

    # An editor changes the headline and the byline's order: one version, one event each.
    r = patch(room, slug, post, "rina", version=1, headline="Siaran pulih", coauthors=["dewi"])
    assert r.status_code == 200, r.get_json()
    edited = r.get_json()
    assert (edited["version"], edited["headline"], edited["coauthors"]) == (
        2,
        "Siaran pulih",
        ["dewi"],
    )
    assert edited["source"] == MARKDOWN
    assert edited["format"] == "markdown"
    [updated] = events(room, slug, after=1)
    assert updated["changes"] == ["headline", "coauthors"]
    assert updated["post"]["authors"] == [{"name": "Bagus"}, {"name": "Dewi"}]

    # null clears the headline, [] the co-authors; a body without format is HTML (as before).
    r = patch(
        room, slug, edited, "bagus", version=2, headline=None, coauthors=[], body="<p>Pulih.</p>"
    )
    assert r.status_code == 200, r.get_json()
    cleared = r.get_json()
    assert cleared["headline"] is None
    assert cleared["coauthors"] == []
    assert (cleared["format"], cleared["source"], cleared["body"]) == (
        "html",
        "<p>Pulih.</p>",
        "<p>Pulih.</p>",
    )
    assert events(room, slug, after=2)[0]["changes"] == ["body", "headline", "coauthors"]
    r = patch(room, slug, cleared, "bagus", version=3, headline="")  # already none: no change
    assert (r.status_code, r.get_json()["version"]) == (200, 3)
    assert len(events(room, slug)) == 3


def test_markdown_edit_keeps_markdown(room: Newsroom) -> None:
    slug = room.story()["slug"]
    post = room.post(slug, "bagus", body=MARKDOWN, format="markdown")
    again = MARKDOWN.replace("lagi", "sekali lagi")
    r = patch(room, slug, post, "bagus", version=1, body=again, format="markdown")
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["source"], r.get_json()["format"]) == (again, "markdown")
    _, revisions, _ = rows(room, post["id"])
    assert [(rev.version, rev.source) for rev in revisions] == [(1, MARKDOWN), (2, again)]


BAD = [
    ({"headline": "a" * 201}, "headline"),
    ({"headline": "Dua\nbaris"}, "headline"),
    ({"headline": "Tab\tdi tengah"}, "headline"),
    ({"headline": "Bel\x07"}, "headline"),
    ({"headline": 7}, "headline"),
    ({"coauthors": "sari"}, "coauthors"),
    ({"coauthors": [1]}, "coauthors"),
    ({"coauthors": ["a", "b", "c", "d", "e", "f"]}, "coauthors"),
    ({"coauthors": ["sari", "hantu"]}, "coauthors"),
    ({"coauthors": ["mati"]}, "coauthors"),  # disabled
]


@pytest.mark.parametrize(("fields", "field"), BAD)
def test_bad_fields_are_422_and_change_nothing(
    room: Newsroom, fields: dict[str, Any], field: str
) -> None:
    create_user(rt(room.app).db, "mati", "reporter", "pw-mati", "Mati")
    set_disabled(rt(room.app).db, "mati", True)
    slug = room.story()["slug"]
    post = room.post(slug, "bagus", headline="Lama", coauthors=["sari"])
    before, counts = room.snapshot(), room.counts()
    created = room.call("POST", f"{API}/{slug}/posts", "bagus", json={"body": "x", **fields})
    changed = patch(room, slug, post, "bagus", version=1, **fields)
    for r in (created, changed):
        assert r.status_code == 422, r.get_json()
        assert r.get_json()["error"]["field"] == field
    if fields.get("coauthors") in (["sari", "hantu"], ["mati"]):
        name = fields["coauthors"][-1]
        assert created.get_json()["error"]["name"] == name
        assert name in created.get_json()["error"]["message"]
    assert (room.snapshot(), room.counts()) == (before, counts)
    stored, _, names = rows(room, post["id"])
    assert (stored.headline, names) == ("Lama", ["sari"])
    assert len(events(room, slug)) == 1


def test_only_the_author_or_an_editor_sets_coauthors(room: Newsroom) -> None:
    slug = room.story()["slug"]
    post = room.post(slug, "bagus")
    r = patch(room, slug, post, "dewi", version=1, coauthors=["dewi"])
    assert r.status_code == 403
    assert rows(room, post["id"])[2] == []
    r = patch(room, slug, post, "rina", version=1, coauthors=["dewi"])
    assert (r.status_code, r.get_json()["coauthors"]) == (200, ["dewi"])


def test_reader_page_feeds_and_permalink_show_headline_and_byline(room: Newsroom) -> None:
    slug = room.story()["slug"]
    post = room.post(slug, "bagus", body=MARKDOWN, format="markdown", headline=HEADLINE,
                     coauthors=["sari"])  # fmt: skip
    plain = room.post(slug, "dewi", body="<p>Mulai pukul 20.45 ET. Bukan 20.00.</p>")
    escaped = "Siaran di X &lt;tersendat&gt; &amp; molor"
    page = room.client.get(f"/stories/{slug}").text
    assert f'<h2 class="post-headline" lang="id">{escaped}</h2>' in page
    assert "Bagus dan Sari W." in page
    english = room.client.get(f"/stories/{slug}?lang=en").text
    assert "Bagus and Sari W." in english
    assert "<tersendat>" not in page

    permalink = room.client.get(f"/stories/{slug}/posts/{post['id']}").text
    assert f"<title>{escaped} · " in permalink
    assert f'<meta property="og:title" content="{escaped}">' in permalink
    ld = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', permalink, re.S)[1]  # type: ignore[index]
    )
    assert ld["headline"] == HEADLINE
    assert ld["author"] == [
        {"@type": "Person", "name": "Bagus"},
        {"@type": "Person", "name": "Sari W."},
    ]

    feed = room.client.get(f"/stories/{slug}/feed.json").get_json()
    items = {item["id"]: item for item in feed["items"]}
    assert items[post["id"]]["title"] == HEADLINE
    assert items[post["id"]]["authors"] == [{"name": "Bagus"}, {"name": "Sari W."}]
    assert items[plain["id"]]["title"] == "Mulai pukul 20.45 ET."  # no headline: first sentence
    atom = room.client.get(f"/stories/{slug}/feed.atom").text
    assert f"<title>{escaped}</title>" in atom
    assert "<author><name>Bagus</name></author><author><name>Sari W.</name></author>" in atom
    story_ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert story_ld is not None
    [update] = [u for u in json.loads(story_ld[1])["liveBlogUpdate"] if u["headline"] == HEADLINE]
    assert len(update["author"]) == 2


def test_desk_edit_opens_the_markdown_source(room: Newsroom) -> None:
    slug = room.story()["slug"]
    post = room.post(slug, "bagus", body=MARKDOWN, format="markdown", headline="Judul")
    desk = Desk(room.app)
    assert desk.login("bagus").status_code == 303
    r = desk.json("GET", f"/editor/api/stories/{slug}/posts/{post['id']}")
    assert r.status_code == 200, r.get_json()
    mine = r.get_json()
    assert (mine["source"], mine["format"], mine["headline"]) == (MARKDOWN, "markdown", "Judul")
    assert mine["editable"] is True
    state = desk.json("GET", f"/editor/api/stories/{slug}/state").get_json()
    assert state["posts"][0]["source"] == MARKDOWN
    page = desk.client.get(f"/editor/stories/{slug}").text
    assert 'id="headline"' in page
    assert 'id="coauthors"' in page
    assert '<option value="sari">Sari W. (sari)</option>' in page
    revisions = desk.json("GET", f"/editor/api/stories/{slug}/posts/{post['id']}/revisions")
    assert revisions.get_json()["revisions"][0]["source"] == MARKDOWN


def test_takedown_and_purge_scrub_source_and_headline(room: Newsroom) -> None:
    slug = room.story()["slug"]
    secret = "Jalan **Melati** 7"
    post = room.post(slug, "bagus", body=secret, format="markdown", headline="Alamat Melati")
    r = patch(room, slug, post, "bagus", version=1, body=secret + " lantai 2", format="markdown")
    assert r.status_code == 200
    r = room.call("DELETE", f"{API}/{slug}/posts/{post['id']}", "rina", json={"reason": "Privasi"})
    assert r.status_code == 204
    public = [
        room.client.get(path).text
        for path in (
            f"{API}/{slug}/events?after=0",
            f"/stories/{slug}",
            f"/stories/{slug}/feed.json",
            f"/stories/{slug}/feed.atom",
            f"/stories/{slug}/posts/{post['id']}",
        )
    ]
    for text in public:
        assert "Melati" not in text
    _, revisions, _ = rows(room, post["id"])
    assert any("Melati" in rev.source for rev in revisions)  # the private history keeps it
    r = room.call(
        "POST", f"{API}/{slug}/posts/{post['id']}/purge", "ada", json={"reason": "Perintah"}
    )
    assert r.status_code == 204, r.get_json()
    stored, revisions, _ = rows(room, post["id"])
    assert (stored.source, stored.headline, stored.body) == ("", "", "")
    for rev in revisions:
        assert (rev.source, rev.headline, rev.body) == ("", "", "")
