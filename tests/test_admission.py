"""Admission of live readers: the per-address slots and the process's reader capacity."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from liveblog.admission import AddressSlots, Capacity, ReaderGate, retry_after


def upgrade(path: str = "/stories/malam/live") -> dict[str, Any]:
    return {"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_UPGRADE": "websocket"}


class Recorder:
    """A WSGI app standing in for Flask: it records what reached it."""

    def __init__(self) -> None:
        self.calls = 0
        self.during: list[int] = []
        self.capacity: Capacity | None = None

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        if self.capacity is not None:
            self.during.append(self.capacity.held)
        start("200 OK", [])
        return [b"app"]


def call(gate: ReaderGate, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(gate(environ, start))
    return seen["status"], seen["headers"], body


def test_a_reader_past_capacity_is_shed_before_the_app_with_retry_after() -> None:
    app, capacity = Recorder(), Capacity(2)
    app.capacity = capacity
    shed: list[int] = []
    gate = ReaderGate(app, capacity, retry_base=20, on_shed=lambda: shed.append(1))
    assert call(gate, upgrade())[0] == "200 OK"
    capacity.take()  # two readers connected now
    capacity.take()
    status, headers, body = call(gate, upgrade())
    assert status.startswith("503")
    assert 10 <= int(headers["Retry-After"]) < 30
    assert headers["Cache-Control"] == "no-store"
    assert b'"busy"' in body
    assert app.calls == 1
    assert capacity.shed == 1
    assert shed == [1]  # counted for operators
    capacity.give_back()
    assert call(gate, upgrade())[0] == "200 OK"
    assert app.during == [1, 2]  # each reader held its place while the app ran
    assert capacity.held == 1  # and gave it back when it ended


def test_a_plain_get_of_the_live_url_asks_for_room() -> None:
    app, capacity = Recorder(), Capacity(1)
    gate = ReaderGate(app, capacity, retry_base=4)
    probe = {"PATH_INFO": "/stories/malam/live", "REQUEST_METHOD": "GET"}
    assert call(gate, probe)[0].startswith("204")
    capacity.take()
    status, headers, _ = call(gate, probe)
    assert status.startswith("503")
    assert int(headers["Retry-After"]) >= 2
    assert app.calls == 0
    assert capacity.held == 1


def test_other_paths_and_no_cap_pass_through() -> None:
    app, capacity = Recorder(), Capacity(0)
    gate = ReaderGate(app, capacity, retry_base=20)
    for _ in range(3):
        assert call(gate, upgrade())[0] == "200 OK"
    full = Capacity(1)
    full.take()
    other = ReaderGate(app, full, retry_base=20)
    assert call(other, {"PATH_INFO": "/stories/malam", "REQUEST_METHOD": "GET"})[0] == "200 OK"
    assert call(other, upgrade("/stories/malam/live/x"))[0] == "200 OK"


def test_a_failing_app_still_gives_the_place_back() -> None:
    capacity = Capacity(1)

    def broken(environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        raise StopIteration  # how flask-sock ends a connection under gunicorn

    gate = ReaderGate(broken, capacity, retry_base=20)
    with contextlib.suppress(StopIteration):
        gate(upgrade(), lambda *a: None)
    assert capacity.held == 0
    assert capacity.room()


def test_retry_after_is_spread_around_its_base() -> None:
    assert retry_after(20, lambda: 0.0) == 10
    assert retry_after(20, lambda: 0.999) == 29
    assert retry_after(1, lambda: 0.0) == 1


def test_address_slots_cap_each_address() -> None:
    slots = AddressSlots(2)
    assert slots.take("a")
    assert slots.take("a")
    assert not slots.take("a")
    assert slots.take("b")
    assert slots.addresses() == 2
    slots.give_back("a")
    assert slots.held("a") == 1
    assert slots.take("a")
