"""The composer in a real Chromium: Markdown by keyboard, an embed, Ctrl+Enter, the reader's card.

The network is closed, so the provider's hosts are answered by Playwright's router: that is
also how the test sees that nothing is asked of the provider before the reader clicks.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from servers import Server
from test_desk_browser import desk_server, new_story, open_desk, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["desk_server"]  # the fixture, shared with the desk's other browser tests

TWEET = "https://x.com/bmkgindonesia/status/1865012345678901234"
PROVIDER_FRAME = re.compile(
    r"^https://(www\.youtube-nocookie\.com|platform\.twitter\.com|www\.instagram\.com"
    r"|www\.tiktok\.com|www\.facebook\.com)/"
)


def test_markdown_by_keyboard_with_an_embed_that_loads_only_on_click(
    browser: Any, desk_server: tuple[Server, str]
) -> None:
    server, token = desk_server
    slug = new_story(server, token, "Gempa Cianjur")
    local = urlsplit(server.base).netloc

    reader_context = browser.new_context(viewport={"width": 720, "height": 900})
    outside: list[str] = []  # every request that leaves our server
    framed: list[str] = []  # the provider frames the router answered
    reader_context.on(
        "request", lambda r: outside.append(r.url) if urlsplit(r.url).netloc != local else None
    )

    def provider(route: Any) -> None:
        framed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>provider post</p>")

    reader_context.route(PROVIDER_FRAME, provider)
    reader = reader_context.new_page()
    reader.goto(f"{server.base}/stories/{slug}?lang=en")

    page = sign_in(browser, server, "bagus")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_desk(page, server, slug, fmt="markdown")
    assert page.is_visible("#toolbar")

    # Keyboard only: Ctrl+B gives **…** with a placeholder selected, typing replaces it.
    page.focus("#body")
    page.keyboard.press("Control+b")
    page.keyboard.type("Gempa susulan")
    page.keyboard.press("End")
    page.keyboard.type(" M 4,2 terasa di Cianjur.")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    page.keyboard.type(TWEET)
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+Shift+9")  # a quote
    page.keyboard.type("Warga diminta menjauhi bangunan retak.")
    page.keyboard.press("Control+End")  # the attribution line the quote button left
    page.keyboard.press("Shift+Home")
    page.keyboard.type("> — Kepala BPBD Cianjur")
    assert page.input_value("#body") == (
        f"**Gempa susulan** M 4,2 terasa di Cianjur.\n\n{TWEET}\n\n"
        "> Warga diminta menjauhi bangunan retak.\n>\n> — Kepala BPBD Cianjur"
    )
    preview = page.frame_locator("#preview")
    # The preview follows typing after a pause: wait for the last keystrokes to reach it.
    preview.locator("blockquote cite", has_text="Kepala BPBD Cianjur").wait_for()
    preview.locator("figure.embed[data-provider='x'] a").wait_for()
    assert preview.locator("strong").first.text_content() == "Gempa susulan"
    assert preview.locator("blockquote p").first.text_content() == (
        "Warga diminta menjauhi bangunan retak."
    )
    assert preview.locator("blockquote cite").text_content() == "— Kepala BPBD Cianjur"
    shot(page, "desk-composer.png")

    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#compose-status.ok")
    assert page.input_value("#body") == ""
    assert page.input_value("#format") == "markdown"  # the choice stays for the next post

    # The reader gets the post live, the embed a card: no frame, nothing asked of X yet.
    card = reader.wait_for_selector("figure.embed[data-provider='x'] .embed-load", timeout=15000)
    assert reader.text_content("figure.embed .embed-provider") == "X"
    assert reader.get_attribute("figure.embed a", "href") == TWEET
    assert reader.query_selector("iframe") is None
    article = reader.query_selector("article.post:has(figure.embed)")
    assert article is not None
    assert article.query_selector("strong").text_content() == "Gempa susulan"
    # A reader who opens the page now gets the card from the server-rendered page too.
    reader.reload()
    card = reader.wait_for_selector("figure.embed[data-provider='x'] .embed-load")
    card.scroll_into_view_if_needed()
    shot(reader, "reader-embed-card.png")
    assert outside == []
    assert framed == []

    card.click()
    frame = reader.wait_for_selector("figure.embed iframe.embed-frame")
    src = frame.get_attribute("src")
    assert src == "https://platform.twitter.com/embed/Tweet.html?dnt=true&id=1865012345678901234"
    reader.frame_locator("figure.embed iframe").locator("text=provider post").wait_for()
    assert framed == [src]
    assert not errors, errors
    reader_context.close()
