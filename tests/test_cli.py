"""The operator's `liveblog` command (contract section 1), in-process and as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import rt
from feed_schema import validate_feed
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text

from liveblog.accounts import hash_token, user_for_password
from liveblog.models import Event, Post, Story, User

LIVEBLOG = Path(sys.executable).parent / "liveblog"
DEMO_SLUG = "wawancara-musk-trump-x-tersendat"


def invoke(runner: FlaskCliRunner, *args: str, input: str | None = None) -> Any:
    return runner.invoke(args=list(args), input=input)


def assert_clean_failure(result: Any, *words: str) -> None:
    """A refusal: non-zero exit, a message, and no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for word in words:
        assert word.lower() in result.output.lower(), result.output


def user_row(app: Flask, name: str) -> tuple[str, str, str | None] | None:
    with rt(app).db.read() as session:
        user = session.scalar(select(User).where(User.username == name))
        return None if user is None else (user.role.value, user.display_name, user.password_hash)


def test_init_db_twice(runner: FlaskCliRunner) -> None:
    for _ in range(2):
        result = invoke(runner, "init-db")
        assert result.exit_code == 0, result.output
        assert result.exception is None


def test_create_user_reads_one_line_of_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    result = invoke(
        runner,
        "create-user",
        "sinta",
        "--role",
        "editor",
        "--password-stdin",
        "--display-name",
        "Sinta Dewi",
        input="rahasia sekali\nbaris kedua\n",
    )
    assert result.exit_code == 0, result.output
    assert user_row(app, "sinta")[:2] == ("editor", "Sinta Dewi")  # type: ignore[index]
    with rt(app).db.read() as session:
        assert user_for_password(session, "sinta", "rahasia sekali") is not None
        assert user_for_password(session, "sinta", "rahasia sekali\nbaris kedua") is None
        assert user_for_password(session, "sinta", "baris kedua") is None


def test_create_user_without_display_name(app: Flask, runner: FlaskCliRunner) -> None:
    result = invoke(
        runner, "create-user", "tono", "--role", "reporter", "--password-stdin", input="pw\r\n"
    )
    assert result.exit_code == 0, result.output
    assert user_row(app, "tono")[:2] == ("reporter", "tono")  # type: ignore[index]
    with rt(app).db.read() as session:
        assert user_for_password(session, "tono", "pw") is not None


@pytest.mark.parametrize("stdin", ["", "\n"])
def test_empty_stdin_is_refused(app: Flask, runner: FlaskCliRunner, stdin: str) -> None:
    result = invoke(
        runner, "create-user", "kosong", "--role", "admin", "--password-stdin", input=stdin
    )
    assert_clean_failure(result, "password")
    assert user_row(app, "kosong") is None


def test_duplicate_user_is_refused(app: Flask, runner: FlaskCliRunner) -> None:
    args = ("create-user", "rudi", "--role", "reporter", "--password-stdin")
    assert invoke(runner, *args, input="satu\n").exit_code == 0
    before = user_row(app, "rudi")
    result = invoke(runner, *args[:3], "editor", "--password-stdin", input="dua\n")
    assert_clean_failure(result, "rudi", "taken")
    assert user_row(app, "rudi") == before


def test_bad_role_is_refused(app: Flask, runner: FlaskCliRunner) -> None:
    result = invoke(
        runner, "create-user", "raja", "--role", "king", "--password-stdin", input="x\n"
    )
    assert_clean_failure(result, "role", "king")
    assert user_row(app, "raja") is None


def test_create_token_prints_one_working_token(app: Flask, runner: FlaskCliRunner) -> None:
    created = invoke(
        runner, "create-user", "ani", "--role", "editor", "--password-stdin", input="pw\n"
    )
    assert created.exit_code == 0
    result = invoke(runner, "create-token", "ani")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert result.stdout == lines[0] + "\n"
    token = lines[0]
    assert token.strip() == token
    assert len(token) >= 32

    client = app.test_client()
    story = client.post(
        "/api/v1/stories",
        headers={"Authorization": f"Bearer {token}"},
        json={"title": "Dari token CLI", "language": "en", "timezone": "UTC"},
    )
    assert story.status_code == 201, story.get_json()
    bad = client.post(
        "/api/v1/stories",
        headers={"Authorization": f"Bearer {token}x"},
        json={"title": "Tidak", "language": "en", "timezone": "UTC"},
    )
    assert bad.status_code == 401

    with rt(app).db.read() as session:
        rows = session.execute(text("SELECT * FROM api_tokens")).all()
    assert rows
    cells = [str(cell) for row in rows for cell in row]
    assert not any(token in cell or token[3:] in cell for cell in cells)
    assert hash_token(token) in cells


