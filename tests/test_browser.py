"""The reader's live page in a real browser (Debian's Chromium via Playwright) against real
`liveblog serve` processes: live posts, edits, status changes and deletions in place, the
"N new updates" button, surviving a server restart, gap filling, resets, the reconnect
backoff, and an XSS corpus that must run nothing."""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_app
from servers import Reader as SocketReader
from servers import Server, api, prepare, server_env, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000
LIVE_PATH = re.compile(r".*/stories/[^/]+/live\?after=\d+$")


class Site:
    """A running server, its environment and an editor's token."""

    def __init__(self, server: Server, env: dict[str, str], url: str, token: str) -> None:
        self.server = server
        self.env = env
        self.url = url
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return api(self.server, self.token, method, path, body)

    def story(
        self,
        language: str = "id",
        title: str = "Banjir di Jakarta Utara",
        timezone: str = "Asia/Jakarta",
    ) -> str:
        slug = f"b-{os.urandom(5).hex()}"
        self.call(
            "POST",
            "/api/v1/stories",
            {"title": title, "language": language, "timezone": timezone, "slug": slug},
        )
        return slug

    def post(self, slug: str, body: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "POST", f"/api/v1/stories/{slug}/posts", {"body": body, **fields}
        )
        return result

    def patch(self, slug: str, post: dict[str, Any], **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "PATCH",
            f"/api/v1/stories/{slug}/posts/{post['id']}",
            {"version": post["version"], **fields},
        )
        return result

    def last_seq(self, slug: str) -> int:
        seq: int = self.call("GET", f"/api/v1/stories/{slug}")["last_seq"]
        return seq


def start_site(tmp_path: Path) -> Site:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    token = prepare(url)
    env = server_env(tmp_path, url)
    return Site(Server(env).start(), env, url, token)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server for the tests that do not restart it."""
    running = start_site(tmp_path_factory.mktemp("browser"))
    yield running
    running.server.stop()


class Reader:
    """A browser tab on a story, recording dialogs and console errors."""

    def __init__(self, browser: Any, *, lang: str = "id", height: int = 800) -> None:
        self.context = browser.new_context(
            viewport={"width": 360, "height": height},
            locale="id-ID" if lang == "id" else "en-US",
            timezone_id="Asia/Jakarta",
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.lang = lang
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def open(self, site: Site, slug: str) -> Reader:
        self.page.goto(f"{site.server.base}/stories/{slug}?lang={self.lang}")
        # live.js unhides the key-events toggle once it runs.
        self.page.wait_for_selector("#key-filter:not([hidden])")
        self.page.evaluate("window.__sameDocument = true")
        return self

    def wait_seq(self, seq: int) -> None:
        self.page.wait_for_function(
            "seq => Number(document.getElementById('story').dataset.lastSeq) >= seq", arg=seq
        )

    def same_document(self) -> bool:
        return bool(self.page.evaluate("window.__sameDocument === true"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def reader(browser: Any) -> Iterator[Reader]:
    tab = Reader(browser)
    yield tab
    tab.close()


def pump(reader: Reader, check: Any, timeout: float, what: str) -> None:
    """Wait for `check()` while letting Playwright run its callbacks (route handlers)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        reader.page.wait_for_timeout(25)


def text_of(reader: Reader, selector: str) -> str:
    text: str = reader.page.locator(selector).first.inner_text()
    return text.strip()


# --- rendering -------------------------------------------------------------------------


