"""The embed on another site's page, in Chromium: a host page on a second origin frames it
with the oEmbed code and the resize listener of docs/PARTNERS.md; an update posted through
the API appears live in the frame, and the frame's height follows its postMessage."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from servers import Server, api, free_port, prepare, server_env

from liveblog.accounts import create_user
from liveblog.db import Database
from liveblog.views.embed import RESIZE_LISTENER

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
FRAME = "iframe[data-liveblog-embed]"
FRAME_HEIGHT = f"document.querySelector('{FRAME}').getBoundingClientRect().height"


class HostSite:
    """A partner's page on its own origin: one HTML page, served from memory."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def host_page(iframe: str, origin: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harian Contoh</title>
<style>
  body {{ font-family: Georgia, serif; margin: 0; background: #f3efe6; color: #222; }}
  header {{ background: #8b1e1e; color: #fff; padding: 12px 24px; font: bold 22px sans-serif; }}
  main {{ display: flex; gap: 24px; padding: 24px; align-items: flex-start; }}
  article {{ flex: 1; }} aside {{ width: 420px; background: #fff; }}
</style></head>
<body><header>Harian Contoh · a partner's site</header>
<main><article><h1>Our own report</h1>
<p>The live coverage of our partner sits in the column on the right and updates itself.</p>
</article><aside>{iframe}</aside></main>
{RESIZE_LISTENER % origin}
</body></html>"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    url = f"sqlite:///{tmp_path / 'embed.db'}"
    token = prepare(url)
    db = Database(url)
    create_user(db, "sari", "reporter", "pw-sari", "Sari")
    db.dispose()
    server = Server(server_env(tmp_path, url)).start()
    yield server, token
    server.stop()


def test_a_host_page_on_another_origin_frames_the_live_embed(
    browser: Any, served: tuple[Server, str]
) -> None:
    server, token = served
    slug = f"e-{os.urandom(4).hex()}"
    story = {"title": "Live interview on X stalls", "language": "en", "timezone": "UTC"}
    api(server, token, "POST", "/api/v1/stories", {**story, "slug": slug})
    api(
        server,
        token,
        "POST",
        f"/api/v1/stories/{slug}/posts",
        {"body": "<p>The stream was meant to start at 8:00 PM ET; it has not.</p>"},
    )
    status, oembed = server.get(f"/oembed?url={server.base}/stories/{slug}?lang=en&maxwidth=420")
    assert status == 200
    assert oembed["width"] == 420
    host = HostSite(host_page(oembed["html"], server.base))
    context = browser.new_context(viewport={"width": 1000, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(host.url)
        frame = page.frame_locator(FRAME)
        frame.locator("#key-filter:not([hidden])").wait_for()  # live.js runs in the frame
        embedded = next(f for f in page.frames if "/embed" in f.url)
        assert embedded.evaluate("document.documentElement.lang") == "en"

        def follows() -> float:
            """Wait until the iframe is as tall as the page inside it; return that height."""
            inner = embedded.evaluate(
                "Math.ceil(document.documentElement.getBoundingClientRect().height)"
            )
            page.wait_for_function(f"Math.abs({FRAME_HEIGHT} - {inner}) < 1")
            return float(inner)

        before = follows()
        assert before != 720  # the listener replaced the iframe's own height
        words = " ".join(["The organisers blame an attack on the servers; unconfirmed."] * 6)
        api(
            server,
            token,
            "POST",
            f"/api/v1/stories/{slug}/posts",
            {"body": f'<p>{words} <a href="https://example.org/claim">Claim</a></p>'},
        )
        frame.locator("#updates .post", has_text="unconfirmed").first.wait_for()
        page.wait_for_function(f"{FRAME_HEIGHT} > {before} + 20")
        after = follows()
        assert after > before
        assert (
            page.evaluate(f"document.querySelector('{FRAME}').style.height") == f"{int(after)}px"
        )
        link = frame.locator("#updates .post a[href='https://example.org/claim']")
        assert link.get_attribute("target") == "_blank"
        assert link.get_attribute("rel") == "noopener"
        assert page.url == host.url  # nothing navigated the host page
        folder = (
            SCREENSHOTS if os.environ.get("LIVEBLOG_SCREENSHOTS") else Path(tempfile.gettempdir())
        )
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "embed-host-page.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()
        host.stop()


def test_the_desk_copies_the_embed_code(browser: Any, served: tuple[Server, str]) -> None:
    server, token = served
    slug = f"e-{os.urandom(4).hex()}"
    story = {"title": "Live interview on X stalls", "language": "en", "timezone": "UTC"}
    api(server, token, "POST", "/api/v1/stories", {**story, "slug": slug})
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base)
    try:
        page = context.new_page()
        page.goto(f"{server.base}/editor/login?lang=id")
        page.fill("#username", "sari")
        page.fill("#password", "pw-sari")
        page.click("form button[type=submit]")
        page.wait_for_url("**/editor")
        page.goto(f"{server.base}/editor/stories/{slug}")
        page.click("button.copy-snippet[data-target='embed-snippet-en']")
        page.wait_for_function(
            "() => { const s = document.getElementById('copy-status');"
            " return s.textContent !== '' && s.textContent === s.dataset.copied; }"
        )
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == page.input_value("#embed-snippet-en")
        assert f'src="{server.base}/stories/{slug}/embed?lang=en"' in copied
        assert f'e.origin !== "{server.base}"' in copied
    finally:
        context.close()
