"""A reporter's post with a headline and a co-author, in a real Chromium, from desk to reader."""

from __future__ import annotations

from typing import Any

import pytest
from servers import Server
from test_desk_browser import desk_server, new_story, open_desk, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["desk_server"]  # the fixture, shared with the desk's other browser tests

SOURCE = "Siaran **tersendat** lagi.\n\nPendengar: _sekitar satu juta_."


def test_headline_and_coauthor_from_desk_to_reader_and_back_to_markdown(
    browser: Any, desk_server: tuple[Server, str]
) -> None:
    server, token = desk_server
    slug = new_story(server, token, "Wawancara di X")
    reader_context = browser.new_context(viewport={"width": 720, "height": 900})
    reader = reader_context.new_page()
    reader.goto(f"{server.base}/stories/{slug}?lang=en")
    reader.wait_for_selector("#connection", state="attached")

    page = sign_in(browser, server, "bagus")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_desk(page, server, slug, fmt="markdown")
    page.fill("#headline", "Siaran <b>macet</b> lagi")
    page.fill("#body", SOURCE)
    page.select_option("#coauthors", ["rina"])
    page.frame_locator("#preview").locator("strong").wait_for()
    shot(page, "desk-composer-headline.png")
    page.click("#publish")
    page.wait_for_selector("#compose-status.ok")
    assert page.input_value("#headline") == ""
    # The desk's list joins the names as the desk's language joins a list.
    page.wait_for_selector(".desk-post .desk-byline")
    assert page.text_content(".desk-post .desk-byline") == "Bagus Santoso and Rina Kusuma"

    # The reader gets it live: the headline as text (no HTML), both names in the byline.
    post = reader.wait_for_selector("article.post .post-headline", timeout=15000)
    assert post.text_content() == "Siaran <b>macet</b> lagi"
    assert reader.query_selector("article.post .post-headline b") is None
    assert reader.text_content("article.post .post-author") == "Bagus Santoso and Rina Kusuma"
    assert reader.text_content("article.post .post-body strong") == "tersendat"

    # Editing opens what the reporter wrote: Markdown, not its HTML.
    page.click(".desk-post .act-edit")
    assert page.input_value(".edit-body") == SOURCE
    assert page.input_value(".edit-format") == "markdown"
    assert page.input_value(".edit-headline") == "Siaran <b>macet</b> lagi"
    assert page.eval_on_selector(
        ".edit-coauthors", "s => [...s.selectedOptions].map(o => o.value)"
    ) == ["rina"]
    page.fill(".edit-headline", "Siaran pulih setelah 45 menit")
    page.fill(".edit-body", SOURCE.replace("lagi", "sekali lagi"))
    page.click(".act-save")
    page.wait_for_selector(".saved-note")

    reader.wait_for_selector("article.post .post-headline:text('Siaran pulih setelah 45 menit')")
    assert "sekali lagi" in (reader.text_content("article.post .post-body") or "")
    assert reader.text_content("article.post .post-author") == "Bagus Santoso and Rina Kusuma"
    reader.query_selector("article.post").scroll_into_view_if_needed()
    shot(reader, "reader-headline-byline.png")

    # A reader who opens the page now gets the same from the server, in Indonesian too.
    reader.goto(f"{server.base}/stories/{slug}?lang=id")
    assert reader.text_content("article.post .post-author") == "Bagus Santoso dan Rina Kusuma"
    assert reader.text_content("article.post h2.post-headline") == "Siaran pulih setelah 45 menit"

    # Editing again, after the stream replaced the post, still opens the Markdown.
    page.click(".desk-post .act-edit")
    page.wait_for_selector(".edit-body")
    assert page.input_value(".edit-body") == SOURCE.replace("lagi", "sekali lagi")
    assert not errors, errors
    reader_context.close()