def test_page_renders_in_both_languages(browser: Any, site: Site) -> None:
    slug = site.story()
    site.post(slug, "<p>Air mulai naik di Pluit.</p>")
    site.post(
        slug,
        "<p>Tanggul jebol.</p>",
        verification={"status": "confirmed", "note": "Dilihat langsung."},
        key_event=True,
    )
    expected = {
        "id": ("Klaim terkonfirmasi", "Klaim belum terverifikasi", "Berlangsung"),
        "en": ("Claim confirmed", "Unverified claim", "Live"),
    }
    for lang, (confirmed, unverified, live) in expected.items():
        tab = Reader(browser, lang=lang).open(site, slug)
        try:
            page = tab.page
            assert page.get_attribute("html", "lang") == lang
            labels = page.locator(".badge-text").all_inner_texts()
            assert labels == [confirmed, unverified]
            assert text_of(tab, ".state-word").lower() == live.lower()
            assert text_of(tab, ".post-time").endswith("WIB")
            # The relative time is rewritten by Intl in the page's language.
            relative = text_of(tab, ".post .post-relative")
            assert relative
            assert ("lalu" in relative or "sekarang" in relative) == (lang == "id")
            assert page.locator(".mark-key").count() == 1
            assert tab.errors == []
        finally:
            tab.close()


def test_key_events_filter(reader: Reader, site: Site) -> None:
    slug = site.story()
    site.post(slug, "<p>Biasa.</p>")
    key = site.post(slug, "<p>Penting.</p>", key_event=True)
    reader.open(site, slug)
    page = reader.page
    assert page.locator(".posts .post:visible").count() == 2
    page.click("#key-filter")
    assert page.get_attribute("#key-filter", "aria-pressed") == "true"
    assert page.locator(".posts .post:visible").count() == 1
    assert page.locator(f"#post-{key['id']}").is_visible()
    page.keyboard.press("Enter")  # the toggle keeps focus and works from the keyboard
    assert page.get_attribute("#key-filter", "aria-pressed") == "false"
    assert page.locator(".posts .post:visible").count() == 2


# --- live updates ----------------------------------------------------------------------


SNAPSHOT = """node => ({
    classes: [...node.classList].filter(c => c !== "is-fresh").sort(),
    data: {...node.dataset},
    meta: [...node.querySelectorAll(".post-meta > :not(.post-relative)")].map(
        n => n.textContent.trim()),
    titles: [...node.querySelectorAll("[title]")].map(n => n.title),
    badge: node.querySelector(".badge").textContent.replace(/\\s+/g, " ").trim(),
    body: node.querySelector(".post-body").innerHTML,
    corrections: [...node.querySelectorAll(".correction")].map(n => n.textContent.trim()),
})"""


def assert_built_as_rendered(
    browser: Any, reader: Reader, site: Site, slug: str, selector: str
) -> None:
    """What the script built for a post matches what the server renders for it."""
    built = reader.page.eval_on_selector(selector, SNAPSHOT)
    fresh = Reader(browser, lang=reader.lang).open(site, slug)
    try:
        rendered = fresh.page.eval_on_selector(selector, SNAPSHOT)
    finally:
        fresh.close()
    assert built == rendered


@pytest.mark.parametrize(
    ("lang", "zone", "suffixes"),
    [("en", "America/New_York", ("EDT", "EST")), ("id", "Asia/Jakarta", ("WIB",))],
)
def test_the_script_writes_times_as_the_server_does(
    browser: Any, site: Site, lang: str, zone: str, suffixes: tuple[str, ...]
) -> None:
    slug = site.story(language=lang, timezone=zone)
    tab = Reader(browser, lang=lang).open(site, slug)
    try:
        post = site.post(slug, "<p>Satu.</p>", pinned=True, key_event=True)
        post = site.patch(slug, post, body="<p>Dua.</p>", correction="Tiga.")
        node = f"#post-{post['id']}"
        tab.page.wait_for_selector(f"{node} .correction")
        assert text_of(tab, f"{node} .post-time").endswith(suffixes)
        assert tab.page.locator(f"#pinned {node}").count() == 1
        assert_built_as_rendered(browser, tab, site, slug, node)
    finally:
        tab.close()