def test_create_token_for_unknown_user(runner: FlaskCliRunner) -> None:
    result = invoke(runner, "create-token", "hantu")
    assert_clean_failure(result, "hantu")
    assert result.stdout == ""


def demo_counts(app: Flask) -> tuple[int, int, int, int]:
    with rt(app).db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(Story)) or 0,
            session.scalar(select(func.count()).select_from(Post)) or 0,
            session.scalar(select(func.count()).select_from(Event)) or 0,
            session.scalar(select(func.count()).select_from(User)) or 0,
        )


def test_demo_is_idempotent_and_complete(app: Flask, runner: FlaskCliRunner) -> None:
    first = invoke(runner, "demo")
    assert first.exit_code == 0, first.output
    url = first.stdout.strip().splitlines()[-1]
    assert url.startswith("http")
    assert url.endswith(f"/stories/{DEMO_SLUG}")
    counts = demo_counts(app)
    assert counts[0] == 1
    assert counts[1] >= 10
    second = invoke(runner, "demo")
    assert second.exit_code == 0, second.output
    assert second.stdout.strip().splitlines()[-1] == url
    assert demo_counts(app) == counts

    client = app.test_client()
    story = client.get(f"/api/v1/stories/{DEMO_SLUG}").get_json()
    assert story["language"] == "id"
    assert story["timezone"] == "Asia/Jakarta"
    assert story["last_seq"] == counts[2]
    feed = client.get(f"/stories/{DEMO_SLUG}/feed.json").get_json()
    validate_feed(feed)
    assert "next_url" not in feed
    items = feed["items"]
    assert len(items) == counts[1]
    meta = [item["_liveblog"] for item in items]
    assert any(m["pinned"] for m in meta)
    assert sum(m["key_event"] for m in meta) >= 2
    assert any(m["corrections"] for m in meta)
    cyber = [
        (item, m) for item, m in zip(items, meta, strict=True) if "siber" in item["content_html"]
    ]
    unverified = [m for _, m in cyber if m["verification"]["status"] == "unverified"]
    assert unverified, [m["verification"] for _, m in cyber]
    assert any("independen" in m["verification"]["note"] for m in unverified)
    page = client.get(urlsplit(url).path)
    assert page.status_code == 200


# -- the installed console script as a real process --------------------------------------


def test_demo_is_an_ended_night(app: Flask, runner: FlaskCliRunner) -> None:
    """The demo is a past night: ended at its last change, not live two years later."""
    assert invoke(runner, "demo").exit_code == 0
    client = app.test_client()
    story = client.get(f"/api/v1/stories/{DEMO_SLUG}").get_json()
    assert story["status"] == "ended"
    with rt(app).db.read() as session:
        last = session.scalar(select(func.max(Post.updated_at)))
    assert last is not None
    assert story["ended_at"].startswith(last.strftime("%Y-%m-%dT%H:%M"))
    assert story["ended_at"].startswith("2024-08-13")
    html = client.get(f"/stories/{DEMO_SLUG}?lang=en").get_data(as_text=True)
    assert "Coverage of this story has ended." in html
    assert 'class="banner banner-ended"' in html
    assert "banner-live" not in html
    events = client.get(f"/api/v1/stories/{DEMO_SLUG}/events").get_json()["events"]
    assert events[-1]["type"] == "story.updated"
    assert events[-1]["values"]["status"] == "ended"
    # A demo left live by an older version is ended by the next `liveblog demo`.
    from liveblog.models import StoryStatus

    with rt(app).db.write() as session:
        row = session.scalar(select(Story).where(Story.slug == DEMO_SLUG))
        assert row is not None
        row.status, row.ended_at = StoryStatus.LIVE, None
    assert invoke(runner, "demo").exit_code == 0
    assert client.get(f"/api/v1/stories/{DEMO_SLUG}").get_json()["status"] == "ended"


