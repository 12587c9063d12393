"""The editor desk through the test client: sign-in, sessions, CSRF, roles, conflicts, history.

CSRF protection stays ON here (the app fixture does not turn it off), so every form and
JSON call carries the token the way the desk's pages and desk.js do.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import Newsroom, make_app, rt
from desk_client import Desk, csrf_of
from flask import Flask

from liveblog.models import Verification
from liveblog.sanitize import MAX_BODY_CHARS

SAME_MESSAGE = "The user name or password is not right."


def alert(html: str) -> str:
    match = re.search(r'role="alert"[^>]*>([^<]*)<', html)
    assert match, "no alert on the page"
    return match.group(1).strip()


def signed_in(app: Flask, name: str) -> Desk:
    desk = Desk(app)
    assert desk.login(name).status_code == 303
    return desk


def story_slug(newsroom: Newsroom, **fields: Any) -> str:
    slug: str = newsroom.story(**fields)["slug"]
    return slug


# -- signing in and out --------------------------------------------------------------------


def test_signed_out_desk_leads_to_the_login_form(app: Flask, newsroom: Newsroom) -> None:
    client = app.test_client()
    response = client.get("/editor")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/editor/login?next=/editor")
    form = client.get(response.headers["Location"])
    assert form.status_code == 200
    assert 'name="username"' in form.text
    assert 'type="password"' in form.text
    assert 'name="csrf_token"' in form.text
    # Every desk page and JSON endpoint needs a signed-in user.
    slug = story_slug(newsroom)
    assert client.get(f"/editor/stories/{slug}").status_code == 302
    for path in (f"/editor/api/stories/{slug}/state", f"/editor/api/stories/{slug}/readers"):
        answer = client.get(path)
        assert answer.status_code == 401
        assert answer.get_json()["error"]["code"] == "unauthorized"


def test_login_then_logout(app: Flask, newsroom: Newsroom) -> None:
    desk = Desk(app)
    response = desk.login("rina")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/editor")
    page = desk.get("/editor")
    assert page.status_code == 200
    assert "Rina" in page.text
    assert page.headers["Cache-Control"] == "no-store"

    # Logging out needs the token too, and must be a POST.
    assert desk.get("/editor/logout").status_code == 405
    assert desk.client.post("/editor/logout").status_code == 400
    assert desk.get("/editor").status_code == 200
    out = desk.form("/editor/logout", {})
    assert out.status_code == 303
    assert out.headers["Location"].endswith("/editor/login")
    assert desk.get("/editor").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_message(
    app: Flask, newsroom: Newsroom
) -> None:
    desk = Desk(app)
    wrong = desk.login("rina", "not-her-password")
    unknown = desk.login("nobody", "pw-nobody")
    empty = desk.login("rina", "")
    for response in (wrong, unknown, empty):
        assert response.status_code == 401
        assert alert(response.text) == SAME_MESSAGE
    assert 'value="rina"' in wrong.text  # the name is kept, the password is not
    # In Indonesian too, and still the same for both.
    wrong_id = desk.login("rina", "salah", query_string={"lang": "id"})
    unknown_id = desk.login("siapa", "salah", query_string={"lang": "id"})
    assert alert(wrong_id.text) == alert(unknown_id.text) != SAME_MESSAGE
    assert '<html lang="id"' in wrong_id.text
    assert desk.get("/editor").status_code == 302


def test_login_only_redirects_within_the_desk(app: Flask, newsroom: Newsroom) -> None:
    for target, expected in (
        ("https://evil.example/phish", "/editor"),
        ("//evil.example/x", "/editor"),
        ("/stories/elsewhere", "/editor"),
        ("/editor/stories/abc?lang=en", "/editor/stories/abc?lang=en"),
    ):
        desk = Desk(app)
        desk.refresh_token()
        response = desk.form(
            "/editor/login", {"username": "rina", "password": "pw-rina", "next": target}
        )
        assert response.status_code == 303
        location = response.headers["Location"]
        assert location.removeprefix("http://liveblog.test") == expected, target


def test_session_is_rotated_at_sign_in(app: Flask, newsroom: Newsroom) -> None:
    desk = Desk(app)
    before = desk.refresh_token()
    with desk.client.session_transaction() as session:
        session["planted"] = "by someone else"
        old_csrf = session["csrf_token"]
    assert desk.login("rina").status_code == 303
    with desk.client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != old_csrf
        assert session["sid"]
    assert desk.token != before
    # A token from before the sign-in no longer works for the signed-in session.
    slug = story_slug(newsroom)
    stale = desk.json("POST", f"/editor/api/stories/{slug}/posts", {"body": "x"})
    assert stale.status_code == 201  # the fresh token works...
    desk.token = before
    refused = desk.json("POST", f"/editor/api/stories/{slug}/posts", {"body": "x"})
    assert refused.status_code == 400  # ...the old one does not
    assert refused.get_json()["error"]["code"] == "csrf_failed"


def test_session_cookie_flags(app: Flask, tmp_path: Path, newsroom: Newsroom) -> None:
    plain = Desk(app).login("rina").headers["Set-Cookie"]
    assert "HttpOnly" in plain
    assert "SameSite=Lax" in plain
    assert "Secure" not in plain
    secure = Desk(app, base_url="https://liveblog.test")
    secure.refresh_token()
    response = secure.login("rina", headers={"Referer": "https://liveblog.test/editor/login"})
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]
    # LIVEBLOG_SECURE_COOKIES=1 makes it Secure even when the proxy speaks plain HTTP to us.
    (tmp_path / "forced").mkdir()
    forced = make_app(tmp_path / "forced", LIVEBLOG_SECURE_COOKIES="1")
    try:
        assert forced.config["SESSION_COOKIE_SECURE"] is True
        page = forced.test_client().get("/editor/login")
        assert "Secure" in page.headers["Set-Cookie"]
    finally:
        rt(forced).db.dispose()


def test_a_changed_password_ends_the_session(app: Flask, newsroom: Newsroom) -> None:
    from werkzeug.security import generate_password_hash

    from liveblog.models import User

    desk = signed_in(app, "bagus")
    with rt(app).db.write() as session:
        user = session.query(User).filter_by(username="bagus").one()
        user.password_hash = generate_password_hash("new-one")
    assert desk.get("/editor").status_code == 302


# -- CSRF and cross-site requests ----------------------------------------------------------


def test_posts_without_the_csrf_token_are_refused(app: Flask, newsroom: Newsroom) -> None:
    assert app.config["WTF_CSRF_ENABLED"] is True
    slug = story_slug(newsroom)
    anonymous = app.test_client()
    login = anonymous.post("/editor/login", data={"username": "rina", "password": "pw-rina"})
    assert login.status_code == 400
    assert anonymous.get("/editor").status_code == 302

    desk = signed_in(app, "rina")
    before = newsroom.snapshot()
    client = desk.client
    story = {"title": "T", "language": "id", "timezone": "Asia/Jakarta"}
    assert client.post("/editor/stories", data=story).status_code == 400
    assert (
        client.post(f"/editor/stories/{slug}/status", data={"status": "ended"}).status_code == 400
    )
    assert client.post(f"/editor/stories/{slug}/posts", data={"body": "x"}).status_code == 400
    for method, path, body in (
        ("POST", f"/editor/api/stories/{slug}/posts", {"body": "<p>x</p>"}),
        ("POST", "/editor/preview", {"body": "x"}),
        ("PATCH", f"/editor/api/stories/{slug}/posts/abc", {"version": 1, "body": "y"}),
        ("DELETE", f"/editor/api/stories/{slug}/posts/abc", None),
    ):
        for token in (None, "forged-token"):
            headers = {"X-CSRFToken": token} if token else {}
            response = client.open(path, method=method, json=body, headers=headers)
            assert response.status_code == 400, (method, path)
            assert response.get_json()["error"]["code"] == "csrf_failed"
    assert newsroom.snapshot() == before


def test_cross_origin_posts_are_refused(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    desk = signed_in(app, "rina")
    before = newsroom.snapshot()
    evil = {"Origin": "http://evil.example", "Referer": "http://evil.example/page"}
    # What another site's form can send: the browser's cookie, but no token.
    no_token = desk.client.post(
        f"/editor/stories/{slug}/status", data={"status": "ended"}, headers=evil
    )
    assert no_token.status_code == 400
    # Even with a token (say, leaked), a request that names another origin is refused.
    with_token = desk.form(f"/editor/stories/{slug}/status", {"status": "ended"}, headers=evil)
    assert with_token.status_code == 403
    api = desk.json("POST", f"/editor/api/stories/{slug}/posts", {"body": "x"}, headers=evil)
    assert api.status_code == 403
    assert api.get_json()["error"]["code"] == "forbidden"
    login = Desk(app)
    login.refresh_token()
    refused = login.form(
        "/editor/login", {"username": "rina", "password": "pw-rina"}, headers=evil
    )
    assert refused.status_code == 403
    assert newsroom.snapshot() == before
    # The same request from the desk's own origin works.
    ours = desk.form(
        f"/editor/stories/{slug}/status",
        {"status": "ended"},
        headers={"Origin": "http://liveblog.test"},
    )
    assert ours.status_code == 303


def test_over_https_the_referer_must_be_this_site(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    desk = Desk(app, base_url="https://liveblog.test")
    desk.refresh_token()
    own = {"Referer": "https://liveblog.test/editor/login"}
    assert desk.login("rina", headers=own).status_code == 303
    before = newsroom.snapshot()
    path = f"/editor/api/stories/{slug}/posts"
    for referer in (None, "https://evil.example/x", "http://liveblog.test/editor"):
        headers = {"Referer": referer} if referer else {}
        response = desk.json("POST", path, {"body": "x"}, headers=headers)
        assert response.status_code == 400, referer
        assert response.get_json()["error"]["code"] == "csrf_failed"
    assert newsroom.snapshot() == before
    ok = desk.json("POST", path, {"body": "x"}, headers={"Referer": "https://liveblog.test/e"})
    assert ok.status_code == 201


# -- stories through the desk ----------------------------------------------------------


def test_editor_opens_edits_ends_and_reopens_a_story(app: Flask, newsroom: Newsroom) -> None:
    desk = signed_in(app, "rina")
    made = desk.form(
        "/editor/stories",
        {
            "title": "Gempa di Cianjur",
            "language": "id",
            "timezone": "Asia/Jakarta",
            "timezone_other": "Asia/Pontianak",
            "summary": "Ringkasan <b>awal</b>",
        },
    )
    assert made.status_code == 303
    assert made.headers["Location"].endswith("/editor/stories/gempa-di-cianjur")
    story = newsroom.call("GET", "/api/v1/stories/gempa-di-cianjur").get_json()
    assert story["timezone"] == "Asia/Pontianak"  # the free text wins over the list
    assert story["summary"] == "Ringkasan <b>awal</b>"
    page = desk.get("/editor/stories/gempa-di-cianjur")
    assert "Ringkasan &lt;b&gt;awal&lt;/b&gt;" in page.text  # escaped, never markup

    slug = "gempa-di-cianjur"
    saved = desk.form(f"/editor/stories/{slug}/settings", {"title": "Gempa", "summary": "Baru"})
    assert saved.status_code == 303
    assert desk.form(f"/editor/stories/{slug}/status", {"status": "ended"}).status_code == 303
    story = newsroom.call("GET", f"/api/v1/stories/{slug}").get_json()
    assert (story["title"], story["summary"], story["status"]) == ("Gempa", "Baru", "ended")
    assert story["ended_at"]
    ended = desk.publish(slug)
    assert ended.status_code == 409
    assert ended.get_json()["error"]["code"] == "story_ended"
    assert desk.form(f"/editor/stories/{slug}/status", {"status": "live"}).status_code == 303
    story = newsroom.call("GET", f"/api/v1/stories/{slug}").get_json()
    assert (story["status"], story["ended_at"]) == ("live", None)
    assert story["last_seq"] == 3  # each change is one event in the story's log
    listing = desk.get("/editor")
    assert "Gempa" in listing.text
    assert "desk-status-live" in listing.text


def test_bad_story_forms_are_answered_not_crashed(app: Flask, newsroom: Newsroom) -> None:
    desk = signed_in(app, "rina")
    before = newsroom.counts()
    for form, status in (
        ({"title": "X", "language": "id", "timezone": "Mars/Olympus"}, 422),
        ({"title": "X", "language": "fr", "timezone": "UTC"}, 422),
        ({"title": "", "language": "id", "timezone": "UTC"}, 422),
        ({}, 422),
        ({"title": "X" * 500, "language": "en", "timezone": "UTC"}, 422),
    ):
        response = desk.form("/editor/stories", form)
        assert response.status_code == status, form
        assert alert(response.text)
    zone = desk.form(
        "/editor/stories",
        {"title": "X", "language": "en", "timezone": "UTC", "timezone_other": "Mars/Olympus"},
        query_string={"lang": "en"},
    )
    assert "IANA" in alert(zone.text)
    assert 'value="Mars/Olympus"' in zone.text  # what was typed is kept
    assert newsroom.counts() == before
    missing = desk.get("/editor/stories/no-such-story")
    assert missing.status_code == 404
    slug = story_slug(newsroom)
    bad = desk.form(f"/editor/stories/{slug}/status", {"status": "paused"})
    assert bad.status_code == 303  # back to the desk, with the reason shown there
    assert "live" in alert(desk.get(f"/editor/stories/{slug}").text)


# -- roles ---------------------------------------------------------------------------------


def test_reporter_rules_hold_through_the_desk(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    theirs = newsroom.post(slug, "dewi")
    bagus = signed_in(app, "bagus")
    before = newsroom.snapshot()

    # No story creation, settings or ending for a reporter; the form is not even shown.
    index = bagus.get("/editor")
    assert 'action="/editor/stories"' not in index.text
    story = {"title": "Mine", "language": "id", "timezone": "Asia/Jakarta"}
    assert bagus.form("/editor/stories", story).status_code == 403
    for path, form in (
        (f"/editor/stories/{slug}/status", {"status": "ended"}),
        (f"/editor/stories/{slug}/settings", {"summary": "x"}),
    ):
        assert bagus.form(path, form).status_code == 303
        assert "editor" in alert(bagus.get(f"/editor/stories/{slug}").text).lower()
    # The compose box has no confirmed/false choice and no pin.
    page = bagus.get(f"/editor/stories/{slug}")
    assert 'value="confirmed"' not in page.text
    assert 'value="false"' not in page.text
    assert 'id="pinned"' not in page.text
    assert 'value="disputed"' in page.text
    assert 'data-editor="false"' in page.text
    # And the server refuses them anyway.
    for fields in (
        {"verification": {"status": "confirmed"}},
        {"verification": {"status": "false", "note": "hoaks"}},
        {"pinned": True},
    ):
        refused = bagus.publish(slug, **fields)
        assert refused.status_code == 403, fields
        assert refused.get_json()["error"]["code"] == "forbidden"
    assert bagus.edit(slug, theirs["id"], version=1, body="<p>mine now</p>").status_code == 403
    assert bagus.delete(slug, theirs["id"]).status_code == 403
    assert newsroom.snapshot() == before

    # Their own post: editable, but still not confirmable, pinnable or deletable.
    own = bagus.publish(slug, verification={"status": "disputed", "note": "satu sumber"})
    assert own.status_code == 201
    post = own.get_json()
    assert post["editable"] is True
    assert (
        bagus.edit(slug, post["id"], version=1, verification={"status": "confirmed"}).status_code
        == 403
    )
    assert bagus.edit(slug, post["id"], version=1, pinned=True).status_code == 403
    assert bagus.delete(slug, post["id"]).status_code == 403
    fixed = bagus.edit(slug, post["id"], version=1, body="<p>diperbaiki</p>")
    assert fixed.status_code == 200
    assert fixed.get_json()["version"] == 2
    state = bagus.get(f"/editor/api/stories/{slug}/state").get_json()
    editable = {p["id"]: p["editable"] for p in state["posts"]}
    assert editable == {theirs["id"]: False, post["id"]: True}


def test_editor_may_confirm_pin_and_delete(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    reporters = newsroom.post(slug, "bagus")
    rina = signed_in(app, "rina")
    page = rina.get(f"/editor/stories/{slug}")
    assert 'value="confirmed"' in page.text
    assert 'id="pinned"' in page.text
    made = rina.publish(slug, verification={"status": "confirmed", "note": "BMKG"}, pinned=True)
    assert made.status_code == 201
    assert made.get_json()["pinned"] is True
    changed = rina.edit(slug, reporters["id"], version=1, verification={"status": "false"})
    assert changed.status_code == 200
    assert changed.get_json()["verification"]["status"] == Verification.FALSE.value
    assert rina.delete(slug, reporters["id"]).status_code == 204
    assert rina.delete(slug, reporters["id"]).status_code == 404
    ids = [p["id"] for p in rina.get(f"/editor/api/stories/{slug}/state").get_json()["posts"]]
    assert ids == [made.get_json()["id"]]


def test_the_compose_form_works_without_javascript(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    bagus = signed_in(app, "bagus")
    path = f"/editor/stories/{slug}/posts"
    done = bagus.form(path, {"body": "<p>Tanpa JS</p>", "verification": "disputed", "note": "n"})
    assert done.status_code == 303
    assert 'role="status">Published.</p>' in bagus.get(f"/editor/stories/{slug}").text
    posts = newsroom.call("GET", f"/stories/{slug}/feed.json").get_json()["items"]
    assert [p["content_html"] for p in posts] == [
        '<p class="liveblog-status liveblog-status-disputed"><strong>! Klaim diperdebatkan'
        "</strong> — n</p><p>Tanpa JS</p>"
    ]
    assert posts[0]["_liveblog"]["verification"] == {"status": "disputed", "note": "n"}
    before = newsroom.snapshot()
    refused = bagus.form(path, {"body": "<p>x</p>", "pinned": "on"})
    assert refused.status_code == 303
    assert "pin" in alert(bagus.get(f"/editor/stories/{slug}").text).lower()
    assert newsroom.snapshot() == before


# -- editing: conflicts and history --------------------------------------------------------


def test_two_editors_conflict_and_the_second_sees_both_versions(
    app: Flask, newsroom: Newsroom
) -> None:
    slug = story_slug(newsroom)
    rina, ada = signed_in(app, "rina"), signed_in(app, "ada")
    post = rina.publish(slug, body="<p>Korban: 3 orang.</p>").get_json()
    assert post["version"] == 1

    first = ada.edit(slug, post["id"], version=1, body="<p>Korban: 4 orang.</p>")
    assert first.status_code == 200
    before = newsroom.snapshot()
    late = rina.edit(
        slug, post["id"], version=1, body="<p>Korban: 5 orang.</p>", correction="Angka naik."
    )
    assert late.status_code == 409
    error = late.get_json()["error"]
    assert error["code"] == "stale_version"
    assert "2" in error["message"]
    theirs = error["current"]
    assert theirs["version"] == 2
    assert theirs["body"] == "<p>Korban: 4 orang.</p>"
    assert theirs["author"] == {"name": "Rina"}
    assert newsroom.snapshot() == before  # nothing was overwritten

    # Reapplying on top of their version works and keeps both in the history.
    again = rina.edit(
        slug, post["id"], version=2, body="<p>Korban: 5 orang.</p>", correction="Angka naik."
    )
    assert again.status_code == 200
    assert again.get_json()["version"] == 3
    history = rina.get(f"/editor/api/stories/{slug}/posts/{post['id']}/revisions").get_json()
    bodies = [(r["version"], r["body"], r["editor"]["name"]) for r in history["revisions"]]
    assert bodies == [
        (3, "<p>Korban: 5 orang.</p>", "Rina"),
        (2, "<p>Korban: 4 orang.</p>", "Ada"),
        (1, "<p>Korban: 3 orang.</p>", "Rina"),
    ]


def test_revision_history_shows_every_version(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    bagus, rina = signed_in(app, "bagus"), signed_in(app, "rina")
    post = bagus.publish(slug, body="<p>Awal</p>", key_event=True).get_json()
    for desk, fields in (
        (bagus, {"version": 1, "body": "<p>Kedua<script>x</script></p>"}),
        (rina, {"version": 2, "verification": {"status": "confirmed", "note": "Polisi"}}),
        (rina, {"version": 3, "correction": "Nama jalan salah."}),
    ):
        assert desk.edit(slug, post["id"], **fields).status_code == 200
    answer = bagus.get(f"/editor/api/stories/{slug}/posts/{post['id']}/revisions")
    assert answer.status_code == 200
    revisions = answer.get_json()["revisions"]
    assert [r["version"] for r in revisions] == [4, 3, 2, 1]
    assert [r["changes"] for r in revisions] == [
        ["corrections"],
        ["verification"],
        ["body"],
        ["created"],
    ]
    assert [r["editor"]["name"] for r in revisions] == ["Rina", "Rina", "Bagus", "Bagus"]
    assert revisions[2]["body"] == "<p>Kedua</p>"  # stored sanitized
    assert revisions[1]["verification"] == {"status": "confirmed", "note": "Polisi"}
    assert revisions[3]["verification"] == {"status": "unverified", "note": ""}
    assert all(r["key_event"] for r in revisions)
    assert all(r["created_at"].endswith("+00:00") for r in revisions)
    missing = bagus.get(f"/editor/api/stories/{slug}/posts/nope/revisions")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"


# -- the desk's other JSON endpoints ---------------------------------------------------------


def test_preview_shows_what_the_sanitizer_keeps(app: Flask, newsroom: Newsroom) -> None:
    desk = signed_in(app, "bagus")
    raw = '<p onclick="x()">Hi <a href="javascript:alert(1)">a</a><script>bad()</script></p>'
    answer = desk.json("POST", "/editor/preview", {"body": raw})
    assert answer.status_code == 200
    html = answer.get_json()["html"]
    assert html == '<p>Hi <a rel="nofollow noopener noreferrer">a</a></p>'
    assert desk.json("POST", "/editor/preview", {"body": 5}).status_code == 422
    assert desk.json("POST", "/editor/preview", ["x"]).status_code == 422
    big = desk.json("POST", "/editor/preview", {"body": "x" * (MAX_BODY_CHARS + 1)})
    assert big.status_code == 413
    bad = desk.json("POST", "/editor/preview", data=b"{nope", content_type="application/json")
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "malformed_json"


def test_bad_desk_input_is_refused_with_json_never_a_500(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    desk = signed_in(app, "rina")
    post = desk.publish(slug).get_json()
    before = newsroom.snapshot()
    path = f"/editor/api/stories/{slug}/posts"
    for method, url, kwargs, status in (
        ("POST", path, {"data": b"\xff\xfe", "content_type": "application/json"}, 400),
        ("POST", path, {"json": []}, 400),
        ("POST", path, {"json": {"body": ""}}, 422),
        ("POST", path, {"json": {"body": "<p>x</p>", "extra": 1}}, 422),
        ("POST", path, {"json": {"body": "x", "verification": {"status": "maybe"}}}, 422),
        ("POST", "/editor/api/stories/nope/posts", {"json": {"body": "x"}}, 404),
        ("PATCH", f"{path}/{post['id']}", {"json": {"body": "x"}}, 422),
        ("PATCH", f"{path}/{post['id']}", {"json": {"version": "1", "body": "x"}}, 422),
        ("PATCH", f"{path}/{post['id']}", {"json": {"version": 1}}, 422),
        ("PATCH", f"{path}/missing", {"json": {"version": 1, "body": "x"}}, 404),
        ("DELETE", f"{path}/missing", {}, 404),
    ):
        response = desk.json(method, url, **kwargs)
        assert response.status_code == status, (method, url, kwargs, response.text)
        assert response.is_json
        assert response.get_json()["error"]["message"]
    assert newsroom.snapshot() == before


def test_reader_count(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    other = story_slug(newsroom, title="Lain")
    desk = signed_in(app, "bagus")
    url = f"/editor/api/stories/{slug}/readers"
    assert desk.get(url).get_json() == {"readers": 0}
    hub = rt(app).hub
    subs = [hub.subscribe(slug, wakeup=threading.Event()) for _ in range(3)]
    elsewhere = hub.subscribe(other, wakeup=threading.Event())
    try:
        answer = desk.get(url)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.get_json() == {"readers": 3}
        subs.pop().close()
        assert desk.get(url).get_json() == {"readers": 2}
    finally:
        for sub in [*subs, elsewhere]:
            sub.close()
    assert desk.get("/editor/api/stories/nope/readers").status_code == 404


def test_the_desk_speaks_both_languages(app: Flask, newsroom: Newsroom) -> None:
    slug = story_slug(newsroom)
    desk = signed_in(app, "rina")
    english = desk.get(f"/editor/stories/{slug}", query_string={"lang": "en"})
    assert '<html lang="en"' in english.text
    assert "Publish" in english.text
    indonesian = desk.get(f"/editor/stories/{slug}", query_string={"lang": "id"})
    assert '<html lang="id"' in indonesian.text
    assert ">Publish<" not in indonesian.text
    # The choice sticks in a cookie, and Accept-Language is used without one.
    assert '<html lang="id"' in desk.get("/editor").text
    fresh = Desk(app)
    page = fresh.get("/editor/login", headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert '<html lang="id"' in page.text
    assert csrf_of(page.text)


@pytest.mark.parametrize("who", ["bagus", "rina"])
def test_desk_pages_render_for_each_role(app: Flask, newsroom: Newsroom, who: str) -> None:
    slug = story_slug(newsroom, summary='<img src=x onerror="alert(1)">')
    newsroom.post(slug)
    desk = signed_in(app, who)
    page = desk.get(f"/editor/stories/{slug}")
    assert page.status_code == 200
    assert "<img src=x" not in page.text
    assert "<script>" not in page.text.replace('<script type="application/json"', "")
    assert 'src="/static/desk.js"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert " style=" not in page.text
