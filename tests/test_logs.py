"""Structured request logs and request ids (issue 9, item 9)."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from servers import Server, prepare, server_env

from liveblog.logs import JsonFormatter, level_of


def access_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.fields for r in caplog.records if r.name == "liveblog.access"]  # type: ignore[attr-defined]


def test_one_access_record_per_request_with_its_id(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="liveblog")
    client = app.test_client()
    response = client.get("/healthz", headers={"X-Request-Id": "desk-42.a"})
    assert response.headers["X-Request-Id"] == "desk-42.a"
    missing = client.get("/stories/no-such-story")
    generated = missing.headers["X-Request-Id"]
    assert len(generated) == 32
    [ok, not_found] = access_records(caplog)
    assert ok == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "duration_ms": ok["duration_ms"],
        "request_id": "desk-42.a",
    }
    assert isinstance(ok["duration_ms"], float)
    assert ok["duration_ms"] >= 0
    assert not_found["status"] == 404
    assert not_found["request_id"] == generated


@pytest.mark.parametrize("given", ["", "has space", "x" * 200, "tab\there", "-leading", "é"])
def test_an_insane_incoming_id_is_replaced(app: Flask, given: str) -> None:
    response = app.test_client().get("/healthz", headers={"X-Request-Id": given})
    assert response.headers["X-Request-Id"] != given
    assert len(response.headers["X-Request-Id"]) == 32


def test_refused_requests_are_logged_too(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="liveblog")
    response = app.test_client().get("/stories/%00")
    assert response.status_code == 404
    assert access_records(caplog)[-1]["status"] == 404
    assert access_records(caplog)[-1]["request_id"] == response.headers["X-Request-Id"]


def test_json_formatter_writes_one_line() -> None:
    record = logging.LogRecord("liveblog.x", logging.WARNING, __file__, 1, "a\nb %s", ("c",), None)
    record.request_id = "r1"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["message"] == "a\nb c"
    assert json.loads(line)["request_id"] == "r1"
    assert json.loads(line)["level"] == "WARNING"


def test_log_level_names() -> None:
    assert level_of("debug") == logging.DEBUG
    assert level_of(" WARNING ") == logging.WARNING
    with pytest.raises(ValueError, match="LIVEBLOG_LOG_LEVEL"):
        level_of("chatty")


@pytest.mark.slow
def test_a_real_server_writes_json_lines_and_honours_the_level(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    prepare(url)
    env = server_env(tmp_path, url)
    env["LIVEBLOG_LOG_LEVEL"] = "info"
    server = Server(env).start()
    try:
        request = urllib.request.Request(
            server.base + "/stories/nothing", headers={"X-Request-Id": "trace-777"}
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.headers["X-Request-Id"] == "trace-777"
    finally:
        server.stop()
    lines = [json.loads(x) for x in server.log.read_text().splitlines() if x.startswith("{")]
    [entry] = [e for e in lines if e.get("request_id") == "trace-777"]
    assert entry["method"] == "GET"
    assert entry["path"] == "/stories/nothing"
    assert entry["status"] == 404
    assert entry["logger"] == "liveblog.access"

    quiet_path = tmp_path / "quiet"
    quiet_path.mkdir()
    env = server_env(quiet_path, url)
    env["LIVEBLOG_LOG_LEVEL"] = "WARNING"
    quiet = Server(env).start()
    try:
        urllib.request.urlopen(quiet.base + "/healthz", timeout=10).close()
    finally:
        quiet.stop()
    assert '"liveblog.access"' not in quiet.log.read_text()
