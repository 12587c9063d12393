"""The scheduler under a real `liveblog serve`: a scheduled draft survives kill -9 and a
restart, and is published exactly once (the event log and a WebSocket reader agree)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from servers import LIVEBLOG, ROOT, Reader, Server, api, prepare, server_env, wait_until
from sqlalchemy import select

from liveblog.db import Database
from liveblog.models import Draft, DraftState

SENTENCE = "Siaran ulang wawancara dijadwalkan setelah server pulih."


class GroupServer(Server):
    """A server in a process group of its own, so kill -9 reaches every process at once."""

    def start(self) -> GroupServer:
        """Start it in a new session and wait until /healthz answers."""
        cmd = [LIVEBLOG, "serve", "--port", str(self.port), "--workers", "1"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, env=self.env, stdout=log, stderr=log, cwd=ROOT, start_new_session=True
            )
        wait_until(lambda: self.get("/healthz")[0] == 200, 60, f"server on {self.port}")
        return self

    def kill_group(self) -> None:
        """SIGKILL the whole process group: supervisor, live, app and write processes."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


def created(server: Server, slug: str) -> list[dict[str, Any]]:
    status, body = server.get(f"/api/v1/stories/{slug}/events?after=0&limit=1000")
    assert status == 200, body
    return [e for e in body["events"] if e["type"] == "post.created"]


def state_of(url: str, draft_id: str) -> DraftState:
    db = Database(url)
    try:
        with db.read() as session:
            state = session.scalar(select(Draft.state).where(Draft.id == draft_id))
            assert state is not None
            return state
    finally:
        db.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_scheduled_draft_survives_kill_9_and_is_published_once(
    request: pytest.FixtureRequest, tmp_path: Path, database: str
) -> None:
    if database == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'sched.db'}"
    token = prepare(url)
    env = server_env(tmp_path, url)
    first = GroupServer(env).start()
    try:
        slug = api(first, token, "POST", "/api/v1/stories", {
            "title": "Wawancara yang tersendat", "language": "id", "timezone": "Asia/Jakarta",
        })["slug"]  # fmt: skip
        due = datetime.now(UTC) + timedelta(seconds=3)
        draft = api(first, token, "POST", f"/api/v1/stories/{slug}/drafts", {
            "payload": {"body": SENTENCE, "format": "text"}, "publish_at": due.isoformat(),
        })  # fmt: skip
        assert draft["state"] == "scheduled"
    finally:
        first.kill_group()  # before it is due: nothing was published
    assert datetime.now(UTC) < due, "the machine was too slow to kill the server in time"
    assert state_of(url, draft["id"]) is DraftState.SCHEDULED
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)

    second = GroupServer(env, port=first.port).start()  # due while nothing ran
    reader = Reader(second.ws_url(slug, after=0), reconnect=True).start()
    try:
        reader.wait_for(1, timeout=30)
        posts = created(second, slug)
        assert len(posts) == 1
        assert SENTENCE in posts[0]["post"]["body"]
        assert state_of(url, draft["id"]) is DraftState.PUBLISHED
        time.sleep(3)  # a few more scheduler rounds publish nothing more
        assert len(created(second, slug)) == 1
        live = [e for e in reader.events if e["type"] == "post.created"]
        assert [e["post"]["id"] for e in live] == [posts[0]["post"]["id"]]
    finally:
        reader.close()
        second.kill_group()
