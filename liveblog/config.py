"""Read the configuration from the environment and the optional instance config file.

Imports nothing from Flask's request machinery; `load_config` fills a plain mapping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "LIVEBLOG_DATABASE_URL": None,  # a SQLite file under instance/
    "LIVEBLOG_BROKER_URL": "",  # in-process
    "LIVEBLOG_SECRET_KEY": None,  # generated once, kept under instance/
    "LIVEBLOG_QUEUE_LIMIT": 256,  # frames buffered per reader before it is told to resume
    "LIVEBLOG_PING_SECONDS": 25.0,
    "LIVEBLOG_SEND_TIMEOUT": 20.0,  # a reader that takes longer to accept a frame is dropped
    "LIVEBLOG_EVENTS_SOCKET": "",  # set by `liveblog serve` for its app processes
    "LIVEBLOG_TRUSTED_PROXIES": "",  # addresses whose X-Forwarded-For names the client
    "LIVEBLOG_WS_PER_IP": 50,  # concurrent live connections per client address (0: no cap)
    "LIVEBLOG_WS_MAX_MESSAGE": 4096,  # bytes a reader may send in one message (then 1009)
    # Live readers one live process holds; one more gets 503 + Retry-After and polls instead.
    # 10,000: 0.4 GiB at 40 KiB a reader, 110 ms of CPU per update at 11 us a delivery.
    "LIVEBLOG_READER_CAPACITY": 10_000,
    "LIVEBLOG_SHED_RETRY_AFTER": 20,  # seconds, ±50 % jitter, a shed reader waits to retry
    "LIVEBLOG_EVENTS_MAX_AGE": 3,  # seconds shared caches may keep an events page
    "LIVEBLOG_FEED_PAGE_SIZE": 50,
    "LIVEBLOG_PAGE_SIZE": 50,  # posts on one page of the reader's page, besides pinned ones
    "LIVEBLOG_RENDER_CACHE_ENTRIES": 256,
    "LIVEBLOG_RENDER_CACHE_BYTES": 64 * 1024 * 1024,
    "LIVEBLOG_FEED_MAX_AGE": 5,
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "LIVEBLOG_METRICS_TOKEN": "",  # none: /metrics answers only on loopback
    "LIVEBLOG_LOG_LEVEL": "INFO",
    "LIVEBLOG_LOGIN_LIMIT": 10,  # sign-in attempts per user and address (or device) a minute
    "LIVEBLOG_PUBLIC_URL": "",  # the base of every absolute URL; see liveblog/hosts.py
    "LIVEBLOG_ALLOWED_HOSTS": "",  # request hosts trusted for absolute URLs without it
    "LIVEBLOG_FEED_RATE_PER_IP": 600,  # keyless feed/events requests per address a minute (0: off)
    "LIVEBLOG_PARTNER_RATE": 1200,  # a new partner key's requests a minute, unless --rate
    "LIVEBLOG_USAGE_FLUSH_SECONDS": 10.0,  # partner usage counts are written this often
}

ENV_KEYS = (
    "LIVEBLOG_DATABASE_URL",
    "LIVEBLOG_BROKER_URL",
    "LIVEBLOG_SECRET_KEY",
    "LIVEBLOG_QUEUE_LIMIT",
    "LIVEBLOG_PING_SECONDS",
    "LIVEBLOG_SEND_TIMEOUT",
    "LIVEBLOG_METRICS_TOKEN",
    "LIVEBLOG_LOG_LEVEL",
    "LIVEBLOG_LOGIN_LIMIT",
    "LIVEBLOG_PUBLIC_URL",
    "LIVEBLOG_ALLOWED_HOSTS",
    "LIVEBLOG_EVENTS_SOCKET",
    "LIVEBLOG_TRUSTED_PROXIES",
    "LIVEBLOG_WS_PER_IP",
    "LIVEBLOG_WS_MAX_MESSAGE",
    "LIVEBLOG_FEED_RATE_PER_IP",
    "LIVEBLOG_PARTNER_RATE",
    "LIVEBLOG_USAGE_FLUSH_SECONDS",
    "LIVEBLOG_READER_CAPACITY",
    "LIVEBLOG_SHED_RETRY_AFTER",
    "LIVEBLOG_EVENTS_MAX_AGE",
)


def _secret_key(instance: Path) -> str:
    """Return the key kept under instance/, creating it (mode 0600) the first time."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_config(
    instance: Path, file_values: Mapping[str, Any], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Merge defaults, the instance file, the environment and explicit overrides, in order."""
    instance.mkdir(parents=True, exist_ok=True)
    config = dict(DEFAULTS)
    config.update({k: v for k, v in file_values.items() if k.isupper()})
    for key in ENV_KEYS:
        if os.environ.get(key):
            config[key] = os.environ[key]
    config.update(overrides or {})
    if not config["LIVEBLOG_DATABASE_URL"]:
        config["LIVEBLOG_DATABASE_URL"] = f"sqlite:///{instance / 'liveblog.db'}"
    if not config["LIVEBLOG_SECRET_KEY"]:
        config["LIVEBLOG_SECRET_KEY"] = _secret_key(instance)
    config["LIVEBLOG_QUEUE_LIMIT"] = int(config["LIVEBLOG_QUEUE_LIMIT"])
    config["LIVEBLOG_PING_SECONDS"] = float(config["LIVEBLOG_PING_SECONDS"])
    config["LIVEBLOG_SEND_TIMEOUT"] = float(config["LIVEBLOG_SEND_TIMEOUT"])
    config["LIVEBLOG_LOGIN_LIMIT"] = int(config["LIVEBLOG_LOGIN_LIMIT"])
    config["LIVEBLOG_WS_PER_IP"] = int(config["LIVEBLOG_WS_PER_IP"])
    config["LIVEBLOG_WS_MAX_MESSAGE"] = int(config["LIVEBLOG_WS_MAX_MESSAGE"])
    config["LIVEBLOG_FEED_RATE_PER_IP"] = int(config["LIVEBLOG_FEED_RATE_PER_IP"])
    config["LIVEBLOG_PARTNER_RATE"] = int(config["LIVEBLOG_PARTNER_RATE"])
    config["LIVEBLOG_USAGE_FLUSH_SECONDS"] = float(config["LIVEBLOG_USAGE_FLUSH_SECONDS"])
    for key in (
        "LIVEBLOG_READER_CAPACITY",
        "LIVEBLOG_SHED_RETRY_AFTER",
        "LIVEBLOG_EVENTS_MAX_AGE",
    ):
        config[key] = int(config[key])
    # simple-websocket closes with 1009 past this size instead of buffering the message.
    config["SOCK_SERVER_OPTIONS"] = {
        "max_message_size": config["LIVEBLOG_WS_MAX_MESSAGE"],
        "receive_bytes": 4096,
    }
    config["SECRET_KEY"] = config["LIVEBLOG_SECRET_KEY"]
    return config