def test_coming_back_online_resumes_from_the_last_applied_seq(reader: Reader, site: Site) -> None:
    slug = site.story()
    sockets: list[str] = []
    reader.page.on("websocket", lambda ws: sockets.append(ws.url))
    reader.open(site, slug)
    assert reader.page.is_visible("#empty")
    site.post(slug, "<p>Satu.</p>")
    reader.wait_seq(1)
    assert reader.page.is_hidden("#empty")
    reader.page.evaluate("() => window.dispatchEvent(new Event('online'))")
    pump(reader, lambda: len(sockets) >= 2, 10, "a new connection")
    assert sockets[0].endswith("/live?after=0")
    assert sockets[1].endswith("/live?after=1")
    later = site.post(slug, "<p>Dua.</p>")
    reader.page.wait_for_selector(f"#post-{later['id']}")
    assert reader.page.locator(".posts .post").count() == 2


def test_post_edit_status_change_and_delete_apply_in_place(
    browser: Any, reader: Reader, site: Site
) -> None:
    slug = site.story()
    first = site.post(slug, "<p>Sebelum halaman dibuka.</p>")
    reader.open(site, slug)
    page = reader.page

    created = site.post(slug, "<p>Pompa air dinyalakan.</p>")
    node = f"#post-{created['id']}"
    page.wait_for_selector(node)
    assert text_of(reader, f"{node} .post-body") == "Pompa air dinyalakan."
    assert page.get_attribute(node, "data-verification") == "unverified"
    # Newest first, at once: the reader is at the top of the page.
    assert page.locator(".posts .post").first.get_attribute("id") == f"post-{created['id']}"
    assert page.is_hidden("#new-updates")
    assert text_of(reader, f"{node} .post-time").endswith("WIB")

    edited = site.patch(slug, created, body="<p>Tiga pompa air dinyalakan.</p>")
    page.wait_for_function(
        "sel => document.querySelector(sel + ' .post-body').textContent.includes('Tiga')",
        arg=node,
    )
    assert text_of(reader, f"{node} .mark-edited").startswith("Diedit ")

    disputed = site.patch(
        slug, edited, verification={"status": "disputed", "note": "Warga membantah."}
    )
    page.wait_for_selector(f"{node}[data-verification='disputed']")
    assert text_of(reader, f"{node} .status-change") == "Sekarang diperdebatkan"
    assert text_of(reader, f"{node} .badge-text") == "Klaim diperdebatkan"
    assert text_of(reader, f"{node} .badge-note") == "Warga membantah."
    assert page.locator(f"{node} .mark-edited").count() == 1  # kept across the change

    site.patch(slug, disputed, correction="Yang dinyalakan tiga pompa, bukan dua.")
    page.wait_for_selector(f"{node} .correction")
    assert "bukan dua" in text_of(reader, f"{node} .correction")
    assert text_of(reader, f"{node} .correction-label") == "Koreksi"

    assert_built_as_rendered(browser, reader, site, slug, node)

    site.call("DELETE", f"/api/v1/stories/{slug}/posts/{created['id']}")
    page.wait_for_selector(node, state="detached")
    assert page.locator(f"#post-{first['id']}").count() == 1

    site.call("PATCH", f"/api/v1/stories/{slug}", {"title": "Judul baru", "status": "ended"})
    page.wait_for_selector("#banner.banner-ended")
    assert text_of(reader, "#story-title") == "Judul baru"
    assert "berakhir" in text_of(reader, "#banner .banner-text")
    assert page.title().startswith("Judul baru")

    reader.wait_seq(site.last_seq(slug))
    assert reader.same_document(), "the page reloaded"
    assert reader.dialogs == []
    assert reader.errors == []


VISIBLE_POST = """() => {
    const node = [...document.querySelectorAll(".posts .post")].find(
        n => n.getBoundingClientRect().top > 0);
    return {id: node.id, top: node.getBoundingClientRect().top};
}"""


