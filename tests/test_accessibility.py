"""axe-core on every page a reader or a reporter meets, in Chromium, light and dark.

The reader page in Indonesian and English with a post of every verification status, a
pinned post, a correction, an embed card, the "what we know" box and an opened timeline,
and scrolled down with the "new updates" button showing; a permalink; the 404 and 410
pages; the /verification explainer; the desk's sign-in page; the desk with a story open, a
draft in the composer and a post's edit form, and the composer's preview. Any serious or
critical violation fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from axe import check, prepare
from servers import Server, api
from test_desk_browser import desk_server, new_story, open_desk, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["desk_server"]  # the fixture, shared with the desk's other browser tests

TWEET = "https://x.com/bmkgindonesia/status/1865012345678901234"


def write(server: Server, token: str, slug: str, body: str, **fields: Any) -> dict[str, Any]:
    post: dict[str, Any] = api(
        server, token, "POST", f"/api/v1/stories/{slug}/posts", {"body": body, **fields}
    )
    return post


def change(server: Server, token: str, slug: str, post: dict[str, Any], **fields: Any) -> None:
    api(
        server,
        token,
        "PATCH",
        f"/api/v1/stories/{slug}/posts/{post['id']}",
        {"version": post["version"], **fields},
    )


@pytest.fixture(scope="module")
def night(desk_server: tuple[Server, str]) -> dict[str, Any]:
    """A story with every kind of post a reader can meet; its slug and a post's id."""
    server, token = desk_server
    slug = new_story(server, token, "Wawancara langsung yang macet")
    write(server, token, slug, "<p>Siaran dijadwalkan mulai pukul 20.00 ET.</p>", key_event=True)
    write(
        server,
        token,
        slug,
        "<p>Jadwal bergeser ke 20.45 ET, kata penyelenggara.</p>",
        verification={"status": "confirmed", "note": "Diumumkan di akun resmi"},
    )
    write(
        server,
        token,
        slug,
        "<p>Ada klaim serangan siber di balik gangguan.</p>",
        verification={"status": "disputed", "note": "Belum ada bukti dari pihak lain"},
    )
    write(
        server,
        token,
        slug,
        "<p>Unggahan yang menyebut siaran dibatalkan.</p>",
        verification={"status": "false", "note": "Siaran tetap berjalan"},
    )
    write(server, token, slug, "<p>Sekitar sejuta pendengar mencoba masuk.</p>")
    write(server, token, slug, TWEET, format="text")
    corrected = write(server, token, slug, "<p>Suara putus-putus di menit pertama.</p>")
    change(server, token, slug, corrected, correction="Menit kedua, bukan pertama.")
    gone = write(server, token, slug, "<p>Unggahan yang ditarik.</p>")
    api(server, token, "DELETE", f"/api/v1/stories/{slug}/posts/{gone['id']}")
    write(server, token, slug, "<p>Catatan redaksi: kami terus memantau.</p>", pinned=True)
    return {"slug": slug, "post": corrected["id"], "gone": gone["id"]}


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A phone-sized browser context with axe loaded into every page."""
    ctx = prepare(browser.new_context(viewport={"width": 360, "height": 800}))
    yield ctx
    ctx.close()


@pytest.mark.parametrize("lang", ["id", "en"])
def test_reader_page(
    context: Any, desk_server: tuple[Server, str], night: dict[str, Any], lang: str
) -> None:
    server, _ = desk_server
    page = context.new_page()
    page.goto(f"{server.base}/stories/{night['slug']}?lang={lang}")
    page.wait_for_selector("#key-filter:not([hidden])")  # live.js ran
    page.wait_for_selector("figure.embed")
    page.wait_for_selector("#briefing")
    page.click("article[data-verification='disputed'] summary")  # the timeline
    page.wait_for_selector("article[data-verification='disputed'] details[open]")
    check(page, f"reader page ({lang})")


def test_reader_scrolled_with_new_updates_waiting(
    context: Any, desk_server: tuple[Server, str]
) -> None:
    server, token = desk_server
    slug = new_story(server, token, "Siaran yang tertunda")
    filler = "<p>" + "Pendengar menunggu siaran yang belum juga dimulai. " * 12 + "</p>"
    for n in range(8):
        write(server, token, slug, f"<h3>Kabar {n}</h3>{filler}")
    page = context.new_page()
    page.goto(f"{server.base}/stories/{slug}?lang=en")
    page.wait_for_selector("#key-filter:not([hidden])")
    page.mouse.wheel(0, 2500)
    page.wait_for_function("() => window.scrollY > 1500")
    page.wait_for_timeout(300)  # let the wheel scroll settle
    write(server, token, slug, "<p>Siaran akhirnya dimulai.</p>")
    page.wait_for_selector("#new-updates:visible")
    check(page, "reader page scrolled, a new update waiting")


def test_permalink_404_410_and_explainer(
    context: Any, desk_server: tuple[Server, str], night: dict[str, Any]
) -> None:
    server, _ = desk_server
    page = context.new_page()
    page.goto(f"{server.base}/stories/{night['slug']}/posts/{night['post']}?lang=en")
    check(page, "permalink")
    answer = page.goto(f"{server.base}/stories/no-such-story?lang=id")
    assert answer is not None
    assert answer.status == 404
    check(page, "404 page")
    answer = page.goto(f"{server.base}/stories/{night['slug']}/posts/{night['gone']}?lang=en")
    assert answer is not None
    assert answer.status == 410
    check(page, "410 page")
    page.goto(f"{server.base}/verification?lang=id")
    check(page, "verification explainer")


def test_desk_login(context: Any, desk_server: tuple[Server, str]) -> None:
    server, _ = desk_server
    page = context.new_page()
    page.goto(f"{server.base}/editor/login?lang=id")
    check(page, "desk sign-in")


def test_desk_and_composer(browser: Any, desk_server: tuple[Server, str], night: Any) -> None:
    server, _ = desk_server
    page = sign_in(browser, server, "rina")
    prepare(page.context)
    try:
        page.goto(f"{server.base}/editor")
        check(page, "desk story list")
        open_desk(page, server, night["slug"], fmt="markdown")
        page.fill("#body", f"**Gangguan** berlanjut.\n\n{TWEET}\n")
        page.frame_locator("#preview").locator("figure.embed").wait_for()
        check(page, "desk with a story open and a draft in the composer")
        page.click(".desk-post .act-edit")
        page.wait_for_selector(".edit-body")
        check(page, "desk with a post's edit form open")
        # The preview frame is sandboxed without scripts, so axe cannot enter it: its
        # document is checked on its own, on a page of the same origin for its stylesheets.
        html = page.eval_on_selector("#preview", "frame => frame.srcdoc")
        alone = page.context.new_page()
        alone.goto(f"{server.base}/editor/login")
        alone.set_content(html)
        check(alone, "the composer's preview")
    finally:
        page.context.close()


def test_a_serious_violation_fails(context: Any) -> None:
    page = context.new_page()
    page.set_content("<html><body><main><img src='/x.png'><input></main></body></html>")
    with pytest.raises(AssertionError) as failure:
        check(page, "a page without alt text or labels")
    assert "image-alt (critical)" in str(failure.value)
    assert "label (critical)" in str(failure.value)
