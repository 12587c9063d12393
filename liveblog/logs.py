"""Structured logs: every record as one JSON line, one line per request, a request id.

Boundary: the web layer's logging. `configure` gives the `liveblog` loggers a JSON-lines
handler on standard error at LIVEBLOG_LOG_LEVEL; `init_app` stamps each request with an
id (a sane incoming X-Request-Id, or a fresh one), echoes it in the response, and logs
`{"method", "path", "status", "duration_ms", "request_id"}` at INFO on `liveblog.access`
when the request ends (for a WebSocket, when the reader leaves). Records logged while a
request runs carry its id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

access = logging.getLogger("liveblog.access")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record's JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        request_id = getattr(record, "request_id", None)
        if request_id and "request_id" not in entry:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _RequestIdFilter(logging.Filter):
    """Stamp records logged during a request with its id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = g.get("request_id")
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Write to whatever sys.stderr is at the time (test runners swap it)."""

    @property  # type: ignore[override,unused-ignore]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def level_of(name: str) -> int:
    """Return the logging level a name such as "info" or "WARNING" means, or raise ValueError."""
    level = logging.getLevelName(str(name).strip().upper())
    if not isinstance(level, int):
        raise ValueError(f"LIVEBLOG_LOG_LEVEL: unknown level {name!r}")
    return level


def configure(level: str) -> None:
    """Send the liveblog loggers' records, as JSON lines, to standard error at `level`."""
    logger = logging.getLogger("liveblog")
    logger.setLevel(level_of(level))
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(_RequestIdFilter())
        logger.addHandler(handler)


def request_id() -> str:
    """Return the current request's id."""
    return str(g.get("request_id") or "")


def _start() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    rid = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = rid
    started = g.get("request_started")
    duration = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    fields = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round(duration, 2),
        "request_id": rid,
    }
    access.info(
        "%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields}
    )
    return response


def init_app(app: Flask) -> None:
    """Configure logging and stamp, echo and log every request (call it first)."""
    configure(app.config["LIVEBLOG_LOG_LEVEL"])
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)  # registered first, so it runs last: it sees the final status
