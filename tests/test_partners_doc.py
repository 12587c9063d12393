"""docs/PARTNERS.md: its webhook-verification examples, run as a partner would run them.

The fenced blocks tagged `webhook-verify` are taken from the file as they are: the Python
one runs in this process, the JavaScript one in Node, each on a real signed delivery (from
the dispatcher to a receiver on 127.0.0.1), and on the same delivery tampered with.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import Newsroom, rt
from flask import Flask
from receiver import Receiver

from liveblog.dispatcher import Dispatcher, Settings
from liveblog.webhooks import create_webhook

DOC = Path(__file__).resolve().parent.parent / "docs" / "PARTNERS.md"
NODE = shutil.which("node") or "/usr/bin/node"
HARNESS = """
const { verifyWebhook } = require(process.argv[2]);
const d = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
try {
  const event = verifyWebhook(d.secret, d.headers, Buffer.from(d.body, "base64"));
  console.log("accepted " + event.seq);
} catch (error) {
  console.log("refused " + error.message);
}
"""

Delivery = tuple[str, dict[str, str], bytes]


def example(language: str) -> str:
    """Return the one block of PARTNERS.md fenced as `<language> webhook-verify`."""
    blocks = re.findall(rf"```{language} webhook-verify\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, f"expected one {language} webhook-verify block"
    return blocks[0]


@pytest.fixture
def delivery(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Delivery:
    """A real signed delivery: a post, the dispatcher, a receiver on 127.0.0.1."""
    monkeypatch.setenv("LIVEBLOG_WEBHOOK_ALLOW_PRIVATE", "1")
    room = Newsroom(app)
    slug = room.story()["slug"]
    room.post(slug, body="<p>Klaim serangan siber belum terverifikasi — “kata” tim.</p>")
    with Receiver() as receiver:
        hook_id, secret = create_webhook(rt(app).db, "test-secret", receiver.url, slug)
        Dispatcher(rt(app).db, "test-secret", Settings()).drain(hook_id)
        headers, body = receiver.accepted[0]
    return secret, headers, body


def tampered(body: bytes) -> bytes:
    event = json.loads(body)
    event["post"]["body"] = "<p>Terverifikasi.</p>"
    return json.dumps(event).encode()


def run_python(secret: str, headers: dict[str, str], body: bytes) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(example("python"), str(DOC), "exec"), namespace)  # noqa: S102 - our own doc
    return namespace["receive"](secret, headers, body)


def run_node(tmp_path: Path, secret: str, headers: dict[str, str], body: bytes) -> str:
    module = tmp_path / "verify.js"
    module.write_text(example("js"))
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    data = {"secret": secret, "headers": headers, "body": base64.b64encode(body).decode()}
    done = subprocess.run(
        [NODE, str(harness), str(module)],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def test_the_python_example_accepts_a_delivery_and_refuses_a_tampered_one(
    delivery: Delivery,
) -> None:
    secret, headers, body = delivery
    event = run_python(secret, headers, body)
    assert event["seq"] == 1
    assert event["type"] == "post.created"
    assert run_python(secret, headers, tampered(body)) is None
    other = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert run_python(other, headers, body) is None
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}
    assert run_python(secret, stale, body) is None


@pytest.mark.skipif(not Path(NODE).exists(), reason="node is not installed")
def test_the_javascript_example_accepts_a_delivery_and_refuses_a_tampered_one(
    delivery: Delivery, tmp_path: Path
) -> None:
    secret, headers, body = delivery
    assert run_node(tmp_path, secret, headers, body) == "accepted 1"
    assert run_node(tmp_path, secret, headers, tampered(body)) == "refused bad signature"
    other = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert run_node(tmp_path, other, headers, body) == "refused bad signature"
    stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 3600)}
    assert run_node(tmp_path, secret, stale, body).startswith("refused timestamp")
    missing = {k: v for k, v in headers.items() if k != "webhook-signature"}
    assert run_node(tmp_path, secret, missing, body).startswith("refused missing")
