"""The dispatcher under `liveblog serve`: real server processes, a real receiver on 127.0.0.1.

Retries, order, restarts (kill -9 mid-stream), delete and the private-address refusal, as a
partner would see them.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from receiver import Receiver
from servers import LIVEBLOG, ROOT, Server, api, prepare, server_env, wait_until

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    env = server_env(tmp_path, url)
    env.update(LIVEBLOG_WEBHOOK_ALLOW_PRIVATE="1", LIVEBLOG_WEBHOOK_RETRY_BASE="0.2")
    return env


def _start(server: Server) -> Server:
    """Start the server, allowing a slow start on a busy machine."""
    cmd = [LIVEBLOG, "serve", "--port", str(server.port)]
    with open(server.log, "ab") as log:
        server.proc = subprocess.Popen(cmd, env=server.env, stdout=log, stderr=log, cwd=ROOT)
    wait_until(lambda: server.get("/healthz")[0] == 200, 120, f"server on {server.port}")
    return server


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVEBLOG, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def _create(env: dict[str, str], url: str, *story: str) -> tuple[str, str]:
    done = _cli(env, "create-webhook", url, *story)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert "\n" not in line
    hook_id, secret = line.split(" ")
    assert secret.startswith("whsec_")
    return hook_id, secret


def _no_gaps(seqs: list[int]) -> None:
    """Assert the seqs never skip one, and that first arrivals are 1, 2, 3, … in order."""
    highest = 0
    for seq in seqs:
        assert seq <= highest + 1, f"{seq} arrived before {highest + 1}: {seqs}"
        highest = max(highest, seq)
    assert list(dict.fromkeys(seqs)) == list(range(1, highest + 1))


def test_serve_delivers_every_event_signed_in_order_through_failures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hooks.db'}"
    token = prepare(url)
    env = _env(tmp_path, url)
    server = Server(env)
    try:
        _start(server)
        slug = api(
            server,
            token,
            "POST",
            "/api/v1/stories",
            {
                "title": "Siaran langsung yang tersendat",
                "language": "id",
                "timezone": "Asia/Jakarta",
            },
        )["slug"]
        other = api(
            server,
            token,
            "POST",
            "/api/v1/stories",
            {
                "title": "Klaim serangan siber",
                "language": "id",
                "timezone": "Asia/Jakarta",
            },
        )["slug"]
        with Receiver(fail_first=3) as receiver, Receiver() as everything:
            hook_id, secret = _create(env, receiver.url, "--story", slug)
            _create(env, everything.url)
            for n in range(8):
                api(
                    server,
                    token,
                    "POST",
                    f"/api/v1/stories/{slug}/posts",
                    {"body": f"<p>Kabar nomor {n}.</p>"},
                )
                api(
                    server,
                    token,
                    "POST",
                    f"/api/v1/stories/{other}/posts",
                    {"body": f"<p>Kabar lain {n}.</p>"},
                )
            wait_until(lambda: len(receiver.accepted) >= 8, 60, "eight deliveries")
            assert receiver.seqs() == list(range(1, 9))  # the story filter: none of `other`
            assert [e["story"] for e in receiver.verified(secret)] == [slug] * 8
            assert len(receiver.requests) == 11  # three refused, then retried
            wait_until(lambda: len(everything.accepted) >= 16, 60, "all-story deliveries")
            assert everything.seqs(slug) == list(range(1, 9))
            assert everything.seqs(other) == list(range(1, 9))

            listed = _cli(env, "list-webhooks").stdout
            assert f"{hook_id} active {slug} {slug}:8 {receiver.url}" in listed
            assert _cli(env, "delete-webhook", hook_id).returncode == 0
            api(server, token, "POST", f"/api/v1/stories/{slug}/posts", {"body": "<p>Akhir.</p>"})
            wait_until(lambda: len(everything.accepted) >= 17, 30, "the all-story endpoint")
            time.sleep(1.0)
            assert len(receiver.requests) == 11  # deleted: nothing more
            assert _cli(env, "delete-webhook", hook_id).returncode != 0
    finally:
        server.stop()


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_9_mid_stream_then_restart_delivers_everything_in_order(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("postgres_url")
        if database == "postgres"
        else f"sqlite:///{tmp_path / 'crash.db'}"
    )
    token = prepare(url)
    env = _env(tmp_path, url)
    server = Server(env)
    with Receiver(delay=0.3) as receiver:  # slower than the posts come: a crash mid-stream
        try:
            _start(server)
            slug = api(
                server,
                token,
                "POST",
                "/api/v1/stories",
                {
                    "title": "Wawancara yang mundur ke 20.45",
                    "language": "id",
                    "timezone": "Asia/Jakarta",
                },
            )["slug"]
            _create(env, receiver.url, "--story", slug)
            for n in range(20):
                api(
                    server,
                    token,
                    "POST",
                    f"/api/v1/stories/{slug}/posts",
                    {"body": f"<p>Pembaruan {n}.</p>"},
                )
            wait_until(lambda: len(receiver.accepted) >= 4, 60, "the first deliveries")
            server.kill()
            assert len(set(receiver.seqs())) < 20  # killed mid-stream
            server = Server(env, port=server.port)
            _start(server)
            for n in range(5):
                api(
                    server,
                    token,
                    "POST",
                    f"/api/v1/stories/{slug}/posts",
                    {"body": f"<p>Setelah mulai ulang {n}.</p>"},
                )
            wait_until(lambda: set(receiver.seqs()) >= set(range(1, 26)), 90, "all 25 events")
        finally:
            server.stop()
        seqs = receiver.seqs()
        _no_gaps(seqs)
        assert len(seqs) - 25 <= 2  # at most the one or two in flight at the crash, again
        ids = receiver.ids()
        assert ids == [f"{slug}:{json.loads(b)['seq']}" for _, b in receiver.accepted]


def test_private_addresses_are_refused_without_the_setting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'private.db'}"
    prepare(url)
    env = server_env(tmp_path, url)
    for target in ("http://127.0.0.1:9/hook", "http://10.0.0.8/hook", "http://[::1]/hook"):
        done = _cli(env, "create-webhook", target)
        assert done.returncode != 0
        assert "loopback, private or reserved" in done.stderr
        assert done.stdout == ""
    refused = _cli(env, "create-webhook", "ftp://93.184.215.14/")
    assert refused.returncode != 0
    assert "http://" in refused.stderr
    assert _cli(env, "list-webhooks").stdout == ""
