"""Absolute URLs never come from a forged Host header (contract section 6)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Newsroom, make_app, rt
from flask import Flask

from liveblog.hosts import host_allowed, parse_hosts, parse_public_url

EVIL = "evil.example"
JSON_LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)
CANONICAL = re.compile(r'<link rel="canonical" href="([^"]+)"')


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Any]:
    made: list[Flask] = []

    def build(**config: Any) -> tuple[Flask, Newsroom, str]:
        folder = tmp_path / str(len(made))
        folder.mkdir()
        app = make_app(folder, **config)
        made.append(app)
        newsroom = Newsroom(app)
        slug: str = newsroom.story(slug="banjir")["slug"]
        newsroom.post(slug)
        return app, newsroom, slug

    yield build
    for app in made:
        rt(app).db.dispose()


def absolute_urls(app: Flask, newsroom: Newsroom, slug: str, host: str) -> list[str]:
    """Collect the canonical, JSON-LD, feed and API URLs as a request for `host` sees them."""
    headers = {"Host": host}
    page = app.test_client().get(f"/stories/{slug}", headers=headers)
    assert page.status_code == 200
    canonical = CANONICAL.search(page.text)
    assert canonical
    urls = [canonical.group(1)]
    for block in JSON_LD.findall(page.text):
        urls += re.findall(r'"(https?://[^"]+)"', json.dumps(json.loads(block)))
    feed = app.test_client().get(f"/stories/{slug}/feed.json", headers=headers).get_json()
    urls += [feed["home_page_url"], feed["feed_url"]]
    api = newsroom.client.get(
        f"/api/v1/stories/{slug}", headers={**newsroom.headers("rina"), **headers}
    )
    urls += [api.get_json()["url"], api.get_json()["feed_url"]]
    return urls


def bases(urls: list[str]) -> set[str]:
    return {"/".join(url.split("/")[:3]) for url in urls if "/stories/" in url}


def test_public_url_wins_over_any_host(build: Any) -> None:
    app, newsroom, slug = build(LIVEBLOG_PUBLIC_URL="https://news.example.org/")
    for host in (EVIL, "liveblog.test", "127.0.0.1:8000"):
        urls = absolute_urls(app, newsroom, slug, host)
        assert bases(urls) == {"https://news.example.org"}, urls
        assert not any(EVIL in url for url in urls)


def test_public_url_may_carry_a_path_prefix(build: Any) -> None:
    app, newsroom, slug = build(LIVEBLOG_PUBLIC_URL="https://example.org/live")
    urls = absolute_urls(app, newsroom, slug, EVIL)
    assert f"https://example.org/live/stories/{slug}" in urls


def test_configured_hosts_are_used_and_others_are_not(build: Any) -> None:
    app, newsroom, slug = build(LIVEBLOG_ALLOWED_HOSTS="news.example.org, .example.net")
    assert bases(absolute_urls(app, newsroom, slug, "news.example.org")) == {
        "http://news.example.org"
    }
    assert bases(absolute_urls(app, newsroom, slug, "a.example.net:8443")) == {
        "http://a.example.net:8443"
    }
    # A forged host gets the configured server name (the tests' SERVER_NAME), never itself.
    for forged in (EVIL, "example.net.evil.example", "news.example.org.evil.example"):
        assert bases(absolute_urls(app, newsroom, slug, forged)) == {"http://liveblog.test"}


def test_without_any_configuration_only_loopback_is_trusted(build: Any) -> None:
    app, newsroom, slug = build(SERVER_NAME=None)
    assert bases(absolute_urls(app, newsroom, slug, "localhost:5000")) == {"http://localhost:5000"}
    assert bases(absolute_urls(app, newsroom, slug, EVIL)) == {"http://127.0.0.1:8000"}


def test_the_desk_still_works_behind_a_public_url(build: Any) -> None:
    from desk_client import Desk

    app, _, slug = build(LIVEBLOG_PUBLIC_URL="https://news.example.org")
    desk = Desk(app)
    assert desk.login("rina").status_code == 303
    assert desk.publish(slug).status_code == 201


def test_parsing_the_configuration() -> None:
    assert (
        parse_public_url("https://News.Example.org:8443/live/").netloc == "news.example.org:8443"
    )
    assert parse_public_url("https://news.example.org/live/").prefix == "/live"
    for bad in ("news.example.org", "ftp://x.org", "https://", "https://x.org/?a=1"):
        with pytest.raises(ValueError, match="LIVEBLOG_PUBLIC_URL"):
            parse_public_url(bad)
    allowed = parse_hosts("a.org,b.org:8000 .c.org [::1]")
    assert allowed == ("a.org", "b.org:8000", ".c.org", "[::1]")
    assert host_allowed("A.org:1234", allowed)
    assert host_allowed("b.org:8000", allowed)
    assert not host_allowed("b.org:9000", allowed)
    assert host_allowed("c.org", allowed)
    assert host_allowed("x.c.org", allowed)
    assert not host_allowed("xc.org", allowed)
    assert host_allowed("[::1]:8000", allowed)
    assert not host_allowed("", allowed)


@pytest.mark.slow
def test_a_real_server_ignores_a_forged_host(tmp_path: Path) -> None:
    from http.client import HTTPConnection

    from servers import Server, server_env

    from liveblog.cli import upgrade_database

    database = f"sqlite:///{tmp_path / 'hosts.db'}"
    upgrade_database(database)
    app = make_app(tmp_path, database)
    slug: str = Newsroom(app).story(slug="banjir")["slug"]
    rt(app).db.dispose()
    server = Server(server_env(tmp_path, database)).start()
    try:
        answers = {}
        for path in (f"/stories/{slug}", f"/stories/{slug}/feed.json", f"/api/v1/stories/{slug}"):
            conn = HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                conn.request("GET", path, headers={"Host": EVIL})
                response = conn.getresponse()
                answers[path] = (response.status, response.read().decode())
            finally:
                conn.close()
        for path, (status, body) in answers.items():
            assert status == 200, path
            assert EVIL not in body, path
            assert "http://127.0.0.1:8000/stories/banjir" in body, path
    finally:
        server.stop()
