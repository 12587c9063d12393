"""The desk's sign-in limit: taken before the password check, shared, and no lockout from afar."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import frozen, make_app, rt
from desk_client import Desk
from flask import Flask
from servers import Server, server_env
from sqlalchemy import func, select

from liveblog import accounts
from liveblog.accounts import create_user, set_disabled
from liveblog.cli import upgrade_database
from liveblog.db import Database
from liveblog.logins import (
    ACCOUNT_FACTOR,
    ADDRESS_FACTOR,
    DEVICE_COOKIE,
    WINDOW_SECONDS,
    DatabaseCounter,
    LoginLimit,
    RedisCounter,
    on_failure,
)
from liveblog.models import LoginAttempt

LIMIT = 2  # a small limit keeps these tests quick: 2 per pair, 10 per address, 20 per user


@pytest.fixture
def limited(tmp_path: Path) -> Any:
    app = frozen(make_app(tmp_path, LIVEBLOG_LOGIN_LIMIT=LIMIT))
    for name, role in (("rina", "editor"), ("bagus", "reporter")):
        create_user(rt(app).db, name, role, f"pw-{name}")
    create_user(rt(app).db, "tamu", "reporter", None)  # no password: cannot sign in
    create_user(rt(app).db, "lepas", "reporter", "pw-lepas")
    set_disabled(rt(app).db, "lepas", disabled=True)
    yield app
    rt(app).db.dispose()


def at(app: Flask, address: str) -> Desk:
    return Desk(app, REMOTE_ADDR=address)


def test_the_limit_is_per_user_and_address(limited: Flask) -> None:
    for _ in range(LIMIT):
        assert at(limited, "203.0.113.7").login("bagus", "wrong").status_code == 401
    blocked = at(limited, "203.0.113.7").login("Bagus")  # the right password, any case
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "60"
    assert "Too many sign-in attempts" in blocked.text
    translated = at(limited, "203.0.113.7").login("bagus", query_string={"lang": "id"})
    assert translated.status_code == 429
    assert "Too many sign-in attempts" not in translated.text
    # Neither the user elsewhere nor another user from there is locked out.
    assert at(limited, "198.51.100.4").login("bagus").status_code == 303
    assert at(limited, "203.0.113.7").login("rina").status_code == 303


def test_one_address_spraying_many_names_is_limited(limited: Flask) -> None:
    for n in range(LIMIT * ADDRESS_FACTOR):
        assert at(limited, "203.0.113.9").login(f"user{n}", "guess").status_code == 401
    assert at(limited, "203.0.113.9").login("rina").status_code == 429
    assert at(limited, "203.0.113.10").login("rina").status_code == 303


def test_a_botnet_cannot_lock_out_a_known_device(limited: Flask) -> None:
    known = at(limited, "192.0.2.1")
    assert known.login("rina").status_code == 303
    assert (
        known.client.get_cookie(DEVICE_COOKIE, domain="liveblog.test", path="/editor/login")
        is not None
    )
    assert known.form("/editor/logout", {}).status_code == 303
    for n in range(LIMIT * ACCOUNT_FACTOR):  # each address under its own limits
        assert at(limited, f"10.0.{n}.1").login("rina", "guess").status_code == 401
    # A new device of rina's now waits; the device she signed in on before does not.
    assert at(limited, "192.0.2.2").login("rina").status_code == 429
    known.token = ""
    assert known.login("rina").status_code == 303
    # A forged device cookie vouches for nobody.
    stranger = at(limited, "192.0.2.3")
    stranger.client.set_cookie(
        DEVICE_COOKIE, "forged.value", domain="liveblog.test", path="/editor/login"
    )
    assert stranger.login("rina").status_code == 429


def test_successful_sign_ins_do_not_use_up_the_limit(limited: Flask) -> None:
    for _ in range(LIMIT * 3):
        assert at(limited, "192.0.2.50").login("rina").status_code == 303


def test_the_count_survives_a_restart(tmp_path: Path, limited: Flask) -> None:
    for _ in range(LIMIT):
        assert at(limited, "203.0.113.7").login("bagus", "wrong").status_code == 401
    url = limited.config["LIVEBLOG_DATABASE_URL"]
    (tmp_path / "again").mkdir()
    clock = limited.extensions["liveblog_logins"].clock
    again = frozen(make_app(tmp_path / "again", url, LIVEBLOG_LOGIN_LIMIT=LIMIT), clock())
    try:
        assert at(again, "203.0.113.7").login("bagus").status_code == 429
    finally:
        rt(again).db.dispose()


def test_every_account_costs_exactly_one_hash(
    limited: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = accounts.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    cases = {"rina": 303, "bagus": 401, "tamu": 401, "nobody": 401, "lepas": 401}
    for n, (name, status) in enumerate(cases.items()):
        password = "wrong" if name in ("bagus", "nobody") else f"pw-{name}"
        assert at(limited, f"192.0.2.{n}").login(name, password).status_code == status
    assert len(checked) == len(cases)
    # A name no account can have (a NUL byte) is bad input, refused before any account work.
    assert at(limited, "192.0.2.9").login("nul\x00name", "wrong").status_code == 400
    assert len(checked) == len(cases)
    # The dummy hash has the same method and cost as a real one.
    methods = {h.split("$")[0] for h in checked}
    assert len(methods) == 1


def test_refusals_reach_the_failure_hook(limited: Flask) -> None:
    reasons: list[str] = []
    on_failure(reasons.append)
    for _ in range(LIMIT + 1):
        at(limited, "203.0.113.8").login("bagus", "wrong")
    assert reasons[-LIMIT - 1 :] == ["password"] * LIMIT + ["rate_limited"]


@pytest.mark.redis
def test_the_limit_is_shared_through_redis(tmp_path: Path, redis_url: str) -> None:
    apps = []  # two app instances on one Redis broker stand for two server processes
    now = time.time()
    for n in range(2):
        (tmp_path / str(n)).mkdir()
        apps.append(frozen(make_app(tmp_path / str(n), LIVEBLOG_BROKER_URL=redis_url), now))
    try:
        run = uuid.uuid4()  # Redis outlives the test: use a name and address of our own
        name, address = f"u{run.hex[:8]}", f"10.{run.bytes[0]}.{run.bytes[1]}.{run.bytes[2]}"
        for made in apps:
            create_user(rt(made).db, name, "reporter", f"pw-{name}")
        for _ in range(10):
            assert at(apps[0], address).login(name, "x").status_code == 401
        assert at(apps[1], address).login(name).status_code == 429
        assert at(apps[1], "192.0.2.1").login(name).status_code == 303
    finally:
        for made in apps:
            rt(made).db.dispose()


# -- a flood of concurrent sign-ins against a real server -----------------------------------

COOKIE = re.compile(r"^([^=]+)=([^;]*)")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _prepared_attempt(port: int) -> tuple[str, str]:
    """Load the login form on a connection of its own; return (cookie header, CSRF token)."""
    conn = HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/editor/login")
        response = conn.getresponse()
        html = response.read().decode()
        cookies = [COOKIE.match(c) for c in response.headers.get_all("Set-Cookie") or []]
    finally:
        conn.close()
    token = CSRF.search(html)
    assert token, "no csrf token on the login form"
    return "; ".join(f"{m.group(1)}={m.group(2)}" for m in cookies if m), token.group(1)


def _flood(server: Server, name: str, attempts: int) -> Counter[int]:
    prepared = [_prepared_attempt(server.port) for _ in range(attempts)]
    start = threading.Barrier(attempts)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def attempt(cookie: str, token: str) -> None:
        body = urlencode({"username": name, "password": "guess", "csrf_token": token})
        conn = HTTPConnection("127.0.0.1", server.port, timeout=120)
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        start.wait()
        try:
            conn.request("POST", "/editor/login", body=body, headers=headers)
            status = conn.getresponse().status
        finally:
            conn.close()
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=attempt, args=p) for p in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize(
    ("store", "broker"),
    [
        ("sqlite", ""),
        pytest.param("postgres", "", marks=pytest.mark.postgres),
        pytest.param("sqlite", "redis", marks=pytest.mark.redis),
    ],
)
def test_a_flood_of_concurrent_logins_checks_no_more_passwords_than_allowed(
    tmp_path: Path, store: str, broker: str, request: pytest.FixtureRequest
) -> None:
    broker_url = request.getfixturevalue("redis_url") if broker else ""
    database = (
        request.getfixturevalue("postgres_url")
        if store == "postgres"
        else f"sqlite:///{tmp_path / 'flood.db'}"
    )
    env = server_env(tmp_path, database, broker_url)
    upgrade_database(database)
    db = Database(database)
    name = f"korban{uuid.uuid4().hex[:6]}"  # Redis outlives the test: a name of our own
    create_user(db, name, "reporter", "the-right-one")
    db.dispose()
    server = Server(env).start()
    while time.time() % WINDOW_SECONDS > WINDOW_SECONDS - 20:
        time.sleep(0.5)  # let the flood fall within one counting window
    try:
        statuses = _flood(server, name, 40)
        assert sum(statuses.values()) == 40
        # Every attempt came from 127.0.0.1: at most the pair limit saw a password check.
        assert statuses[401] <= 10, statuses
        assert statuses[401] + statuses[429] == 40, statuses
    finally:
        server.stop()


def test_with_redis_unreachable_the_database_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fallback.db'}"
    upgrade_database(url)
    db = Database(url)
    try:
        counter = RedisCounter("redis://127.0.0.1:1/0", DatabaseCounter(db))
        now = time.time()
        limit = LoginLimit(counter, 2, clock=lambda: now)
        assert limit.admit("bagus", "203.0.113.7", None) is not None
        assert limit.admit("bagus", "203.0.113.7", None) is not None
        assert limit.admit("bagus", "203.0.113.7", None) is None
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 3
    finally:
        db.dispose()