def test_new_updates_wait_behind_a_button_when_scrolled(browser: Any, site: Site) -> None:
    slug = site.story(language="en")
    filler = "<p>" + "Flood water is rising along the coast road. " * 12 + "</p>"
    for n in range(12):
        site.post(slug, f"<h3>Update {n}</h3>{filler}")
    tab = Reader(browser, lang="en").open(site, slug)
    try:
        page = tab.page
        title = page.title()
        page.mouse.wheel(0, 2500)
        page.wait_for_function("() => window.scrollY > 1500")
        page.wait_for_timeout(300)  # let the wheel scroll settle
        anchor = page.evaluate(VISIBLE_POST)

        fresh = [site.post(slug, f"<p>Fresh {n}</p>") for n in range(2)]
        page.wait_for_selector("#new-updates:visible")
        page.wait_for_function(
            "() => document.getElementById('new-updates').textContent.includes('2')"
        )
        assert text_of(tab, "#new-updates") == "2 new updates"
        assert page.title() == f"(2) {title}"
        for post in fresh:
            assert page.locator(f"#post-{post['id']}").is_hidden()
        # What the reader was looking at has not moved on the screen.
        still = page.eval_on_selector(f"#{anchor['id']}", "n => n.getBoundingClientRect().top")
        assert abs(still - anchor["top"]) < 2, "the page jumped"

        page.click("#new-updates")
        page.wait_for_selector("#new-updates", state="hidden")
        assert page.title() == title
        newest = page.locator(f"#post-{fresh[1]['id']}")
        newest.wait_for(state="visible")
        # Scrolled up to the newest update, which now has the focus.
        page.wait_for_function(
            "id => { const top = document.getElementById(id).getBoundingClientRect().top;"
            " return top >= 0 && top < 100; }",
            arg=f"post-{fresh[1]['id']}",
        )
        assert page.evaluate("() => document.activeElement.id") == f"post-{fresh[1]['id']}"

        # At the top, a new post appears at once.
        third = site.post(slug, "<p>Fresh 2</p>")
        page.wait_for_selector(f"#post-{third['id']}:visible")
        assert page.is_hidden("#new-updates")
        assert page.title() == title
        assert tab.errors == []
    finally:
        tab.close()


def test_one_new_update_in_indonesian_is_counted(reader: Reader, site: Site) -> None:
    slug = site.story()
    for n in range(10):
        site.post(slug, "<p>" + f"Kabar {n}. " * 60 + "</p>")
    reader.open(site, slug)
    page = reader.page
    page.mouse.wheel(0, 2000)
    page.wait_for_function("() => window.scrollY > 1000")
    site.post(slug, "<p>Baru.</p>")
    page.wait_for_selector("#new-updates:visible")
    assert text_of(reader, "#new-updates") == "1 pembaruan baru"
    assert page.title().startswith("(1) ")


def test_page_survives_a_server_restart_and_catches_up(browser: Any, tmp_path: Path) -> None:
    running = start_site(tmp_path)
    server = running.server
    tab = Reader(browser)
    # The server takes several seconds to stop and start again, by which time the real
    # backoff may wait up to 16 s; a fifth of each cap keeps the test short (the backoff
    # itself is checked below) while still going through the same reconnect path.
    tab.page.add_init_script("Math.random = () => 0.2;")
    try:
        slug = running.story()
        running.post(slug, "<p>Sebelum mati.</p>")
        tab.open(running, slug)
        page = tab.page
        server.stop()
        # While the server is down, the desk keeps writing (straight to the database).
        app = make_app(tmp_path / "writer", running.url)
        desk = app.test_client()
        headers = {"Authorization": f"Bearer {running.token}"}
        written = []
        for n in range(3):
            response = desk.post(
                f"/api/v1/stories/{slug}/posts",
                json={"body": f"<p>Saat server mati {n}.</p>"},
                headers=headers,
            )
            assert response.status_code == 201, response.get_json()
            written.append(response.get_json()["id"])
        page.wait_for_selector("#connection:visible")
        assert "Menyambung" in text_of(tab, "#connection")
        assert page.locator("#story.offline").count() == 1

        restarted = Server(running.env, port=server.port).start()
        running.server = restarted
        try:
            for post_id in written:
                page.wait_for_selector(f"#post-{post_id}")
            later = running.post(slug, "<p>Sesudah hidup lagi.</p>")
            page.wait_for_selector(f"#post-{later['id']}")
            page.wait_for_selector("#connection", state="hidden")
            tab.wait_seq(running.last_seq(slug))
            ids = page.eval_on_selector_all(".posts .post", "nodes => nodes.map(n => n.id)")
            assert ids[:4] == [f"post-{later['id']}", *[f"post-{i}" for i in reversed(written)]]
            assert tab.same_document()
        finally:
            restarted.stop()
    finally:
        tab.close()
        server.stop()