def test_demo_replay_is_a_new_live_story_that_ends(app: Flask, runner: FlaskCliRunner) -> None:
    """`demo --replay` plays the night as a new story, live while it plays, ended after."""
    assert invoke(runner, "demo").exit_code == 0
    result = invoke(runner, "demo", "--replay", "--speed", "1000000")
    assert result.exit_code == 0, result.output
    url = result.stdout.strip().splitlines()[0]
    slug = urlsplit(url).path.rsplit("/", 1)[-1]
    assert slug == f"{DEMO_SLUG}-ulang"
    client = app.test_client()
    story = client.get(f"/api/v1/stories/{slug}").get_json()
    assert story["status"] == "ended"
    assert story["created_at"] > "2026"  # a new story, now
    demo = client.get(f"/api/v1/stories/{DEMO_SLUG}").get_json()
    events = client.get(f"/api/v1/stories/{slug}/events?limit=1000").get_json()["events"]
    original = client.get(f"/api/v1/stories/{DEMO_SLUG}/events?limit=1000").get_json()
    assert [e["type"] for e in events] == [e["type"] for e in original["events"]]
    assert [e.get("changes") for e in events] == [e.get("changes") for e in original["events"]]
    assert demo["status"] == "ended"
    again = invoke(runner, "demo", "--replay", "--speed", "1000000")
    assert again.stdout.strip().splitlines()[0].endswith(f"{DEMO_SLUG}-ulang-2")
    assert invoke(runner, "demo", "--replay", "--speed", "0").exit_code != 0


def run_cli(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> Any:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEBLOG_", "FLASK_"))}
    environ.update(
        LIVEBLOG_INSTANCE_PATH=str(tmp_path / "instance"),
        LIVEBLOG_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        **env,
    )
    return subprocess.run(
        [str(LIVEBLOG), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_console_script_end_to_end(tmp_path: Path) -> None:
    assert LIVEBLOG.exists()
    for _ in range(2):
        done = run_cli(tmp_path, "init-db")
        assert done.returncode == 0, done.stderr
    done = run_cli(
        tmp_path,
        "create-user",
        "wati",
        "--role",
        "editor",
        "--password-stdin",
        "--display-name",
        "Wati S.",
        stdin="kata sandi\n",
    )
    assert done.returncode == 0, done.stderr
    again = run_cli(
        tmp_path, "create-user", "wati", "--role", "editor", "--password-stdin", stdin="x\n"
    )
    assert again.returncode != 0
    assert "taken" in again.stderr
    assert "Traceback" not in again.stderr + again.stdout
    empty = run_cli(tmp_path, "create-user", "nol", "--role", "editor", "--password-stdin")
    assert empty.returncode != 0
    assert "password" in empty.stderr.lower()
    assert "Traceback" not in empty.stderr

    token = run_cli(tmp_path, "create-token", "wati")
    assert token.returncode == 0, token.stderr
    assert len(token.stdout.splitlines()) == 1
    secret = token.stdout.strip()

    demo = run_cli(tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.strip().endswith(f"/stories/{DEMO_SLUG}")
    assert len(demo.stdout.splitlines()) == 1

    from conftest import make_app

    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        counts = demo_counts(app)
        assert run_cli(tmp_path, "demo").returncode == 0
        assert demo_counts(app) == counts
        response = app.test_client().post(
            "/api/v1/stories",
            headers={"Authorization": f"Bearer {secret}"},
            json={"title": "Dari proses", "language": "id", "timezone": "Asia/Jakarta"},
        )
        assert response.status_code == 201, response.get_json()
    finally:
        rt(app).db.dispose()


def test_serve_with_workers_needs_a_broker(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "init-db").returncode == 0
    done = run_cli(tmp_path, "serve", "--workers", "2", "--port", "1")
    assert done.returncode != 0
    assert "LIVEBLOG_BROKER_URL" in done.stderr
    assert "Traceback" not in done.stderr
    assert "serving" not in done.stderr
