"""The fan-out hub on its own: order, dedup, gap filling, bounded queues, shutdown."""

from __future__ import annotations

from liveblog.hub import Frame, Hub, Subscription, websocket_frame


class FakeLog:
    """An event log in memory, standing in for the database."""

    def __init__(self) -> None:
        self.events: dict[str, list[tuple[int, str]]] = {}
        self.reads = 0

    def append(self, slug: str) -> tuple[int, str]:
        log = self.events.setdefault(slug, [])
        event = (len(log) + 1, f'{{"seq":{len(log) + 1}}}')
        log.append(event)
        return event

    def last_seq(self, slug: str) -> int | None:
        return len(self.events[slug]) if slug in self.events else None

    def events_after(self, slug: str, after: int) -> list[tuple[int, str]]:
        self.reads += 1
        return [e for e in self.events.get(slug, []) if e[0] > after]


def seqs(frames: list[Frame]) -> list[int]:
    return [f.seq for f in frames]


def drain(sub: Subscription) -> list[Frame]:
    """Do what a reader's handler does: wait (not at all here), then take the queue."""
    sub.wait(0)
    with sub.lock:
        return sub.take()


def test_frames_reach_every_subscriber_in_order_once() -> None:
    log = FakeLog()
    hub = Hub(log)
    a, b = hub.subscribe("s"), hub.subscribe("s")
    for _ in range(3):
        hub.publish("s", *log.append("s"))
    hub.publish("s", 2, '{"seq":2}')  # a broker repeating itself
    assert seqs(drain(a)) == [1, 2, 3]
    assert seqs(drain(b)) == [1, 2, 3]
    assert drain(a) == []
    assert log.reads == 0


def test_a_gap_is_filled_from_the_log_before_delivery() -> None:
    log = FakeLog()
    hub = Hub(log)
    sub = hub.subscribe("s")
    log.append("s")
    log.append("s")  # seq 2 never reaches the hub
    hub.publish("s", 1, log.events["s"][0][1])
    hub.publish("s", *log.append("s"))
    assert seqs(drain(sub)) == [1, 2, 3]
    assert log.reads == 1


def test_resync_delivers_what_the_broker_lost() -> None:
    log = FakeLog()
    hub = Hub(log)
    sub = hub.subscribe("s")
    log.append("s")
    log.append("s")
    hub.resync()
    assert seqs(drain(sub)) == [1, 2]
    hub.resync()
    assert drain(sub) == []


def test_subscribing_starts_after_the_log_as_it_stands() -> None:
    log = FakeLog()
    log.append("s")
    hub = Hub(log)
    sub = hub.subscribe("s")
    hub.publish("s", 1, log.events["s"][0][1])  # already in the log: the reader replays it
    assert drain(sub) == []


def test_a_full_queue_marks_the_reader_overflowed_and_spares_the_others() -> None:
    log = FakeLog()
    hub = Hub(log, queue_limit=2)
    slow, fast = hub.subscribe("s"), hub.subscribe("s")
    for _ in range(3):
        hub.publish("s", *log.append("s"))
        assert len(drain(fast)) == 1
    assert slow.overflowed
    assert not fast.overflowed
    assert seqs(drain(slow)) == [1, 2]


def test_other_stories_and_departed_readers_get_nothing() -> None:
    log = FakeLog()
    hub = Hub(log)
    sub = hub.subscribe("s")
    log.events["t"] = []
    other = hub.subscribe("t")
    hub.publish("s", *log.append("s"))
    assert drain(other) == []
    assert seqs(drain(sub)) == [1]
    sub.close()
    assert hub.readers("s") == 0
    assert hub.readers() == 1
    hub.publish("s", *log.append("s"))
    assert drain(sub) == []


def test_close_all_wakes_every_reader() -> None:
    hub = Hub(FakeLog())
    subs = [hub.subscribe("s") for _ in range(3)]
    hub.close_all()
    assert all(s.closing for s in subs)
    assert all(drain(s) == [] for s in subs)
    assert hub.subscribe("s").closing  # latecomers during shutdown are sent away too


def test_websocket_frame_headers() -> None:
    assert websocket_frame(b"hi") == b"\x81\x02hi"
    medium = websocket_frame(b"x" * 300)
    assert medium[:4] == b"\x81\x7e\x01\x2c"
    assert len(medium) == 304
    large = websocket_frame(b"x" * 70000)
    assert large[:2] == b"\x81\x7f"
    assert int.from_bytes(large[2:10], "big") == 70000
    assert Frame.of(7, "é").wire == b"\x81\x02\xc3\xa9"


class Socket:
    """A reader's connection that takes `room` bytes, then would block."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.data = bytearray()

    def send(self, data: bytes) -> int:
        if self.room <= 0:
            raise BlockingIOError
        taken = data[: self.room]
        self.room -= len(taken)
        self.data += taken
        return len(taken)


def test_an_idle_reader_gets_frames_written_straight_through() -> None:
    log = FakeLog()
    hub = Hub(log)
    sub = hub.subscribe("s")
    sock = Socket(room=1 << 20)
    sub.direct = sock.send
    for _ in range(3):
        hub.publish("s", *log.append("s"))
    assert drain(sub) == []
    assert bytes(sock.data) == b"".join(Frame.of(n, f'{{"seq":{n}}}').wire for n in (1, 2, 3))


def test_a_full_socket_keeps_the_tail_then_queues_in_order() -> None:
    log = FakeLog()
    hub = Hub(log)
    sub = hub.subscribe("s")
    first = Frame.of(1, '{"seq":1}')
    sock = Socket(room=5)
    sub.direct = sock.send
    for _ in range(3):
        hub.publish("s", *log.append("s"))
    assert bytes(sock.data) == first.wire[:5]
    assert sub.pending == first.wire[5:]
    assert seqs(drain(sub)) == [2, 3]  # the handler sends the tail, then these, in order


def test_a_reader_busy_writing_gets_frames_queued_not_interleaved() -> None:
    log = FakeLog()
    hub = Hub(log)
    sub = hub.subscribe("s")
    sock = Socket(room=1 << 20)
    sub.direct = sock.send
    with sub.lock:  # the handler is in the middle of a write
        hub.publish("s", *log.append("s"))
    assert sock.data == bytearray()
    assert seqs(drain(sub)) == [1]


def test_a_broken_connection_is_reported_to_its_handler() -> None:
    log = FakeLog()
    hub = Hub(log)
    sub = hub.subscribe("s")

    def broken(data: bytes) -> int:
        raise BrokenPipeError

    sub.direct = broken
    hub.publish("s", *log.append("s"))
    assert sub.broken


def test_a_replay_ahead_of_the_hub_is_not_written_again() -> None:
    """A reconnecting reader replayed from the log past the hub gets the rest once."""
    log = FakeLog()
    hub = Hub(log)
    hub.publish("s", *log.append("s"))
    queued, direct = hub.subscribe("s"), hub.subscribe("s")
    log.append("s")
    log.append("s")  # committed elsewhere; their PUBLISH has not arrived here yet
    written: list[bytes] = []
    for sub in (queued, direct):
        with sub.lock:  # what the handler does: replay from the log, then go direct
            sub.sent = log.events["s"][-1][0]
    direct.direct = lambda data: written.append(data) or len(data)
    hub.publish("s", 2, log.events["s"][1][1])
    hub.publish("s", 3, log.events["s"][2][1])
    hub.publish("s", *log.append("s"))
    assert seqs(drain(queued)) == [4]
    assert written == [Frame.of(4, log.events["s"][3][1]).wire]
    assert drain(direct) == []
