"""The editor desk in a real browser (Debian's Chromium through Playwright) on a real server.

A reporter publishes with Ctrl+Enter and a reader's page shows it live; a reporter cannot
confirm; two editors editing one post see the conflict; forged and cross-site form posts
are refused. It also saves the desk's screenshots under docs/screenshots/.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from desk_client import png_bytes
from servers import Server, api, server_env

from liveblog.accounts import create_token, create_user
from liveblog.cli import upgrade_database
from liveblog.db import Database

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
USERS = (
    ("rina", "editor", "Rina Kusuma"),
    ("ada", "editor", "Ada Lestari"),
    ("bagus", "reporter", "Bagus Santoso"),
)


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A real `liveblog serve` with the newsroom's users; yields it and an editor's token."""
    tmp = tmp_path_factory.mktemp("desk")
    url = f"sqlite:///{tmp / 'desk.db'}"
    upgrade_database(url)
    db = Database(url)
    try:
        for name, role, display in USERS:
            create_user(db, name, role, f"pw-{name}", display)
        token = create_token(db, "rina")
    finally:
        db.dispose()
    server = Server(server_env(tmp, url)).start()
    try:
        yield server, token
    finally:
        server.stop()


def new_story(server: Server, token: str, title: str = "Banjir Jakarta") -> str:
    slug = f"desk-{uuid.uuid4().hex[:8]}"
    api(
        server,
        token,
        "POST",
        "/api/v1/stories",
        {"title": title, "slug": slug, "language": "id", "timezone": "Asia/Jakarta"},
    )
    return slug


def sign_in(browser: Any, server: Server, name: str, lang: str = "en") -> Any:
    """Open a fresh browser context, sign in through the form and return its page."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    page.goto(f"{server.base}/editor/login?lang={lang}")
    page.fill("#username", name)
    page.fill("#password", f"pw-{name}")
    page.click("form button[type=submit]")
    page.wait_for_url("**/editor")
    return page


def open_desk(page: Any, server: Server, slug: str, fmt: str = "html") -> None:
    """Open a story's desk, its composer set to `fmt` (these tests type HTML by default)."""
    page.goto(f"{server.base}/editor/stories/{slug}")
    page.wait_for_selector("#connection.ok")  # the live stream is up
    page.select_option("#format", fmt)


def shot(page: Any, name: str) -> None:
    """Screenshot the desk; into docs/screenshots only when LIVEBLOG_SCREENSHOTS=1 asks."""
    folder = SCREENSHOTS if os.environ.get("LIVEBLOG_SCREENSHOTS") else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name))


def test_login_form_refuses_a_wrong_password(
    browser: Any, desk_server: tuple[Server, str]
) -> None:
    server, _ = desk_server
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    page.goto(f"{server.base}/editor?lang=en")
    assert page.url.startswith(f"{server.base}/editor/login")
    shot(page, "desk-login.png")
    page.fill("#username", "bagus")
    page.fill("#password", "wrong")
    page.click("form button[type=submit]")
    assert page.text_content("#login-error") == "The user name or password is not right."
    assert page.input_value("#username") == "bagus"
    assert page.input_value("#password") == ""
    context.close()


