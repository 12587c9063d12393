"""Accounts (contract section 9): server-side sessions, revoking tokens, disabling users."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Newsroom, make_app, rt
from desk_client import Desk
from flask import Flask
from sqlalchemy import select, update

from liveblog.accounts import create_token
from liveblog.models import ApiToken, User, utcnow

DOMAIN = "liveblog.test"


def signed_in(app: Flask, name: str) -> Desk:
    desk = Desk(app)
    assert desk.login(name).status_code == 303
    return desk


def session_cookie(desk: Desk) -> str:
    cookie = desk.client.get_cookie("session", domain=DOMAIN)
    assert cookie is not None
    return cookie.value


def with_cookie(app: Flask, value: str) -> Any:
    client = app.test_client()
    client.set_cookie("session", value, domain=DOMAIN)
    return client


def api_status(newsroom: Newsroom, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    response = newsroom.client.post(
        "/api/v1/stories",
        headers=headers,
        json={"title": "Uji", "language": "id", "timezone": "Asia/Jakarta"},
    )
    return int(response.status_code)


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def test_signing_out_ends_the_session_on_the_server(app: Flask, newsroom: Newsroom) -> None:
    desk = signed_in(app, "bagus")
    copied = session_cookie(desk)
    assert with_cookie(app, copied).get("/editor").status_code == 200
    assert desk.form("/editor/logout", {}).status_code == 303
    # The cookie as it was before signing out, replayed from elsewhere, opens nothing.
    assert with_cookie(app, copied).get("/editor").status_code == 302
    replayed = with_cookie(app, copied).get("/editor/api/stories/x/state")
    assert replayed.status_code == 401


def test_revoke_token_revokes_every_token_of_that_user(app: Flask, newsroom: Newsroom) -> None:
    second = create_token(rt(app).db, "bagus")
    assert api_status(newsroom, second) == 403  # valid, but a reporter may not open stories
    result = cli(app, "revoke-token", "bagus")
    assert result.exit_code == 0, result.output
    assert "2" in result.output
    for token in (second, newsroom.tokens["bagus"]):
        assert api_status(newsroom, token) == 401
    assert api_status(newsroom, newsroom.tokens["rina"]) == 201  # others keep theirs
    missing = cli(app, "revoke-token", "nobody")
    assert missing.exit_code != 0
    assert "nobody" in missing.output


def test_disable_user_ends_sessions_and_tokens_at_once(app: Flask, newsroom: Newsroom) -> None:
    desk = signed_in(app, "rina")
    assert api_status(newsroom, newsroom.tokens["rina"]) == 201
    result = cli(app, "disable-user", "rina")
    assert result.exit_code == 0, result.output
    assert desk.get("/editor").status_code == 302
    assert api_status(newsroom, newsroom.tokens["rina"]) == 401
    refused = Desk(app).login("rina")
    assert refused.status_code == 401
    assert "The user name or password is not right." in refused.text
    # Enabled again, rina may sign in; her old tokens stay revoked.
    assert cli(app, "enable-user", "rina").exit_code == 0
    assert Desk(app).login("rina").status_code == 303
    assert api_status(newsroom, newsroom.tokens["rina"]) == 401
    assert cli(app, "disable-user", "nobody").exit_code != 0


def _last_used(app: Flask, token_id: int) -> Any:
    with rt(app).db.read() as session:
        return session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))


def _set_last_used(app: Flask, token_id: int, value: Any) -> None:
    with rt(app).db.write() as session:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=value))


def test_tokens_record_their_last_use_at_most_once_a_minute(
    app: Flask, newsroom: Newsroom
) -> None:
    with rt(app).db.read() as session:
        rina = session.scalar(select(User).where(User.username == "rina"))
        assert rina is not None
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == rina.id)).one()
    assert _last_used(app, token_id) is None
    before = utcnow()
    assert api_status(newsroom, newsroom.tokens["rina"]) == 201
    first = _last_used(app, token_id)
    assert first is not None
    assert first >= before - timedelta(seconds=1)
    recent = utcnow() - timedelta(seconds=30)
    _set_last_used(app, token_id, recent)
    newsroom.call("GET", "/api/v1/stories/uji", "rina")
    assert _last_used(app, token_id) == recent  # within the minute: no write
    stale = utcnow() - timedelta(minutes=5)
    _set_last_used(app, token_id, stale)
    newsroom.call("GET", "/api/v1/stories/uji", "rina")
    assert _last_used(app, token_id) > stale


# -- the admin page ------------------------------------------------------------------------


def rows(html: str) -> dict[str, str]:
    found = re.findall(r'<tr class="user-row" data-username="([^"]+)">(.*?)</tr>', html, re.S)
    return dict(found)


def test_only_admins_reach_the_admin_page(app: Flask, newsroom: Newsroom) -> None:
    assert app.test_client().get("/editor/admin/users").status_code == 302
    for name in ("bagus", "rina"):
        desk = signed_in(app, name)
        assert desk.get("/editor/admin/users").status_code == 403
        assert desk.form("/editor/admin/users/dewi/disable", {}).status_code == 403
        assert "/editor/admin/users" not in desk.get("/editor").text
    admin = signed_in(app, "ada")
    assert "/editor/admin/users" in admin.get("/editor").text


def test_admin_page_lists_users_tokens_and_last_use(app: Flask, newsroom: Newsroom) -> None:
    newsroom.call("GET", "/api/v1/stories/uji", "bagus")
    admin = signed_in(app, "ada")
    page = admin.get("/editor/admin/users?lang=en")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    listed = rows(page.text)
    assert set(listed) == {"ada", "bagus", "dewi", "rina"}
    assert "last used" in listed["bagus"]
    assert "never used" in listed["dewi"]
    assert "1 session" in listed["ada"]
    assert 'name="csrf_token"' in listed["bagus"]
    translated = admin.get("/editor/admin/users?lang=id")
    assert "never used" not in translated.text


def test_admin_revokes_and_disables_with_csrf(app: Flask, newsroom: Newsroom) -> None:
    victim = signed_in(app, "dewi")
    admin = signed_in(app, "ada")
    # Without the CSRF token, or from another site, nothing happens.
    assert admin.client.post("/editor/admin/users/dewi/disable").status_code == 400
    foreign = admin.form(
        "/editor/admin/users/dewi/disable", {}, headers={"Origin": "https://x.example"}
    )
    assert foreign.status_code == 403
    assert victim.get("/editor").status_code == 200
    # One token, then every token.
    second = create_token(rt(app).db, "dewi")
    with rt(app).db.read() as session:
        newest = session.scalars(select(ApiToken.id).order_by(ApiToken.id.desc())).first()
    done = admin.form(f"/editor/admin/tokens/{newest}/revoke", {}, follow_redirects=True)
    assert "The token is revoked." in done.text
    assert api_status(newsroom, second) == 401
    assert api_status(newsroom, newsroom.tokens["dewi"]) == 403  # still valid
    admin.form("/editor/admin/users/dewi/revoke-tokens", {})
    assert api_status(newsroom, newsroom.tokens["dewi"]) == 401
    assert "revoked" in rows(admin.get("/editor/admin/users").text)["dewi"]
    # Signing a user out everywhere, then disabling them.
    admin.form("/editor/admin/users/dewi/end-sessions", {})
    assert victim.get("/editor").status_code == 302
    victim = signed_in(app, "dewi")
    admin.form("/editor/admin/users/dewi/disable", {})
    assert victim.get("/editor").status_code == 302
    assert Desk(app).login("dewi").status_code == 401
    assert "Disabled" in rows(admin.get("/editor/admin/users?lang=en").text)["dewi"]
    admin.form("/editor/admin/users/dewi/enable", {})
    assert Desk(app).login("dewi").status_code == 303
    # An admin cannot lock themselves out; unknown names are answered, not crashed.
    own = admin.form("/editor/admin/users/ada/disable", {}, follow_redirects=True)
    assert "You cannot disable your own account." in own.text
    assert admin.get("/editor").status_code == 200
    unknown = admin.form("/editor/admin/users/nobody/disable", {}, follow_redirects=True)
    assert unknown.status_code == 200
    assert "nobody" in unknown.text


@pytest.mark.postgres
def test_sessions_tokens_and_limits_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    app = make_app(tmp_path, postgres_url, LIVEBLOG_LOGIN_LIMIT=2)
    now = time.time()
    app.extensions["liveblog_logins"].clock = lambda: now  # one counting window
    try:
        newsroom = Newsroom(app)
        desk = signed_in(app, "dewi")
        copied = session_cookie(desk)
        assert desk.form("/editor/logout", {}).status_code == 303
        assert with_cookie(app, copied).get("/editor").status_code == 302
        desk = signed_in(app, "dewi")
        assert api_status(newsroom, newsroom.tokens["dewi"]) == 403
        assert cli(app, "disable-user", "dewi").exit_code == 0
        assert desk.get("/editor").status_code == 302
        assert api_status(newsroom, newsroom.tokens["dewi"]) == 401
        for _ in range(2):
            assert Desk(app, REMOTE_ADDR="203.0.113.5").login("bagus", "x").status_code == 401
        assert Desk(app, REMOTE_ADDR="203.0.113.5").login("bagus").status_code == 429
        assert Desk(app, REMOTE_ADDR="203.0.113.6").login("bagus").status_code == 303
    finally:
        rt(app).db.dispose()