# --- shedding: polling while the server is full -----------------------------------------

# Each applied event sets data-last-seq (to the same value again if it were applied twice):
# the values it had before each set are every applied seq but the last.
RECORD_SEQS = """
window.__seqs = [];
document.addEventListener("DOMContentLoaded", () => {
  const story = document.getElementById("story");
  new MutationObserver((records) => {
    for (const r of records) window.__seqs.push(Number(r.oldValue));
  }).observe(story, {
    attributes: true, attributeOldValue: true, attributeFilter: ["data-last-seq"],
  });
});
"""


def test_a_shed_reader_polls_gets_every_update_once_and_returns_to_the_socket(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'full.db'}"
    token = prepare(url)
    env = server_env(tmp_path, url)
    # One reader fills the process; refusals say 2 s (1-3 s with jitter); polls every ~1 s.
    env.update(
        LIVEBLOG_READER_CAPACITY="1", LIVEBLOG_SHED_RETRY_AFTER="2", LIVEBLOG_EVENTS_MAX_AGE="1"
    )
    running = Site(Server(env).start(), env, url, token)
    tab = Reader(browser)
    tab.page.add_init_script(RECORD_SEQS)
    frames: list[str] = []
    tab.page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f)))
    holder = None
    try:
        slug = running.story()
        running.post(slug, "<p>Sebelum penuh.</p>")
        holder = SocketReader(running.server.ws_url(slug, after=1)).start()
        wait_until(lambda: holder.others, 10, "the first reader's hello")
        tab.open(running, slug)
        page = tab.page
        posts = [running.post(slug, f"<p>Saat penuh {n}.</p>") for n in range(4)]
        for post in posts:
            page.wait_for_selector(f"#post-{post['id']}")
        # The live page as usual, with a quiet note; never an error or "reconnecting".
        page.wait_for_selector("#connection:visible")
        assert text_of(tab, "#connection") == "Pembaruan baru masuk setiap beberapa detik."
        assert page.locator("#story.offline").count() == 0
        assert page.locator("#banner.banner-live").count() == 1
        polls = [u for u in tab.requests if "/events?" in u]
        assert polls, "the page did not poll the events API"
        assert all(re.search(r"after=(0|20|40)&limit=100$", u) for u in polls), polls
        assert any(u.endswith(f"/stories/{slug}/live") for u in tab.requests)  # room?

        assert frames == []  # so far, not one frame came over a socket

        holder.close()  # a slot frees: the page takes it back within a Retry-After
        pump(tab, lambda: frames, 15, "the page to return to the WebSocket")
        assert running.server.get(f"/stories/{slug}/live")[0] == 503  # the page's slot now
        page.wait_for_selector("#connection", state="hidden")
        polled = len([u for u in tab.requests if "/events?" in u])
        later = [running.post(slug, f"<p>Lewat soket {n}.</p>") for n in range(3)]
        for post in later:
            page.wait_for_selector(f"#post-{post['id']}")
        page.wait_for_timeout(2500)  # longer than a poll period: polling has stopped
        assert len([u for u in tab.requests if "/events?" in u]) == polled
        last = running.last_seq(slug)
        tab.wait_seq(last)
        # Every seq applied once, in order, across polling and the socket.
        assert page.evaluate("window.__seqs") == list(range(1, last))
        assert page.locator(".posts .post").count() == 1 + len(posts) + len(later)
        assert tab.dialogs == []
        assert not [e for e in tab.errors if e.startswith("pageerror")]
        assert tab.same_document()
    finally:
        if holder is not None:
            holder.close()
        tab.close()
        running.server.stop()


# --- ordering: gaps, resets, backoff ---------------------------------------------------


