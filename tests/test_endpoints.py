"""Endpoint URLs: private addresses refused, the checked address used, one bounded POST."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from liveblog.endpoints import EndpointRefused, parse, post, resolve

REFUSED_ADDRESSES = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.5.4",
    "192.168.0.10",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.251",
    "0.0.0.0",  # noqa: S104 - an address refused, not bound
    "240.0.0.1",
    "255.255.255.255",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::5]",
    "[ff02::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:10.0.0.1]",
    "[2002:7f00:1::]",  # 6to4 around 127.0.0.1
    "[2002:a9fe:a9fe::1]",  # 6to4 around the metadata address
    "localhost",
]


@pytest.mark.parametrize("host", REFUSED_ADDRESSES)
def test_private_loopback_and_reserved_addresses_are_refused(host: str) -> None:
    with pytest.raises(EndpointRefused):
        resolve(f"https://{host}/hook", allow_private=False)


@pytest.mark.parametrize("host", REFUSED_ADDRESSES[:3])
def test_configuration_may_allow_private_addresses(host: str) -> None:
    assert resolve(f"http://{host}:9/hook", allow_private=True).address == host


def test_public_addresses_pass() -> None:
    target = resolve("https://93.184.215.14/in?x=1", allow_private=False)
    assert (target.scheme, target.port, target.path) == ("https", 443, "/in?x=1")
    assert resolve("http://[2606:4700::1111]:8080/", allow_private=False).port == 8080


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https:///nohost",
        "https://user:pw@93.184.215.14/",
        "https://93.184.215.14:99999/",
        "https://93.184.215.14/" + "a" * 2000,
    ],
)
def test_only_plain_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(EndpointRefused):
        parse(url)


class _Answers(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(100):  # a byte every 0.3 s: each wait is short, the whole is not
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.3)
            except OSError:
                pass
            return
        big = self.path == "/big"
        self.send_response(200)
        self.send_header("Content-Length", str(50 * 2**20 if big else 2))
        self.end_headers()
        try:
            self.wfile.write(b"x" * (1 << 20) if big else b"ok")
            if big:
                for _ in range(49):
                    self.wfile.write(b"x" * (1 << 20))
        except OSError:
            pass

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def answers() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_request_goes_to_the_checked_address_with_the_urls_host(
    answers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def fake(host: str, *args: Any, **kw: Any) -> Any:
        looked_up.append(host)
        return real("127.0.0.1" if host == "partner.example" else host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    port = answers.split(":")[1]
    answer = post(f"http://partner.example:{port}/in", b"{}", {}, timeout=5, allow_private=True)
    assert answer.ok, answer
    assert _Answers.seen[-1]["host"] == f"partner.example:{port}"
    # One lookup of the name (then only of the address it gave): nothing to rebind.
    assert [h for h in looked_up if h != "127.0.0.1"] == ["partner.example"]
    refused = post(f"http://partner.example:{port}/in", b"{}", {}, timeout=5, allow_private=False)
    assert refused.status is None
    assert "private" in refused.error


def test_redirects_are_not_followed(answers: str) -> None:
    answer = post(f"http://{answers}/redirect", b"{}", {}, timeout=5, allow_private=True)
    assert answer.status == 302
    assert not answer.ok


def test_a_slow_partner_times_out(answers: str) -> None:
    answer = post(f"http://{answers}/slow", b"{}", {}, timeout=0.5, allow_private=True)
    assert answer.status is None
    assert "0.5 s" in answer.error
    assert answer.duration_ms < 1900


def test_a_huge_answer_is_not_read_to_its_end(answers: str) -> None:
    answer = post(f"http://{answers}/big", b"{}", {}, timeout=5, allow_private=True)
    assert answer.ok


def test_a_partner_dripping_its_answer_is_cut_off(answers: str) -> None:
    answer = post(f"http://{answers}/drip", b"{}", {}, timeout=0.5, allow_private=True)
    assert not answer.ok
    assert "no answer within" in answer.error
    assert answer.duration_ms < 5000
