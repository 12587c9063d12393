"""The operator's health check (contract section 1): `GET /healthz`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_app, rt
from flask import Flask
from flask.testing import FlaskClient

from liveblog import create_app

DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/liveblog"
DEAD_REDIS = "redis://127.0.0.1:1/0"


def raw_app(tmp_path: Path, database_url: str, broker_url: str = "") -> Flask:
    """Build an app without running migrations (its database may be unreachable)."""
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "LIVEBLOG_DATABASE_URL": database_url,
            "LIVEBLOG_BROKER_URL": broker_url,
            "LIVEBLOG_SECRET_KEY": "test-secret",
        }
    )


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    """Collect apps built in a test and dispose their engines afterwards."""
    built: list[Flask] = []
    yield built
    for app in built:
        rt(app).db.dispose()


def health(app: Flask) -> tuple[Any, float]:
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    return response, time.monotonic() - started


def test_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok"}
    assert "no-store" in response.headers["Cache-Control"]


def test_ok_without_token_or_session(app: Flask) -> None:
    response = app.test_client(use_cookies=False).get(
        "/healthz", headers={"Authorization": "Bearer nonsense"}
    )
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_unreachable_database(tmp_path: Path, apps: list[Flask]) -> None:
    apps.append(raw_app(tmp_path, DEAD_POSTGRES))
    response, took = health(apps[0])
    assert response.status_code == 503
    assert response.is_json
    body = response.get_json()
    assert body["status"] != "ok"
    assert "database" in response.get_data(as_text=True).lower()
    assert "broker" not in body.get("problems", {})
    assert "no-store" in response.headers["Cache-Control"]
    assert took < 15


def test_database_failure_then_recovery(tmp_path: Path, apps: list[Flask]) -> None:
    """A database that was unreachable answers 200 again once it is back."""
    folder = tmp_path / "absent"
    apps.append(raw_app(tmp_path, f"sqlite:///{folder / 'x.db'}"))
    response, _ = health(apps[0])
    assert response.status_code == 503
    assert "database" in response.get_json()["problems"]
    folder.mkdir()
    response, _ = health(apps[0])
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_unreachable_broker(tmp_path: Path, apps: list[Flask]) -> None:
    apps.append(make_app(tmp_path, LIVEBLOG_BROKER_URL=DEAD_REDIS))
    response, took = health(apps[0])
    assert response.status_code == 503
    assert response.is_json
    body = response.get_json()
    assert body["status"] != "ok"
    assert "broker" in response.get_data(as_text=True).lower()
    assert "database" not in body.get("problems", {})
    assert took < 15


def test_both_unreachable_names_both(tmp_path: Path, apps: list[Flask]) -> None:
    apps.append(raw_app(tmp_path, DEAD_POSTGRES, DEAD_REDIS))
    response, _ = health(apps[0])
    assert response.status_code == 503
    text = response.get_data(as_text=True).lower()
    assert "database" in text
    assert "broker" in text


@pytest.mark.redis
def test_ok_with_reachable_redis(tmp_path: Path, apps: list[Flask], redis_url: str) -> None:
    apps.append(make_app(tmp_path, LIVEBLOG_BROKER_URL=redis_url))
    response, _ = health(apps[0])
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.postgres
def test_ok_on_postgres(tmp_path: Path, apps: list[Flask], postgres_url: str) -> None:
    apps.append(make_app(tmp_path, postgres_url))
    response, _ = health(apps[0])
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
