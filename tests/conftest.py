"""Shared fixtures: an app on a fresh database, its client and CLI runner, users and tokens."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from liveblog import create_app
from liveblog.accounts import create_token, create_user
from liveblog.cli import upgrade_database
from liveblog.logins import LoginLimit
from liveblog.models import Event, Post, PostRevision, Story
from liveblog.payloads import WRITER_KEYS
from liveblog.runtime import Runtime

POSTGRES_URL = os.environ.get(
    "LIVEBLOG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LIVEBLOG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def public_post(post: dict[str, Any]) -> dict[str, Any]:
    """Return the write API's post object as events carry it: without the writer-only keys."""
    return {k: v for k, v in post.items() if k not in WRITER_KEYS}


def service_missing(what: str, reason: str) -> None:
    """Skip outside CI when a local service is absent; fail in CI, where it must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI: {reason}")
    pytest.skip(f"{what} is not reachable here: {reason}")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """Return the PostgreSQL URL for the tests, or skip when the server is down."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except psycopg.Error as exc:
        service_missing("PostgreSQL", str(exc).strip())
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """Create a throwaway database for one test and drop it afterwards."""
    import psycopg

    name = f"liveblog_test_{uuid.uuid4().hex[:12]}"
    admin = postgres_admin_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_admin_url.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Return the Redis URL for the tests, or skip when the server is down."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing("Redis", str(exc))
    return REDIS_URL


def make_app(tmp_path: Path, database_url: str | None = None, **extra: Any) -> Flask:
    """Return an app on a migrated database under tmp_path."""
    url = database_url or f"sqlite:///{tmp_path / 'test.db'}"
    upgrade_database(url)
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LIVEBLOG_DATABASE_URL": url,
            "LIVEBLOG_SECRET_KEY": "test-secret",
            "SERVER_NAME": "liveblog.test",
            **extra,
        }
    )


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a fresh SQLite database."""
    app = make_app(tmp_path)
    yield app
    rt(app).db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on SQLite, then on a throwaway PostgreSQL database."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    app = make_app(tmp_path, url)
    yield app
    rt(app).db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for the app's commands."""
    return app.test_cli_runner()


def rt(app: Flask) -> Runtime:
    """Return the app's runtime parts."""
    runtime: Runtime = app.extensions["liveblog"]
    return runtime


class Newsroom:
    """Users with tokens, and helpers to call the API as them."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        self.tokens: dict[str, str] = {}
        for name, role in (
            ("rina", "editor"),
            ("bagus", "reporter"),
            ("dewi", "reporter"),
            ("ada", "admin"),
        ):
            create_user(rt(app).db, name, role, "pw-" + name, name.title())
            self.tokens[name] = create_token(rt(app).db, name)

    def headers(self, who: str | None) -> dict[str, str]:
        """Return the Authorization header for a user (none for None)."""
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def call(self, method: str, path: str, who: str | None = "rina", **kw: Any) -> Any:
        """Call the API as a user and return the response."""
        return self.client.open(path, method=method, headers=self.headers(who), **kw)

    def story(self, who: str = "rina", **fields: Any) -> dict[str, Any]:
        """Create a story and return it."""
        body = {
            "title": "Wawancara di X tersendat",
            "language": "id",
            "timezone": "Asia/Jakarta",
            **fields,
        }
        response = self.call("POST", "/api/v1/stories", who, json=body)
        assert response.status_code == 201, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    def post(self, slug: str, who: str = "rina", **fields: Any) -> dict[str, Any]:
        """Create a post and return it."""
        body = {"body": "<p>Siaran belum dimulai.</p>", **fields}
        response = self.call("POST", f"/api/v1/stories/{slug}/posts", who, json=body)
        assert response.status_code == 201, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    def counts(self) -> dict[str, int]:
        """Count rows that a refused request must not have added."""
        with rt(self.app).db.read() as session:
            return {
                "stories": session.scalar(select(func.count()).select_from(Story)) or 0,
                "posts": session.scalar(select(func.count()).select_from(Post)) or 0,
                "revisions": session.scalar(select(func.count()).select_from(PostRevision)) or 0,
                "events": session.scalar(select(func.count()).select_from(Event)) or 0,
                "last_seq": sum(session.scalars(select(Story.last_seq))),
            }

    def snapshot(self) -> Any:
        """Return every story, post and event as plain data, to compare before and after."""
        with rt(self.app).db.read() as session:
            return (
                [
                    (s.slug, s.title, s.summary, s.status, s.last_seq, s.ended_at)
                    for s in session.scalars(select(Story).order_by(Story.id))
                ],
                [
                    (
                        p.id,
                        p.body,
                        p.verification,
                        p.verification_note,
                        p.pinned,
                        p.key_event,
                        p.version,
                        p.deleted_at,
                        len(p.corrections),
                    )
                    for p in session.scalars(select(Post).order_by(Post.id))
                ],
                list(session.execute(select(Event.story_id, Event.seq).order_by(Event.id))),
            )


@pytest.fixture
def newsroom(app: Flask) -> Newsroom:
    """Four users (editor rina, reporters bagus and dewi, admin ada) with API tokens."""
    return Newsroom(app)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per module; a skip (a failure in CI) if absent."""
    if not Path(CHROMIUM).exists():
        service_missing("Chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def frozen(app: Flask, at: float | None = None) -> Flask:
    """Keep an in-process test inside one sign-in counting window, whenever it runs."""
    now = time.time() if at is None else at
    limit: LoginLimit = app.extensions["liveblog_logins"]
    limit.clock = lambda: now
    return app
