"""`liveblog demo --replay` against a real `liveblog serve` on the embedded defaults (SQLite,
no broker): a WebSocket reader of the replay sees every event once, in order, live."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from servers import LIVEBLOG, ROOT, Reader, Server, prepare, server_env, wait_until

pytestmark = pytest.mark.slow

DEMO_SLUG = "wawancara-musk-trump-x-tersendat"


def start_replay(env: dict[str, str], speed: str) -> tuple[subprocess.Popen[str], str]:
    """Start a replay in its own process; return it and the slug it printed."""
    proc = subprocess.Popen(
        [LIVEBLOG, "demo", "--replay", "--speed", speed],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http"), url
    return proc, urlsplit(url).path.rsplit("/", 1)[-1]


def test_replay_reaches_a_live_reader_once_in_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    prepare(url)
    env = server_env(tmp_path, url)
    server = Server(env).start()
    reader: Reader | None = None
    try:
        proc, slug = start_replay(env, "1500")  # the two-hour night in about five seconds
        assert slug == f"{DEMO_SLUG}-ulang"
        reader = Reader(server.ws_url(slug)).start()
        started = time.monotonic()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "Replay finished" in err
        status, story = server.get(f"/api/v1/stories/{slug}")
        assert status == 200
        assert story["status"] == "ended"
        last = story["last_seq"]
        assert last > 20
        # Events written by another process reach the live one within the resync period.
        reader.wait_for(last, timeout=30)
        time.sleep(1)  # anything sent twice would arrive now
        assert reader.seqs() == list(range(1, last + 1))
        types = [e["type"] for e in reader.events]
        assert types[0] == "post.created"
        assert "post.updated" in types
        assert reader.events[-1]["type"] == "story.updated"
        assert reader.events[-1]["values"]["status"] == "ended"
        _, log = server.get(f"/api/v1/stories/{slug}/events?limit=1000")
        assert [e["seq"] for e in log["events"]] == reader.seqs()
        assert time.monotonic() - started < 60
    finally:
        if reader is not None:
            reader.close()
        server.stop()


def test_ctrl_c_stops_the_replay_and_ends_its_story(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'replay.db'}"
    prepare(url)
    env = server_env(tmp_path, url)
    proc, slug = start_replay(env, "20")
    server = Server(env).start()
    try:
        wait_until(lambda: server.get(f"/api/v1/stories/{slug}")[1]["last_seq"] >= 1, 30, "a post")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Replay stopped" in err
        assert "Traceback" not in err
        story = server.get(f"/api/v1/stories/{slug}")[1]
        assert story["status"] == "ended"
        _, log = server.get(f"/api/v1/stories/{slug}/events?limit=1000")
        assert [e["seq"] for e in log["events"]] == list(range(1, story["last_seq"] + 1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        server.stop()