def test_a_gap_is_filled_from_the_events_api(reader: Reader, site: Site) -> None:
    slug = site.story()
    site.post(slug, "<p>Awal.</p>")
    dropped: list[int] = []

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            event = json.loads(message)
            if event.get("type") == "post.created" and not dropped and event["seq"] > 1:
                dropped.append(event["seq"])  # lose one frame on the way
                return
            ws.send(message)

        server.on_message(from_server)

    reader.page.route_web_socket(LIVE_PATH, relay)
    reader.open(site, slug)
    lost = site.post(slug, "<p>Hilang di jalan.</p>")
    after = site.post(slug, "<p>Sesudahnya.</p>")
    reader.page.wait_for_selector(f"#post-{after['id']}")
    reader.page.wait_for_selector(f"#post-{lost['id']}")
    ids = reader.page.eval_on_selector_all(".posts .post", "nodes => nodes.map(n => n.id)")
    assert ids[:2] == [f"post-{after['id']}", f"post-{lost['id']}"]
    assert dropped == [2]
    assert any("/events?after=1" in url for url in reader.requests)
    reader.wait_seq(3)


def test_a_reset_is_caught_up_through_the_api_without_reloading(
    reader: Reader, site: Site
) -> None:
    slug = site.story()
    site.post(slug, "<p>Awal.</p>")
    held: list[Any] = []

    def route(ws: Any) -> None:
        if held:
            ws.connect_to_server()
        else:
            held.append(ws)  # the first connection: the test answers it by hand

    reader.page.route_web_socket(LIVE_PATH, route)
    reader.open(site, slug)
    pump(reader, lambda: held, 10, "the page to connect")
    missed = [site.post(slug, f"<p>Terlewat {n}.</p>") for n in range(2)]
    last = site.last_seq(slug)
    held[0].send(json.dumps({"type": "reset", "last_seq": last}))
    held[0].close(code=4205, reason="reload the story")
    for post in missed:
        reader.page.wait_for_selector(f"#post-{post['id']}")
    reader.wait_seq(last)
    assert reader.same_document()
    assert any("/events?after=1" in url for url in reader.requests)
    # ...and it reconnects to the real stream from there.
    later = site.post(slug, "<p>Langsung.</p>")
    reader.page.wait_for_selector(f"#post-{later['id']}")


def test_a_reset_from_a_rebuilt_log_reloads_the_page(reader: Reader, site: Site) -> None:
    slug = site.story()
    for n in range(3):
        site.post(slug, f"<p>{n}</p>")
    held: list[Any] = []

    def route(ws: Any) -> None:
        if held:
            ws.connect_to_server()
        else:
            held.append(ws)

    reader.page.route_web_socket(LIVE_PATH, route)
    reader.open(site, slug)
    pump(reader, lambda: held, 10, "the page to connect")
    with reader.page.expect_navigation():
        held[0].send(json.dumps({"type": "reset", "last_seq": 1}))  # behind this page (seq 3)
        held[0].close(code=4205, reason="reload the story")
    reader.page.wait_for_selector("#key-filter:not([hidden])")
    assert not reader.same_document()


def test_reconnects_back_off_exponentially_with_full_jitter(reader: Reader, site: Site) -> None:
    slug = site.story()
    # random() = 0.5 makes each wait half its cap: 0.25 s, 0.5 s, 1 s, 2 s ...
    reader.page.add_init_script("Math.random = () => 0.5;")
    attempts: list[float] = []

    def refuse(ws: Any) -> None:
        attempts.append(time.monotonic())
        ws.close(code=1011, reason="down")

    reader.page.route_web_socket(LIVE_PATH, refuse)
    reader.open(site, slug)
    pump(reader, lambda: len(attempts) >= 5, 15, "five connection attempts")
    gaps = [b - a for a, b in itertools.pairwise(attempts)][:4]
    for gap, expected in zip(gaps, (0.25, 0.5, 1.0, 2.0), strict=True):
        assert expected * 0.8 <= gap <= expected + 0.5, gaps
    # The URL resumes from the last seq the page applied.
    assert all(url.endswith("live?after=0") for url in reader.requests if "/live?" in url)


