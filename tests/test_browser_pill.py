"""The "N new updates" bar on a phone (390x844) in a real Chromium against a real server:
it takes its own space in the page and never lies over a post's time or author."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import Reader, Site, start_site

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Every post's time and author, and the bar, as boxes in the viewport.
OVERLAPS = """() => {
    const bar = document.getElementById('new-updates').getBoundingClientRect();
    const hits = [];
    const metas = '.post:not([hidden]) .post-time, .post:not([hidden]) .post-author';
    for (const el of document.querySelectorAll(metas)) {
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height) continue;
        if (r.left < bar.right && r.right > bar.left && r.top < bar.bottom && r.bottom > bar.top) {
            hits.push({id: el.closest('.post').id, text: el.textContent.trim(), top: r.top});
        }
    }
    return {hits, bar: {top: bar.top, bottom: bar.bottom, height: bar.height}};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    running = start_site(tmp_path_factory.mktemp("pill"))
    yield running
    running.server.stop()


def phone(browser: Any, site: Site, slug: str, width: int = 390, height: int = 844) -> Reader:
    """Open the story in a tab of the given size."""
    tab = Reader(browser, lang="en")
    tab.context.close()
    tab.context = browser.new_context(
        viewport={"width": width, "height": height}, locale="en-US", timezone_id="Asia/Jakarta"
    )
    tab.page = tab.context.new_page()
    tab.page.on("pageerror", lambda exc: tab.errors.append(f"pageerror: {exc}"))
    return tab.open(site, slug)


def busy_story(site: Site) -> str:
    slug = site.story(language="en", title="Flooding on the north coast")
    filler = "Water is rising along the coast road and the ferry is held in port. " * 3
    pinned = site.post(slug, "<p>What we know so far: the coast road is closed.</p>")
    site.patch(slug, pinned, pinned=True)
    for n in range(14):
        site.post(slug, f"<p><strong>Update {n}.</strong> {filler}</p>")
    return slug


def show_bar(tab: Reader, site: Site, slug: str) -> list[dict[str, Any]]:
    """Scroll into the updates and let two posts arrive: they wait behind the bar."""
    page = tab.page
    page.mouse.wheel(0, 1800)
    page.wait_for_function("() => window.scrollY > 1200")
    page.wait_for_timeout(300)
    fresh = [site.post(slug, f"<p>Fresh {n}: the ferry sails again.</p>") for n in range(2)]
    page.wait_for_function(
        "() => document.getElementById('new-updates').textContent.includes('2')"
    )
    return fresh


def test_bar_never_lies_over_a_posts_time_or_author(browser: Any, site: Site) -> None:
    slug = busy_story(site)
    tab = phone(browser, site, slug)
    try:
        page = tab.page
        show_bar(tab, site, slug)
        assert page.is_visible("#new-updates")
        style = page.eval_on_selector(
            "#new-updates", "n => ({position: getComputedStyle(n).position, width: n.offsetWidth})"
        )
        assert style["position"] == "sticky"  # in the flow, not floating over it
        assert style["width"] == page.eval_on_selector("#updates", "n => n.offsetWidth")
        positions: list[str] = []
        # Where readers land on a post: each of several posts scrolled to the top, as a
        # permalink, a keyboard focus or the bar's own jump does.
        for n in (0, 3, 6, 9):
            page.evaluate(
                "n => document.querySelectorAll('#updates > .post:not([hidden])')[n]"
                ".scrollIntoView({block: 'start'})",
                n,
            )
            positions.append(f"post {n} at the top")
            found = page.evaluate(OVERLAPS)
            assert found["hits"] == [], (positions[-1], found)
        # Scrolled so the pinned post's time and author sit where a floating pill would be:
        # the bar is below them, in the flow, pushing the updates down.
        page.evaluate(
            "() => { const m = document.querySelector('#pinned .post-meta');"
            " window.scrollTo(0, m.getBoundingClientRect().top + window.scrollY - 20); }"
        )
        page.wait_for_timeout(100)
        found = page.evaluate(OVERLAPS)
        assert found["hits"] == [], ("pinned post near the top", found)
        bar = found["bar"]
        first = page.eval_on_selector("#updates", "n => n.getBoundingClientRect().top")
        assert first >= bar["bottom"]  # the updates start below the bar: it takes its own space
        if os.environ.get("LIVEBLOG_SCREENSHOTS"):  # for docs/screenshots, looked at by hand
            out = Path(os.environ["LIVEBLOG_SCREENSHOTS"])
            page.screenshot(path=str(out / "phone-new-updates-in-flow.png"))
            page.evaluate(
                "() => document.querySelectorAll('#updates > .post:not([hidden])')[4]"
                ".scrollIntoView({block: 'start'})"
            )
            page.screenshot(path=str(out / "phone-new-updates-scrolled.png"))
        # The bar still reveals the waiting posts.
        page.click("#new-updates")
        page.wait_for_selector("#new-updates", state="hidden")
        assert tab.errors == []
    finally:
        tab.close()


def test_bar_on_a_desktop_is_in_the_column(browser: Any, site: Site) -> None:
    slug = busy_story(site)
    tab = phone(browser, site, slug, 1280, 900)
    try:
        page = tab.page
        show_bar(tab, site, slug)
        for n in (2, 8):
            page.evaluate(
                "n => document.querySelectorAll('#updates > .post:not([hidden])')[n]"
                ".scrollIntoView({block: 'start'})",
                n,
            )
            found = page.evaluate(OVERLAPS)
            assert found["hits"] == [], found
        if os.environ.get("LIVEBLOG_SCREENSHOTS"):
            out = Path(os.environ["LIVEBLOG_SCREENSHOTS"])
            page.screenshot(path=str(out / "desktop-new-updates-scrolled.png"))
        assert tab.errors == []
    finally:
        tab.close()
