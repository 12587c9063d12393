"""The desk's webhooks page: admins only, CSRF on every change, the secret shown once."""

from __future__ import annotations

import re

import pytest
from conftest import Newsroom, rt
from desk_client import Desk
from flask import Flask
from receiver import Receiver
from standardwebhooks.webhooks import Webhook as Verifier

from liveblog.dispatcher import Dispatcher, Settings
from liveblog.models import Webhook
from liveblog.webhooks import list_webhooks

PAGE = "/editor/admin/webhooks"


@pytest.fixture(autouse=True)
def private_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEBLOG_WEBHOOK_ALLOW_PRIVATE", "1")


def signed_in(app: Flask, name: str) -> Desk:
    desk = Desk(app)
    assert desk.login(name).status_code == 303
    return desk


def test_only_admins_reach_the_webhooks_page(app: Flask, newsroom: Newsroom) -> None:
    assert app.test_client().get(PAGE).status_code == 302
    for name in ("bagus", "rina"):
        desk = signed_in(app, name)
        assert desk.get(PAGE).status_code == 403
        assert desk.form(PAGE, {"url": "http://127.0.0.1:9/"}).status_code == 403
    assert list_webhooks(rt(app).db) == []
    assert PAGE in signed_in(app, "ada").get("/editor").text


def test_admin_creates_pauses_redelivers_and_deletes(app: Flask, newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    newsroom.post(slug, body="<p>Siaran dimulai pukul 20.45.</p>")
    admin = signed_in(app, "ada")
    assert admin.client.post(PAGE, data={"url": "http://127.0.0.1:9/"}).status_code == 400
    foreign = admin.form(
        PAGE, {"url": "http://127.0.0.1:9/"}, headers={"Origin": "https://x.example"}
    )
    assert foreign.status_code == 403
    assert list_webhooks(rt(app).db) == []

    with Receiver() as receiver:
        created = admin.form(f"{PAGE}?lang=en", {"url": receiver.url, "story": slug})
        assert created.status_code == 201
        assert created.headers["Cache-Control"] == "no-store"
        secret = re.search(r'<code class="webhook-secret">(whsec_[^<]+)</code>', created.text)
        assert secret, created.text
        assert "not shown again" in created.text
        hook = list_webhooks(rt(app).db)[0]
        assert hook.story == slug
        assert secret.group(1) not in admin.get(PAGE).text  # shown once

        Dispatcher(rt(app).db, "test-secret", Settings()).drain(hook.id)
        headers, body = receiver.accepted[0]
        assert Verifier(secret.group(1)).verify(body, headers)["seq"] == 1
        page = admin.get(f"{PAGE}?lang=en").text
        assert f"{slug}: 1" in page
        assert f"{slug}:1 · 204" in page

        assert admin.form(f"{PAGE}/{hook.id}/pause", {}).status_code == 303
        assert list_webhooks(rt(app).db)[0].state == "paused"
        assert 'data-state="paused"' in admin.get(PAGE).text
        assert admin.form(f"{PAGE}/{hook.id}/resume", {}).status_code == 303
        assert list_webhooks(rt(app).db)[0].state == "active"
        assert admin.form(f"{PAGE}/{hook.id}/redeliver", {"seq": "1"}).status_code == 303
        assert list_webhooks(rt(app).db)[0].cursor == {slug: 0}
        bad = admin.form(f"{PAGE}/{hook.id}/redeliver", {"seq": "x"}, follow_redirects=True)
        assert "flash-error" in bad.text
        assert admin.form(f"{PAGE}/{hook.id}/delete", {}).status_code == 303
    assert list_webhooks(rt(app).db) == []
    gone = admin.form(f"{PAGE}/{hook.id}/delete", {}, follow_redirects=True)
    assert "flash-error" in gone.text


def test_refused_urls_are_explained_and_nothing_is_added(
    app: Flask, newsroom: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIVEBLOG_WEBHOOK_ALLOW_PRIVATE")
    admin = signed_in(app, "ada")
    refused = admin.form(f"{PAGE}?lang=en", {"url": "http://169.254.169.254/latest"})
    assert refused.status_code == 422
    assert "cannot receive webhooks" in refused.text
    indonesian = admin.form(f"{PAGE}?lang=id", {"url": "gopher://x"})
    assert "cannot receive webhooks" not in indonesian.text
    assert list_webhooks(rt(app).db) == []


def test_a_paused_endpoint_is_announced_on_the_page(app: Flask, newsroom: Newsroom) -> None:
    slug = newsroom.story()["slug"]
    newsroom.post(slug)
    admin = signed_in(app, "ada")
    with Receiver() as receiver:
        receiver.failing = True
        admin.form(PAGE, {"url": receiver.url})
        with rt(app).db.read() as session:
            hook_id = session.query(Webhook.id).scalar()
        Dispatcher(rt(app).db, "test-secret", Settings(pause_after=0)).drain(hook_id)
    page = admin.get(f"{PAGE}?lang=en").text
    assert 'class="flash flash-warn webhook-notice"' in page
    assert "is paused: it failed every delivery since" in page
    assert "500" in page
    desk = admin.get("/editor?lang=en").text  # every admin desk page says so
    assert "1 webhook is paused: its partner stopped accepting deliveries." in desk
    assert "webhook-paused-notice" not in signed_in(app, "rina").get("/editor").text
    with rt(app).db.read() as session:
        hook_id = session.query(Webhook.id).scalar()
    admin.form(f"{PAGE}/{hook_id}/resume", {})
    assert "webhook-paused-notice" not in admin.get("/editor").text
