"""Drafts and the approval queue in a real browser on a real server.

A contributor submits; an editor's open desk shows it in the queue without a reload; the
editor approves and a reader's page shows the post live; a rejection's reason reaches the
contributor's desk. An editor saves and schedules drafts. Screenshots of the drafts list
and the queue go to docs/screenshots/ when LIVEBLOG_SCREENSHOTS=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from servers import Server, api, server_env
from test_desk_browser import new_story, open_desk, shot, sign_in

from liveblog.accounts import create_token, create_user
from liveblog.cli import upgrade_database
from liveblog.db import Database

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def drafts_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A real `liveblog serve` with an editor, a reporter and a contributor."""
    tmp = tmp_path_factory.mktemp("drafts")
    url = f"sqlite:///{tmp / 'drafts.db'}"
    upgrade_database(url)
    db = Database(url)
    try:
        create_user(db, "rina", "editor", "pw-rina", "Rina Kusuma")
        create_user(db, "sekar", "contributor", "pw-sekar", "Sekar Ayu")
        token = create_token(db, "rina")
    finally:
        db.dispose()
    server = Server(server_env(tmp, url)).start()
    try:
        yield server, token
    finally:
        server.stop()


def watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_contributor_submits_editor_approves_live_reader_sees_it(
    browser: Any, drafts_server: tuple[Server, str]
) -> None:
    server, token = drafts_server
    slug = new_story(server, token, "Wawancara di X tersendat")
    api(server, token, "POST", f"/api/v1/stories/{slug}/posts", {"body": "<p>Siaran dimulai.</p>"})
    reader = browser.new_context(viewport={"width": 420, "height": 900}).new_page()
    reader.goto(f"{server.base}/stories/{slug}")
    editor = sign_in(browser, server, "rina")
    editor_errors = watch(editor)
    open_desk(editor, server, slug, "markdown")
    editor.wait_for_selector("#queue-list >> text=Nothing waits for approval.")
    contributor = sign_in(browser, server, "sekar")
    contributor_errors = watch(contributor)
    open_desk(contributor, server, slug, "markdown")

    # A contributor has no verification, pin or key event, and submits instead of publishing.
    assert contributor.query_selector("#verification") is None
    assert contributor.query_selector("#key_event") is None
    assert contributor.query_selector("#schedule") is None
    assert contributor.text_content("#publish") == "Submit for approval"
    contributor.fill("#body", "Antrean pendengar di ruang siaran **terus bertambah**.")
    contributor.fill("#headline", "Pendengar mengantre")
    contributor.click("#publish")
    contributor.wait_for_selector("#compose-status.ok:text('Sent to the editors')")
    contributor.wait_for_selector("#drafts-list .draft[data-state=pending]")
    contributor.fill("#body", "Klaim serangan siber belum bisa dipastikan siapa pun.")
    contributor.click("#publish")
    contributor.wait_for_selector("#drafts-list .draft[data-state=pending] >> nth=1")

    # The editor's open desk shows both without a reload; nothing reached the reader.
    editor.wait_for_selector("#queue-list .draft >> nth=1", timeout=15000)
    assert "terus bertambah" in editor.text_content("#queue-list")
    # What the approval would publish besides the body is shown too: the headline.
    assert "Pendengar mengantre" in editor.text_content("#queue-list")
    assert "Antrean" not in reader.text_content("body")
    shot(editor, "desk-queue.png")
    editor.locator("section.queue").screenshot(path=queue_shot())

    # Reject one with a reason: the contributor's desk shows it.
    rejected = editor.locator("#queue-list .draft", has_text="serangan siber")
    rejected.locator(".act-reject").click()
    rejected.locator(".reject-reason").fill("Sebutkan sumbernya dulu.")
    rejected.locator(".act-confirm-reject").click()
    editor.wait_for_selector("#compose-status.ok")
    contributor.wait_for_selector(
        "#drafts-list .draft[data-state=rejected] >> text=Sebutkan sumbernya dulu.", timeout=15000
    )
    contributor.locator("section.drafts").screenshot(path=_path("desk-contributor-drafts.png"))

    # Approve the other: the reader sees it live, with the contributor as its author.
    editor.locator("#queue-list .draft", has_text="terus bertambah").locator(
        ".act-approve"
    ).click()
    editor.wait_for_selector("#queue-list >> text=Nothing waits for approval.")
    live = reader.wait_for_selector("article.post >> text=terus bertambah", timeout=15000)
    assert live is not None
    assert "Sekar Ayu" in reader.text_content("body")
    editor.wait_for_selector(".desk-post >> text=terus bertambah")
    assert editor_errors == []
    assert contributor_errors == []


def test_editor_saves_and_schedules_drafts(
    browser: Any, drafts_server: tuple[Server, str]
) -> None:
    server, token = drafts_server
    slug = new_story(server, token, "Jadwal siaran bergeser")
    page = sign_in(browser, server, "rina")
    errors = watch(page)
    open_desk(page, server, slug, "markdown")
    page.fill("#body", "Siaran mundur dari pukul 20.00 ke **20.45** waktu setempat.")
    page.click("#save-draft")
    page.wait_for_selector("#compose-status.ok")
    page.wait_for_selector("#drafts-list .draft[data-state=draft]")
    # Open it again, change it, and schedule it for tomorrow at 08:30 Jakarta time.
    page.locator("#drafts-list .draft .act-open").click()
    assert page.is_visible("#draft-open")
    page.fill("#body", "Siaran ulang dijadwalkan besok pagi.")
    tomorrow = (datetime.now(UTC).astimezone(ZoneInfo("Asia/Jakarta")) + timedelta(days=1)).date()
    page.fill("#publish-at", f"{tomorrow.isoformat()}T08:30")
    page.click("#schedule")
    page.wait_for_selector("#drafts-list .draft[data-state=scheduled]")
    when = page.text_content("#drafts-list .draft-when") or ""
    assert "8:30" in when or "08.30" in when  # English, or the Indonesian clock
    assert "WIB" in when
    assert page.locator("#drafts-list .draft").count() == 1  # the same draft, now scheduled
    page.fill("#body", "Penyelenggara belum memberi penjelasan soal gangguan.")
    page.click("#save-draft")
    page.wait_for_selector("#drafts-list .draft >> nth=1")
    shot(page, "desk-drafts.png")
    page.locator("section.drafts").screenshot(path=drafts_shot())
    # Cancel the schedule: it stays a draft; nothing was ever public.
    page.locator("#drafts-list .draft[data-state=scheduled] .act-unschedule").click()
    page.wait_for_selector("#drafts-list .draft[data-state=scheduled]", state="detached")
    status, events = server.get(f"/api/v1/stories/{slug}/events")
    assert status == 200
    assert events["events"] == []
    assert errors == []


def queue_shot() -> str:
    return _path("desk-queue-section.png")


def drafts_shot() -> str:
    return _path("desk-drafts-section.png")


def _path(name: str) -> str:
    import os
    import tempfile
    from pathlib import Path

    from test_desk_browser import SCREENSHOTS

    folder = SCREENSHOTS if os.environ.get("LIVEBLOG_SCREENSHOTS") else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / name)