def test_reporter_publishes_with_ctrl_enter_and_readers_see_it_live(
    browser: Any, desk_server: tuple[Server, str], tmp_path: Path
) -> None:
    server, token = desk_server
    slug = new_story(server, token, "Banjir Jakarta: air mulai surut")
    api(
        server,
        token,
        "POST",
        f"/api/v1/stories/{slug}/posts",
        {"body": "<p>Pos pantau siaga 1.</p>"},
    )
    reader = browser.new_context(viewport={"width": 420, "height": 900}).new_page()
    reader.goto(f"{server.base}/stories/{slug}")
    page = sign_in(browser, server, "bagus")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    open_desk(page, server, slug)
    # Readers now: the reader's page, not counting the desk's own stream.
    page.wait_for_selector("#readers:text-is('1 reader now')")

    # Reporters get no confirmed/false choice and no pin.
    options = page.eval_on_selector_all("#verification option", "els => els.map(e => e.value)")
    assert options == ["unverified", "disputed"]
    assert page.query_selector("#pinned") is None

    page.fill("#body", "<p>Air mulai <strong>surut</strong> di Kampung Melayu.</p>")
    page.select_option("#verification", "disputed")
    page.fill("#note", "Belum dikonfirmasi BPBD")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#compose-status.ok")
    assert page.input_value("#body") == ""
    first = page.wait_for_selector(".desk-post >> text=Air mulai surut")
    assert first is not None
    post_id = page.eval_on_selector(".desk-post", "el => el.id.replace('desk-post-', '')")
    live = reader.wait_for_selector(f"#post-{post_id}", state="attached", timeout=10000)
    assert "Air mulai surut" in live.text_content()
    assert live.get_attribute("data-verification") == "disputed"

    # A figure: upload, insert, see it in the sandboxed preview exactly as it will be kept.
    image = tmp_path / "banjir.png"
    image.write_bytes(png_bytes(320, 120, (30, 110, 190)))
    page.click("#figure-upload summary")
    page.set_input_files("#figure-file", str(image))
    page.fill("#figure-alt", "Warga mengarungi banjir")
    page.fill("#figure-caption", "Air setinggi lutut di Jalan Jatinegara")
    page.fill("#figure-credit", "Foto: Bagus Santoso")
    page.click("#figure-insert")
    page.wait_for_function("() => document.querySelector('#body').value.includes('<figure>')")
    page.focus("#body")
    page.keyboard.press("Control+Home")
    page.keyboard.type("<p>Foto terbaru dari lokasi:</p>")
    preview = page.frame_locator("#preview")
    preview.locator("img[alt='Warga mengarungi banjir']").wait_for()
    size = page.frames[1].evaluate("document.querySelector('img').naturalWidth")
    assert size == 320  # the stored image loads (and is a real PNG)
    assert preview.locator("figcaption small").text_content() == "Foto: Bagus Santoso"
    assert page.get_attribute("#preview", "sandbox") == ""
    shot(page, "desk-compose.png")

    # Cmd+Enter publishes too; the reader gets the figure live.
    page.keyboard.press("Meta+Enter")
    page.wait_for_selector(".desk-post >> text=Foto terbaru dari lokasi")
    figure = reader.wait_for_selector(
        "figure img[alt='Warga mengarungi banjir']", state="attached"
    )
    assert figure.get_attribute("src").startswith(f"{server.base}/media/")
    assert not errors, errors


def test_reporter_cannot_confirm(browser: Any, desk_server: tuple[Server, str]) -> None:
    server, token = desk_server
    slug = new_story(server, token)
    page = sign_in(browser, server, "bagus")
    open_desk(page, server, slug)
    page.fill("#body", "<p>Jembatan ambruk.</p>")
    page.click("#publish")
    page.wait_for_selector(".desk-post >> text=Jembatan ambruk")
    page.click(".desk-post .act-edit")
    options = page.eval_on_selector_all(".edit-status option", "els => els.map(e => e.value)")
    assert options == ["unverified", "disputed"]
    # A hand-made request from the reporter's own signed-in page is refused all the same.
    answers = page.evaluate(
        """async () => {
          const token = document.querySelector('meta[name="csrf-token"]').content;
          const root = document.getElementById('desk').dataset;
          const id = document.querySelector('.desk-post').id.replace('desk-post-', '');
          const headers = {'Content-Type': 'application/json', 'X-CSRFToken': token};
          const patch = await fetch(root.postsUrl + '/' + id, {method: 'PATCH', headers,
            body: JSON.stringify({version: 1, verification: {status: 'confirmed'}})});
          const create = await fetch(root.postsUrl, {method: 'POST', headers,
            body: JSON.stringify({body: 'x', verification: {status: 'false'}})});
          return [patch.status, (await patch.json()).error.code, create.status];
        }"""
    )
    assert answers == [403, "forbidden", 403]
    story = api(server, token, "GET", f"/api/v1/stories/{slug}")
    assert story["last_seq"] == 1  # only the one post: nothing else was written


def test_two_editors_see_the_conflict(browser: Any, desk_server: tuple[Server, str]) -> None:
    server, token = desk_server
    slug = new_story(server, token, "Gempa Cianjur")
    api(
        server,
        token,
        "POST",
        f"/api/v1/stories/{slug}/posts",
        {"body": "<p>Korban meninggal: 3 orang.</p>", "verification": {"status": "unverified"}},
    )
    rina, ada = sign_in(browser, server, "rina"), sign_in(browser, server, "ada")
    for page in (rina, ada):
        open_desk(page, server, slug)
        page.click(".desk-post .act-edit")
    ada.fill(".edit-body", "<p>Korban meninggal: 4 orang, kata BPBD.</p>")
    ada.select_option(".edit-status", "confirmed")
    ada.click(".act-save")
    ada.wait_for_selector(".desk-post[data-version='2']")

    # Rina's open editor learns of it, and saving shows both versions instead of overwriting.
    rina.wait_for_selector(".meanwhile:not([hidden])")
    rina.fill(".edit-body", "<p>Korban meninggal: 5 orang.</p>")
    rina.fill(".edit-correction", "Jumlah korban diperbarui.")
    rina.click(".act-save")
    conflict = rina.wait_for_selector(".conflict")
    assert "version 2" in conflict.text_content()
    rina.wait_for_selector(".conflict-yours .conflict-body >> text=5 orang")
    assert "4 orang" in rina.text_content(".conflict-theirs")
    assert "Claim confirmed" in rina.text_content(".conflict-theirs")
    shot(rina, "desk-conflict.png")
    stored = api(server, token, "GET", f"/api/v1/stories/{slug}/events")["events"][-1]["post"]
    assert (stored["version"], "4 orang" in stored["body"]) == (2, True)

    rina.click(".act-reapply")
    rina.wait_for_selector(".desk-post[data-version='3']")
    assert "5 orang" in rina.text_content(".desk-post .post-body")
    ada.wait_for_selector(".desk-post[data-version='3']")  # live on the other desk too
    ada.click(".act-history")
    ada.wait_for_selector(".revision")
    versions = ada.eval_on_selector_all(".revision strong", "els => els.map(e => e.textContent)")
    assert versions == ["version 3", "version 2", "version 1"]
    assert "Rina Kusuma" in ada.text_content(".revisions")
    assert "Ada Lestari" in ada.text_content(".revisions")


