"""The checks, live, in a real browser: timelines built by the script match the server's,
follow-ups link and show the outcome as it happens, the "what we know" box follows the
statuses, and a takedown leaves no text behind, even for a reader who joins later."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_browser import (
    LIVE_PATH,
    Reader,
    Site,
    assert_built_as_rendered,
    pump,
    site,
    text_of,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

__all__ = ["site"]  # the module-scoped server fixture, shared with test_browser


def test_timeline_built_live_matches_the_server(browser: Any, site: Site) -> None:
    slug = site.story()
    tab = Reader(browser, lang="en").open(site, slug)
    try:
        post = site.post(slug, "<p>Jembatan ambruk.</p>")
        post = site.patch(slug, post, verification={"status": "disputed", "note": "Ragu"})
        post = site.patch(slug, post, verification={"status": "confirmed", "note": "Foto"})
        post = site.patch(slug, post, body="<p>Jembatan ambruk total.</p>")
        node = f"#post-{post['id']}"
        tab.wait_seq(site.last_seq(slug))
        tab.page.click(f"{node} summary")  # the badge opens the timeline
        steps = tab.page.locator(f"{node} .verification-history li").all_inner_texts()
        assert len(steps) == 4
        assert "Claim disputed" in steps[1]
        assert "Ragu" in steps[1]
        assert "(the text changed after the check)" in steps[3]
        assert_built_as_rendered(browser, tab, site, slug, node)
        # A timeline the reader opened stays open while the post changes live.
        post = site.patch(slug, post, verification={"status": "false", "note": "Hoaks"})
        tab.page.wait_for_selector(f"{node}[data-verification='false'] details[open]")
        assert tab.errors == []
    finally:
        tab.close()


def test_follow_up_and_box_update_live(browser: Any, site: Site) -> None:
    slug = site.story()
    claim = site.post(slug, "<p>Kabarnya 40 korban.</p>")
    tab = Reader(browser, lang="id").open(site, slug)
    try:
        page = tab.page
        page.click("#briefing .briefing-open summary")  # the open claims fold behind a count
        assert "Kabarnya 40 korban." in text_of(tab, "#briefing .briefing-open")
        followup = site.post(slug, "<p>Polisi: 4 korban.</p>", resolves=claim["id"])
        node = f"#post-{claim['id']}"
        # Follow-up links are permalinks, built live as the server renders them.
        permalink = f"/stories/{slug}/posts/{followup['id']}"
        page.wait_for_selector(f"{node} .followup a[href^='{permalink}']")
        assert page.locator(f"{node} .followup-outcome").count() == 0
        claim = site.patch(slug, claim, verification={"status": "false", "note": "Polisi"})
        page.wait_for_selector(f"{node} .followup-false .followup-outcome")
        assert text_of(tab, f"{node} .followup-outcome") == "Hasil: Klaim keliru"
        assert "Kabarnya 40 korban." in text_of(tab, "#briefing .briefing-false")
        assert "Kabarnya" not in text_of(tab, "#briefing .briefing-open")
        # Only the follow-up itself is left open, counted in the fold's summary.
        assert text_of(tab, "#briefing .briefing-fold summary") == "1 klaim belum terverifikasi"
        back = f"#post-{followup['id']} .follows-up a"
        assert page.get_attribute(back, "href") == f"/stories/{slug}/posts/{claim['id']}?lang=id"
        site.call("PATCH", f"/api/v1/stories/{slug}", {"known": "Jembatan runtuh."})
        page.wait_for_function(
            "() => document.querySelector('#briefing .briefing-known .briefing-text')"
            ".textContent === 'Jembatan runtuh.'"
        )
        assert page.locator("#briefing .briefing-known").is_visible()
        # What the script built is what a fresh page shows.
        tab.wait_seq(site.last_seq(slug))
        assert_built_as_rendered(browser, tab, site, slug, node)
        assert tab.errors == []
    finally:
        tab.close()


def test_takedown_leaves_no_text_for_a_reader_catching_up(browser: Any, site: Site) -> None:
    slug = site.story()
    held: list[Any] = []

    def route(ws: Any) -> None:
        if held:
            ws.connect_to_server()
        else:
            held.append(ws)  # the first connection: the test answers it by hand

    tab = Reader(browser, lang="id")
    try:
        replies: list[Any] = []
        tab.page.on("response", lambda r: replies.append(r) if "/events?" in r.url else None)
        tab.page.route_web_socket(LIVE_PATH, route)
        tab.open(site, slug)  # at seq 0
        pump(tab, lambda: held, 10, "the page to connect")
        kept = site.post(slug, "<p>Tetap.</p>")
        gone = site.post(slug, "<p>Alamat saksi: Jalan Melati 7.</p>")
        site.call("DELETE", f"/api/v1/stories/{slug}/posts/{gone['id']}", {"reason": "Privasi"})
        # The page catches up from 0 through the events API, after the takedown.
        held[0].send(json.dumps({"type": "reset", "last_seq": 3}))
        held[0].close(code=4205, reason="reload the story")
        tab.wait_seq(3)
        assert any("/events?after=0" in url for url in tab.requests)
        assert tab.page.locator(f"#post-{kept['id']}").count() == 1
        assert tab.page.locator(f"#post-{gone['id']}").count() == 0
        assert "Melati" not in tab.page.content()
        assert replies
        assert all("Melati" not in reply.text() for reply in replies)  # nor on the wire
        assert tab.errors == []
    finally:
        tab.close()


def test_box_follows_rulings_on_posts_not_on_the_page(browser: Any, site: Site) -> None:
    """The box counts the whole story: a ruling on a post far below the first page moves it
    live, and a takedown nothing on the page can place is fetched, not guessed."""
    slug = site.story()
    old = site.post(slug, "<p>Kabar lama soal korban.</p>")
    gone = site.post(slug, "<p>Kabar lama lain.</p>")
    for n in range(52):
        site.post(slug, f"<p>Kabar {n}.</p>")
    tab = Reader(browser, lang="en").open(site, slug)
    try:
        page = tab.page
        assert page.locator(f"#post-{old['id']}").count() == 0  # on an older page
        count = "(name) => document.querySelector(`#briefing .briefing-${name}`).dataset.count"
        assert page.evaluate(count, "open") == "54"
        assert page.evaluate(count, "known") == "0"
        assert page.locator("#briefing .briefing-known").is_hidden()
        page.click("#briefing .briefing-open summary")
        requests_before = len([u for u in tab.requests if "briefing.json" in u])
        old = site.patch(slug, old, verification={"status": "confirmed", "note": "Polisi"})
        page.wait_for_selector(f"#briefing .briefing-known li[data-id='{old['id']}']")
        assert page.locator("#briefing .briefing-known").is_visible()
        assert page.evaluate(count, "known") == "1"
        assert page.evaluate(count, "open") == "53"
        link = page.get_attribute(f"#briefing .briefing-known li[data-id='{old['id']}'] a", "href")
        assert link == f"/stories/{slug}/posts/{old['id']}?lang=en"
        assert "Kabar lama soal korban." in text_of(tab, "#briefing .briefing-known")
        site.patch(slug, old, verification={"status": "false", "note": "Hoaks"})
        page.wait_for_selector(f"#briefing .briefing-false li[data-id='{old['id']}']")
        assert page.evaluate(count, "known") == "0"
        assert page.evaluate(count, "false") == "1"
        assert page.locator("#briefing .briefing-known").is_hidden()
        # The event told the old status: no fetch was needed so far.
        assert len([u for u in tab.requests if "briefing.json" in u]) == requests_before
        # A takedown of a post neither on the page nor in the box: the box is fetched.
        site.call("DELETE", f"/api/v1/stories/{slug}/posts/{gone['id']}", {"reason": "Salah"})
        page.wait_for_function(f"() => ({count})('open') === '52'", timeout=15000)
        assert any("briefing.json?seq=" in u for u in tab.requests)
        assert "and 47 more" in text_of(tab, "#briefing .briefing-open")
        assert text_of(tab, "#briefing .briefing-fold summary") == "52 claims not yet verified"
        assert page.locator("#briefing .briefing-fold[open]").count() == 1  # kept open
        # What the script built is what a fresh page shows.
        tab.wait_seq(site.last_seq(slug))
        fresh = Reader(browser, lang="en").open(site, slug)
        try:
            fresh.page.click("#briefing .briefing-open summary")
            assert text_of(fresh, "#briefing") == text_of(tab, "#briefing")
        finally:
            fresh.close()
        assert tab.errors == []
    finally:
        tab.close()


FIRST_POST = "() => document.querySelector('#updates > .post').getBoundingClientRect().top"


def test_box_leaves_the_first_update_on_a_phones_first_screen(browser: Any, site: Site) -> None:
    """A 60-post story, most of it unverified: on a 360x740 phone the box stays short enough
    that the first update starts on the first screen, with JavaScript and without."""
    slug = site.story()
    long = "Warga melaporkan antrean panjang di depan posko dan meminta kepastian soal jadwal. "
    post = site.post(slug, f"<p>{long * 2}</p>", headline="Posko dibuka pukul 20.45")
    site.patch(slug, post, verification={"status": "confirmed", "note": "Dicek"})
    for n in range(3):
        post = site.post(slug, f"<p>Petugas membenarkan laporan {n}. {long}</p>")
        site.patch(slug, post, verification={"status": "confirmed", "note": "Dicek"})
    post = site.post(slug, f"<p>Kabar posko ditutup. {long}</p>")
    site.patch(slug, post, verification={"status": "false", "note": "Posko tetap buka"})
    for n in range(55):
        site.post(slug, f"<p>Kabar {n} yang belum dicek: {long * 2}</p>")
    for javascript in (True, False):
        context = browser.new_context(
            viewport={"width": 360, "height": 740},
            locale="id-ID",
            timezone_id="Asia/Jakarta",
            java_script_enabled=javascript,
        )
        try:
            page = context.new_page()
            page.goto(f"{site.server.base}/stories/{slug}?lang=id")
            if javascript:
                page.wait_for_selector("#key-filter:not([hidden])")
            summary = page.locator("#briefing .briefing-fold summary")
            assert summary.inner_text().strip() == "55 klaim belum terverifikasi"
            assert page.locator("#briefing .briefing-known li").count() == 4
            assert page.evaluate(FIRST_POST) < 740, javascript
            # A long excerpt is clamped to two lines; its link keeps the whole text.
            link = page.locator("#briefing .briefing-known li a").nth(1)
            assert link.evaluate("a => a.scrollHeight > a.clientHeight")
            assert "Petugas membenarkan laporan 1." in (link.text_content() or "")
            assert (
                "Posko dibuka pukul 20.45"
                in page.locator("#briefing .briefing-known").inner_text()
            )
            summary.click()  # the fold opens without the script too
            assert page.locator("#briefing .briefing-open li").first.is_visible()
        finally:
            context.close()
    tab = Reader(browser, lang="en", height=740).open(site, slug)
    try:
        page = tab.page
        site.post(slug, "<p>One more claim nobody has checked yet.</p>")
        page.wait_for_function(
            "() => document.querySelector('#briefing .briefing-fold summary').textContent"
            " === '56 claims not yet verified'"
        )
        assert page.evaluate(FIRST_POST) < 740
        fresh = Reader(browser, lang="en", height=740).open(site, slug)
        try:
            assert text_of(fresh, "#briefing") == text_of(tab, "#briefing")
        finally:
            fresh.close()
        if os.environ.get("LIVEBLOG_SCREENSHOTS"):  # for docs/screenshots, looked at by hand
            out = Path(os.environ["LIVEBLOG_SCREENSHOTS"])
            page.screenshot(path=str(out / "reader-box-phone.png"))
            page.emulate_media(color_scheme="dark")
            page.click("#briefing .briefing-open summary")
            page.screenshot(path=str(out / "reader-box-phone-dark-open.png"))
            page.emulate_media(color_scheme="light")
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(out / "reader-box-desktop.png"))
        assert tab.errors == []
    finally:
        tab.close()