# --- safety ----------------------------------------------------------------------------

XSS_CORPUS = [
    "<script>window.__xss = 1</script>",
    "<img src=x onerror='window.__xss = 1'>",
    '<img src="https://127.0.0.1:9/x.png" onerror="alert(1)">',
    "<svg onload='window.__xss = 1'><circle r=1 /></svg>",
    "<svg><script>window.__xss = 1</script></svg>",
    '<a href="javascript:window.__xss = 1">tautan</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<a href="&#106;avascript:alert(1)">entitas</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<iframe srcdoc="<script>parent.__xss = 1</script>"></iframe>',
    '<iframe src="javascript:alert(1)"></iframe>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<input autofocus onfocus='window.__xss = 1'>",
    "<details open ontoggle='window.__xss = 1'><summary>x</summary></details>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="data:text/html,<script>alert(1)</script>">',
    '<form action="javascript:alert(1)"><button>kirim</button></form>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<style>@import 'javascript:alert(1)';</style>",
    '<p style="background:url(javascript:alert(1))">gaya</p>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<template><script>alert(1)</script></template>",
    "<video><source onerror='window.__xss = 1'></video>",
    '<blockquote cite="javascript:alert(1)">kutipan</blockquote>',
    "<img src=`x`onerror=alert(1)>",
    '"><script>window.__xss = 1</script>',
    "<scr<script>ipt>window.__xss = 1</scr</script>ipt>",
]
NASTY = "<img src=x onerror='window.__xss = 1'><script>alert(1)</script>"


def assert_nothing_ran(reader: Reader) -> None:
    page = reader.page
    page.wait_for_timeout(800)  # let image errors, autofocus and toggles happen
    assert reader.dialogs == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    violations = [e for e in reader.errors if "Content Security Policy" in e or "Refused to" in e]
    assert violations == [], "a script was attempted: " + "; ".join(violations)
    bad_links = page.eval_on_selector_all(
        ".post-body a[href], .post-body blockquote[cite]",
        "nodes => nodes.map(n => n.href || n.cite).filter(u => !/^(https?|mailto):/i.test(u))",
    )
    assert bad_links == []
    assert (
        page.locator(
            ".post-body script, .post-body iframe, .post-body svg, .post-body object, "
            ".post-body embed, .post-body form, .post-body input, .post-body [style]"
        ).count()
        == 0
    )
    handlers = page.evaluate(
        """() => [...document.querySelectorAll('.post *')].flatMap(
            n => [...n.attributes].map(a => a.name)).filter(a => a.startsWith('on'))"""
    )
    assert handlers == []


def test_xss_corpus_runs_nothing_live_or_rendered(reader: Reader, site: Site) -> None:
    slug = site.story(title=f"Judul {NASTY}")
    reader.open(site, slug)
    page = reader.page
    ids = []
    for n, vector in enumerate(XSS_CORPUS):
        post = site.post(
            slug,
            f"<p>vektor {n}</p>{vector}",
            verification={"status": "disputed", "note": f"catatan {NASTY}"},
        )
        ids.append(post["id"])
    last = site.patch(slug, post, correction=f"koreksi {NASTY}")
    site.call("PATCH", f"/api/v1/stories/{slug}", {"title": f"Baru {NASTY}", "summary": NASTY})
    page.wait_for_selector(f"#post-{last['id']} .correction")
    reader.wait_seq(site.last_seq(slug))
    assert page.locator(".posts .post").count() == len(XSS_CORPUS)
    assert text_of(reader, "#story-title") == f"Baru {NASTY}"  # shown as text
    assert NASTY in text_of(reader, f"#post-{last['id']} .correction")
    assert_nothing_ran(reader)

    # The same posts rendered by the server.
    reader.page.reload()
    page.wait_for_selector("#key-filter:not([hidden])")
    assert page.locator(".posts .post").count() == len(XSS_CORPUS)
    assert text_of(reader, "#story-title") == f"Baru {NASTY}"
    assert_nothing_ran(reader)