def test_forged_and_cross_site_form_posts_are_refused(
    browser: Any, desk_server: tuple[Server, str]
) -> None:
    server, token = desk_server
    slug = new_story(server, token)
    page = sign_in(browser, server, "rina")
    target = f"{server.base}/editor/stories/{slug}/status"
    attack = (
        f'<form method="post" action="{target}"><input name="status" value="ended"></form>'
        "<script>document.forms[0].submit()</script>"
    )
    answers = []
    # Another site, and another port of this host (same site: the cookie goes along).
    for origin in ("http://evil.test", "http://127.0.0.1:9"):
        tab = page.context.new_page()  # the signed-in browser opens the attacker's page
        tab.route(
            f"{origin}/**", lambda route: route.fulfill(body=attack, content_type="text/html")
        )
        with tab.expect_response(target) as response:
            tab.goto(f"{origin}/attack")
        answers.append(response.value.status)
        tab.wait_for_url(target)
        tab.close()
    # A form without the token, submitted from the desk's own page.
    open_desk(page, server, slug)
    with page.expect_response(target) as response:
        page.evaluate(
            """target => {
              const form = document.createElement('form');
              form.method = 'post'; form.action = target;
              form.append(Object.assign(document.createElement('input'),
                {name: 'status', value: 'ended'}));
              document.body.append(form); form.submit();
            }""",
            target,
        )
    answers.append(response.value.status)
    page.wait_for_url(target)
    assert answers == [400, 400, 400]
    story = api(server, token, "GET", f"/api/v1/stories/{slug}")
    assert (story["status"], story["last_seq"]) == ("live", 0)
    # The real button, with its token, works.
    open_desk(page, server, slug)
    page.click("#end-coverage")
    page.wait_for_selector("#story-status.desk-status-ended")
    assert api(server, token, "GET", f"/api/v1/stories/{slug}")["status"] == "ended"
    assert page.is_visible("#compose-ended")


def test_desk_explains_a_binding_verdict(browser: Any, desk_server: tuple[Server, str]) -> None:
    server, token = desk_server
    slug = new_story(server, token)
    page = sign_in(browser, server, "bagus")
    open_desk(page, server, slug)
    page.fill("#body", "<p>Polisi: 4 korban.</p>")
    page.click("#publish")
    page.wait_for_selector(".desk-post >> text=Polisi: 4 korban")
    post_id = page.eval_on_selector(".desk-post", "n => n.id.replace('desk-post-', '')")
    path = f"/api/v1/stories/{slug}/posts/{post_id}"
    api(server, token, "PATCH", path, {"version": 1, "verification": {"status": "confirmed"}})
    page.wait_for_selector(".desk-post[data-verification='confirmed']")
    page.click(".desk-post .act-edit")
    # The editor's status is not the reporter's to change, and the form says why.
    assert page.is_disabled(".edit-status")
    assert "only an editor can change it" in page.text_content(".verdict-note")
    page.fill(".edit-body", "<p>Polisi: 40 korban.</p>")
    page.wait_for_selector(".verdict-note.flash-warn")
    assert "becomes “Unverified claim”" in page.text_content(".verdict-note")
    page.click(".act-save")
    page.wait_for_selector(".desk-post[data-verification='unverified']")
    post = api(server, token, "GET", f"/api/v1/stories/{slug}")
    assert post["last_seq"] == 3
    # An editor who checked the new text keeps the verdict in the same save.
    rina = sign_in(browser, server, "rina")
    open_desk(rina, server, slug)
    api(server, token, "PATCH", path, {"version": 3, "verification": {"status": "false"}})
    rina.wait_for_selector(".desk-post[data-verification='false']")
    rina.click(".desk-post .act-edit")
    rina.fill(".edit-body", "<p>Polisi: 400 korban.</p>")
    rina.check(".edit-reaffirm")
    rina.click(".act-save")
    rina.wait_for_selector(".desk-post >> text=Polisi: 400 korban")
    assert rina.get_attribute(".desk-post", "data-verification") == "false"
